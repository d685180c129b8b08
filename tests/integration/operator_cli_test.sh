# Ordinary bad input to the operator's command line ends in one clear line
# on stderr and an exit code, never std::terminate and a core dump: 2 for a
# usage error (an unknown flag, a value the flag refuses), 1 for input that
# cannot be used (a kubeconfig that is not YAML, a metrics address that does
# not bind, a render -f file that is not YAML).
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
work="$(mktemp -d /tmp/sreracha-cli.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# expect_exit <code> <what stderr must say> <what> <args...>
expect_exit() {
  local want="$1" says="$2" what="$3" rc=0
  shift 3
  timeout 30 "$BIN" "$@" >"$work/out" 2>"$work/err" || rc=$?
  ((rc == want)) || fail "$what: exit $rc, want $want; stderr: $(head -5 "$work/err")"
  grep -qF -- "$says" "$work/err" || fail "$what: stderr does not say '$says': $(head -5 "$work/err")"
  ! grep -q "terminate called\|Aborted\|core dumped" "$work/err" || fail "$what: aborted"
  pass "$what: exit $rc, $(grep -m1 -F -- "$says" "$work/err")"
}

expect_exit 2 "--bogus" "an unknown flag" --bogus
expect_exit 2 "--log-level: nope" "a log level it does not know" --log-level nope
expect_exit 2 "--redis-check" "a --redis-check that is not a boolean" --redis-check=maybe

printf 'apiVersion: v1\nclusters: [\n' >"$work/broken.kubeconfig"
expect_exit 1 "malformed YAML" "a kubeconfig that is not YAML" --kubeconfig "$work/broken.kubeconfig"

printf 'kind: Sreracha\nspec: [\n' >"$work/broken.yaml"
expect_exit 1 "render: $work/broken.yaml" "render -f of a file that is not YAML" render -f "$work/broken.yaml"

# Found by fuzzing: a document that is a bare scalar aborted render -f; a
# lone "," made yaml-cpp read empty documents for ever.
printf 'just a scalar\n---\napiVersion: sreracha.io/v1alpha1\nkind: Sreracha\nmetadata: {name: x}\nspec: {image: app}\n' >"$work/scalar.yaml"
rc=0
timeout 30 "$BIN" render -f "$work/scalar.yaml" >"$work/out" 2>"$work/err" || rc=$?
((rc == 0)) && grep -q "kind: Deployment" "$work/out" ||
  fail "render -f with a scalar document: exit $rc, $(head -3 "$work/err")"
pass "render -f skips a document that is a bare scalar and renders the Sreracha beside it"
printf ',\n' >"$work/comma.yaml"
expect_exit 1 "more than 10000 documents" "render -f of a lone comma" render -f "$work/comma.yaml"

expect_exit 1 "nonsense" "a metrics address that does not parse" \
  --kubeconfig "$KUBECONFIG" --metrics-bind-address nonsense --health-probe-bind-address 127.0.0.1:0
