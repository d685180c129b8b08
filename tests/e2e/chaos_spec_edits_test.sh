# 20 edits of one Sreracha's spec, 200 ms apart, while the operator works on
# each: the final state is the last spec's (replicas, env, image), nothing
# is left half-applied, the conflicts such racing causes are retried, and
# the log holds no loop of errors. Then a converged reconcile writes nothing.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-edits
install_crd
start_operator

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: busy}
spec: {image: "sreracha:e2e-0", replicas: 1, stagger: {appLifetimeSeconds: 0}}
YAML
for i in $(seq 1 20); do
  kubectl patch sreracha busy -n "$NS" --type merge -p \
    "{\"spec\":{\"image\":\"sreracha:e2e-$i\",\"replicas\":$((i % 3 + 1)),\"env\":[{\"name\":\"EDIT\",\"value\":\"$i\"}]}}" >/dev/null
  sleep 0.2
done
want_replicas=$((20 % 3 + 1))
converged() {
  local got
  got="$(kubectl get deploy busy -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[?(@.name=="EDIT")].value}')"
  [[ "$got" == "sreracha:e2e-20 20" ]] || return 1
  read -r ready observed generation status < <(kubectl get sreracha busy -n "$NS" \
    -o jsonpath='{.status.readyReplicas} {.status.observedGeneration} {.metadata.generation} {.status.conditions[?(@.type=="Ready")].status}')
  [[ "$ready" == "$want_replicas" && "$observed" == "$generation" && "$status" == True ]]
}
wait_until 120 "the last spec applied, observed and Ready" converged
pass "after 20 edits 200 ms apart: image, env and $want_replicas replicas of the last one, Ready"

errors="$(grep -c ' error \|"level":"error"' "$OPERATOR_LOG" || true)"
((errors <= 3)) || { grep ' error ' "$OPERATOR_LOG" | tail -5 >&2; fail "$errors error lines in the log"; }
sleep 3
before="$(write_requests)"
kubectl annotate sreracha busy -n "$NS" e2e/touch="$(date +%s%N)" --overwrite >/dev/null
sleep 5
after="$(write_requests)"
[[ "$before" == "$after" ]] || fail "a converged reconcile wrote $((after - before)) requests"
pass "$errors error lines in the log; converged afterwards: 0 writes"
