#!/usr/bin/env bash
# Requests per second and resident memory of the app (build/bin/sreracha)
# against a Go net/http server answering the same way (bench/goserver), side by
# side on loopback. Each server is pinned to CPU 0 (Go with GOMAXPROCS=1), wrk
# to CPU 1; rounds alternate between the two (timings on a shared 2-core
# machine are noisy: every round gives a ratio, the median is the figure).
# Both write a JSON access line per request to a file; a second pass turns
# access logs off on both. The app gets a real redis-server on a port of its
# own, so its answers carry the counter. Besides requests per second it
# reports each server's CPU time per request and how busy its core was: when
# neither core is near 100 %, wrk (sharing the other core with whatever else
# runs) was the bottleneck, the req/s of both are the load it offered, and
# requests per CPU-second is the figure that compares the servers.
#
#   bench/app_rps.sh [seconds-per-run] [rounds] [connections]
#
# Binary: $SRERACHA_BINARY_DIR/bin/sreracha or ./build/bin/sreracha
# (cmake --build build --target sreracha). The Go server is built into
# <build>/bench/goserver. Needs wrk and redis-server (scripts/setup.sh).
# Bounded: every run is `wrk -d <seconds>` under `timeout`; everything this
# script starts is stopped by its PID on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_RUN="${1:-5}"
ROUNDS="${2:-5}"
CONNECTIONS="${3:-50}"
BUILD="${SRERACHA_BINARY_DIR:-$ROOT/build}"
APP="$BUILD/bin/sreracha"
GOSERVER="$BUILD/bench/goserver"
[[ -x "$APP" ]] || { echo "app_rps.sh: $APP not built (cmake --build build --target sreracha)" >&2; exit 1; }
for tool in wrk redis-server go taskset; do
  command -v "$tool" >/dev/null || { echo "app_rps.sh: $tool not found (scripts/setup.sh)" >&2; exit 1; }
done
mkdir -p "$BUILD/bench"
(cd "$ROOT/bench/goserver" && GOTOOLCHAIN=local go build -o "$GOSERVER" .)

WORK="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # port
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$1/?q=healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "app_rps.sh: nothing answers on port $1" >&2; return 1
}

REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK" >"$WORK/redis.log" 2>&1 &
pids+=($!)

# start_server app|go access_log(true|false) -> sets SERVER_PID, SERVER_PORT
start_server() {
  SERVER_PORT="$(free_port)"
  if [[ "$1" == app ]]; then
    taskset -c 0 "$APP" --listen "127.0.0.1:$SERVER_PORT" --redis-url "redis://127.0.0.1:$REDIS_PORT" \
      --access-log "$2" >"$WORK/$1.log" 2>&1 &
  else
    GOMAXPROCS=1 taskset -c 0 "$GOSERVER" --listen "127.0.0.1:$SERVER_PORT" \
      --access-log="$2" >"$WORK/$1.log" 2>&1 &
  fi
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  wait_http "$SERVER_PORT"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# The server's user + system CPU time, in clock ticks.
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One run: prints "rps rss_kib peak_rss_kib non2xx cpu_us_per_request"
measure() {  # app|go access_log
  start_server "$1" "$2"
  local out cpu_before cpu_after
  cpu_before="$(cpu_ticks "$SERVER_PID")"
  out="$(timeout $((SECONDS_PER_RUN + 30)) taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" \
    "http://127.0.0.1:$SERVER_PORT/?q=1")"
  cpu_after="$(cpu_ticks "$SERVER_PID")"
  local rps rss hwm non2xx requests cpu_us
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  cpu_us="$(awk -v b="$cpu_before" -v a="$cpu_after" -v r="$requests" -v hz="$CLK_TCK" \
    'BEGIN {printf "%.2f", (a - b) * 1e6 / hz / r}')"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")"
  hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")"
  stop_server
  echo "$rps $rss $hwm ${non2xx:-0} $cpu_us"
}

# How busy a server's core was: requests/s times CPU seconds per request.
busy_pct() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%.0f", r * c / 1e4}'; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for access_log in true false; do
  ratios=(); app_rps=(); go_rps=(); app_rss=(); go_rss=(); app_cpu=(); go_cpu=()
  for round in $(seq "$ROUNDS"); do
    read -r a_rps a_rss a_hwm a_bad a_cpu < <(measure app "$access_log")
    read -r g_rps g_rss g_hwm g_bad g_cpu < <(measure go "$access_log")
    if [[ "$a_bad" != 0 || "$g_bad" != 0 ]]; then
      echo "app_rps.sh: non-2xx answers (app $a_bad, go $g_bad)" >&2; exit 1
    fi
    printf 'round %d access_log=%s app: %.0f req/s %s us CPU/req (%.0f %% of its core) rss %d KiB (peak %d) | go: %.0f req/s %s us CPU/req (%.0f %%) rss %d KiB (peak %d)\n' \
      "$round" "$access_log" "$a_rps" "$a_cpu" "$(busy_pct "$a_rps" "$a_cpu")" "$a_rss" "$a_hwm" \
      "$g_rps" "$g_cpu" "$(busy_pct "$g_rps" "$g_cpu")" "$g_rss" "$g_hwm"
    ratios+=("$(awk -v a="$a_rps" -v g="$g_rps" 'BEGIN {printf "%.3f", a/g}')")
    app_rps+=("$a_rps"); go_rps+=("$g_rps"); app_rss+=("$a_hwm"); go_rss+=("$g_hwm")
    app_cpu+=("$a_cpu"); go_cpu+=("$g_cpu")
  done
  m() { printf '%s\n' "$@" | median; }
  a_rss_m="$(m "${app_rss[@]}")"; g_rss_m="$(m "${go_rss[@]}")"
  a_cpu_m="$(m "${app_cpu[@]}")"; g_cpu_m="$(m "${go_cpu[@]}")"
  # Requests per CPU-second: what one core serves when the server, not wrk,
  # is the bottleneck (on a busy 2-core machine wrk often is: see the %).
  printf 'app_rps: access_log=%s connections=%d seconds=%d rounds=%d app_rps=%.0f go_rps=%.0f rps_ratio=%s app_cpu_us_per_req=%s go_cpu_us_per_req=%s app_req_per_cpu_second=%.0f go_req_per_cpu_second=%.0f per_core_ratio=%.2f app_peak_rss_kib=%s go_peak_rss_kib=%s rss_ratio=%s\n' \
    "$access_log" "$CONNECTIONS" "$SECONDS_PER_RUN" "$ROUNDS" "$(m "${app_rps[@]}")" "$(m "${go_rps[@]}")" \
    "$(m "${ratios[@]}")" "$a_cpu_m" "$g_cpu_m" \
    "$(awk -v c="$a_cpu_m" 'BEGIN {print 1e6 / c}')" "$(awk -v c="$g_cpu_m" 'BEGIN {print 1e6 / c}')" \
    "$(awk -v a="$a_cpu_m" -v g="$g_cpu_m" 'BEGIN {print g / a}')" "$a_rss_m" "$g_rss_m" \
    "$(awk -v a="$a_rss_m" -v g="$g_rss_m" 'BEGIN {printf "%.2f", a/g}')"
done
