# A Sreracha that passes the schema but cannot work: its auth Secret is
# missing. The operator says so (Degraded=True naming the Secret, a Warning
# event), touches nothing else, and recovers on its own once the Secret exists.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace degraded
install_crd
start_operator

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: app}
spec:
  image: sreracha:e2e
  replicas: 1
  redis:
    authSecretRef: {name: redis-auth, key: password}
YAML

degraded() { [[ "$(condition app Degraded)" == True ]]; }
wait_until 30 "Degraded=True" degraded
message="$(kubectl get sreracha app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"
[[ "$message" == *"Secret $NS/redis-auth not found"* ]] || fail "Degraded message does not name the Secret: $message"
has_event() {
  [[ -n "$(kubectl get events -n "$NS" --field-selector reason=SecretMissing,type=Warning -o name)" ]]
}
wait_until 15 "a SecretMissing Warning event" has_event
[[ -z "$(kubectl get deploy,svc -n "$NS" -o name)" ]] || fail "children created despite the missing Secret"
pass "Degraded=True: $message; Warning event; nothing else created"

kubectl create secret generic redis-auth -n "$NS" --from-literal=password=s3cret >/dev/null
recovered() { [[ "$(condition app Ready)" == True && "$(condition app Degraded)" == False ]]; }
wait_until 75 "recovery after the Secret was created" recovered
pass "recovered without a spec change once the Secret existed"

# A spec the CRD accepts but the API server refuses once rendered: an
# extended resource requested without a limit (422 on the Deployment). Degraded and Ready name the child and
# the server's message, a Warning event says it, and a fixed spec recovers.
kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: greedy}
spec:
  image: sreracha:e2e
  replicas: 1
  resources:
    requests: {cpu: 100m, example.com/widgets: 2}
YAML
apply_failed() { [[ "$(kubectl get sreracha greedy -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].reason}')" == ApplyFailed ]]; }
wait_until 30 "Degraded ApplyFailed" apply_failed
message="$(kubectl get sreracha greedy -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Degraded")].message}')"
[[ "$message" == "apply Deployment greedy refused by the API server (422 Invalid): "*"Limit must be set for non overcommitable resources"* ]] ||
  fail "Degraded does not name the child and the API's message: $message"
[[ "$(kubectl get sreracha greedy -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" == ApplyFailed ]] ||
  fail "Ready does not say ApplyFailed"
[[ -n "$(kubectl get events -n "$NS" --field-selector reason=ApplyFailed,type=Warning -o name)" ]] ||
  fail "no ApplyFailed Warning event"
pass "refused child: Degraded and Ready ApplyFailed: $message"
kubectl patch sreracha greedy -n "$NS" --type merge -p '{"spec":{"resources":{"requests":{"example.com/widgets":null}}}}' >/dev/null
greedy_recovered() { [[ "$(condition greedy Ready)" == True && "$(condition greedy Degraded)" == False ]]; }
wait_until 60 "recovery after the extended resource was dropped" greedy_recovered
pass "recovered once the spec was fixed"
