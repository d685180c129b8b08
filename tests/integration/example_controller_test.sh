# examples/controller: the ConfigMap mirror, built on runtime/ alone, against
# the real API server: it mirrors a labelled ConfigMap, follows edits, puts a
# deleted mirror back, and the garbage collector removes the mirror with its
# source.
source "$(dirname "$0")/../lib/testlib.sh"
BIN="${SRERACHA_BINARY_DIR:?}/bin/configmap-mirror"
test_namespace mirror
LOG="$(test_log configmap-mirror)"
"$BIN" --kubeconfig "$KUBECONFIG" --namespace "$NS" >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

# A function, so that wait_until reads the mirror on every try: a "$(...)"
# argument would be read once, before the controller had a moment.
mirror_is() { test "$(kubectl get configmap demo-mirror -n "$NS" -o jsonpath='{.data.a}' 2>/dev/null)" = "$1"; }
kubectl create configmap demo -n "$NS" --from-literal=a=1 >/dev/null
kubectl create configmap ignored -n "$NS" --from-literal=a=1 >/dev/null
kubectl label configmap demo -n "$NS" example.sreracha.io/mirror=true >/dev/null
wait_until 30 "the mirror of demo" mirror_is 1
owner="$(kubectl get configmap demo-mirror -n "$NS" -o jsonpath='{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}')"
[[ "$owner" == demo/true ]] || fail "the mirror's controller reference is '$owner'"
pass "a labelled ConfigMap is mirrored, owned by its source"

kubectl patch configmap demo -n "$NS" --type merge -p '{"data":{"a":"2"}}' >/dev/null
wait_until 30 "the mirror to follow an edit" mirror_is 2
kubectl delete configmap demo-mirror -n "$NS" >/dev/null
wait_until 30 "the deleted mirror to come back" mirror_is 2
kubectl get configmap ignored-mirror -n "$NS" >/dev/null 2>&1 && fail "an unlabelled ConfigMap was mirrored"
pass "edits followed, a deleted mirror restored, unlabelled ConfigMaps ignored"

kubectl delete configmap demo -n "$NS" >/dev/null
gone() { ! kubectl get configmap demo-mirror -n "$NS" >/dev/null 2>&1; }
wait_until 60 "the garbage collector to remove the mirror" gone
kill -0 "$PID" 2>/dev/null || fail "the controller exited: $(tail -5 "$LOG")"
pass "the mirror went with its source; the controller is still running"
