#!/usr/bin/env bash
# 1,000 sequential GETs of one ConfigMap: kube::Client against curl holding
# one kept-alive connection (all URLs on one curl command line), against the
# same API server, in interleaved rounds (timings here are noisy: every round
# gives a ratio, the median of the rounds is the figure); then the client's
# resident memory while it holds one open watch.
#
#   bench/kube_get.sh [count] [rounds]
#
# Cluster: KUBECONFIG, else the local control plane (scripts/local-cluster.sh).
# Binary: $KUBE_GET_BENCH, else <build>/bin/kube_get_bench with <build> =
# $SRERACHA_BINARY_DIR or ./build  (ninja -C build kube_get_bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${1:-1000}"
ROUNDS="${2:-5}"
if [[ -z "${KUBECONFIG:-}" ]]; then
  eval "$("$ROOT/scripts/local-cluster.sh" env)"
fi
BENCH="${KUBE_GET_BENCH:-${SRERACHA_BINARY_DIR:-$ROOT/build}/bin/kube_get_bench}"
[[ -x "$BENCH" ]] || { echo "kube_get.sh: $BENCH not built (ninja -C build kube_get_bench)" >&2; exit 1; }

NS="kube-bench-$$"
WORK="$(mktemp -d)"
cleanup() {
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" create configmap bench --from-literal=greeting=hello >/dev/null

# The current context's server and client credentials, for curl.
view() { kubectl config view --raw --minify -o jsonpath="$1"; }
# A kubeconfig holds each either inline (base64, *-data) or as a file path.
credential() {
  local data file
  data="$(view "{.$1-data}")"
  if [[ -n "$data" ]]; then base64 -d <<<"$data"; else file="$(view "{.$1}")"; [[ -n "$file" ]] && cat "$file"; fi
}
SERVER="$(view '{.clusters[0].cluster.server}')"
credential 'clusters[0].cluster.certificate-authority' >"$WORK/ca.crt"
credential 'users[0].user.client-certificate' >"$WORK/client.crt"
credential 'users[0].user.client-key' >"$WORK/client.key"
if [[ ! -s "$WORK/client.crt" ]]; then
  echo "kube_get.sh: the current kubeconfig user has no client certificate; curl needs one" >&2
  exit 1
fi

# --- curl, one process, one connection ---------------------------------------
# A config file instead of 2,000 arguments; the first transfer (TLS handshake)
# is a warm-up, as the client's first ten are. curl speaks HTTP/2 to the API
# server when it can; cpprestsdk speaks HTTP/1.1 only, so curl runs both ways.
URL="$SERVER/api/v1/namespaces/$NS/configmaps/bench"
{
  for ((i = 0; i <= COUNT; i++)); do
    echo "url = \"$URL\""
    echo "output = \"/dev/null\""
  done
} >"$WORK/curl.cfg"

# run_curl <label> <curl flag>: prints one summary line like the client's.
run_curl() {
  local label="$1" flag="$2" start_ns end_ns warmup connects
  start_ns="$(date +%s%N)"
  curl "$flag" --silent --show-error --fail --cacert "$WORK/ca.crt" --cert "$WORK/client.crt" \
    --key "$WORK/client.key" -H 'Accept: application/json' \
    -w '%{time_total} %{num_connects}\n' -K "$WORK/curl.cfg" >"$WORK/$label.txt"
  end_ns="$(date +%s%N)"
  # Rate: timed transfers over the wall time minus the warm-up transfer.
  warmup="$(head -1 "$WORK/$label.txt" | cut -d' ' -f1)"
  connects="$(awk '{ c += $2 } END { print c }' "$WORK/$label.txt")"
  tail -n +2 "$WORK/$label.txt" | cut -d' ' -f1 | sort -g |
    awk -v label="$label" -v wall_ns="$((end_ns - start_ns))" -v warmup="$warmup" -v connects="$connects" '
      { t[NR] = $1 * 1000 }
      END {
        n = NR
        seconds = wall_ns / 1e9 - warmup
        printf "%s: %d GETs in %.3f s: %.1f req/s, p50 %.3f ms, p99 %.3f ms, %d TLS connection(s)\n",
          label, n, seconds, n / seconds, t[int(0.50 * (n - 1) + 1.5)], t[int(0.99 * (n - 1) + 1.5)], connects
      }'
}
rate() { sed -n 's/.* \([0-9.]*\) req\/s.*/\1/p'; }
p50() { sed -n 's/.* p50 \([0-9.]*\) ms.*/\1/p'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for ((round = 1; round <= ROUNDS; round++)); do
  echo "round $round"
  for label in sreracha-client curl-http1.1 curl-http2; do
    case "$label" in
      sreracha-client) "$BENCH" "$NS" bench "$COUNT" | tee "$WORK/line" ;;
      curl-http1.1) run_curl "$label" --http1.1 | tee "$WORK/line" ;;
      curl-http2) run_curl "$label" --http2 | tee "$WORK/line" ;;
    esac
    rate <"$WORK/line" >>"$WORK/$label.rates"
    p50 <"$WORK/line" >>"$WORK/$label.p50s"
  done
  for curl in curl-http1.1 curl-http2; do
    awk -v ours="$(tail -1 "$WORK/sreracha-client.rates")" -v curl="$(tail -1 "$WORK/$curl.rates")" \
      'BEGIN {printf "%.3f\n", ours / curl}' >>"$WORK/$curl.ratios"
  done
done

echo "--- medians of $ROUNDS rounds of $COUNT GETs"
for label in sreracha-client curl-http1.1 curl-http2; do
  printf '%s: %.1f req/s, p50 %.3f ms\n' "$label" "$(median <"$WORK/$label.rates")" "$(median <"$WORK/$label.p50s")"
done
for curl in curl-http1.1 curl-http2; do
  printf 'ratio: sreracha-client / %s = %.2f (median of per-round req/s ratios: %s; >= 1 means at least as fast)\n' \
    "$curl" "$(median <"$WORK/$curl.ratios")" "$(tr '\n' ' ' <"$WORK/$curl.ratios" | sed 's/ $//')"
done

# --- memory with one open watch ----------------------------------------------
"$BENCH" "$NS" bench 100 --watch | tail -1
