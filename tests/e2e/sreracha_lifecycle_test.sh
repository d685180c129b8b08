# A Sreracha's whole life on the local control plane: examples/local.yaml
# becomes a Ready stack in both zones; drift is reverted; deleted children come
# back; the scale subresource works; a converged reconcile writes nothing;
# Local -> External swaps Redis; Ingress on/off; deleting the CR removes all.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace sreracha-lifecycle
install_crd
start_operator

kubectl apply -n "$NS" -f "$SRC/examples/local.yaml" >/dev/null
name="$(kubectl get sreracha -n "$NS" -o jsonpath='{.items[0].metadata.name}')"
[[ -n "$name" ]] || fail "examples/local.yaml created no Sreracha"

is_ready() { [[ "$(condition "$name" Ready)" == True ]]; }
wait_until 120 "Ready=True" is_ready
pass "Ready=True"

for obj in deployment/$name service/$name service/$name-redis deployment/$name-redis \
  networkpolicy/$name-redis poddisruptionbudget/$name; do
  kubectl get "$obj" -n "$NS" >/dev/null 2>&1 || fail "missing child $obj"
  owner="$(kubectl get "$obj" -n "$NS" -o jsonpath='{.metadata.ownerReferences[?(@.controller==true)].name}')"
  [[ "$owner" == "$name" ]] || fail "$obj is not controlled by the Sreracha (owner '$owner')"
done
pass "every child exists with a controller ownerReference"

zones="$(for n in $(kubectl get pods -n "$NS" -l app.kubernetes.io/instance="$name",app.kubernetes.io/component=app \
  -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}'); do
  kubectl get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}'; done | sort -u | tr '\n' ' ')"
[[ "$zones" == "zone-a zone-b " ]] || fail "app pods not in both zones: $zones"
pass "app pods in zones: $zones"

# Staggered start-up: the second pod came at least the start interval (10 s by
# default) after the first. creationTimestamp has whole seconds.
created="$(kubectl get pods -n "$NS" -l app.kubernetes.io/instance="$name",app.kubernetes.io/component=app \
  -o jsonpath='{range .items[*]}{.metadata.creationTimestamp}{"\n"}{end}' | xargs -n1 date +%s -d | sort -n)"
gap=$(($(tail -1 <<<"$created") - $(head -1 <<<"$created")))
((gap >= 9)) || fail "app pods created ${gap} s apart, want >= 10 s (the start interval)"
pass "app pods created ${gap} s apart"

# Drift: a hand edit of the probe is reverted.
probe_path() { kubectl get deploy "$name" -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].readinessProbe.httpGet.path}'; }
want_probe="$(probe_path)"
[[ "$want_probe" == *"q="* ]] || fail "readiness probe path without q=: $want_probe"
kubectl patch deploy "$name" -n "$NS" --type=json \
  -p '[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/httpGet/path","value":"/"}]' >/dev/null
reverted() { [[ "$(probe_path)" == "$want_probe" ]]; }
wait_until 30 "the probe edit reverted" reverted
pass "hand-edited probe reverted to $want_probe"

# A deleted child is recreated.
kubectl delete service "$name-redis" -n "$NS" --wait=true >/dev/null
recreated() { kubectl get service "$name-redis" -n "$NS" >/dev/null 2>&1; }
wait_until 30 "service/$name-redis recreated" recreated
pass "deleted Service recreated"

# Converged: another reconcile (triggered by touching the CR) sends no write.
sleep 3
before="$(write_requests)"
kubectl annotate sreracha "$name" -n "$NS" e2e/touch="$(date +%s%N)" --overwrite >/dev/null
sleep 3
after="$(write_requests)"
[[ "$before" == "$after" ]] || fail "a converged reconcile wrote $((after - before)) requests"
pass "converged reconcile: 0 writes (total writes so far: $after)"

# The scale subresource.
kubectl scale sreracha "$name" -n "$NS" --replicas=3 >/dev/null
scaled() {
  [[ "$(kubectl get sreracha "$name" -n "$NS" -o jsonpath='{.status.readyReplicas}')" == 3 ]]
}
wait_until 90 "3 ready replicas after kubectl scale" scaled
selector="$(kubectl get sreracha "$name" -n "$NS" -o jsonpath='{.status.selector}')"
[[ "$selector" == *"app.kubernetes.io/instance=$name"* ]] || fail "status.selector: $selector"
pass "kubectl scale --replicas=3 -> 3 ready (selector $selector)"

# Local -> External: the local Redis goes, the ExternalName comes.
kubectl patch sreracha "$name" -n "$NS" --type=merge \
  -p '{"spec":{"redis":{"mode":"External","host":"primary.demo.cache.amazonaws.com"}}}' >/dev/null
external() {
  [[ "$(kubectl get service "$name-redis" -n "$NS" -o jsonpath='{.spec.type}/{.spec.externalName}')" == \
    "ExternalName/primary.demo.cache.amazonaws.com" ]] &&
    ! kubectl get deployment "$name-redis" -n "$NS" >/dev/null 2>&1 &&
    ! kubectl get networkpolicy "$name-redis" -n "$NS" >/dev/null 2>&1
}
wait_until 30 "Redis switched to ExternalName" external
pass "Local -> External: local Redis removed, ExternalName created"

# Ingress on, then off.
kubectl apply --server-side --field-manager e2e -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
YAML
kubectl patch sreracha "$name" -n "$NS" --type=merge \
  -p '{"spec":{"ingress":{"enabled":true,"className":"nginx","host":"app.example.com","tlsSecretName":"app-tls"}}}' >/dev/null
has_ingress() { [[ "$(kubectl get ingress "$name" -n "$NS" -o jsonpath='{.spec.tls[0].secretName}' 2>/dev/null)" == app-tls ]]; }
wait_until 30 "Ingress created" has_ingress
kubectl patch sreracha "$name" -n "$NS" --type=merge -p '{"spec":{"ingress":{"enabled":false}}}' >/dev/null
no_ingress() { ! kubectl get ingress "$name" -n "$NS" >/dev/null 2>&1; }
wait_until 30 "Ingress deleted" no_ingress
pass "Ingress created with TLS, then removed"

events="$(kubectl get events -n "$NS" --field-selector involvedObject.kind=Sreracha -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | sort -u | tr '\n' ' ')"
[[ -n "$events" ]] || fail "no events recorded on the Sreracha"
pass "events: $events"

# Deleting the CR removes every child (garbage collector, foreground).
kubectl delete sreracha "$name" -n "$NS" --wait=true >/dev/null
all_gone() {
  [[ -z "$(kubectl get deploy,svc,pdb,networkpolicy,ingress,endpointslice -n "$NS" \
    -l app.kubernetes.io/instance="$name" -o name 2>/dev/null)" ]]
}
wait_until 60 "children garbage-collected" all_gone
pass "deleting the Sreracha removed every child"
