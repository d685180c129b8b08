#!/usr/bin/env bash
# Staggered lifetimes vs a plain Deployment, side by side in one run, on the
# local control plane with the crash simulation (tests/e2e/stages/crash.yaml).
#
#   bench/stagger.sh [--replicas N] [--lifetime L] [--duration S] [--learn]
#
# (a) baseline: a plain Deployment of N crash-simulated pods (lifetime L);
# (b) a Sreracha of N replicas with the same pod annotations, managed by the
#     operator (--learn: without stagger.appLifetimeSeconds, so it learns L).
# Both Services' EndpointSlices are sampled 10 times a second from the moment
# both objects are created, and one line is printed:
# stagger: replicas=N lifetime=L duration=S operator_zero_ready_pct=X baseline_zero_ready_pct=Y operator_max_not_ready=K operator_recycles=R
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=2 LIFETIME=20 DURATION=600 LEARN=0
while (($#)); do
  case "$1" in
    --replicas) REPLICAS="$2"; shift 2 ;;
    --lifetime) LIFETIME="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --learn) LEARN=1; shift ;;
    *) echo "usage: $0 [--replicas N] [--lifetime L] [--duration S] [--learn]" >&2; exit 2 ;;
  esac
done

source "$ROOT/bench/lib.sh"
bench_namespace bench-stagger

lifetime_field=""
((LEARN)) || lifetime_field="appLifetimeSeconds: $LIFETIME"
kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: baseline}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: baseline}}
  template:
    metadata:
      labels: {app: baseline}
      annotations:
        sim.sreracha.io/lifetime-seconds: "$LIFETIME"
        sim.sreracha.io/startup-seconds: "2"
    spec:
      containers: [{name: app, image: sreracha:bench}]
---
apiVersion: v1
kind: Service
metadata: {name: baseline}
spec:
  selector: {app: baseline}
  ports: [{port: 80}]
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: managed}
spec:
  image: sreracha:bench
  replicas: $REPLICAS
  stagger: {$lifetime_field}
  podAnnotations:
    sim.sreracha.io/lifetime-seconds: "$LIFETIME"
    sim.sreracha.io/startup-seconds: "2"
YAML

samples="$(mktemp)"
"$BUILD/bin/endpoint_sampler" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
  --service baseline --service managed --replicas "$REPLICAS" \
  --duration "$DURATION" --interval-ms 100 >"$samples"
value() { awk -v s="$1" -v k="$2" '$1 == "service=" s { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$samples"; }
recycles="$(kubectl get sreracha managed -n "$NS" -o jsonpath='{.status.stagger.recycles}')"
echo "stagger: replicas=$REPLICAS lifetime=$LIFETIME duration=$DURATION" \
  "operator_zero_ready_pct=$(value managed zero_ready_pct)" \
  "baseline_zero_ready_pct=$(value baseline zero_ready_pct)" \
  "operator_max_not_ready=$(value managed max_not_ready)" \
  "operator_recycles=${recycles:-0}"
rm -f "$samples"
