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

expect_exit 1 "nonsense" "a metrics address that does not parse" \
  --kubeconfig "$KUBECONFIG" --metrics-bind-address nonsense --health-probe-bind-address 127.0.0.1:0
