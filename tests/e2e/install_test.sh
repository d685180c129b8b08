# Installing the operator the two ways users do, against the real API server:
# the API server accepts manifests/ and the chart's `helm template` output
# (server-side apply, dry run); `helm install` into a fresh namespace under the
# "restricted" Pod Security Standard brings the Deployment's two pods to Ready
# (kwok marks pods Ready without running them, so this proves the objects and
# the pod security settings, not the binary); `helm uninstall` removes the
# cluster-scoped RBAC again.
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
command -v helm >/dev/null || PATH="$("$SRC/scripts/tools.sh" path):$PATH"
command -v helm >/dev/null || fail "helm not found (scripts/tools.sh build makes it)"
test_namespace install
# A release name of its own: the ClusterRole and binding are named after it.
RELEASE="sro-${NS##*-}"
WORK="$(mktemp -d /tmp/sreracha-install-XXXX)"
cleanup() {
  helm uninstall "$RELEASE" -n "$NS" >/dev/null 2>&1 || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
kubectl apply --server-side --field-manager e2e -f "$SRC/crds/sreracha.io_srerachas.yaml" >/dev/null
kubectl wait --for condition=Established crd/srerachas.sreracha.io --timeout=30s >/dev/null

# 1. manifests/, moved into the test namespace by a kustomize overlay (the
#    dry run cannot create sreracha-system, and every namespaced object needs
#    its namespace to exist).
cat >"$WORK/kustomization.yaml" <<EOF
resources: [$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$SRC/manifests" "$WORK")]
namespace: $NS
EOF
out="$(kubectl apply --server-side --dry-run=server --field-manager e2e -k "$WORK" 2>&1)" ||
  fail "kubectl apply --server-side --dry-run=server -k manifests/: $out"
count="$(grep -c 'serverside-applied (server dry run)' <<<"$out")"
want="$(kubectl kustomize "$SRC/manifests" | grep -c '^kind:')"
[[ "$count" == "$want" ]] || fail "dry run applied $count of $want objects: $out"
pass "kubectl apply --server-side --dry-run=server: manifests/ accepted ($count objects)"

# 2. helm template output.
helm template "$RELEASE" "$SRC/charts/sreracha-operator" -n "$NS" >"$WORK/template.yaml"
out="$(kubectl apply --server-side --dry-run=server --field-manager e2e -f "$WORK/template.yaml" 2>&1)" ||
  fail "kubectl apply --server-side --dry-run=server of helm template: $out"
count="$(grep -c 'serverside-applied (server dry run)' <<<"$out")"
pass "kubectl apply --server-side --dry-run=server: helm template accepted ($count objects)"

# 3. helm install under the restricted Pod Security Standard: pods that break
#    it (root, privilege escalation, capabilities, no seccomp) are refused.
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
started=$SECONDS
helm install "$RELEASE" "$SRC/charts/sreracha-operator" -n "$NS" --wait --timeout 120s >/dev/null ||
  fail "helm install (pods: $(kubectl get pods -n "$NS" -o wide 2>&1); events: $(kubectl get events -n "$NS" 2>&1 | tail -5))"
deploy="$RELEASE-sreracha-operator"
ready="$(kubectl get deployment "$deploy" -n "$NS" -o jsonpath='{.status.readyReplicas}')"
[[ "$ready" == 2 ]] || fail "deployment/$deploy: $ready ready replicas, want 2"
args="$(kubectl get deployment "$deploy" -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].args}')"
[[ "$args" == *--leader-elect* && "$args" == *--log-format=json* ]] || fail "operator args: $args"
kubectl get clusterrole "$deploy" >/dev/null || fail "no ClusterRole $deploy"
sa="system:serviceaccount:$NS:$deploy"
kubectl auth can-i list srerachas.sreracha.io -A --as="$sa" >/dev/null || fail "$sa may not list srerachas"
kubectl auth can-i update leases.coordination.k8s.io -n "$NS" --as="$sa" >/dev/null || fail "$sa may not update leases"
pass "helm install: deployment/$deploy has 2 Ready pods after $((SECONDS - started)) s; its ServiceAccount has the ClusterRole"

helm uninstall "$RELEASE" -n "$NS" --wait --timeout 60s >/dev/null || fail "helm uninstall"
! kubectl get clusterrole "$deploy" >/dev/null 2>&1 || fail "ClusterRole $deploy left after helm uninstall"
! kubectl get clusterrolebinding "$deploy" >/dev/null 2>&1 || fail "ClusterRoleBinding $deploy left after helm uninstall"
kubectl get crd srerachas.sreracha.io >/dev/null || fail "helm uninstall removed the CRD (Helm keeps crds/)"
pass "helm uninstall: cluster-scoped RBAC removed, the CRD kept"
