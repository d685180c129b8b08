# The images scripts/images.sh builds run on the real node as the later
# issues need them: Debian's Redis, as its numeric non-root user, accepts
# connections on 6379 from another pod; the app's image (when build/bin/sreracha
# exists) runs its binary with all its libraries. Imported images are named
# localhost/... and present in containerd, never pulled.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
test_namespace node-images
trap 'status=$?; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

pod() {  # pod <name> <image> <securityContext> <restartPolicy> [args as a YAML list]
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
$(real_node_pod_spec 2)
  restartPolicy: $4
  securityContext: $3
  containers:
  - name: main
    image: $2
    imagePullPolicy: Never
    args: ${5:-[]}
EOF
}
app_image=""
if [[ -x "${SRERACHA_BINARY_DIR:-$NODE_SRC/build}/bin/sreracha" ]] && "$NODE_SRC/scripts/images.sh" import sreracha; then
  app_image="$(image sreracha)"
fi
{
  pod redis "$(image redis)" '{runAsNonRoot: true}' Always
  echo ---
  pod client "$(image testserver)" '{runAsUser: 33}' Always '[serve, --port, "8080"]'
  if [[ -n "$app_image" ]]; then
    echo ---
    pod app "$app_image" '{runAsUser: 33}' Never '["--help"]'
  fi
} | kubectl apply -n "$NS" -f - >/dev/null

kubectl wait -n "$NS" --for=condition=Ready pod/redis pod/client --timeout=60s >/dev/null ||
  fail "redis and client did not become Ready"
redis_ip="$(pod_field redis '{.status.podIP}')"
redis_ready() { grep -q 'Ready to accept connections' <<<"$(kubectl logs -n "$NS" redis)"; }
wait_until 20 "redis to accept connections" redis_ready
out="$(kubectl exec -n "$NS" client -- testserver connect "$redis_ip" 6379 3)" || fail "no TCP connection to redis: $out"
[[ "$(pod_field redis '{.status.containerStatuses[0].image}')" == "$(image redis)" ]] || fail "redis runs another image"
pass "$(image redis) runs as its non-root user and accepts connections on $redis_ip:6379"

if [[ -z "$app_image" ]]; then
  echo "note: no build/bin/sreracha, the app image was not tried"
else
  done_() { [[ "$(pod_field app '{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
  wait_until 60 "the app's --help to finish" done_
  [[ "$(pod_field app '{.status.phase}')" == Succeeded ]] ||
    fail "sreracha --help failed in $app_image: $(kubectl logs -n "$NS" app | tail -5)"
  grep -q 'Usage: sreracha' <<<"$(kubectl logs -n "$NS" app)" || fail "no usage text from sreracha --help"
  pass "$app_image runs build/bin/sreracha with its libraries (--help)"
fi
