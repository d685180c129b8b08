# A child's name is taken by an object that is not ours (a Service made by
# hand). The operator leaves it alone: Degraded=True naming it, a Warning
# event, nothing created, the object unchanged. Once it is deleted, the stack
# comes up on its own.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace foreign-child
install_crd
start_operator

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: app
  labels: {team: payments}
spec:
  selector: {team: payments}
  ports: [{port: 8443}]
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: app}
spec:
  image: sreracha:e2e
  replicas: 1
YAML
before="$(kubectl get service app -n "$NS" -o jsonpath='{.metadata.resourceVersion}')"

degraded() { [[ "$(condition app Degraded)" == True ]]; }
wait_until 30 "Degraded=True" degraded
reason="$(kubectl get sreracha app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].reason}')"
message="$(kubectl get sreracha app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"
[[ "$reason" == ChildNotOwned && "$message" == *"Service $NS/app exists and is not controlled by this Sreracha"* ]] ||
  fail "Degraded does not name the foreign Service: $reason: $message"
has_event() {
  [[ -n "$(kubectl get events -n "$NS" --field-selector reason=ChildNotOwned,type=Warning -o name)" ]]
}
wait_until 15 "a ChildNotOwned Warning event" has_event
[[ "$(kubectl get service app -n "$NS" -o jsonpath='{.metadata.resourceVersion}')" == "$before" ]] ||
  fail "the foreign Service was modified"
[[ -z "$(kubectl get deploy -n "$NS" -o name)" ]] || fail "children created next to the foreign Service"
pass "Degraded=True ($reason): $message; Warning event; the Service untouched, nothing created"

kubectl delete service app -n "$NS" --wait=true >/dev/null
recovered() { [[ "$(condition app Ready)" == True && "$(condition app Degraded)" == False ]]; }
wait_until 75 "recovery after the foreign Service was deleted" recovered
owner="$(kubectl get service app -n "$NS" -o jsonpath='{.metadata.ownerReferences[?(@.controller==true)].kind}')"
[[ "$owner" == Sreracha ]] || fail "the recreated Service is not controlled by the Sreracha (owner '$owner')"
pass "recovered once the name was free; the Service is now the Sreracha's"
