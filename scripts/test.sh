#!/usr/bin/env bash
# Runs every test: unit tests (normal and ASan+UBSan builds), the fuzz
# targets for a bounded time, then the
# integration and e2e tests against the local control plane, then the node
# tests on its real node, then the chaos tests. Starts the cluster if it is not running and stops it
# afterwards only if it started it.
# SRERACHA_USE_EXISTING_CLUSTER=1 uses the cluster in KUBECONFIG instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
ASAN_BUILD="${2:-build-asan}"
FUZZ_BUILD="${3:-build-fuzz}"
cd "$ROOT"

# Each group that fails is named again at the end, where a log read from its
# tail shows it.
failed=()
# ctest_group <what> <build dir> <ctest args...>
ctest_group() {
  local what="$1" dir="$2"
  shift 2
  if ! (cd "$dir" && ctest --output-on-failure "$@"); then
    failed+=("$what: $(cut -d: -f2 "$dir/Testing/Temporary/LastTestsFailed.log" 2>/dev/null | tr '\n' ' ')")
  fi
}
echo "== unit tests"
ctest_group "unit tests" "$BUILD" -L unit -j2
echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ctest_group "unit tests under ASan+UBSan" "$ASAN_BUILD" -L unit -j2
echo "== fuzzing: each target ${SRERACHA_FUZZ_SECONDS:-30} s under ASan+UBSan"
scripts/fuzz.sh "$FUZZ_BUILD" "${SRERACHA_FUZZ_SECONDS:-30}" || failed+=("fuzzing")

started=0
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" == 1 ]]; then
  kubectl get --raw /readyz >/dev/null || { echo "no reachable cluster in KUBECONFIG" >&2; exit 1; }
  export PATH="$("$ROOT/scripts/tools.sh" path):$PATH"
  echo "== using the existing cluster in KUBECONFIG"
else
  if ! scripts/local-cluster.sh status >/dev/null; then
    scripts/local-cluster.sh up
    started=1
  fi
  eval "$(scripts/local-cluster.sh env)"
fi
cleanup() { if ((started)); then scripts/local-cluster.sh down; fi; }
trap cleanup EXIT

echo "== integration and e2e tests"
ctest_group "integration and e2e tests" "$BUILD" -L 'integration|e2e' -j2 ${CTEST_ARGS:-}
# Real containers on the real node; ctest reports them skipped, with the
# reason, where the cluster has none (scripts/local-cluster.sh node-status).
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" == 1 ]]; then
  echo "== node tests (on a node labelled sreracha.io/node=real, if the cluster has one)"
else
  echo "== node tests (real node: $(scripts/local-cluster.sh node-status || true))"
fi
ctest_group "node tests" "$BUILD" -L node -j2 ${CTEST_ARGS:-}
# Operators, kube-apiserver and etcd SIGKILLed mid-work: one at a time, on a
# cluster nothing else uses.
echo "== chaos tests"
ctest_group "chaos tests" "$BUILD" -L chaos -j1 ${CTEST_ARGS:-}
if ((${#failed[@]})); then
  printf '== FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "== all test groups passed"
