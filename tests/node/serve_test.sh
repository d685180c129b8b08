# A plain Deployment of our HTTP test server on the real node: its container
# really runs as the named image user's uid 33 and binds port 80 through the
# pod sysctl net.ipv4.ip_unprivileged_port_start=0; it becomes Ready through
# the kubelet's readiness probe on /?q=healthz (a probe on a port nobody
# listens on keeps a twin not Ready, so Ready is the probe's doing);
# kubectl logs, exec and port-forward reach it through the API server.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
test_namespace node-serve
trap 'status=$?; ((status == 0)) || dump_pods; kill ${PF_PID:-} 2>/dev/null || true; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

deployment() {  # deployment <name> <readiness port>
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
$(real_node_pod_spec 6)
      securityContext:
        runAsNonRoot: true
        runAsUser: 33
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      containers:
      - name: server
        image: $(image testserver)
        imagePullPolicy: Never
        args: [serve, --port, "80"]
        ports: [{containerPort: 80}]
        readinessProbe:
          httpGet: {path: "/?q=healthz", port: $2}
          periodSeconds: 1
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {cpu: 100m, memory: 32Mi}
EOF
}
{ deployment web 80; echo ---; deployment web-unprobed 81; } | kubectl apply -n "$NS" -f - >/dev/null

kubectl rollout status deployment/web -n "$NS" --timeout=90s >/dev/null ||
  fail "deployment web did not become available"
pod="$(pod_of web)"
[[ "$(pod_field "$pod" '{.spec.nodeName}')" == "$REAL_NODE" ]] || fail "$pod is not on $REAL_NODE"
ip="$(pod_field "$pod" '{.status.podIP}')"
pass "deployment web is available: $pod on $REAL_NODE, pod IP $ip"

# The twin runs (its container started) but its probe finds no listener.
twin_running() { [[ -n "$(pod_field "$(pod_of web-unprobed)" '{.status.containerStatuses[0].state.running.startedAt}')" ]]; }
wait_until 60 "web-unprobed's container to run" twin_running
sleep 5
twin="$(pod_of web-unprobed)"
! pod_ready "$twin" || fail "$twin is Ready although its readiness probe targets port 81"
pass "a twin whose readiness probe misses stays not Ready while running"

# (Captured first: with pipefail, `kubectl | grep -q` fails when grep exits at
# its first match while kubectl still writes.)
logs_show_probes() { grep -q 'request GET /?q=healthz' <<<"$(kubectl logs -n "$NS" "$pod")"; }
wait_until 20 "the probe requests in kubectl logs" logs_show_probes
grep -q '^testserver: listening on port 80 as uid 33$' <<<"$(kubectl logs -n "$NS" "$pod")" ||
  fail "kubectl logs lacks the start line: $(kubectl logs -n "$NS" "$pod" | head -3)"
pass "kubectl logs shows the server binding port 80 as uid 33 and the kubelet's probes"

out="$(kubectl exec -n "$NS" "$pod" -- sh -c 'echo "$((6 * 7)) $(testserver version)"')" ||
  fail "kubectl exec failed"
[[ "$out" == "42 testserver 1.0" ]] || fail "kubectl exec printed '$out'"
pass "kubectl exec runs a command in the container"

pf_log="$(mktemp)"
kubectl port-forward -n "$NS" --address 127.0.0.1 "pod/$pod" :80 >"$pf_log" 2>&1 &
PF_PID=$!
pf_port() { sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) -> 80$/\1/p' "$pf_log" | head -1; }
has_port() { [[ -n "$(pf_port)" ]]; }
wait_until 20 "kubectl port-forward to listen" has_port
body="$(curl -fsS --max-time 10 "http://127.0.0.1:$(pf_port)/?q=forwarded")" ||
  fail "no answer through port-forward: $(cat "$pf_log")"
[[ "$body" == "testserver $pod /?q=forwarded" ]] || fail "port-forward answered '$body'"
pass "kubectl port-forward to the pod answers on 127.0.0.1:$(pf_port)"
rm -f "$pf_log"
