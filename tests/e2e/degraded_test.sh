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
