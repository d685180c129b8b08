# The operator's whole Local-mode stack on the real node, with our app's image
# (USER www, a name) and Debian's Redis: the Sreracha becomes Ready through the
# kubelet's real probes on /?q=healthz; through `kubectl port-forward` to its
# Service /?q=1 answers 200 and / 400; the app reaches Redis by its Service
# name with the password and the FizzBuzz counter advances there; the app
# logs JSON lines. The spec names no user: the operator's numeric default is
# what lets the kubelet verify runAsNonRoot for the image's named USER (see
# nonroot_test for the refusal without one). The password holds every
# character a URL would need escaped: it reaches the app as REDIS_AUTH only.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
source "$(dirname "$0")/../lib/operator.sh"
require_real_node
[[ -x "${SRERACHA_BINARY_DIR:-$NODE_SRC/build}/bin/sreracha" ]] || fail "build/bin/sreracha is missing"
"$NODE_SRC/scripts/images.sh" import sreracha redis >/dev/null
test_namespace node-local
install_crd
start_operator
trap 'status=$?; ((status == 0)) || dump_pods; stop_operator; [[ -n "${PF_PID:-}" ]] && kill "$PF_PID" 2>/dev/null; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

password='p@ss:w/rd?#% with "spaces"'
kubectl create secret generic redis-auth -n "$NS" --from-literal=password="$password" >/dev/null
start=$SECONDS
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: web}
spec:
  image: $(image sreracha)
  imagePullPolicy: Never
  replicas: 2
  nodeSelector: {sreracha.io/node: real}
  tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
  redis:
    mode: Local
    local: {image: $(image redis)}
    authSecretRef: {name: redis-auth, key: password}
EOF
ready() { [[ "$(condition web Ready)" == True ]]; }
wait_until 180 "Ready=True on the real node" ready
ready_s=$((SECONDS - start))
nodes="$(kubectl get pods -n "$NS" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u)"
[[ "$nodes" == "$REAL_NODE" ]] || fail "pods ran on: $nodes"
uid="$(kubectl get deploy web -n "$NS" -o jsonpath='{.spec.template.spec.securityContext.runAsUser}')"
[[ "$uid" == 65532 ]] || fail "the app Deployment runs as user '$uid', not the default 65532"
pass "Local mode Ready in ${ready_s}s as uid $uid (image USER www), app and Redis pods on $REAL_NODE"

port="$(free_port)"
kubectl port-forward -n "$NS" svc/web "$port:80" >/dev/null 2>&1 &
PF_PID=$!
forwarded() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/?q=healthz" 2>/dev/null; }
wait_until 30 "kubectl port-forward to svc/web" forwarded
body="$(curl -sS -m 5 -w '\n%{http_code}' "http://127.0.0.1:$port/?q=1")"
[[ "${body##*$'\n'}" == 200 ]] || fail "/?q=1 answered: $body"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["answer"], d' "${body%$'\n'*}" ||
  fail "/?q=1 is not the app's JSON: $body"
code="$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")"
[[ "$code" == 400 ]] || fail "/ without q answered $code, not 400"
pass "through the Service: /?q=1 answers 200 with an 8-ball answer, / answers 400"

redis_pod="$(kubectl get pods -n "$NS" -l app.kubernetes.io/component=redis -o jsonpath='{.items[0].metadata.name}')"
rcli() { kubectl exec -n "$NS" "$redis_pod" -- redis-cli --no-auth-warning "$@" 2>/dev/null; }
key="$(rcli --scan | head -1)"
[[ -n "$key" ]] || fail "no key in Redis: the app never wrote its counter"
c1="$(rcli get "$key")"
sleep 3
c2="$(rcli get "$key")"
[[ "$c1" =~ ^[0-9]+$ && "$c2" =~ ^[0-9]+$ ]] && ((c2 > c1)) ||
  fail "the counter in Redis key $key did not advance ($c1 -> $c2)"
pass "the counter in Redis key $key advances ($c1 -> $c2): the app authenticated through web-redis"

app_pod="$(kubectl get pods -n "$NS" -l app.kubernetes.io/component=app -o jsonpath='{.items[0].metadata.name}')"
logs="$(kubectl logs -n "$NS" "$app_pod")"
python3 -c '
import json, sys
lines = [l for l in sys.argv[1].splitlines() if l.strip()]
assert lines, "no log lines"
for l in lines:
    d = json.loads(l)
    assert "msg" in d and "level" in d, l
' "$logs" || fail "the app's log lines are not JSON objects: $(head -3 <<<"$logs")"
[[ "$logs" != *"$password"* ]] || fail "the password is in the app's log"
pass "the app logs JSON lines, without the password"
