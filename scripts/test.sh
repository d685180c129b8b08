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

status=0
echo "== unit tests"
(cd "$BUILD" && ctest -L unit --output-on-failure -j2) || status=1
echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
(cd "$ASAN_BUILD" && ctest -L unit --output-on-failure -j2) || status=1
echo "== fuzzing: each target ${SRERACHA_FUZZ_SECONDS:-30} s under ASan+UBSan"
scripts/fuzz.sh "$FUZZ_BUILD" "${SRERACHA_FUZZ_SECONDS:-30}" || status=1

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
(cd "$BUILD" && ctest -L 'integration|e2e' --output-on-failure -j2 ${CTEST_ARGS:-}) || status=1
# Real containers on the real node; ctest reports them skipped, with the
# reason, where the cluster has none (scripts/local-cluster.sh node-status).
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" == 1 ]]; then
  echo "== node tests (on a node labelled sreracha.io/node=real, if the cluster has one)"
else
  echo "== node tests (real node: $(scripts/local-cluster.sh node-status || true))"
fi
(cd "$BUILD" && ctest -L node --output-on-failure -j2 ${CTEST_ARGS:-}) || status=1
# Operators SIGKILLed mid-work: one at a time, on a cluster nothing else uses.
echo "== chaos tests"
(cd "$BUILD" && ctest -L chaos --output-on-failure -j1 ${CTEST_ARGS:-}) || status=1
exit $status
