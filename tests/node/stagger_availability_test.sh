# Staggered lifetimes hold on a real kubelet (issue 15): a Sreracha with the
# learned lifetime (no spec.stagger.appLifetimeSeconds) whose app really exits
# 30 s after it starts (SRERACHA_EXIT_AFTER=30, the app's --exit-after) keeps
# its Service answering. From the moment the operator has learned the lifetime
# (status.stagger.observedLifetimeSeconds, after the first crash), a client pod
# on the real node sends GET /?q=1 to http://web/ (the Service's name, resolved
# by the cluster DNS in the pod) 10 times a second, each on a new connection
# with a 1 s deadline, for STAGGER_NODE_SECONDS (default 300): at least 99.9 %
# must answer 200. Before that, the first crash cannot be foreseen: requests
# kube-proxy still sends to the crashed pod are refused until its endpoint is
# gone (a few, measured at 0 to 9 in two runs), which is why the window starts
# once the lifetime is known.
#
# Beside it, measured the same way at the same time, a plain Deployment with
# the pod template the operator renders (same image, env, probes, security
# context) and its own Service: its figure is printed, and the test only
# asserts that it shows the outage (< 99 %), which is what makes the crash
# real. The test also checks that the operator learned a lifetime of about
# 30 s and replaced pods, and that the baseline's containers restarted.
#
# Traffic stays in the cluster: the client pod talks only to the two
# ClusterIPs; the requests are bounded (10 a second for the duration).
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
source "$(dirname "$0")/../lib/operator.sh"
require_real_node
[[ -x "${SRERACHA_BINARY_DIR:-$NODE_SRC/build}/bin/sreracha" ]] || fail "build/bin/sreracha is missing"
DURATION="${STAGGER_NODE_SECONDS:-300}"
[[ "$DURATION" =~ ^[0-9]+$ ]] && ((DURATION >= 60 && DURATION <= 3600)) ||
  fail "STAGGER_NODE_SECONDS must be 60..3600 seconds (a crash and a replacement fit in 60), got '$DURATION'"
RATE=10
COUNT=$((DURATION * RATE))
LIFETIME=30
"$NODE_SRC/scripts/images.sh" import sreracha redis testserver >/dev/null
test_namespace node-stagger
install_crd
start_operator
work="$(mktemp -d /tmp/sreracha-stagger-XXXXXX)"
trap 'status=$?; ((status == 0)) || { dump_pods; kubectl get sreracha web -n "$NS" -o jsonpath="{.status}" >&2 || true; echo >&2; }
  stop_operator; rm -rf "$work"; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

cat >"$work/web.yaml" <<EOF
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: web}
spec:
  image: $(image sreracha)
  imagePullPolicy: Never
  replicas: 2
  nodeSelector: {sreracha.io/node: real}
  tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
  env: [{name: SRERACHA_EXIT_AFTER, value: "$LIFETIME"}]
  redis:
    mode: Local
    local: {image: $(image redis)}
EOF

# The baseline: the app Deployment and Service exactly as the operator renders
# them for web.yaml, renamed to "baseline" and selecting by app=baseline, so
# neither Service selects the other's pods; nobody recycles its pods.
"$BIN" render -f "$work/web.yaml" >"$work/rendered.yaml" || fail "render -f web.yaml failed"
# YAML to JSON, one object after another (or a List), for jq.
kubectl create --dry-run=client -o json -f "$work/rendered.yaml" >"$work/rendered.json"
# Every selector of web's app pods (the Deployment's, the Service's, the
# topology spread's) becomes app=baseline.
jq -s --argjson app '{"app.kubernetes.io/name": "sreracha", "app.kubernetes.io/instance": "web",
                   "app.kubernetes.io/component": "app"}' '
  [.[] | (.items // [.])[] | select((.kind == "Deployment" or .kind == "Service") and .metadata.name == "web")
   | walk(if . == $app then {app: "baseline"} else . end)
   | .metadata = {name: "baseline", labels: {app: "baseline"}}
   | if .kind == "Deployment" then .spec.replicas = 2 | .spec.template.metadata.labels = {app: "baseline"} else . end]
  | {apiVersion: "v1", kind: "List", items: .}' "$work/rendered.json" >"$work/baseline.json"
[[ "$(jq -c '[.items[].kind] | sort' "$work/baseline.json")" == '["Deployment","Service"]' ]] ||
  fail "no app Deployment and Service named web in the rendered objects"
! grep -q '"app.kubernetes.io/component": *"app"' "$work/baseline.json" ||
  fail "the baseline still selects web's pods somewhere: $(cat "$work/baseline.json")"
# The operator's NetworkPolicy lets only web's app pods reach web-redis. The
# local cluster's CNI bridge enforces no NetworkPolicy, but on a cluster that
# does the baseline's app would lose its Redis; NetworkPolicies add up, so
# this one lets the baseline's pods in as well.
cat >"$work/baseline-redis.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: baseline-to-web-redis}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: sreracha, app.kubernetes.io/instance: web, app.kubernetes.io/component: redis}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: baseline}}}], ports: [{port: 6379, protocol: TCP}]}]
EOF
kubectl apply -n "$NS" -f "$work/web.yaml" -f "$work/baseline.json" -f "$work/baseline-redis.yaml" >/dev/null
start=$SECONDS

ready() { [[ "$(condition web Ready)" == True ]]; }
wait_until 180 "web Ready=True on the real node" ready
ready_endpoint() {  # ready_endpoint <service>
  [[ "$(kubectl get endpointslices -n "$NS" -l "kubernetes.io/service-name=$1" \
    -o jsonpath='{.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}')" == *.* ]]
}
wait_until 60 "a ready endpoint of Service web" ready_endpoint web
wait_until 120 "a ready endpoint of Service baseline" ready_endpoint baseline
learned() { [[ "$(kubectl get sreracha web -n "$NS" -o jsonpath='{.status.stagger.observedLifetimeSeconds}')" =~ ^[0-9]+$ ]]; }
wait_until $((LIFETIME * 3)) "the operator to learn the lifetime from the first crash" learned
echo "web Ready, both Services with a ready endpoint and the lifetime learned after $((SECONDS - start))s; measuring ${DURATION}s"

# One pod, two clients started together: the same moment, the same node.
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
$(real_node_pod_spec 2)
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 33}
  containers:
$(load_client_container web "$COUNT" "$RATE")
$(load_client_container baseline "$COUNT" "$RATE")
EOF
finished() { [[ "$(pod_field client '{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
wait_until $((DURATION + 120)) "the client pod to finish its $COUNT requests a Service" finished

web_counts="$(load_counts client web)"
base_counts="$(load_counts client baseline)"
declare -A web base
for kv in $web_counts; do web[${kv%%=*}]="${kv#*=}"; done
for kv in $base_counts; do base[${kv%%=*}]="${kv#*=}"; done
((web[requests] == COUNT && base[requests] == COUNT)) ||
  fail "the clients made ${web[requests]} and ${base[requests]} requests, not $COUNT"

stagger="$(kubectl get sreracha web -n "$NS" -o jsonpath='{.status.stagger}')"
learned="$(kubectl get sreracha web -n "$NS" -o jsonpath='{.status.stagger.observedLifetimeSeconds}')"
recycles="$(kubectl get sreracha web -n "$NS" -o jsonpath='{.status.stagger.recycles}')"
restarts="$(kubectl get pods -n "$NS" -l app=baseline \
  -o jsonpath='{range .items[*]}{.status.containerStatuses[0].restartCount}{"\n"}{end}' | awk '{s += $1} END {print s + 0}')"
summary="web ${web[success_pct]}% 200 (${web[ok]}/$COUNT, longest failure run ${web[longest_failure_run]}), baseline ${base[success_pct]}% 200 (${base[ok]}/$COUNT, ${restarts} restarts) over ${DURATION}s at ${RATE}/s; status.stagger $stagger"

[[ "$learned" =~ ^[0-9]+$ ]] && ((learned >= LIFETIME - 1 && learned <= LIFETIME + 1)) ||
  fail "the operator learned a lifetime of '$learned' s, not about $LIFETIME s: $summary"
((restarts > 0)) || fail "the baseline's containers never restarted: the app did not crash. $summary"
((base[ok] * 100 < COUNT * 99)) ||
  fail "the baseline shows no outage (>= 99 % 200): the crash is not real. $summary"
[[ "$recycles" =~ ^[0-9]+$ ]] && ((recycles > 0)) || fail "the operator replaced no pod: $summary"
((web[ok] * 1000 >= COUNT * 999)) || fail "web answered 200 to fewer than 99.9 %: $summary"
pass "$summary"
