# Helpers for shell tests that run against the cluster in KUBECONFIG.
# Source it; every test gets its own namespace, deleted on exit.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() { echo "PASS: $*"; }

# A fresh namespace for this test, removed when the script exits.
test_namespace() {
  local base="$1"
  NS="$base-$(date +%s)-$RANDOM"
  kubectl create namespace "$NS" >/dev/null
  # The namespace's default ServiceAccount must exist before pods can be made.
  for _ in $(seq 100); do
    kubectl get serviceaccount default -n "$NS" >/dev/null 2>&1 && break
    sleep 0.1
  done
  trap 'kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
  export NS
}

# test_log <name>: a log file of this test script, in the build tree
# (test-logs/<script>-<name>.log). The script's next run replaces it, so a
# failed run's logs stay to be read and none pile up in /tmp.
test_log() {
  local dir="${SRERACHA_BINARY_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}/test-logs"
  mkdir -p "$dir"
  echo "$dir/$(basename "$0" .sh)-$1.log"
}

# wait_until <seconds> <description> <command...>
wait_until() {
  local timeout="$1" what="$2"
  local deadline=$((SECONDS + timeout))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.25
  done
}
