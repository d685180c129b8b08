# The Redis check against Redis pods on the real node: a primary and its
# replica, each behind a Service. A Sreracha in mode External pointed at the
# replica (an ElastiCache reader endpoint, in production) shows RedisReady
# False, ReadOnlyReplica, whose message says to use the primary endpoint;
# pointed at the primary it turns Ready. The operator runs on this machine,
# outside the cluster's DNS, so the hosts are the Services' ClusterIPs
# (kube-proxy routes this machine's connections to them too). The app's pods
# are on kwok nodes: this is about what the operator finds.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
source "$(dirname "$0")/../lib/operator.sh"
require_real_node
"$NODE_SRC/scripts/images.sh" import redis >/dev/null
test_namespace node-redis-replica
install_crd
SRERACHA_REDIS_CHECK=true start_operator
trap 'status=$?; ((status == 0)) || dump_pods; stop_operator
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

redis() {  # redis <name> [redis-server flags...]
  local name="$1" args=""
  shift
  for a in "$@"; do args+=", \"$a\""; done
  cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $name, labels: {app: $name}}
spec:
$(real_node_pod_spec 2)
  containers:
  - name: redis
    image: $(image redis)
    imagePullPolicy: Never
    args: ["--protected-mode", "no", "--save", "", "--appendonly", "no"$args]
    readinessProbe:
      exec: {command: [redis-cli, ping]}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: $name}
spec:
  selector: {app: $name}
  ports: [{port: 6379}]
EOF
}
{
  redis primary
  redis replica --replicaof "primary.$NS.svc.cluster.local" 6379
} | kubectl apply -n "$NS" -f - >/dev/null
kubectl wait -n "$NS" --for=condition=Ready pod/primary pod/replica --timeout=90s >/dev/null ||
  fail "the Redis pods did not become Ready"
primary_ip="$(kubectl get service primary -n "$NS" -o jsonpath='{.spec.clusterIP}')"
replica_ip="$(kubectl get service replica -n "$NS" -o jsonpath='{.spec.clusterIP}')"
replicating() {
  [[ "$(kubectl exec -n "$NS" replica -- redis-cli info replication)" == *"master_link_status:up"* ]]
}
wait_until 60 "the replica to follow the primary" replicating

kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: web}
spec:
  image: sreracha:node
  replicas: 1
  redis: {mode: External, host: "$replica_ip"}
EOF
redis_message() { condition web RedisReady message; }
reason_is() { [[ "$(condition web RedisReady reason)" == "$1" ]]; }
wait_until 60 "RedisReady ReadOnlyReplica" reason_is ReadOnlyReplica
[[ "$(condition web RedisReady)" == False ]] || fail "RedisReady is not False"
[[ "$(redis_message)" == *"use the primary endpoint, not the reader"* ]] ||
  fail "the message does not point at the primary: $(redis_message)"
[[ "$(condition web Ready)" == False ]] || fail "Ready is not False beside a replica"
pass "replica $replica_ip: RedisReady False, ReadOnlyReplica: $(redis_message)"

kubectl patch sreracha web -n "$NS" --type merge -p "{\"spec\":{\"redis\":{\"host\":\"$primary_ip\"}}}" >/dev/null
wait_until 60 "RedisReady Ready at the primary" reason_is Ready
[[ "$(condition web RedisReady)" == True ]] || fail "RedisReady is not True at the primary"
pass "primary $primary_ip: RedisReady True: $(redis_message)"
