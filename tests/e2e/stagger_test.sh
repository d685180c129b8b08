# Staggered lifetimes on the local control plane, against the crash simulation
# (tests/e2e/stages/crash.yaml, the app's lifetime of 30 s): a Sreracha with
# stagger.appLifetimeSeconds and one that must learn it both keep at least one
# ready endpoint all the time, sampled 10 times a second for 3 minutes.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace stagger
install_crd
start_operator

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: known}
spec:
  image: sreracha:e2e
  replicas: 2
  stagger: {appLifetimeSeconds: 30}
  podAnnotations:
    sim.sreracha.io/lifetime-seconds: "30"
    sim.sreracha.io/startup-seconds: "2"
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: learned}
spec:
  image: sreracha:e2e
  replicas: 2
  podAnnotations:
    sim.sreracha.io/lifetime-seconds: "30"
    sim.sreracha.io/startup-seconds: "2"
YAML

samples="$("$(dirname "$BIN")/endpoint_sampler" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
  --service known --service learned --replicas 2 --duration "${STAGGER_E2E_SECONDS:-180}" --interval-ms 100)"
echo "$samples"
field() { grep "^service=$1 " <<<"$samples" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }

[[ "$(field known zero_ready_pct)" == 0.00 ]] || fail "known lifetime: time without a ready replica"
[[ "$(field learned zero_ready_pct)" == 0.00 ]] || fail "learned lifetime: time without a ready replica"
(($(field known max_not_ready) <= 1)) || fail "known lifetime: two replicas down at once"

learned="$(kubectl get sreracha learned -n "$NS" -o jsonpath='{.status.stagger.observedLifetimeSeconds}')"
((learned >= 29 && learned <= 31)) || fail "learned lifetime ${learned:-unset}, want ~30"
recycles="$(kubectl get sreracha known -n "$NS" -o jsonpath='{.status.stagger.recycles}')"
((recycles > 0)) || fail "no pod was recycled"
# Every recycle is counted in the status, although the cached object a
# reconcile starts from often lags our last status write. (An event is sent
# just before its status write, so the events may be one ahead.)
events="$(kubectl get events -n "$NS" --field-selector reason=PodRecycled,involvedObject.name=known \
  -o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{n += $1} END {print n + 0}')"
recycles="$(kubectl get sreracha known -n "$NS" -o jsonpath='{.status.stagger.recycles}')"
((recycles >= events - 1)) || fail "status.stagger.recycles=$recycles, but $events PodRecycled events"
reasons="$(kubectl get events -n "$NS" --field-selector reason=PodRecycled -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' | sed 's/.*(\(.*\))/\1/' | sort -u | tr '\n' ' ')"
[[ -n "$reasons" ]] || fail "no PodRecycled events"
grep -q '^sreracha_pod_recycles_total{reason="lifetime"}' <<<"$(metric)" || fail "no sreracha_pod_recycles_total{reason=\"lifetime\"}"
pass "0% time without a ready replica (known and learned L=$learned); recycles=$recycles ($events events); reasons: $reasons"
