# Cluster DNS and Services on the real node: from a pod, glibc's getent
# resolves <service>.<ns>.svc.cluster.local (and the short name, through the
# search path the kubelet writes) to the Service's ClusterIP, a TCP
# connection to that ClusterIP reaches the backend pod through kube-proxy,
# and a name outside the cluster does not resolve (CoreDNS forwards nothing).
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
test_namespace node-dns
trap 'status=$?; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

pod() {  # pod <name> <port>
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $1}}
spec:
$(real_node_pod_spec 2)
  securityContext: {runAsUser: 33}
  containers:
  - name: server
    image: $(image testserver)
    imagePullPolicy: Never
    args: [serve, --port, "$2"]
    readinessProbe:
      httpGet: {path: /, port: $2}
      periodSeconds: 1
EOF
}
{
  pod backend 8080
  echo ---
  pod client 8081
  cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
EOF
} | kubectl apply -n "$NS" -f - >/dev/null
kubectl wait -n "$NS" --for=condition=Ready pod/backend pod/client --timeout=90s >/dev/null ||
  fail "backend and client did not become Ready"
cluster_ip="$(kubectl get service backend -n "$NS" -o jsonpath='{.spec.clusterIP}')"

# CoreDNS sees the Service through its watch: allow it a moment.
resolves() { kubectl exec -n "$NS" client -- getent hosts "backend.$NS.svc.cluster.local" >/dev/null 2>&1; }
wait_until 30 "backend.$NS.svc.cluster.local to resolve" resolves
out="$(kubectl exec -n "$NS" client -- getent hosts "backend.$NS.svc.cluster.local")"
[[ "$out" == "$cluster_ip "*"backend.$NS.svc.cluster.local"* ]] ||
  fail "getent hosts backend.$NS.svc.cluster.local said '$out', want $cluster_ip"
out="$(kubectl exec -n "$NS" client -- getent hosts backend)" || fail "the short name backend does not resolve"
[[ "$out" == "$cluster_ip "* ]] || fail "getent hosts backend said '$out', want $cluster_ip"
pass "getent hosts resolves backend.$NS.svc.cluster.local and backend to $cluster_ip"

if out="$(kubectl exec -n "$NS" client -- getent hosts example.com 2>&1)"; then
  fail "example.com resolved from a pod ('$out'): the cluster DNS must not forward"
fi
pass "a name outside cluster.local does not resolve"

# Through the ClusterIP, kube-proxy's DNAT, to the backend pod (which answers
# with its host name, the pod's name).
body="$(kubectl exec -n "$NS" client -- testserver get "$cluster_ip" 80 /?q=svc)" ||
  fail "no answer from the ClusterIP $cluster_ip:80"
[[ "$body" == "testserver backend /?q=svc" ]] || fail "the ClusterIP answered '$body'"
grep -q "request GET /?q=svc from $(pod_field client '{.status.podIP}')" <<<"$(kubectl logs -n "$NS" backend)" ||
  fail "the backend did not log the client's request: $(kubectl logs -n "$NS" backend | tail -3)"
pass "a TCP connection to the ClusterIP $cluster_ip reaches the backend pod, from the client's own address"
