# The local control plane schedules a Deployment's pods onto kwok nodes, they
# become Ready, and a zone topologySpreadConstraint puts them in both zones.
source "$(dirname "$0")/../lib/testlib.sh"
test_namespace cluster-deploy

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {matchLabels: {app: web}}
      containers: [{name: web, image: nginx:stable}]
YAML

ready_pods() {
  [[ "$(kubectl get deploy web -n "$NS" -o jsonpath='{.status.readyReplicas}')" == 2 ]]
}
wait_until 60 "2 ready replicas" ready_pods

nodes="$(kubectl get pods -n "$NS" -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')"
[[ "$(wc -l <<<"$nodes")" -eq 2 ]] || fail "expected 2 pods, got: $nodes"
zones="$(for n in $nodes; do kubectl get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}'; done | sort -u)"
[[ "$(echo "$zones" | tr '\n' ' ')" == "zone-a zone-b " ]] || fail "pods not spread over both zones: $zones"
for n in $nodes; do
  [[ "$(kubectl get node "$n" -o jsonpath='{.metadata.annotations.kwok\.x-k8s\.io/node}')" == fake ]] ||
    fail "pod scheduled onto a node kwok does not manage: $n"
done
pass "2 Ready pods on kwok nodes in zones: $(echo $zones)"
