# Objects of ordinary and large size on every watch the operator has: a
# Sreracha whose env value is 10 KB, one of 100 KB (their Deployments and
# Pods carry it too), and a small one created after them. One event over
# 16 KiB once blinded the operator's watches for good; now each gets a status,
# and the probes answer throughout.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace large
install_crd
start_operator

sreracha() {  # sreracha <name> <bytes of env value>
  python3 - "$1" "$2" <<'PY' | kubectl apply -n "$NS" -f - >/dev/null
import json, sys
name, size = sys.argv[1], int(sys.argv[2])
print(json.dumps({
    "apiVersion": "sreracha.io/v1alpha1", "kind": "Sreracha",
    "metadata": {"name": name},
    "spec": {"image": "sreracha:e2e", "replicas": 1,
             "env": [{"name": "PADDING", "value": "x" * size}]},
}))
PY
}
sreracha env-10k 10000
sreracha env-100k 100000
sleep 1
sreracha after 100

has_status() {
  [[ "$(kubectl get sreracha "$1" -n "$NS" -o jsonpath='{.status.observedGeneration}')" == 1 ]] &&
    [[ "$(condition "$1" Ready)" == True || "$(condition "$1" Degraded)" == True ]]
}
all_have_status() { has_status env-10k && has_status env-100k && has_status after; }
wait_until 90 "a status on every Sreracha" all_have_status
for name in env-10k env-100k after; do
  [[ "$(condition "$name" Ready)" == True ]] ||
    fail "$name: not Ready: $(kubectl get sreracha "$name" -n "$NS" -o jsonpath='{.status.conditions}')"
done
size="$(kubectl get deploy env-100k -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="PADDING")].value}' | wc -c)"
((size == 100000)) || fail "the Deployment carries $size bytes of PADDING, not 100000"
curl -fsS -m 2 "http://127.0.0.1:$HEALTH_PORT/healthz" >/dev/null || fail "/healthz does not answer"
curl -fsS -m 2 "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null || fail "/readyz is not ready"
pass "10 KB, 100 KB and a later small Sreracha all Ready; /healthz and /readyz answer"

# The same with a pool of I/O threads instead of caller-driven I/O.
stop_operator
start_operator --kube-io-threads 2
sreracha pooled-100k 100000
wait_until 90 "a status on the Sreracha reconciled with an I/O pool" has_status pooled-100k
[[ "$(condition pooled-100k Ready)" == True ]] || fail "pooled-100k: not Ready"
pass "with --kube-io-threads 2 too"
