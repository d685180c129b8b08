# Starting and stopping an operator process for a test. Source after testlib.sh.
# The operator watches only the test's namespace, serves metrics and health
# on free 127.0.0.1 ports, and logs to $OPERATOR_LOG (test_log operator unless
# set).

BIN="${SRERACHA_BINARY_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}/bin/sreracha-operator"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install_crd() {
  kubectl apply --server-side --field-manager e2e -f "$SRC/crds/sreracha.io_srerachas.yaml" >/dev/null
  kubectl wait --for condition=Established crd/srerachas.sreracha.io --timeout=30s >/dev/null
}

# start_operator [extra flags...]: sets OPERATOR_PID, METRICS_PORT, HEALTH_PORT.
# The Redis check is off unless SRERACHA_REDIS_CHECK=true: tests name
# External hosts such as primary.demo.cache.amazonaws.com that must never be
# dialed from here; a test that points Redis at a server of its own turns it on.
start_operator() {
  METRICS_PORT="$(free_port)"
  HEALTH_PORT="$(free_port)"
  OPERATOR_LOG="${OPERATOR_LOG:-$(test_log operator)}"
  "$BIN" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
    --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
    --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
    --redis-check="${SRERACHA_REDIS_CHECK:-false}" "$@" >"$OPERATOR_LOG" 2>&1 &
  OPERATOR_PID=$!
  operator_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$HEALTH_PORT/readyz" 2>/dev/null; }
  wait_until 30 "the operator's /readyz" operator_ready
  trap 'stop_operator; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
}

stop_operator() {
  if [[ -n "${OPERATOR_PID:-}" ]] && kill -0 "$OPERATOR_PID" 2>/dev/null; then
    kill "$OPERATOR_PID"
    wait "$OPERATOR_PID" 2>/dev/null || true
  fi
  # Error lines, in text ("<time> error <message>") or JSON.
  local errors='^[^ ]* error \|"level":"error"'
  if [[ -n "${OPERATOR_LOG:-}" ]] && grep -q "$errors" "$OPERATOR_LOG" 2>/dev/null; then
    echo "--- operator errors (${OPERATOR_LOG}):" >&2
    grep "$errors" "$OPERATOR_LOG" | tail -20 >&2
  fi
}

metric() {
  curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics"
}

# Write requests the operator has sent so far (every method but GET).
write_requests() {
  metric | awk '/^rest_client_requests_total\{/ && !/method="GET"/ {sum += $NF} END {print sum + 0}'
}

condition() {  # condition <sreracha> <type> [status|reason|message]
  kubectl get sreracha "$1" -n "$NS" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].${3:-status}}"
}

# apply_srerachas <n>: Srerachas s1..s<n>, one replica each, never recycled.
apply_srerachas() {
  for i in $(seq 1 "$1"); do
    cat <<YAML
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: s$i}
spec: {image: sreracha:e2e, replicas: 1, stagger: {appLifetimeSeconds: 0}}
YAML
  done | kubectl apply -n "$NS" -f - >/dev/null
}
