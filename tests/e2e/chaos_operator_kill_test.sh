# The operator SIGKILLed 3 s after 30 Srerachas were applied (mid-way through
# creating their children), then started again: every Sreracha turns Ready
# with exactly one set of children, and no child is left without its owner.
# Prints the time from the restart to all Ready.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-kill
install_crd
N=30

apply_srerachas "$N"
start_operator
sleep 3
kill -9 "$OPERATOR_PID"
wait "$OPERATOR_PID" 2>/dev/null || true
created="$(kubectl get deploy -n "$NS" -o name | wc -l)"
pass "operator SIGKILLed 3 s after $N Srerachas were applied ($created Deployments created by then)"

restarted_at=$SECONDS
OPERATOR_LOG="$(test_log operator-restarted)" start_operator
all_ready() {
  [[ "$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$')" == "$N" ]]
}
wait_until 180 "all $N Srerachas Ready after the restart" all_ready
pass "all $N Ready $((SECONDS - restarted_at)) s after the restart"

# Exactly one set of children each: an app and a Redis Deployment, their two
# Services, a NetworkPolicy and a PodDisruptionBudget.
for kind in deployments services networkpolicies poddisruptionbudgets; do
  want=$((N * 2))
  [[ "$kind" == networkpolicies || "$kind" == poddisruptionbudgets ]] && want=$N
  got="$(kubectl get "$kind" -n "$NS" -l app.kubernetes.io/managed-by=sreracha-operator -o name | wc -l)"
  ((got == want)) || fail "$got $kind, want $want"
done
# No orphan: every child's controller is a Sreracha that exists, with its UID.
owners="$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}')"
kubectl get deployments,services,networkpolicies,poddisruptionbudgets -n "$NS" \
  -l app.kubernetes.io/managed-by=sreracha-operator \
  -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.ownerReferences[?(@.controller==true)].name}={.metadata.ownerReferences[?(@.controller==true)].uid}{"\n"}{end}' |
  while read -r child owner; do
    grep -qx -- "$owner" <<<"$owners" || fail "$child is controlled by '$owner', no Sreracha of this namespace"
  done
pass "exactly one set of children each, every one controlled by its Sreracha"
