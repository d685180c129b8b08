# The control plane itself killed: kube-apiserver SIGKILLed for 20 s, then
# etcd SIGKILLed for 15 s, each restarted. Just before each kill a child is
# deleted and a spec changed (the operator is at work when the API goes), and
# right after each restart another spec changes (while its watches are still
# away). The operator never exits, and everything converges within 30 s of
# the restart; prints the time each took.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" == 1 ]]; then
  echo "SKIP: kills the local cluster's own kube-apiserver and etcd"
  exit 77
fi
CLUSTER="$SRC/scripts/local-cluster.sh"
test_namespace chaos-control-plane
install_crd
N=6
apply_srerachas "$N"
# Debug: the log names every request, to show after a wait that ran out
# whether the operator still reconciled and what it wrote.
start_operator --log-level debug
all_ready() {
  [[ "$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$')" == "$N" ]]
}
wait_until 120 "all $N Srerachas Ready" all_ready

scale_to_2() { kubectl patch sreracha "$1" -n "$NS" --type merge -p '{"spec":{"replicas":2}}' >/dev/null 2>&1; }
replicas() { kubectl get deploy "$1" -n "$NS" -o jsonpath='{.spec.replicas}' 2>/dev/null; }
# converged <deleted child> <scaled before> <scaled after>: what the operator
# writes matches every spec: the deleted Service is back, both Deployments ask
# for 2 replicas, and every Sreracha's status has observed its generation.
# (Ready follows later: the pods wait for kube-controller-manager, the
# scheduler and kwok, which lost the API server too and have their own
# back-offs.)
converged() {
  kubectl get service "$1" -n "$NS" >/dev/null 2>&1 || return 1
  [[ "$(replicas "$2")" == 2 && "$(replicas "$3")" == 2 ]] || return 1
  [[ "$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.status.observedGeneration}={.metadata.generation}{"\n"}{end}' |
    awk -F= '$1 == $2' | wc -l)" == "$N" ]]
}
api_up() { kubectl --request-timeout=2s get --raw /readyz >/dev/null 2>&1; }
# What each side saw, for a wait that ran out: the operator's reading (each
# Sreracha's Ready condition), its informers, queue and last requests, beside
# the Deployments' and pods' own status, so a failure says whether the
# operator or the cluster's controllers lag.
show_state() {
  echo "--- operator /readyz: $(curl -sS "http://127.0.0.1:$HEALTH_PORT/readyz" 2>&1)" >&2
  metric | grep -E '^(workqueue_depth|controller_runtime_active_workers|controller_runtime_reconcile_total)' >&2 || true
  echo "--- the operator's last requests:" >&2
  grep 'kube: ' "$OPERATOR_LOG" | tail -15 >&2 || true
  kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name} gen={.metadata.generation} observed={.status.observedGeneration} ready={.status.readyReplicas} Ready={.status.conditions[?(@.type=="Ready")].status}: {.status.conditions[?(@.type=="Ready")].message}{"\n"}{end}' >&2 || true
  kubectl get deployments -n "$NS" -o wide >&2 || true
  kubectl get pods -n "$NS" -o wide >&2 || true
}

# outage <component> <seconds> <deleted Service> <scaled before> <scaled after>
outage() {
  local component="$1" down_for="$2"
  kubectl delete service "$3" -n "$NS" --wait=false >/dev/null
  scale_to_2 "$4"
  "$CLUSTER" kill "$component" 2>/dev/null
  sleep "$down_for"
  kill -0 "$OPERATOR_PID" 2>/dev/null || fail "the operator exited while $component was down"
  "$CLUSTER" restart "$component" 2>/dev/null
  wait_until 60 "the API server after restarting $component" api_up
  local restarted=$SECONDS
  wait_until 30 "the spec change made after the restart" scale_to_2 "$5"
  if ! (wait_until 30 "convergence within 30 s of restarting $component" converged "$3" "$4" "$5"); then
    kubectl get services -n "$NS" >&2
    show_state
    fail "not converged within 30 s of restarting $component"
  fi
  local converged_after=$((SECONDS - restarted))
  # Where the rest of the wait goes: the second pod of the Deployment scaled
  # after the restart is kube-controller-manager's to create, and kwok's to
  # make Ready.
  pods_made() { [[ "$(kubectl get deploy "$5" -n "$NS" -o jsonpath='{.status.replicas}')" -ge 2 ]]; }
  wait_until 120 "kube-controller-manager to create the second pod of $5" pods_made "$@"
  local pods_after=$((SECONDS - restarted))
  if ! (wait_until 120 "all Ready after restarting $component" all_ready); then
    show_state
    fail "not all Ready within 120 s of restarting $component"
  fi
  kill -0 "$OPERATOR_PID" 2>/dev/null || fail "the operator exited after $component came back"
  pass "$component down ${down_for} s: children and status converged ${converged_after} s after its restart; kube-controller-manager made the new pod after ${pods_after} s; all Ready after $((SECONDS - restarted)) s"
}
outage kube-apiserver 20 s1 s2 s3
outage etcd 15 s4 s5 s6

# The cluster is whole again for whatever runs next: nodes Ready.
nodes_ready() { ! kubectl get nodes --no-headers | awk '$2 != "Ready"' | grep -q .; }
wait_until 60 "every node Ready again" nodes_ready
