# The crash simulation (tests/e2e/stages/crash.yaml) behaves like the real app
# under the kubelet (measured on the real node by tests/node/crashloop_test.sh):
# a pod with a 5 s lifetime exits with code 2, restarts at once the first
# time, then reports CrashLoopBackOff and restarts after a back-off of 10 s
# plus the kubelet's sync slack (up to 15 s), and flips Ready False then True
# again.
source "$(dirname "$0")/../lib/testlib.sh"
test_namespace cluster-crash

kubectl apply -n "$NS" -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: app
  annotations:
    sim.sreracha.io/lifetime-seconds: "5"
    sim.sreracha.io/startup-seconds: "1"
spec:
  containers: [{name: app, image: sreracha:dev}]
YAML

# Sample the pod twice a second for up to 60 s, until the third run started.
# Restart n is measured while run n+1 runs: restartCount is n, startedAt its
# start, lastState the exit before it.
ready_seen="" restarts=0 waiting_seen=""
declare -A delay_of
secs() { date -d "$1" +%s; }
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  line="$(kubectl get pod app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}|{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}|{.status.containerStatuses[0].lastState.terminated.finishedAt}|{.status.containerStatuses[0].lastState.terminated.exitCode}|{.status.containerStatuses[0].state.waiting.reason}')"
  IFS='|' read -r ready rc running_since last_finished exit_code waiting <<<"$line"
  # Ready transitions, collapsed: "True False True" is what we want to see.
  if [[ -n "$ready" && "${ready_seen##* }" != "$ready" ]]; then ready_seen="$ready_seen $ready"; fi
  restarts="${rc:-0}"
  if [[ -n "$running_since" && -n "$last_finished" && "$restarts" -gt 0 && -z "${delay_of[$restarts]:-}" ]]; then
    delay_of[$restarts]=$(($(secs "$running_since") - $(secs "$last_finished")))
  fi
  if [[ -n "$exit_code" && "$exit_code" != 2 ]]; then fail "lastState.terminated.exitCode=$exit_code, want 2"; fi
  if [[ -n "$waiting" ]]; then waiting_seen="$waiting"; fi
  if [[ -n "${delay_of[2]:-}" ]]; then break; fi
  sleep 0.5
done

[[ "$restarts" -ge 2 && -n "${delay_of[2]:-}" ]] || fail "restartCount=$restarts after 60 s, want the third run"
[[ "$ready_seen" == *"True False"*"True"* ]] || fail "Ready did not flip False then True: $ready_seen"
[[ "$exit_code" == 2 ]] || fail "exit code $exit_code"
# The waiting phase before a 10 s back-off can be shorter than a sample: the
# stage's BackOff event says it happened.
backoff_events="$(kubectl get events -n "$NS" --field-selector involvedObject.name=app,reason=BackOff -o name | wc -l)"
[[ "$waiting_seen" == CrashLoopBackOff || "$backoff_events" -gt 0 ]] ||
  fail "neither the waiting reason CrashLoopBackOff nor a BackOff event (saw '${waiting_seen}')"
((delay_of[1] <= 3)) || fail "first restart after ${delay_of[1]}s, want at once (<= 3 s)"
((delay_of[2] >= 10 && delay_of[2] <= 26)) || fail "second restart after ${delay_of[2]}s, want 10 s + up to 15 s"
pass "restarts=$restarts ready:$ready_seen exit=2 restarts after ${delay_of[1]}s then ${delay_of[2]}s; CrashLoopBackOff (waiting '${waiting_seen:-none}', $backoff_events BackOff events)"
