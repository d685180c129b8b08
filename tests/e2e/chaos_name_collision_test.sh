# Two Srerachas whose children would share names: `a` wants a Deployment
# a-redis for its Redis, and `a-redis` wants one for its app. Whichever comes
# second finds the Deployment controlled by the other and is Degraded
# (ChildNotOwned) with a message naming it; nothing flaps: the shared
# Deployment's resourceVersion stays the same for 30 s.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-names
install_crd
start_operator

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: a}
spec: {image: sreracha:e2e, replicas: 1, stagger: {appLifetimeSeconds: 0}}
YAML
a_ready() { [[ "$(condition a Ready)" == True ]]; }
wait_until 90 "a Ready" a_ready
kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: a-redis}
spec: {image: sreracha:e2e, replicas: 1, stagger: {appLifetimeSeconds: 0}}
YAML
degraded() { [[ "$(condition a-redis Degraded)" == True ]]; }
wait_until 30 "a-redis Degraded" degraded
message="$(kubectl get sreracha a-redis -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"
[[ "$message" == *"Deployment $NS/a-redis exists and is not controlled by this Sreracha"* ]] ||
  fail "the message does not name the Deployment: $message"
owner="$(kubectl get deploy a-redis -n "$NS" -o jsonpath='{.metadata.ownerReferences[?(@.controller==true)].name}')"
[[ "$owner" == a ]] || fail "the Deployment a-redis is now controlled by '$owner'"
pass "a-redis Degraded: $message"

rv="$(kubectl get deploy a-redis -n "$NS" -o jsonpath='{.metadata.resourceVersion}')"
status_rv="$(kubectl get sreracha a-redis -n "$NS" -o jsonpath='{.metadata.resourceVersion}')"
sleep 30
[[ "$(kubectl get deploy a-redis -n "$NS" -o jsonpath='{.metadata.resourceVersion}')" == "$rv" ]] ||
  fail "the shared Deployment a-redis changed within 30 s: the two fight over it"
[[ "$(kubectl get sreracha a-redis -n "$NS" -o jsonpath='{.metadata.resourceVersion}')" == "$status_rv" ]] ||
  fail "the Degraded Sreracha's status kept changing"
[[ "$(condition a Ready)" == True ]] || fail "a is no longer Ready"
pass "nothing flaps for 30 s: the Deployment a-redis and a-redis's status unchanged, a still Ready"
