# Shared set-up of the cluster benchmarks. Source it with ROOT set; then
# `bench_namespace <prefix>` gives a fresh namespace ($NS, removed on exit)
# with the CRD installed and an operator watching it.
cd "$ROOT"
BUILD="${SRERACHA_BINARY_DIR:-$ROOT/build}"
export SRERACHA_BINARY_DIR="$BUILD" SRERACHA_SOURCE_DIR="$ROOT"
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" != 1 ]]; then
  scripts/local-cluster.sh up
  eval "$(scripts/local-cluster.sh env)"
fi
source tests/lib/testlib.sh
source tests/lib/operator.sh

bench_namespace() {
  test_namespace "$1"
  install_crd
  start_operator --log-level "${BENCH_LOG_LEVEL:-warn}"
}
