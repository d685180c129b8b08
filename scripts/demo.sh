#!/usr/bin/env bash
# make demo: the operator on the embedded local control plane (or on the
# cluster in KUBECONFIG with SRERACHA_USE_EXISTING_CLUSTER=1).
#
# Brings the cluster up, installs the CRD, starts the operator (it keeps
# running afterwards; its PID and log are printed), applies
# examples/local.yaml with the crash simulation switched on (the real app's
# 30 s lifetime), waits for Ready, shows the stack, then watches the
# staggered replacements for a minute.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "$ROOT"
NS=sreracha-demo
WATCH_SECONDS="${SRERACHA_DEMO_WATCH_SECONDS:-60}"

if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" != 1 ]]; then
  scripts/local-cluster.sh up
  eval "$(scripts/local-cluster.sh env)"
  STATE="$(dirname "$(scripts/local-cluster.sh kubeconfig)")"
else
  STATE="${TMPDIR:-/tmp}/sreracha-demo-$(id -u)"
  mkdir -p "$STATE"
fi

kubectl apply --server-side --field-manager demo -f crds/sreracha.io_srerachas.yaml >/dev/null
kubectl wait --for condition=Established crd/srerachas.sreracha.io --timeout=30s >/dev/null
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# One operator per demo state directory: restart it so it runs this build.
if [[ -f "$STATE/operator.pid" ]] && kill -0 "$(cat "$STATE/operator.pid")" 2>/dev/null; then
  kill "$(cat "$STATE/operator.pid")"
  sleep 1
fi
"$BUILD/bin/sreracha-operator" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
  --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 \
  >"$STATE/operator.log" 2>&1 &
echo $! >"$STATE/operator.pid"
echo "operator: PID $(cat "$STATE/operator.pid"), log $STATE/operator.log"

# examples/local.yaml, plus the annotations that make kwok's fake pods crash
# 30 s after they start, as the real app does (tests/e2e/stages/crash.yaml).
kubectl create --dry-run=client -o json -n "$NS" -f examples/local.yaml | python3 -c '
import json, sys
text, decoder, at, items = sys.stdin.read(), json.JSONDecoder(), 0, []
while text[at:].strip():
    obj, end = decoder.raw_decode(text[at:].lstrip())
    at += len(text[at:]) - len(text[at:].lstrip()) + end
    if obj["kind"] == "Sreracha":
        obj["spec"]["podAnnotations"] = {
            "sim.sreracha.io/lifetime-seconds": "30", "sim.sreracha.io/startup-seconds": "2"}
    items.append(obj)
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))' | kubectl apply -n "$NS" -f -
echo "waiting for Ready (replicas start one after another) ..."
kubectl wait sreracha/sreracha -n "$NS" --for=condition=Ready --timeout=180s
kubectl wait sreracha/sreracha -n "$NS" --for=jsonpath='{.status.readyReplicas}'=2 --timeout=180s
echo
kubectl get sreracha,deploy,svc,pods -n "$NS" -o wide
echo
echo "watching staggered lifetimes for ${WATCH_SECONDS}s (the app crashes 30 s after each start):"
end=$((SECONDS + WATCH_SECONDS))
while ((SECONDS < end)); do
  ready="$(kubectl get endpointslices -n "$NS" -l kubernetes.io/service-name=sreracha \
    -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c true || true)"
  echo "$(date +%T)  ready endpoints: $ready  recycles: $(kubectl get sreracha sreracha -n "$NS" \
    -o jsonpath='{.status.stagger.recycles}')  pods: $(kubectl get pods -n "$NS" \
    -l app.kubernetes.io/component=app --no-headers 2>/dev/null | awk '{printf "%s(%s) ", substr($1, length($1)-4), $2}')"
  sleep 5
done
echo
kubectl get events -n "$NS" --field-selector reason=PodRecycled --sort-by=.lastTimestamp | tail -5
echo
echo "The operator keeps running (PID $(cat "$STATE/operator.pid")); scripts/local-cluster.sh down stops everything."
