# RedisReady from the operator's Redis check, through the whole operator: a
# Sreracha in mode External names redis-server processes this test starts on
# 127.0.0.1 (as localhost, which an ExternalName may name; kwok's pods never
# dial it). RedisReady follows what Redis answers: Ready with the Secret's
# password, AuthFailed once the Secret changes and Redis still wants the old
# one, Ready again when Redis takes the new one, ReadOnlyReplica when the
# host is a replica. The passwords never reach the log (at trace level),
# events, or the Sreracha.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
command -v redis-server >/dev/null || fail "no redis-server (scripts/setup.sh installs it)"
test_namespace redis-check
install_crd
OLD_PASSWORD='old:p@ss/w?rd#1'
NEW_PASSWORD='new p@ss%2'

work="$(mktemp -d /tmp/sreracha-redis-check.XXXXXX)"
PRIMARY_PORT="$(free_port)"
REPLICA_PORT="$(free_port)"
redis_pids=()
start_redis() {  # start_redis <port> [flags...]
  local port="$1"
  shift
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis-$port.log" "$@" &
  redis_pids+=($!)
  wait_until 10 "redis-server on port $port" redis_answers "$port"
}
redis_answers() {
  redis-cli -p "$1" --no-auth-warning -a "$OLD_PASSWORD" ping 2>/dev/null | grep -q PONG
}
cleanup() {
  stop_operator
  for pid in "${redis_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
start_redis "$PRIMARY_PORT" --requirepass "$OLD_PASSWORD"
start_redis "$REPLICA_PORT" --requirepass "$OLD_PASSWORD" --masterauth "$OLD_PASSWORD" \
  --replicaof 127.0.0.1 "$PRIMARY_PORT"

SRERACHA_REDIS_CHECK=true start_operator --log-level trace
trap cleanup EXIT  # start_operator set its own

kubectl create secret generic redis-auth -n "$NS" --from-literal=password="$OLD_PASSWORD" >/dev/null
kubectl label secret redis-auth -n "$NS" sreracha.io/watch=true >/dev/null
kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: app}
spec:
  image: sreracha:e2e
  replicas: 1
  redis:
    mode: External
    host: localhost
    port: $PRIMARY_PORT
    authSecretRef: {name: redis-auth, key: password}
YAML

redis_message() { condition app RedisReady message; }
reason_is() { [[ "$(condition app RedisReady reason)" == "$1" ]]; }

wait_until 60 "RedisReady=True (Ready)" reason_is Ready
[[ "$(condition app RedisReady)" == True ]] || fail "RedisReady is $(condition app RedisReady)"
ready() { [[ "$(condition app Ready)" == True ]]; }
wait_until 60 "Ready=True" ready
pass "RedisReady: $(redis_message)"

# A new password in the Secret that Redis does not know yet.
kubectl patch secret redis-auth -n "$NS" --type merge \
  -p "{\"data\":{\"password\":\"$(printf %s "$NEW_PASSWORD" | base64 -w0)\"}}" >/dev/null
wait_until 30 "RedisReady AuthFailed after the Secret changed" reason_is AuthFailed
[[ "$(condition app RedisReady)" == False ]] || fail "RedisReady is not False on AuthFailed"
not_ready() { [[ "$(condition app Ready)" == False ]]; }
wait_until 10 "Ready=False while Redis refuses the password" not_ready
[[ "$(kubectl get sreracha app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" == *"refused the password"* ]] ||
  fail "Ready does not say why"
pass "AuthFailed: $(redis_message)"

# Redis takes the new password: the back-off's next check sees it.
redis-cli -p "$PRIMARY_PORT" --no-auth-warning -a "$OLD_PASSWORD" config set requirepass "$NEW_PASSWORD" >/dev/null
wait_until 30 "RedisReady Ready again with the new password" reason_is Ready
pass "Ready again once Redis took the new password"

# The replica's port: the app could read but not write there.
redis-cli -p "$REPLICA_PORT" --no-auth-warning -a "$OLD_PASSWORD" config set requirepass "$NEW_PASSWORD" >/dev/null
kubectl patch sreracha app -n "$NS" --type merge -p "{\"spec\":{\"redis\":{\"port\":$REPLICA_PORT}}}" >/dev/null
wait_until 30 "RedisReady ReadOnlyReplica" reason_is ReadOnlyReplica
[[ "$(redis_message)" == *"use the primary endpoint, not the reader"* ]] || fail "message: $(redis_message)"
pass "ReadOnlyReplica: $(redis_message)"

# Neither password anywhere but the Secret.
for password in "$OLD_PASSWORD" "$NEW_PASSWORD"; do
  ! grep -qF -- "$password" "$OPERATOR_LOG" || fail "a password is in the operator's log"
  ! kubectl get events,sreracha,deploy,svc -n "$NS" -o yaml | grep -qF -- "$password" ||
    fail "a password is in an event or an object"
done
grep -qE '^[^ ]+ trace ' "$OPERATOR_LOG" || fail "the operator logged nothing at trace level"
pass "no password in the trace-level log, events, the Sreracha or its children"
