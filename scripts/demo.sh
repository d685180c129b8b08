#!/usr/bin/env bash
# The demo on the embedded local control plane (or the cluster in KUBECONFIG
# with SRERACHA_USE_EXISTING_CLUSTER=1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" != 1 ]]; then
  scripts/local-cluster.sh up
  eval "$(scripts/local-cluster.sh env)"
fi
kubectl create namespace sreracha-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n sreracha-demo -f examples/sample-deployment.yaml
kubectl rollout status -n sreracha-demo deployment/sample --timeout=120s
kubectl get pods -n sreracha-demo -o wide
echo
kubectl get nodes -L topology.kubernetes.io/zone
