#!/usr/bin/env bash
# Both operators at scale, one after the other, on the local control plane
# (kwok nodes): N Srerachas (replicas 1, Local Redis, no recycling, one auth
# Secret) created with one `kubectl apply`, each operator with 4 workers and
# one client-side token bucket of 20 requests/s, burst 30. Prints per run
#
#   scale: n=N op=OP run=I ready_s=.. cpu_s=.. idle_cpu_s=.. peak_rss_mib=.. idle_rss_mib=.. empty_rss_mib=.. gets=.. writes=.. quiet_writes=..
#
# then per operator the medians over the runs (run=median), and
#
#   scale: ratio cpu=.. idle_cpu=.. ready=.. peak_rss=.. watch_floor_cpu=..   (ours / the peer's medians)
#
# Before the runs, the floor under empty_rss_mib: bench/rss_floor, a program
# that makes one HTTPS request to the same API server with cpprestsdk and
# does nothing else (Debian's shared libraries, as the operator links them):
#
#   scale: floor rss_mib=.. anon_mib=.. file_mib=..
#
# and, during each sreracha run, bench/watch_floor (cpprestsdk, one pool
# thread, nothing but reading the bytes) watching what carries the run's
# objects, as the operator's informers do, from the apply to all Ready: the
# floor under cpu_s that no operator code on cpprestsdk removes
#
#   scale: n=N op=sreracha run=I floor watch_cpu_s=.. watch_mib=.. watch_events=..
#
# (watch_floor_cpu in the ratio line: its median over the peer's cpu_s).
# Its selectors are our children's labels, so it runs in our runs only: its
# CPU (~0.5 s over N=100's ~46 s) and its watches are load the peer's runs
# do not have.
# ready_s: apply to all Ready=True. cpu_s: user+system CPU of the operator
# process from its start to all Ready; idle_cpu_s: its CPU in the QUIET_S
# (30) idle seconds after that; peak_rss_mib: its VmHWM at all Ready;
# empty_rss_mib: VmRSS with its caches synced and no Sreracha; idle_rss_mib:
# VmRSS after QUIET_S (30) idle seconds with all N converged; gets/writes:
# rest_client_requests_total (both export it) at Ready, GET (lists and
# watches too) and every other method; quiet_writes: writes while idle.
# For sreracha-operator a second line splits cpu_s by thread name (each
# informer inf/<resource>, the workers sreracha/w.., the background I/O
# driver kube-io). The I/O is run by whichever thread waits for it: the one
# informer that holds that role in a run (which one varies) shows most of
# everyone's I/O.
#
#   scale: n=N op=sreracha run=I threads kube-io=.. inf/pods=.. ...
#
# The peer is ../shared/peer (a controller-runtime operator, see its
# README), run with --skip-unchanged-applies ("skip": no apply when the
# cached child carries the hash of what it would send) and a shared limiter;
# it is built into the build tree, since shared/ may be read-only. Where the
# folder is missing the peer column is skipped, and said so.
#
#   bench/scale.sh [--n N] [--repeat R]      (defaults 100 and 1)
# Environment: PEER_SRC (../shared/peer), QUIET_S, READY_TIMEOUT (900 s),
# SCALE_LOG_DIR (where the runs' logs go; a new /tmp/sreracha-scale.* folder),
# SRERACHA_USE_EXISTING_CLUSTER=1 (the cluster in KUBECONFIG),
# SCALE_PERF_DIR (a folder: `perf record $SCALE_PERF_OPTS`, default
# "--call-graph dwarf,16384 -F 499", follows sreracha-operator from before
# the apply to all Ready, one perf-N-RUN.data per run, for `perf report -i`;
# each run then prints a line of bench/profile_split.py: the shares of the
# HTTP client, watch decoding, the caches and the reconciler in the CPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=100 REPEAT=1
while (($#)); do
  case "$1" in
    --n) N="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    *) echo "usage: $0 [--n N] [--repeat R]" >&2; exit 2 ;;
  esac
done
[[ "$N" =~ ^[1-9][0-9]*$ && "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "--n and --repeat take positive integers" >&2; exit 2; }
QUIET_S="${QUIET_S:-30}"
READY_TIMEOUT="${READY_TIMEOUT:-900}"
PEER_SRC="${PEER_SRC:-$ROOT/../shared/peer}"
source "$ROOT/bench/lib.sh"  # the cluster, $BUILD, testlib.sh and operator.sh
# scripts/setup.sh puts a Go in the tools' cache where the machine's is too old.
for go_bin in "${XDG_CACHE_HOME:-$HOME/.cache}"/sreracha/go-*/go/bin; do
  if [[ -x "$go_bin/go" ]]; then PATH="$go_bin:$PATH"; fi
done

ops=(sreracha)
PEER_BIN="$BUILD/peer/peer-operator"
if [[ -f "$PEER_SRC/go.mod" ]]; then
  # Rebuilt when any of its sources is newer than the binary.
  if [[ ! -x "$PEER_BIN" || -n "$(find "$PEER_SRC" -newer "$PEER_BIN" -name '*.go' -o -newer "$PEER_BIN" -name 'go.*' | head -1)" ]]; then
    echo "scale: building the peer from $PEER_SRC into $PEER_BIN" >&2
    mkdir -p "$(dirname "$PEER_BIN")"
    (cd "$PEER_SRC" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags '-s -w' -o "$PEER_BIN" .)
  fi
  ops+=(peer-skip)
else
  echo "scale: no peer at $PEER_SRC: only sreracha-operator is measured, and no ratio" >&2
fi

# App and Redis pod per Sreracha, a surge pod now and then: kwok nodes hold
# 110 pods each. (A cluster of one's own must have the room already.)
if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" != 1 ]]; then
  "$ROOT/scripts/local-cluster.sh" nodes $(((2 * N * 12 / 10) / 110 + 4)) >/dev/null
fi

TICKS="$(getconf CLK_TCK)"
cpu_s() { awk -v t="$TICKS" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
# thread_cpu <pid> <cpu_s>: CPU seconds by thread name, the digits ending a
# name dropped (sreracha/w1..w4 -> sreracha/w), largest first; and rest=,
# cpu_s (the process's) less its threads' sum: the kernel counts each
# thread's utime and stime in whole ticks, rounded down, so with ~28 threads
# that is mostly rounding; threads that ended would count there too.
# I/O runs on whichever thread waits for it (kube/io.h): mostly one informer
# whose own kind is quiet, which then carries every watch's reads and TLS.
thread_cpu() {
  local task
  for task in /proc/"$1"/task/*; do
    # utime and stime are fields 14 and 15; counted after the ") " that
    # ends the name, which could hold spaces.
    printf '%s\t%s\n' "$(cat "$task/comm")" "$(awk '{sub(/.*\) /, ""); print $12 + $13}' "$task/stat")"
  done 2>/dev/null | awk -F'\t' -v t="$TICKS" -v total="$2" '
    {sub(/[0-9]+$/, "", $1); s[$1] += $2; threads += $2}
    END {
      for (k in s) if (s[k] > 0) printf "%s=%.2f\n", k, s[k] / t
      printf "rest=%.2f\n", total - threads / t
    }' | sort -t= -k2 -gr | tr '\n' ' '
}
rss_mib() { awk -v f="$2:" '$1 == f {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# requests <port> get|write: rest_client_requests_total summed over GET, or
# over every other method.
requests() {
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v want="$2" '
    /^rest_client_requests_total\{/ {
      get = ($0 ~ /method="GET"/)
      if ((want == "get") == get) sum += $NF
    }
    END {printf "%d", sum}'
}
ready_count() {
  kubectl get sreracha -n "$NS" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$' || true
}
srerachas() {
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: redis-auth, labels: {sreracha.io/watch: "true"}}
stringData: {password: bench-only}
YAML
  for ((i = 1; i <= N; i++)); do
    cat <<YAML
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: s$i}
spec:
  image: sreracha:e2e
  replicas: 1
  stagger: {appLifetimeSeconds: 0}
  redis: {mode: Local, authSecretRef: {name: redis-auth}}
YAML
  done
}

# start <op>: starts it on $NS; sets PID and PORT (its metrics).
start() {
  PORT="$(free_port)"
  local health log="$LOG_DIR/$1-$NS.log"
  health="$(free_port)"
  case "$1" in
    sreracha)
      "$BIN" --kubeconfig "$KUBECONFIG" --namespace "$NS" --log-level warn --redis-check=false \
        --metrics-bind-address "127.0.0.1:$PORT" --health-probe-bind-address "127.0.0.1:$health" \
        --max-concurrent-reconciles 4 --kube-api-qps 20 --kube-api-burst 30 >"$log" 2>&1 &
      ;;
    peer-skip)
      "$PEER_BIN" --kubeconfig "$KUBECONFIG" --namespace "$NS" --zap-log-level error \
        --metrics-bind-address "127.0.0.1:$PORT" --health-probe-bind-address "127.0.0.1:$health" \
        --max-concurrent-reconciles 4 --kube-api-qps 20 --kube-api-burst 30 \
        --kube-api-shared-limiter --skip-unchanged-applies >"$log" 2>&1 &
      ;;
  esac
  PID=$!
  started() { curl -fsS -o /dev/null "http://127.0.0.1:$health/readyz" 2>/dev/null; }
  wait_until 60 "$1's /readyz" started
}

LOG_DIR="${SCALE_LOG_DIR:-$(mktemp -d /tmp/sreracha-scale.XXXXXX)}"
mkdir -p "$LOG_DIR"
echo "scale: operator logs in $LOG_DIR" >&2
FLOOR_BIN="$BUILD/bin/rss_floor" FLOOR_WATCH_BIN="$BUILD/bin/watch_floor"
[[ -x "$FLOOR_WATCH_BIN" ]] || echo "scale: $FLOOR_WATCH_BIN not built (ninja -C $BUILD watch_floor): no watch floor" >&2
if [[ -x "$FLOOR_BIN" ]]; then
  floor="$("$FLOOR_BIN" "$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')" 2>&1)" ||
    fail "rss_floor failed: $floor"
  echo "scale: floor ${floor#rss_floor: }" | sed 's/ code=[0-9]*$//'
else
  echo "scale: $FLOOR_BIN not built (ninja -C $BUILD rss_floor): no floor line" >&2
fi
declare -A results  # results[op,field] = space-separated values over runs
run_one() {  # run_one <op> <run>
  local op="$1" run="$2" t0 ready_s cpu idle_cpu peak empty gets writes idle quiet threads=""
  test_namespace "scale"
  install_crd
  start "$op"
  trap 'kill "$PID" ${FLOOR_PID:-} 2>/dev/null || true; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
  sleep 2  # caches synced and settled: the empty figure
  empty="$(rss_mib "$PID" VmRSS)"
  local perf_pid=""
  if [[ -n "${SCALE_PERF_DIR:-}" && "$op" == sreracha ]]; then
    mkdir -p "$SCALE_PERF_DIR"
    # shellcheck disable=SC2086
    perf record -q ${SCALE_PERF_OPTS:---call-graph dwarf,16384 -F 499} -p "$PID" -o "$SCALE_PERF_DIR/perf-$N-$run.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
  fi
  FLOOR_PID="" # global: the EXIT trap stops it when a run fails
  local floor_out="$LOG_DIR/watch-floor-$NS.txt"
  if [[ "$op" == sreracha && -x "$FLOOR_WATCH_BIN" ]]; then
    local managed="labelSelector=app.kubernetes.io%2Fmanaged-by%3Dsreracha-operator" kind watches=()
    for kind in api/v1/pods api/v1/services api/v1/persistentvolumeclaims apis/apps/v1/deployments \
      apis/policy/v1/poddisruptionbudgets apis/networking.k8s.io/v1/networkpolicies \
      apis/networking.k8s.io/v1/ingresses apis/discovery.k8s.io/v1/endpointslices; do
      watches+=("/${kind%/*}/namespaces/$NS/${kind##*/}?watch=true&allowWatchBookmarks=true&$managed")
    done
    watches+=("/apis/sreracha.io/v1alpha1/namespaces/$NS/srerachas?watch=true&allowWatchBookmarks=true"
      "/api/v1/namespaces/$NS/secrets?watch=true&allowWatchBookmarks=true&labelSelector=sreracha.io%2Fwatch%3Dtrue")
    "$FLOOR_WATCH_BIN" "${watches[@]}" >"$floor_out" 2>&1 &
    FLOOR_PID=$!
    sleep 1  # its watches open
  fi
  t0=$(date +%s.%N)
  srerachas | kubectl apply -n "$NS" -f - >/dev/null
  # Polled once a second: listing N objects is load of its own.
  until [[ "$(ready_count)" == "$N" ]]; do
    (($(date +%s) - ${t0%.*} < READY_TIMEOUT)) || fail "$op: not all $N Ready after $READY_TIMEOUT s; log: $LOG_DIR"
    sleep 1
  done
  ready_s="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
  cpu="$(cpu_s "$PID")"
  [[ "$op" != sreracha ]] || threads="$(thread_cpu "$PID" "$cpu")"
  if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  local floor_line=""
  if [[ -n "$FLOOR_PID" ]]; then
    kill -TERM "$FLOOR_PID"
    wait "$FLOOR_PID" || fail "watch_floor failed: $(cat "$floor_out")"
    floor_line="$(sed -En 's/^watch_floor: cpu_s=([0-9.]+) bytes=([0-9]+) events=([0-9]+) .*/watch_cpu_s=\1 watch_mib=\2 watch_events=\3/p' "$floor_out" |
      awk '{split($2, b, "="); $2 = sprintf("watch_mib=%.1f", b[2] / 1048576); print}')"
    [[ -n "$floor_line" ]] || fail "watch_floor printed no figures: $(cat "$floor_out")"
    results[$op,floor_cpu]+="$(sed -E 's/^watch_cpu_s=([0-9.]+) .*/\1/' <<<"$floor_line") "
    FLOOR_PID=""
  fi
  peak="$(rss_mib "$PID" VmHWM)"
  gets="$(requests "$PORT" get)"
  writes="$(requests "$PORT" write)"
  sleep "$QUIET_S"
  idle_cpu="$(awk -v a="$cpu" -v b="$(cpu_s "$PID")" 'BEGIN {printf "%.2f", b - a}')"
  idle="$(rss_mib "$PID" VmRSS)"
  quiet=$(($(requests "$PORT" write) - writes))
  kill -0 "$PID" || fail "$op exited; log: $LOG_DIR"
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  echo "scale: n=$N op=$op run=$run ready_s=$ready_s cpu_s=$cpu idle_cpu_s=$idle_cpu peak_rss_mib=$peak idle_rss_mib=$idle empty_rss_mib=$empty gets=$gets writes=$writes quiet_writes=$quiet"
  [[ -z "$threads" ]] || echo "scale: n=$N op=$op run=$run threads ${threads% }"
  [[ -z "$floor_line" ]] || echo "scale: n=$N op=$op run=$run floor $floor_line"
  if [[ -n "$perf_pid" ]]; then
    echo "scale: n=$N op=$op run=$run $("$ROOT/bench/profile_split.py" "$SCALE_PERF_DIR/perf-$N-$run.data")"
  fi
  local field value
  for field in ready_s cpu idle_cpu peak idle empty gets writes quiet; do
    value="${!field}"
    results[$op,$field]+="$value "
  done
  # The next run needs the fake nodes' pod slots back.
  kubectl delete namespace "$NS" --wait=false >/dev/null
  gone() { ! kubectl get namespace "$NS" >/dev/null 2>&1; }
  wait_until 600 "namespace $NS deleted" gone
  trap - EXIT
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {printf "%s", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for ((r = 1; r <= REPEAT; r++)); do
  for op in "${ops[@]}"; do run_one "$op" "$r"; done
done
declare -A med
for op in "${ops[@]}"; do
  line="scale: n=$N op=$op run=median"
  for field in ready_s:ready_s cpu:cpu_s idle_cpu:idle_cpu_s peak:peak_rss_mib idle:idle_rss_mib empty:empty_rss_mib gets:gets writes:writes quiet:quiet_writes; do
    med[$op,${field%%:*}]="$(median <<<"${results[$op,${field%%:*}]}")"
    line+=" ${field#*:}=${med[$op,${field%%:*}]}"
  done
  echo "$line"
done
if [[ " ${ops[*]} " == *" peer-skip "* ]]; then
  # ratio <our field> [<the peer's field>, the same by default]
  ratio() { awk -v a="${med[sreracha,$1]}" -v b="${med[peer-skip,${2:-$1}]}" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
  line="scale: ratio cpu=$(ratio cpu) idle_cpu=$(ratio idle_cpu) ready=$(ratio ready_s) peak_rss=$(ratio peak)"
  # The watch floor's CPU against the peer's: what cpprestsdk alone takes of
  # the peer's budget.
  if [[ -n "${results[sreracha,floor_cpu]:-}" ]]; then
    med[sreracha,floor_cpu]="$(median <<<"${results[sreracha,floor_cpu]}")"
    line+=" watch_floor_cpu=$(ratio floor_cpu cpu)"
  fi
  echo "$line"
fi
