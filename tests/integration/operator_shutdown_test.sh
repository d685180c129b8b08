# SIGTERM to a leading operator process, through a TCP forwarder in front of
# the real API server (tests/lib/blackhole_proxy.py):
#  - reachable: it releases its Lease (holderIdentity "", leaseDurationSeconds
#    1, as client-go's ReleaseOnCancel) and exits 0 quickly;
#  - unreachable (the forwarder accepts and holds connections, never answers):
#    it still exits within the grace period, and the Lease, read directly from
#    the API server, is exactly as before the SIGTERM: it could not release,
#    and it changed nothing.
# Prints the measured exit times.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace shutdown
install_crd

GRACE_SECONDS=30  # the kubelet's default terminationGracePeriodSeconds
work="$(mktemp -d /tmp/sreracha-shutdown-XXXX)"
proxy_pid=""
operator_pid=""
cleanup() {
  # Only what this test started, by PID.
  [[ -n "$operator_pid" ]] && kill -9 "$operator_pid" 2>/dev/null || true
  [[ -n "$proxy_pid" ]] && kill "$proxy_pid" 2>/dev/null || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  [[ -n "${KEEP_LOGS:-}" ]] && echo "logs kept in $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

server="$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')"
hostport="${server#https://}"
hostport="${hostport%%/*}"

# start_proxy: a fresh forwarder; sets proxy_pid and writes $work/kubeconfig
# pointing at it (same credentials and CA: the server's certificate names
# 127.0.0.1, whatever the port).
start_proxy() {
  rm -f "$work/port"
  python3 "$SRC/tests/lib/blackhole_proxy.py" "$work/port" "${hostport%:*}" "${hostport##*:}" &
  proxy_pid=$!
  wait_until 10 "the forwarder to listen" test -s "$work/port"
  kubectl config view --minify --raw >"$work/kubeconfig"
  KUBECONFIG="$work/kubeconfig" kubectl config set-cluster \
    "$(kubectl config view --minify -o jsonpath='{.clusters[0].name}')" \
    --server "https://127.0.0.1:$(cat "$work/port")" >/dev/null
}

# start_leader <lease name>: the operator, leader-elected on that Lease in
# $NS, through the forwarder; waits until it holds the Lease.
start_leader() {
  local lease="$1"
  "$BIN" --kubeconfig "$work/kubeconfig" --namespace "$NS" --leader-elect \
    --leader-election-namespace "$NS" --leader-election-id "$lease" \
    --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
    >"$work/$lease.log" 2>&1 &
  operator_pid=$!
  holds() { [[ -n "$(holder "$lease")" ]]; }
  wait_until 30 "the operator to acquire Lease $lease" holds
}

holder() { kubectl get lease "$1" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# sigterm_and_time: SIGTERM, then waits (up to twice the grace) for the exit;
# sets exit_ms and exit_status.
sigterm_and_time() {
  local start end
  start="$(date +%s%N)"
  kill -TERM "$operator_pid"
  for _ in $(seq $((GRACE_SECONDS * 2 * 20))); do
    kill -0 "$operator_pid" 2>/dev/null || break
    sleep 0.05
  done
  end="$(date +%s%N)"
  exit_ms=$(((end - start) / 1000000))
  if kill -0 "$operator_pid" 2>/dev/null; then
    tail -n 20 "$work"/*.log >&2 || true
    fail "the operator had not exited $((GRACE_SECONDS * 2)) s after SIGTERM"
  fi
  exit_status=0
  wait "$operator_pid" || exit_status=$?
  operator_pid=""
}

# --- reachable: the Lease is released --------------------------------------
start_proxy
start_leader shutdown-reachable
identity="$(holder shutdown-reachable)"
sigterm_and_time
echo "reachable API server: exit ${exit_ms} ms after SIGTERM, status $exit_status"
((exit_status == 0)) || fail "exit status $exit_status after SIGTERM, want 0"
((exit_ms < 5000)) || fail "exit took ${exit_ms} ms with the API server reachable"
[[ "$(holder shutdown-reachable)" == "" ]] || fail "Lease still held by $(holder shutdown-reachable)"
duration="$(kubectl get lease shutdown-reachable -n "$NS" -o jsonpath='{.spec.leaseDurationSeconds}')"
[[ "$duration" == 1 ]] || fail "released Lease has leaseDurationSeconds $duration, want 1"
grep -q "released leader lease" "$work/shutdown-reachable.log" || fail "no release in the log"
pass "reachable: $identity released Lease shutdown-reachable and exited in ${exit_ms} ms"

# --- unreachable: exits within the grace period, changes nothing -------------
kill "$proxy_pid"
wait "$proxy_pid" 2>/dev/null || true
start_proxy
start_leader shutdown-unreachable
identity="$(holder shutdown-unreachable)"
kill -USR1 "$proxy_pid"  # blackhole from now on
# A renew sent just before may still land; after a retry period none can.
sleep 3
before="$(kubectl get lease shutdown-unreachable -n "$NS" -o json)"
sigterm_and_time
after="$(kubectl get lease shutdown-unreachable -n "$NS" -o json)"
echo "unreachable API server: exit ${exit_ms} ms after SIGTERM (grace ${GRACE_SECONDS} s), status $exit_status"
((exit_ms < GRACE_SECONDS * 1000)) || fail "exit took ${exit_ms} ms, past the ${GRACE_SECONDS} s grace"
grep -q "_Exit\|exiting now" "$work/shutdown-unreachable.log" &&
  fail "the operator fell back to its last-resort exit"
[[ "$before" == "$after" ]] || fail "the Lease changed while the API server was unreachable:
before: $before
after:  $after"
[[ "$(holder shutdown-unreachable)" == "$identity" ]] ||
  fail "Lease holder is $(holder shutdown-unreachable), want $identity (it could not release)"
pass "unreachable: exited in ${exit_ms} ms; Lease shutdown-unreachable untouched (still $identity's)"
