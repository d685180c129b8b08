# The crash simulation (tests/e2e/stages/crash.yaml) behaves like the real app
# under the kubelet: a pod with a 5 s lifetime exits with code 2, reports
# CrashLoopBackOff, restarts after a back-off that grows (10 s, then 20 s),
# and flips Ready False then True again.
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
ready_seen="" restarts=0 start3=""
deadline=$((SECONDS + 60))
declare -A finished started
while ((SECONDS < deadline)); do
  line="$(kubectl get pod app -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}|{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}|{.status.containerStatuses[0].lastState.terminated.finishedAt}|{.status.containerStatuses[0].lastState.terminated.exitCode}|{.status.containerStatuses[0].state.waiting.reason}')"
  IFS='|' read -r ready rc running_since last_finished exit_code waiting <<<"$line"
  # Ready transitions, collapsed: "True False True" is what we want to see.
  if [[ -n "$ready" && "${ready_seen##* }" != "$ready" ]]; then ready_seen="$ready_seen $ready"; fi
  restarts="${rc:-0}"
  if [[ -n "$last_finished" ]]; then finished[$restarts]="$last_finished"; fi
  if [[ -n "$running_since" && "$running_since" != "$last_finished" ]]; then started[$restarts]="$running_since"; fi
  if [[ -n "$exit_code" && "$exit_code" != 2 ]]; then fail "lastState.terminated.exitCode=$exit_code, want 2"; fi
  if [[ "$restarts" -ge 2 && -n "${started[2]:-}" ]]; then break; fi
  sleep 0.5
done

[[ "$restarts" -ge 2 ]] || fail "restartCount=$restarts after 60 s, want >= 2"
[[ "$ready_seen" == *"True False"*"True"* ]] || fail "Ready did not flip False then True: $ready_seen"
[[ "$exit_code" == 2 ]] || fail "exit code $exit_code"
secs() { date -d "$1" +%s; }
backoff1=$(($(secs "${started[1]}") - $(secs "${finished[1]}")))
backoff2=$(($(secs "${started[2]}") - $(secs "${finished[2]}")))
((backoff1 >= 9 && backoff1 <= 12)) || fail "first back-off ${backoff1}s, want ~10s"
((backoff2 >= 19 && backoff2 <= 22)) || fail "second back-off ${backoff2}s, want ~20s"
pass "restarts=$restarts ready:$ready_seen exit=2 back-off ${backoff1}s then ${backoff2}s; waiting reason seen: ${waiting:-running}"
