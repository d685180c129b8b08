# The Helm chart, without a cluster: its CRD is a byte-identical copy of
# crds/; `helm lint --strict` passes; `helm template` matches the golden file
# (UPDATE_GOLDEN=1 rewrites it after an intended change); its RBAC rules are
# the same as manifests/; values.schema.json rejects a bad value.
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
CHART="$SRC/charts/sreracha-operator"
GOLDEN="$SRC/tests/integration/golden/helm-template.yaml"

command -v helm >/dev/null || PATH="$("$SRC/scripts/tools.sh" path):$PATH"
command -v helm >/dev/null || fail "helm not found (scripts/tools.sh build makes it)"

cmp "$SRC/crds/sreracha.io_srerachas.yaml" "$CHART/crds/sreracha.io_srerachas.yaml" ||
  fail "charts/sreracha-operator/crds/ differs from crds/: cp crds/sreracha.io_srerachas.yaml charts/sreracha-operator/crds/"
pass "the chart's CRD is byte-identical to crds/sreracha.io_srerachas.yaml"

# The variants the golden file covers: the defaults, and every optional branch.
OPTIONS=(--set watchNamespace=team-a --set serviceMonitor.enabled=true
  --set serviceMonitor.labels.release=prometheus --set leaderElection.enabled=false
  --set image.tag=1.2.3 --set podAnnotations.example=yes --set nodeSelector.pool=ops)

for args in "" "${OPTIONS[*]}"; do
  # shellcheck disable=SC2086
  out="$(helm lint --strict "$CHART" $args 2>&1)" || fail "helm lint --strict $args: $out"
  ! grep -q '\[WARNING\]\|\[ERROR\]' <<<"$out" || fail "helm lint $args: $out"
done
pass "helm lint --strict: clean (defaults and options)"

render() {
  echo "# helm template sreracha-operator charts/sreracha-operator --namespace sreracha-system"
  helm template sreracha-operator "$CHART" --namespace sreracha-system
  echo "# helm template ops charts/sreracha-operator --namespace ops ${OPTIONS[*]}"
  helm template ops "$CHART" --namespace ops "${OPTIONS[@]}"
}
rendered="$(render)" || fail "helm template failed"
if [[ "${UPDATE_GOLDEN:-}" == 1 ]]; then
  mkdir -p "$(dirname "$GOLDEN")"
  printf '%s\n' "$rendered" >"$GOLDEN"
  echo "updated $GOLDEN"
fi
diff -u "$GOLDEN" <(printf '%s\n' "$rendered") ||
  fail "helm template differs from $GOLDEN (UPDATE_GOLDEN=1 bash $0 accepts an intended change)"
pass "helm template matches the golden file"

# One set of rules, two ways to install: the chart's (default values) must be
# the manifests'. kubectl converts YAML to JSON without a cluster.
rules() {  # rules <kind> <name> < yaml
  kubectl label --local -f - sreracha-test- -o json 2>/dev/null | python3 -c '
import json, sys
text, decoder, items, at = sys.stdin.read(), json.JSONDecoder(), [], 0
while text[at:].strip():  # one JSON object per YAML document
    at = len(text) - len(text[at:].lstrip())
    doc, at = decoder.raw_decode(text, at)
    items += doc.get("items", [doc])
found = [i["rules"] for i in items if i["kind"] == sys.argv[1] and i["metadata"]["name"] == sys.argv[2]]
print(json.dumps(found, sort_keys=True))' "$1" "$2"
}
chart_yaml="$(helm template sreracha-operator "$CHART" --namespace sreracha-system)"
for pair in "ClusterRole sreracha-operator" "Role sreracha-operator-leader-election"; do
  # shellcheck disable=SC2086
  chart_rules="$(rules $pair <<<"$chart_yaml")"
  # shellcheck disable=SC2086
  manifest_rules="$(awk 'FNR == 1 {print "---"} 1' "$SRC"/manifests/*role*.yaml | rules $pair)"
  [[ "$chart_rules" != "[]" && "$chart_rules" == "$manifest_rules" ]] ||
    fail "$pair: the chart's rules differ from manifests/:
chart:     $chart_rules
manifests: $manifest_rules"
done
pass "the chart's ClusterRole and leader election Role equal manifests/"

if out="$(helm template x "$CHART" --set logFormat=xml 2>&1)"; then fail "logFormat=xml accepted"; fi
grep -q logFormat <<<"$out" || fail "logFormat=xml refused without naming it: $out"
if helm template x "$CHART" --set watchNamespaces=a >/dev/null 2>&1; then fail "a misspelt value accepted"; fi
pass "values.schema.json refuses logFormat=xml and unknown values"
