# The kubelet's real CrashLoopBackOff, measured, against the simulation the
# kwok nodes run (tests/e2e/stages/crash.yaml): a container that exits with
# code 2 three seconds after every start restarts at once the first time,
# then after back-offs that double (10 s, 20 s, 40 s, ...), each ending at the
# kubelet's next pod sync (it retries a pod in back-off every 10-15 s), and
# the stages' back-off list and slack cover what the kubelet did. The
# measured delays go to the test's output and to
# $SRERACHA_BINARY_DIR/node-crashloop-delays.txt.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
test_namespace node-crashloop
watcher="" watch_log=""
trap 'status=$?; [[ -z "$watcher" ]] || kill "$watcher" 2>/dev/null; rm -f "$watch_log"; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

LIFETIME=3
RESTARTS=4       # about 100 s with the kubelet's defaults
FIRST_MAX=3      # the first restart: the kubelet's next sync, about 1 s
SYNC_SLACK=18    # the stages' 15 s, the container's start, whole-second timestamps
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
$(real_node_pod_spec 2)
  securityContext: {runAsUser: 33}
  containers:
  - name: app
    image: $(image testserver)
    imagePullPolicy: Never
    args: [serve, --port, "8080", --exit-after, "$LIFETIME", --exit-code, "2"]
EOF

# The stages' back-off list, from the restart stage's jq expression.
stage_list="$(grep -o '\[10, [0-9, ]*\]' "$NODE_SRC/tests/e2e/stages/crash.yaml" | head -1)"
[[ -n "$stage_list" ]] || fail "no back-off list in tests/e2e/stages/crash.yaml"
read -ra backoffs <<<"$(tr -d '[],' <<<"$stage_list")"

# Every status the kubelet posts comes through a watch, so a busy machine
# that runs kubectl late misses none of them. Run k (0 = the first start)
# is known by its start and finish: while run k runs, restartCount is k and
# state.running.startedAt its start; after it exits (state waiting or
# terminated, restartCount still k) lastState or state is its terminated
# record, and lastState stays that record while run k+1 runs (restartCount
# k+1). Restart n waited start(run n) - finish(run n-1).
secs() { date -d "$1" +%s; }
watch_log="$(mktemp)"
fields='{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}'
fields+='|{.status.containerStatuses[0].state.terminated.startedAt}|{.status.containerStatuses[0].state.terminated.finishedAt}|{.status.containerStatuses[0].state.terminated.exitCode}'
fields+='|{.status.containerStatuses[0].lastState.terminated.startedAt}|{.status.containerStatuses[0].lastState.terminated.finishedAt}|{.status.containerStatuses[0].lastState.terminated.exitCode}'
fields+='|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}{"\n"}'
kubectl get pod crasher -n "$NS" --watch -o jsonpath="$fields" >"$watch_log" 2>/dev/null &
watcher=$!

declare -A start_of finish_of
messages=()
restarts=0
exit_code=""
# terminated <run> <startedAt> <finishedAt> <exitCode>
terminated() {
  [[ -n "$3" ]] || return 0
  [[ "$4" == 2 ]] || fail "run $1 exited with code $4, want 2"
  exit_code="$4"
  [[ -z "${finish_of[$1]:-}" ]] || return 0
  start_of[$1]="$(secs "$2")" finish_of[$1]="$(secs "$3")"
}
# Reads the whole log each time, leaving out a line kubectl has not finished.
read_watch() {
  local content="" rc running t_start t_finish t_exit l_start l_finish l_exit waiting message last
  IFS= read -r -d '' content <"$watch_log" || true
  content="${content%"${content##*$'\n'}"}"
  while IFS='|' read -r rc running t_start t_finish t_exit l_start l_finish l_exit waiting message; do
    [[ -n "$rc" ]] || continue
    restarts="$rc"
    last="$rc"  # the run lastState holds: run rc while waiting, rc-1 once run rc started
    if [[ -n "$running" ]]; then
      [[ -n "${start_of[$rc]:-}" ]] || start_of[$rc]="$(secs "$running")"
      last=$((rc - 1))
    elif [[ -n "$t_finish" ]]; then
      terminated "$rc" "$t_start" "$t_finish" "$t_exit"
      last=$((rc - 1))
    fi
    ((last < 0)) || terminated "$last" "$l_start" "$l_finish" "$l_exit"
    if [[ "$waiting" == CrashLoopBackOff && " ${messages[*]} " != *" ${message%% restarting*} "* ]]; then
      messages+=("${message%% restarting*}")
    fi
  done <<<"$content"
}
deadline=$((SECONDS + 400))
while ((SECONDS < deadline)); do
  kill -0 "$watcher" 2>/dev/null || fail "the watch on pod crasher ended"
  read_watch
  [[ -n "${start_of[$RESTARTS]:-}" && -n "${finish_of[$((RESTARTS - 1))]:-}" ]] && break
  sleep 1
done
((restarts >= RESTARTS)) || fail "restartCount=$restarts after 400 s, want $RESTARTS"
[[ "$exit_code" == 2 ]] || fail "saw no exit code, want 2"
((${#messages[@]})) || fail "never saw the waiting reason CrashLoopBackOff"

delays=() report="crashloop: lifetime=${LIFETIME}s"
for ((n = 1; n <= RESTARTS; n++)); do
  [[ -n "${start_of[$n]:-}" && -n "${finish_of[$((n - 1))]:-}" ]] || fail "missed restart $n"
  delays+=($((start_of[$n] - finish_of[$((n - 1))])))
  if ((n == 1)); then
    report+=" restart1=${delays[0]}s(stage 1-2s)"
  else
    report+=" restart$n=${delays[n - 1]}s(stage ${backoffs[n - 2]}-$((backoffs[n - 2] + 15))s)"
  fi
done
report+=" kubelet said: ${messages[*]}"
echo "$report"
echo "$report" >"${SRERACHA_BINARY_DIR:-/tmp}/node-crashloop-delays.txt" 2>/dev/null || true

((delays[0] <= FIRST_MAX)) || fail "the first restart took ${delays[0]}s, the stages restart within 2 s"
for ((n = 1; n < RESTARTS; n++)); do
  ((delays[n] > delays[n - 1])) || fail "back-off did not grow: ${delays[*]}"
  want="${backoffs[n - 1]}" got="${delays[n]}"
  ((got >= want && got <= want + SYNC_SLACK)) ||
    fail "restart $((n + 1)): the kubelet waited ${got}s, tests/e2e/stages/crash.yaml says ${want}s + up to 15s (${delays[*]})"
done
pass "restartCount reached $restarts, exit code 2 each time; restart delays ${delays[*]} s within the stages' (first at once, then ${backoffs[*]:0:RESTARTS-1} s + sync slack)"
