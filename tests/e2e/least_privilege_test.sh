# Least privilege, for real: manifests/ installed as users install it, then
# build/bin/sreracha-operator run out-of-cluster with the ServiceAccount's own
# token (kubectl create token), so it has exactly the ClusterRole's and the
# leader election Role's rights. Every example in examples/ must reach
# Ready=True with no Forbidden in the log; stagger recycling (pods patch and
# delete) and removing a child (delete) must work too; and the identity must be
# refused what it has no business doing.
#
# The operator watches only the test namespace (the shared cluster may hold
# other tests' Srerachas); the ClusterRole's cluster-wide reach is checked
# with `kubectl auth can-i`.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace least-privilege
install_crd

SYSTEM_NS=sreracha-system
SA="system:serviceaccount:$SYSTEM_NS:sreracha-operator"
LEASE="operator-$NS"
WORK="$(mktemp -d /tmp/sreracha-least-privilege-XXXX)"
OPERATOR_LOG="$WORK/operator.log"

# A previous run's namespace may still be terminating.
settled() { [[ "$(kubectl get namespace "$SYSTEM_NS" -o jsonpath='{.status.phase}' 2>/dev/null)" != Terminating ]]; }
wait_until 120 "namespace $SYSTEM_NS to finish terminating" settled
# The install is left alone when it was there before this test (someone's
# cluster, or a concurrent run); otherwise removed at the end.
installed_here=0
kubectl get namespace "$SYSTEM_NS" >/dev/null 2>&1 || installed_here=1
cleanup() {
  stop_operator
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  kubectl delete lease "$LEASE" -n "$SYSTEM_NS" --ignore-not-found >/dev/null 2>&1 || true
  if ((installed_here)); then
    kubectl delete -k "$SRC/manifests" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

kubectl apply --server-side --field-manager e2e -k "$SRC/manifests" >/dev/null
# kwok marks the Deployment's pods Ready without running them: this proves the
# objects, including the pod security context under the namespace's
# "restricted" Pod Security Standard, not the binary (that is the rest).
kubectl rollout status deployment/sreracha-operator -n "$SYSTEM_NS" --timeout=90s >/dev/null ||
  fail "deployment/sreracha-operator from manifests/ not available: $(kubectl get events -n "$SYSTEM_NS" 2>&1 | tail -5)"
pass "kubectl apply --server-side -k manifests/: deployment/sreracha-operator available (2 pods, restricted)"

# --- a kubeconfig holding nothing but the ServiceAccount's token -------------
token=""
for _ in $(seq 50); do  # the ServiceAccount may need a moment after apply
  token="$(kubectl create token sreracha-operator -n "$SYSTEM_NS" --duration=1h 2>/dev/null)" && break
  sleep 0.2
done
[[ -n "$token" ]] || fail "kubectl create token sreracha-operator -n $SYSTEM_NS"
server="$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')"
ca_data="$(kubectl config view --minify --raw --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
SA_KUBECONFIG="$WORK/sa.kubeconfig"
cat >"$SA_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: sreracha-operator
  user:
    token: $token
contexts:
- name: sreracha-operator
  context: {cluster: cluster, user: sreracha-operator, namespace: $SYSTEM_NS}
current-context: sreracha-operator
EOF
chmod 600 "$SA_KUBECONFIG"
who="$(kubectl --kubeconfig "$SA_KUBECONFIG" auth whoami -o jsonpath='{.status.userInfo.username}')"
[[ "$who" == "$SA" ]] || fail "the token authenticates as '$who', want $SA"
pass "kubeconfig with the ServiceAccount token: $who"

# --- what the identity is refused, and what it is granted --------------------
can() { kubectl auth can-i "$@" --as="$SA" 2>/dev/null; }
for refused in "delete namespaces" "create clusterrolebindings" "create secrets -n $NS" \
  "patch secrets -n $NS" "delete secrets -n $NS" "create pods -n $NS" "delete pods -n $NS" \
  "update srerachas.sreracha.io -n $NS" "patch srerachas.sreracha.io --subresource=scale -n $NS" \
  "get configmaps -n $NS" "get deployments.apps -n $NS" "get services -n $NS" "patch leases.coordination.k8s.io -n $NS" "delete leases.coordination.k8s.io -n $SYSTEM_NS"; do
  # shellcheck disable=SC2086
  if can $refused >/dev/null; then fail "the operator's identity may $refused"; fi
done
pass "refused: delete namespaces, create clusterrolebindings, writes to Secrets, delete pods, ..."
for granted in "list srerachas.sreracha.io -A" "watch srerachas.sreracha.io -A" "patch srerachas.sreracha.io --subresource=status -A" \
  "list deployments.apps -A" "watch persistentvolumeclaims -A" "create deployments.apps -A" "patch deployments.apps -A" "delete deployments.apps -A" \
  "watch services -A" "patch endpointslices.discovery.k8s.io -A" "patch networkpolicies.networking.k8s.io -A" \
  "patch ingresses.networking.k8s.io -A" "delete poddisruptionbudgets.policy -A" "patch persistentvolumeclaims -A" \
  "list pods -A" "patch pods -A" "create pods --subresource=eviction -A" "get secrets -n $NS" "list secrets -A" "watch secrets -A" "watch ingressclasses.networking.k8s.io" \
  "create events -n $NS" "patch events -n $NS" "get leases.coordination.k8s.io -n $SYSTEM_NS" \
  "create leases.coordination.k8s.io -n $SYSTEM_NS" "update leases.coordination.k8s.io -n $SYSTEM_NS"; do
  # shellcheck disable=SC2086
  can $granted >/dev/null || fail "the operator's identity may not $granted"
done
pass "granted: every verb the operator uses"

# IngressClasses the ingress examples name; cluster-scoped and shared with
# other tests (sreracha_lifecycle_test applies nginx the same way), so kept.
kubectl apply --server-side --field-manager e2e -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: alb}
spec: {controller: ingress.k8s.aws/alb}
YAML

# --- the operator as the ServiceAccount -------------------------------------
METRICS_PORT="$(free_port)"
HEALTH_PORT="$(free_port)"
"$BIN" --kubeconfig "$SA_KUBECONFIG" --namespace "$NS" \
  --leader-elect --leader-election-namespace "$SYSTEM_NS" --leader-election-id "$LEASE" \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
  --log-format json --redis-check=false >"$OPERATOR_LOG" 2>&1 &
OPERATOR_PID=$!
operator_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$HEALTH_PORT/readyz" 2>/dev/null; }
wait_until 30 "the operator's /readyz" operator_ready
holder() { kubectl get lease "$LEASE" -n "$SYSTEM_NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
has_holder() { [[ -n "$(holder)" ]]; }
wait_until 30 "the leader election Lease" has_holder
pass "leader Lease $SYSTEM_NS/$LEASE held by $(holder)"

# --- every example reaches Ready=True ----------------------------------------
now_ms() { date +%s%3N; }
declare -A applied_at ready_after
names=()
for example in local elasticache endpoints ingress-nginx ingress-alb; do
  file="$SRC/examples/$example.yaml"
  name="$(awk '/^kind: Sreracha/ {s=1} s && /^  name:/ {print $2; exit}' "$file")"
  [[ -n "$name" ]] || fail "no Sreracha in $file"
  applied_at[$name]="$(now_ms)"
  # (ingress-nginx.yaml's TLS Secret holds placeholders; kubectl warns.)
  kubectl apply -n "$NS" -f "$file" 2> >(grep -v 'failed to find any PEM data' >&2) >/dev/null
  names+=("$name:$example")
done
deadline=$((SECONDS + 240))
while :; do
  pending=0
  for entry in "${names[@]}"; do
    name="${entry%%:*}"
    [[ -n "${ready_after[$name]:-}" ]] && continue
    if [[ "$(condition "$name" Ready)" == True ]]; then
      ready_after[$name]="$(($(now_ms) - ${applied_at[$name]}))"
    else
      pending=1
    fi
  done
  ((pending)) || break
  if ((SECONDS > deadline)); then
    kubectl get sreracha -n "$NS" >&2
    fail "not every example reached Ready=True within 240 s"
  fi
  sleep 0.25
done
echo "time to Ready=True under the ServiceAccount's rights:"
printf '  %-28s %-20s %8s %s\n' example sreracha seconds replicas
for entry in "${names[@]}"; do
  name="${entry%%:*}"
  replicas="$(kubectl get sreracha "$name" -n "$NS" -o jsonpath='{.spec.replicas} ({.spec.redis.mode} Redis)')"
  printf '  %-28s %-20s %8.1f %s\n' "examples/${entry#*:}.yaml" "$name" "$(awk -v ms="${ready_after[$name]}" 'BEGIN {print ms / 1000}')" "$replicas"
done
pass "every example reached Ready=True"

# --- stagger recycling patches and deletes pods; a child the spec drops is deleted
kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: recycler}
spec:
  image: sreracha:e2e
  replicas: 2
  redis: {mode: External, host: redis.example.com}
  stagger: {appLifetimeSeconds: 20}
  podAnnotations:
    sim.sreracha.io/lifetime-seconds: "20"
    sim.sreracha.io/startup-seconds: "2"
YAML
recycles() { kubectl get sreracha recycler -n "$NS" -o jsonpath='{.status.stagger.recycles}' 2>/dev/null; }
recycled() { local n; n="$(recycles)"; ((${n:-0} >= 2)); }
wait_until 120 "two pod recycles" recycled
pass "stagger recycled pods (pods patch/delete) $(recycles) times"
kubectl patch sreracha recycler -n "$NS" --type=merge -p '{"spec":{"podDisruptionBudget":{"enabled":false}}}' >/dev/null
no_pdb() { ! kubectl get pdb recycler -n "$NS" >/dev/null 2>&1; }
wait_until 30 "the PodDisruptionBudget removed" no_pdb
pass "a child the spec no longer asks for was deleted"

# --- nothing was forbidden ----------------------------------------------------
events="$(kubectl get events -n "$NS" --field-selector involvedObject.kind=Sreracha \
  -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | sort -u | tr '\n' ' ')"
[[ "$events" == *Created* ]] || fail "no Created events from the operator (events: $events)"
if grep -i -n 'forbidden\|(403)' "$OPERATOR_LOG" >&2; then fail "the operator log shows Forbidden"; fi
denied="$(metric | awk '/^rest_client_requests_total\{/ && /code="403"/ {sum += $NF} END {print sum + 0}')"
[[ "$denied" == 0 ]] || fail "$denied requests answered 403"
requests="$(metric | awk '/^rest_client_requests_total\{/ {sum += $NF} END {print sum + 0}')"
rss="$(metric | awk '/^process_resident_memory_bytes/ {printf "%.1f", $NF / 1048576}')"
cpu="$(metric | awk '/^process_cpu_seconds_total/ {print $NF}')"
pass "no Forbidden in $requests API requests; events: $events; operator RSS ${rss} MiB, CPU ${cpu} s"
