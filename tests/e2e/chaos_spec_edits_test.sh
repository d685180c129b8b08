# 20 edits of one Sreracha's spec, 200 ms apart, while the operator works on
# each: the final state is the last spec's (replicas, env, image), nothing
# is left half-applied, the conflicts such racing causes are retried, and
# the log holds no loop of errors. Then a converged reconcile writes nothing.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace chaos-edits
install_crd
# Debug: the log names every request, so a write that should not have
# happened says what it was.
start_operator --log-level debug

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: busy}
spec: {image: "sreracha:e2e-0", replicas: 1, stagger: {appLifetimeSeconds: 0}}
YAML
for i in $(seq 1 20); do
  kubectl patch sreracha busy -n "$NS" --type merge -p \
    "{\"spec\":{\"image\":\"sreracha:e2e-$i\",\"replicas\":$((i % 3 + 1)),\"env\":[{\"name\":\"EDIT\",\"value\":\"$i\"}]}}" >/dev/null
  sleep 0.2
done
want_replicas=$((20 % 3 + 1))
# Converged: the last spec applied and observed, the staggered start-up done
# (the Deployment asks for the wanted replicas) and the rollout done (no pod
# of an earlier template left, as `kubectl rollout status` waits for). Ready
# with the wanted count can come before that: with maxSurge 1 and
# maxUnavailable 0 a rollout passes through moments with exactly that many
# ready pods of mixed templates, and the operator then rightly writes: it
# marks the next old pod to go (a pod patch, a PodRecycled event, the
# recycle count in status).
converged() {
  local image edit generation observed asked replicas updated available
  read -r image edit generation observed asked replicas updated available < <(kubectl get deploy busy -n "$NS" \
    -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[?(@.name=="EDIT")].value} {.metadata.generation} {.status.observedGeneration} {.spec.replicas} {.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}')
  [[ "$image $edit" == "sreracha:e2e-20 20" && "$observed" == "$generation" ]] || return 1
  [[ "$asked $replicas $updated $available" == "$want_replicas $want_replicas $want_replicas $want_replicas" ]] || return 1
  local ready status
  read -r ready replicas observed generation status < <(kubectl get sreracha busy -n "$NS" \
    -o jsonpath='{.status.readyReplicas} {.status.replicas} {.status.observedGeneration} {.metadata.generation} {.status.conditions[?(@.type=="Ready")].status}')
  [[ "$ready $replicas" == "$want_replicas $want_replicas" && "$observed" == "$generation" && "$status" == True ]]
}
wait_until 120 "the last spec applied, observed, rolled out and Ready" converged
pass "after 20 edits 200 ms apart: image, env and $want_replicas replicas of the last one, rolled out, Ready"

# Debug lines aside: a request that failed in transit also says "-> transport
# error in ..." at debug, beside the line that reports it (which counts).
above_debug="$(grep -v '^[^ ]* debug ' "$OPERATOR_LOG" || true)"
errors="$(grep -c ' error \|"level":"error"' <<<"$above_debug" || true)"
((errors <= 3)) || { grep ' error ' <<<"$above_debug" | tail -5 >&2; fail "$errors error lines in the log"; }
sleep 3
before="$(write_requests)"
mark="$(wc -l <"$OPERATOR_LOG")"
kubectl annotate sreracha busy -n "$NS" e2e/touch="$(date +%s%N)" --overwrite >/dev/null
sleep 5
after="$(write_requests)"
if [[ "$before" != "$after" ]]; then
  tail -n "+$((mark + 1))" "$OPERATOR_LOG" | grep -E 'kube: (POST|PUT|PATCH|DELETE) ' >&2 || true
  kubectl get deploy,rs,pods -n "$NS" -o wide >&2 || true
  fail "a converged reconcile wrote $((after - before)) requests"
fi
pass "$errors error lines in the log; converged afterwards: 0 writes"
