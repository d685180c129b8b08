# The kubelet refuses what kwok accepts: runAsNonRoot with an image whose USER
# is a name (our test image runs as "www", like the app's) and no numeric
# runAsUser cannot be verified, and the container never starts. With a
# numeric runAsUser the same image runs.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
test_namespace node-nonroot
trap 'status=$?; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

pod() {  # pod <name> <securityContext>
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
$(real_node_pod_spec 2)
  securityContext: $2
  containers:
  - name: app
    image: $(image testserver)
    imagePullPolicy: Never
    args: [serve, --port, "8080"]
EOF
}
{ pod named '{runAsNonRoot: true}'; echo ---; pod numeric '{runAsNonRoot: true, runAsUser: 33}'; } |
  kubectl apply -n "$NS" -f - >/dev/null

config_error() { [[ "$(pod_field named '{.status.containerStatuses[0].state.waiting.reason}')" == CreateContainerConfigError ]]; }
wait_until 60 "CreateContainerConfigError on pod named" config_error
message="$(pod_field named '{.status.containerStatuses[0].state.waiting.message}')"
[[ "$message" == *"cannot verify user is non-root"* ]] ||
  fail "the kubelet said '$message', want 'cannot verify user is non-root'"
[[ "$message" == *"non-numeric user (www)"* ]] || fail "the message does not name the user www: '$message'"
[[ -z "$(pod_field named '{.status.containerStatuses[0].state.running.startedAt}')" ]] ||
  fail "the container of pod named started"
pass "runAsNonRoot with the image user www: $message"

kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Running pod/numeric --timeout=60s >/dev/null ||
  fail "pod numeric (runAsUser 33) did not run"
pass "with runAsUser 33 the same image runs"
