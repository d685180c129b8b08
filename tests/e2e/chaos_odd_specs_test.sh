# Odd but schema-valid specs, as a new user writes them: an image without a
# tag, 0 and 50 replicas, a probe with an empty q=, a 100 KiB environment
# value, quantities written every way the API accepts, requests above limits,
# wildcard and upper-case Ingress hosts. Each is refused by the API server
# with a message, or reconciled to a Ready (or Degraded) condition with one;
# the operator stays up, logs no error, and once all have converged a
# reconcile of every one writes nothing.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-odd
install_crd
start_operator

# sreracha <name> <spec as a YAML flow mapping>: applies it; prints the API
# server's refusal (exit 1) if it refuses.
sreracha() {
  kubectl apply -n "$NS" -f - 2>&1 >/dev/null <<YAML
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: $1}
spec: $2
YAML
}
# refused <name> <message fragment> <spec>
refused() {
  local out
  if out="$(sreracha "$1" "$3")"; then fail "$1 accepted: $3"; fi
  [[ "$out" == *"$2"* ]] || fail "$1 refused without '$2': $out"
  pass "$1 refused by the API server: ${out##*: }"
}
stable='stagger: {appLifetimeSeconds: 0}'
big="$(head -c 102400 /dev/zero | tr '\0' x)"

sreracha untagged "{image: sreracha, replicas: 1, $stable}"
sreracha zero "{image: sreracha:e2e, replicas: 0, $stable}"
# Started one after another (troubleshooting.md: NotReady "R/50 replicas
# ready" for (N-1) x startIntervalSeconds); with interval 0, each as soon as
# the one before it is Ready, so the test need not wait 8 minutes.
sreracha fifty "{image: sreracha:e2e, replicas: 50, stagger: {appLifetimeSeconds: 0, startIntervalSeconds: 0}}"
sreracha empty-q "{image: sreracha:e2e, replicas: 1, probe: {path: '/?q='}, $stable}"
sreracha big-env "{image: sreracha:e2e, replicas: 1, env: [{name: BIG, value: $big}], $stable}"
sreracha quantities "{image: sreracha:e2e, replicas: 1, $stable, resources: {requests: {cpu: '0.05', memory: 16777216}, limits: {cpu: 1, memory: '0.125Gi'}}, redis: {local: {resources: {requests: {cpu: 10m, memory: '32768Ki'}, limits: {cpu: '1e-1', memory: 128Mi}}}}}"
sreracha wildcard "{image: sreracha:e2e, replicas: 1, $stable, ingress: {enabled: true, host: '*.apps.example.com', tlsSecretName: wildcard-tls}}"
refused greedy "spec.resources.requests must not exceed spec.resources.limits" \
  "{image: sreracha:e2e, resources: {requests: {cpu: '2'}, limits: {cpu: 1}}}"
refused upper "spec.ingress.host must be a lower-case DNS name" \
  "{image: sreracha:e2e, ingress: {enabled: true, host: Sreracha.Example.com, tlsSecretName: t}}"

accepted=(untagged zero fifty empty-q big-env quantities wildcard)
all_ready() {
  [[ "$(kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.metadata.generation}={.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    awk '{split($1, g, "=")} g[1] == g[2] && $2 == "True"' | wc -l)" == "${#accepted[@]}" ]]
}
started=$SECONDS
if ! (wait_until 240 "all ${#accepted[@]} accepted Srerachas Ready" all_ready); then
  kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions}{"\n"}{end}' >&2
  fail "not all Ready"
fi
for name in "${accepted[@]}"; do
  message="$(condition "$name" Ready message)"
  [[ -n "$message" && "$(condition "$name" Degraded)" == False ]] || fail "$name: Ready without a message, or Degraded"
done
pass "${#accepted[@]} odd specs Ready in $((SECONDS - started)) s, each with a message ($(condition zero Ready message) for zero, $(condition fifty Ready message) for fifty)"

# What each rendered, as written.
deploy() { kubectl get deployment "$1" -n "$NS" -o jsonpath="$2"; }
[[ "$(deploy untagged '{.spec.template.spec.containers[0].image}')" == sreracha ]] || fail "untagged: image changed"
[[ "$(deploy empty-q '{.spec.template.spec.containers[0].readinessProbe.httpGet.path}')" == '/?q=' ]] ||
  fail "empty-q: probe path changed"
[[ "$(deploy big-env '{.spec.template.spec.containers[0].env[?(@.name=="BIG")].value}')" == "$big" ]] ||
  fail "big-env: the 100 KiB value did not arrive whole"
[[ "$(deploy quantities '{.spec.template.spec.containers[0].resources.limits.memory}')" == 128Mi ]] ||
  fail "quantities: limits.memory 0.125Gi did not become 128Mi"
[[ "$(kubectl get ingress wildcard -n "$NS" -o jsonpath='{.spec.rules[0].host}')" == '*.apps.example.com' ]] ||
  fail "wildcard: Ingress host"
[[ "$(deploy fifty '{.status.readyReplicas}')" == 50 && "$(deploy zero '{.spec.replicas}')" == 0 ]] ||
  fail "fifty or zero: replicas"
pass "rendered as written: untagged image, q= probe, 100 KiB env value, 0.125Gi as 128Mi, wildcard host, 0 and 50 replicas"

# Converged: touching every one makes each reconcile, and none writes.
kill -0 "$OPERATOR_PID" || fail "the operator exited"
sleep 3
before="$(write_requests)"
for name in "${accepted[@]}"; do
  kubectl annotate sreracha "$name" -n "$NS" e2e/touch="$(date +%s%N)" --overwrite >/dev/null
done
sleep 8
after="$(write_requests)"
((after == before)) || fail "converged reconciles wrote $((after - before)) requests"
errors="$(grep -c '"level":"error"\|\[error\]\| error ' "$OPERATOR_LOG" || true)"
((errors == 0)) || { grep ' error ' "$OPERATOR_LOG" | tail -5 >&2; fail "$errors error lines in the log"; }
kill -0 "$OPERATOR_PID" || fail "the operator exited"
pass "converged: a reconcile of each wrote nothing; no error in the log; the operator is up"
