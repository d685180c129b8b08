# Local Redis with spec.redis.local.persistence on the real node: the
# operator's claim <name>-redis-data binds (to a PersistentVolume this test
# makes on a directory of this machine: the local cluster has no
# provisioner), Redis writes its append-only file there, and when the Redis
# pod is deleted its replacement starts from that file: the app's counter
# goes on from where it was instead of starting again. The same holds when
# a new password in the auth Secret restarts Redis (rotation rolls Redis
# first, then the app).
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
source "$(dirname "$0")/../lib/operator.sh"
require_real_node
[[ "$(id -u)" == 0 ]] || skip "needs root for the volume's directory"
"$NODE_SRC/scripts/images.sh" import sreracha redis >/dev/null
test_namespace node-persist
install_crd
start_operator
DATA_DIR="$(mktemp -d /tmp/sreracha-pv.XXXXXX)"
PV="sreracha-test-$NS"
trap 'status=$?; ((status == 0)) || dump_pods; stop_operator
  kubectl delete namespace "$NS" --wait=true --timeout=60s >/dev/null 2>&1 || true
  kubectl delete pv "$PV" --wait=false >/dev/null 2>&1 || true
  rm -rf "$DATA_DIR"' EXIT

# The Redis pod runs as uid/gid 999; a hostPath volume keeps the directory's owner.
chown 999:999 "$DATA_DIR"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $PV}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: sreracha-test-manual
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $NS, name: web-redis-data}
  hostPath: {path: $DATA_DIR, type: Directory}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$REAL_NODE]}]}]
EOF
kubectl create secret generic auth -n "$NS" --from-literal=password='one p@ss:/?#%' >/dev/null
kubectl label secret auth -n "$NS" sreracha.io/watch=true >/dev/null
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: web}
spec:
  image: $(image sreracha)
  imagePullPolicy: Never
  replicas: 1
  nodeSelector: {sreracha.io/node: real}
  tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
  redis:
    mode: Local
    local:
      image: $(image redis)
      persistence: {size: 1Gi, storageClassName: sreracha-test-manual}
    authSecretRef: {name: auth}
EOF
ready() { [[ "$(condition web Ready)" == True ]]; }
wait_until 180 "Ready=True with a persistent Redis" ready
phase="$(kubectl get pvc web-redis-data -n "$NS" -o jsonpath='{.status.phase}')"
[[ "$phase" == Bound ]] || fail "the claim web-redis-data is $phase, not Bound"
pass "the operator's claim web-redis-data is Bound to $PV; the instance is Ready"

# redis-cli in the Redis pod authenticates with the REDISCLI_AUTH the
# operator gives it: the password the pod started with.
redis_pod() { kubectl get pods -n "$NS" -l app.kubernetes.io/component=redis --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
counter() { kubectl exec -n "$NS" "$(redis_pod)" -- redis-cli get sreracha:fizzbuzz 2>/dev/null; }
advanced_to() { local c; c="$(counter)"; [[ "$c" =~ ^[0-9]+$ ]] && ((c >= $1)); }
wait_until 90 "the counter reaches 15" advanced_to 15
before="$(counter)"
[[ -s "$DATA_DIR/appendonlydir/appendonly.aof.1.incr.aof" || -n "$(ls "$DATA_DIR"/appendonlydir 2>/dev/null)" ]] ||
  fail "no append-only file under the volume: $(ls -la "$DATA_DIR")"
pass "Redis writes its append-only file on the volume; the counter is at $before"

old_pod="$(redis_pod)"
kubectl delete pod -n "$NS" "$old_pod" --wait=true >/dev/null
# Read the counter as soon as the new Redis answers: with its data lost the
# key would be gone (or back at 1 or 2 once the app reconnected).
new_redis_answers() {
  local p
  p="$(redis_pod)"
  [[ -n "$p" && "$p" != "$old_pod" ]] &&
    [[ "$(kubectl exec -n "$NS" "$p" -- redis-cli ping 2>/dev/null)" == PONG ]]
}
wait_until 120 "a new Redis pod answers" new_redis_answers
after="$(counter)"
[[ "$after" =~ ^[0-9]+$ ]] && ((after >= before)) ||
  fail "the new Redis starts from '$after', not from $before: the data did not survive"
wait_until 60 "the counter advances past $after" advanced_to $((after + 1))
pass "after the Redis pod was replaced the counter goes on from $after (was $before), and advances"

# A new password: the Redis Deployment rolls (its pod reads the password at
# start), then the app's. The counter survives that restart too, and the
# app, on the new password, keeps writing.
before="$(counter)"
old_pod="$(redis_pod)"
kubectl patch secret auth -n "$NS" --type merge \
  -p "{\"data\":{\"password\":\"$(printf %s 'two p@ss:/?#%' | base64 -w0)\"}}" >/dev/null
wait_until 120 "a Redis pod with the new password answers" new_redis_answers
after="$(counter)"
[[ "$after" =~ ^[0-9]+$ ]] && ((after >= before)) ||
  fail "after the rotation Redis starts from '$after', not from $before: the data did not survive"
wait_until 120 "the counter advances past $after on the new password" advanced_to $((after + 1))
pass "after a password rotation restarted Redis the counter goes on from $after (was $before), and advances"
