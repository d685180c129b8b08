# Two operators with leader election over 20 Srerachas; the leader is
# SIGKILLed (it cannot release its Lease). The follower takes the Lease once
# it expires (15 s, client-go's default) and carries on: scaling every
# Sreracha afterwards converges. Prints the time to the takeover.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-leader
install_crd
N=20
LEASE=sreracha-chaos
LEASE_SECONDS=15

apply_srerachas "$N"

elect=(--leader-elect --leader-election-namespace "$NS" --leader-election-id "$LEASE")
OPERATOR_LOG="$(test_log operator-1)" start_operator "${elect[@]}"
first_pid=$OPERATOR_PID
holder() { kubectl get lease "$LEASE" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
has_holder() { [[ -n "$(holder)" ]]; }
wait_until 30 "a leader" has_holder
OPERATOR_LOG="$(test_log operator-2)" start_operator "${elect[@]}"
second_pid=$OPERATOR_PID
trap 'kill -9 "$first_pid" "$second_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

all_at() {  # all_at <replicas>: every Sreracha Ready with that many ready replicas
  [[ "$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.status.readyReplicas}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c "^$1/True$")" == "$N" ]]
}
wait_until 120 "all $N Ready under the first leader" all_at 1
# The first operator took the Lease before the second started: it leads.
leader="$(holder)"
follower_pid=$second_pid
kill -9 "$first_pid"
wait "$first_pid" 2>/dev/null || true
killed_at=$SECONDS
taken() { [[ -n "$(holder)" && "$(holder)" != "$leader" ]]; }
wait_until $((LEASE_SECONDS + 15)) "the follower to take the Lease" taken
took=$((SECONDS - killed_at))
((took <= LEASE_SECONDS + 5)) || fail "the follower took ${took} s, more than the lease duration (${LEASE_SECONDS} s) and a retry"
pass "the follower took the Lease ${took} s after the leader was SIGKILLed"

for i in $(seq 1 $N); do kubectl scale sreracha "s$i" -n "$NS" --replicas=2 >/dev/null; done
wait_until 180 "all $N scaled to 2 under the new leader" all_at 2
kill -0 "$follower_pid" || fail "the new leader exited"
pass "every Sreracha scaled to 2 and Ready under the new leader"
