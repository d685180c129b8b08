#!/usr/bin/env bash
# Time from `kubectl apply` of a Sreracha to Ready=True, on the local control
# plane, repeated; prints every run, the median, and the write requests the
# operator sent for a converged reconcile.
#
#   bench/ready_time.sh [--runs N] [--example examples/local.yaml]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=10 EXAMPLE=examples/local.yaml
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --example) EXAMPLE="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--example FILE]" >&2; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_namespace bench-ready

times=()
for ((i = 0; i < RUNS; i++)); do
  start=$(date +%s.%N)
  kubectl apply -n "$NS" -f "$EXAMPLE" >/dev/null
  name="$(kubectl get sreracha -n "$NS" -o jsonpath='{.items[0].metadata.name}')"
  kubectl wait "sreracha/$name" -n "$NS" --for=condition=Ready --timeout=180s >/dev/null
  end=$(date +%s.%N)
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
  echo "run $((i + 1)): $(printf '%.2f' "${times[-1]}") s"
  if ((i == RUNS - 1)); then
    # Converged: a reconcile forced by touching the object writes nothing.
    sleep 3
    before="$(write_requests)"
    kubectl annotate sreracha "$name" -n "$NS" bench/touch="$(date +%s%N)" --overwrite >/dev/null
    sleep 3
    echo "writes per converged reconcile: $(($(write_requests) - before))"
  fi
  kubectl delete sreracha "$name" -n "$NS" --wait=true >/dev/null
  # Every pod of the previous run gone, so none is counted for the next one.
  gone() { [[ -z "$(kubectl get deploy,rs,pods -n "$NS" -o name)" ]]; }
  wait_until 60 "children gone" gone
done
sorted="$(printf '%s\n' "${times[@]}" | sort -n)"
median="$(awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}' <<<"$sorted")"
# min shows a Ready that came too early (before the staggered start-up).
printf 'ready_time: runs=%d example=%s median_seconds=%.2f min_seconds=%.2f max_seconds=%.2f\n' \
  "$RUNS" "$EXAMPLE" "$median" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
