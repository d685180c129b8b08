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
trap 'status=$?; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

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

# Each restart n is measured from one consistent status: while run n+1 runs,
# restartCount is n, state.running.startedAt its start and lastState the run
# before it. (restartCount grows when the new container starts, not when the
# old one exits; during the back-off lastState is already the latest exit.)
secs() { date -d "$1" +%s; }
declare -A delay_of
messages=()
restarts=0
deadline=$((SECONDS + 400))
while ((SECONDS < deadline)); do
  line="$(pod_field crasher '{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}|{.status.containerStatuses[0].lastState.terminated.finishedAt}|{.status.containerStatuses[0].lastState.terminated.exitCode}|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}')" || true
  IFS='|' read -r rc running_since last_finished exit_code waiting message <<<"$line"
  restarts="${rc:-0}"
  if [[ -n "$running_since" && -n "$last_finished" && "$restarts" -gt 0 && -z "${delay_of[$restarts]:-}" ]]; then
    delay_of[$restarts]=$(($(secs "$running_since") - $(secs "$last_finished")))
  fi
  if [[ -n "$exit_code" && "$exit_code" != 2 ]]; then fail "lastState.terminated.exitCode=$exit_code, want 2"; fi
  if [[ "$waiting" == CrashLoopBackOff && " ${messages[*]} " != *" ${message%% restarting*} "* ]]; then
    messages+=("${message%% restarting*}")
  fi
  if [[ -n "${delay_of[$RESTARTS]:-}" ]]; then break; fi
  sleep 0.5
done
((restarts >= RESTARTS)) || fail "restartCount=$restarts after 400 s, want $RESTARTS"
[[ "$exit_code" == 2 ]] || fail "lastState.terminated.exitCode=$exit_code, want 2"
((${#messages[@]})) || fail "never saw the waiting reason CrashLoopBackOff"

delays=() report="crashloop: lifetime=${LIFETIME}s"
for ((n = 1; n <= RESTARTS; n++)); do
  [[ -n "${delay_of[$n]:-}" ]] || fail "missed restart $n"
  delays+=("${delay_of[$n]}")
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
