# A new password in the auth Secret rolls what uses it, on the real node
# (issue 16): Local mode, the Secret labelled sreracha.io/watch=true, the app
# stable (spec.stagger.appLifetimeSeconds: 0, so only the rotation replaces
# pods). After `kubectl patch secret`, the Redis pod is replaced first and
# the app's pods only once the new Redis is Ready; then the counter advances
# again (the app reaches Redis with the new password) and the old password is
# refused. A client pod on the real node sends GET /?q=1 to the Service 10
# times a second throughout: at least 99.9 % answer 200. Neither password
# (nor its base64) appears in the operator's trace-level log, in events, in
# the Sreracha, or in any Deployment or pod. The passwords hold the
# characters a URL would need encoded ("@:/?#%" and spaces).
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
source "$(dirname "$0")/../lib/operator.sh"
require_real_node
"$NODE_SRC/scripts/images.sh" import sreracha redis testserver >/dev/null
test_namespace node-rotate
install_crd
start_operator --log-level trace
trap 'status=$?; ((status == 0)) || { dump_pods; kubectl get sreracha web -n "$NS" -o jsonpath="{.status}" >&2 || true; echo >&2; }
  stop_operator; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

OLD_PASSWORD='first p@ss:/?#% one'
NEW_PASSWORD='second p@ss:/?#% two'
RATE=10
DURATION=150
COUNT=$((RATE * DURATION))

kubectl create secret generic auth -n "$NS" --from-literal=password="$OLD_PASSWORD" >/dev/null
kubectl label secret auth -n "$NS" sreracha.io/watch=true >/dev/null
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: web}
spec:
  image: $(image sreracha)
  imagePullPolicy: Never
  replicas: 2
  nodeSelector: {sreracha.io/node: real}
  tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
  stagger: {appLifetimeSeconds: 0}
  redis:
    mode: Local
    local: {image: $(image redis)}
    authSecretRef: {name: auth}
EOF
ready() { [[ "$(condition web Ready)" == True ]]; }
wait_until 180 "web Ready=True with a password" ready

redis_pod() {
  kubectl get pods -n "$NS" -l app.kubernetes.io/component=redis --field-selector=status.phase=Running \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null
}
# redis-cli in the Redis pod authenticates with the password its
# REDISCLI_AUTH holds: the one the pod started with.
counter() { kubectl exec -n "$NS" "$(redis_pod)" -- redis-cli get sreracha:fizzbuzz 2>/dev/null; }
advanced_to() { local c; c="$(counter)"; [[ "$c" =~ ^[0-9]+$ ]] && ((c >= $1)); }
wait_until 60 "the counter reaches 3 with the first password" advanced_to 3
checksum() {  # checksum <deployment>
  kubectl get deployment "$1" -n "$NS" -o jsonpath='{.spec.template.metadata.annotations.sreracha\.io/auth-checksum}'
}
old_checksum="$(checksum web)"
[[ -n "$old_checksum" && "$old_checksum" == "$(checksum web-redis)" ]] ||
  fail "the app and Redis templates carry checksums '$old_checksum' and '$(checksum web-redis)'"
old_redis="$(redis_pod)"
old_app_pods="$(kubectl get pods -n "$NS" -l app.kubernetes.io/component=app -o jsonpath='{.items[*].metadata.name}')"
pass "Ready; both templates carry the password's checksum; the counter advances"

kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
$(real_node_pod_spec 2)
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 33}
  containers:
$(load_client_container web "$COUNT" "$RATE")
EOF
running() { [[ "$(pod_field client '{.status.phase}')" == Running ]]; }
wait_until 60 "the client pod to run" running
sleep 10

kubectl patch secret auth -n "$NS" --type merge \
  -p "{\"data\":{\"password\":\"$(printf '%s' "$NEW_PASSWORD" | base64 -w0)\"}}" >/dev/null
changed_at=$SECONDS

# All pods on the new password: both templates carry its checksum, each
# Deployment has rolled (only updated replicas, all Ready).
rolled() {  # rolled <deployment> <replicas>
  local s
  s="$(kubectl get deployment "$1" -n "$NS" -o jsonpath='{.metadata.generation} {.status.observedGeneration} {.status.replicas} {.status.updatedReplicas} {.status.readyReplicas}')"
  read -r gen observed replicas updated ready_replicas <<<"$s"
  [[ "$gen" == "$observed" && "$replicas" == "$2" && "$updated" == "$2" && "$ready_replicas" == "$2" ]]
}
rotated() {
  local sum
  sum="$(checksum web-redis)"
  [[ -n "$sum" && "$sum" != "$old_checksum" && "$(checksum web)" == "$sum" ]] && rolled web-redis 1 && rolled web 2
}
wait_until 180 "Redis and then the app to roll onto the new password" rotated
rotation_s=$((SECONDS - changed_at))

old_app_pods_gone() {
  local pod
  for pod in $old_app_pods; do ! kubectl get pod "$pod" -n "$NS" >/dev/null 2>&1 || return 1; done
}
wait_until 60 "the app pods of the old password to be gone" old_app_pods_gone
new_redis="$(redis_pod)"
[[ -n "$new_redis" && "$new_redis" != "$old_redis" ]] || fail "the Redis pod was not replaced"
redis_ready_at="$(pod_field "$new_redis" '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')"
first_new_app_at="$(kubectl get pods -n "$NS" -l app.kubernetes.io/component=app \
  -o jsonpath='{range .items[*]}{.metadata.creationTimestamp}{"\n"}{end}' | sort | head -1)"
# RFC 3339 in UTC with whole seconds: they sort as text.
[[ ! "$first_new_app_at" < "$redis_ready_at" ]] ||
  fail "an app pod of the new password was created at $first_new_app_at, before the new Redis was Ready at $redis_ready_at"
pass "a new password reached every pod in ${rotation_s}s: Redis Ready at $redis_ready_at, the app's new pods from $first_new_app_at"

start_count="$(counter)"
[[ "$start_count" =~ ^[0-9]+$ ]] || start_count=0
wait_until 60 "the counter advances with the new password (from $start_count)" advanced_to $((start_count + 3))
old_ping="$(kubectl exec -n "$NS" "$new_redis" -- env REDISCLI_AUTH="$OLD_PASSWORD" redis-cli ping 2>&1 || true)"
[[ "$old_ping" != PONG ]] || fail "the new Redis still accepts the old password"
pass "the counter advances again ($(counter)); the old password is refused"

finished() { [[ "$(pod_field client '{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
wait_until $((DURATION + 120)) "the client pod to finish its $COUNT requests" finished
declare -A web
for kv in $(load_counts client web); do web[${kv%%=*}]="${kv#*=}"; done
((web[requests] == COUNT)) || fail "the client made ${web[requests]} requests, not $COUNT"
((web[ok] * 1000 >= COUNT * 999)) ||
  fail "web answered 200 to ${web[ok]} of $COUNT (longest failure run ${web[longest_failure_run]}) across the rotation"
pass "across the rotation web answered ${web[success_pct]}% 200 (${web[ok]}/$COUNT, longest failure run ${web[longest_failure_run]})"

# Secret hygiene: the passwords live in the Secret and nowhere else.
where="$(mktemp -d /tmp/sreracha-rotate-XXXXXX)"
cp "$OPERATOR_LOG" "$where/operator.log"
kubectl get events -n "$NS" -o json >"$where/events.json"
kubectl get sreracha,deployments,replicasets,pods,services,endpointslices,networkpolicies,poddisruptionbudgets \
  -n "$NS" -o json >"$where/objects.json"
grep -qE '^[^ ]+ trace ' "$where/operator.log" || fail "the operator logged nothing at trace level"
for secret in "$OLD_PASSWORD" "$NEW_PASSWORD" "$(printf '%s' "$OLD_PASSWORD" | base64 -w0)" \
  "$(printf '%s' "$NEW_PASSWORD" | base64 -w0)"; do
  if grep -rlF -- "$secret" "$where" >/dev/null; then
    found="$(grep -rlF -- "$secret" "$where" | xargs -n1 basename | tr '\n' ' ')"
    rm -rf "$where"
    fail "a password (or its base64) appears in: $found"
  fi
done
rm -rf "$where"
pass "neither password appears in the trace-level log, events, status or any child or pod"
