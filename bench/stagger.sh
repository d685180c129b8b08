#!/usr/bin/env bash
# Staggered lifetimes vs a plain Deployment, side by side in one run, on the
# local control plane: on kwok nodes with the crash simulation
# (tests/e2e/stages/crash.yaml), or on the real node with the app's real crash.
#
#   bench/stagger.sh [--replicas N] [--lifetime L] [--duration S] [--learn]
#                    [--node kwok|real] [--cpu-load K] [--rollout-every R]
#
# (a) baseline: a plain Deployment of N crashing pods (lifetime L);
# (b) a Sreracha of N replicas with the same pods, managed by the operator
#     (--learn: without stagger.appLifetimeSeconds, so it learns L).
# --node kwok (default): fake image, pods crash by the sim.sreracha.io/*
#     annotations. --node real: both sides run our app's image
#     (localhost/sreracha:dev, imported by scripts/images.sh) on the real node
#     with SRERACHA_EXIT_AFTER=L (the app's --exit-after): real crashes, real
#     probes, the kubelet's real back-off.
# --cpu-load K: K bounded busy loops (pure CPU) beside the cluster for the
#     whole run, started before the objects and killed by PID at the end.
# --rollout-every R: every R seconds both sides get a new tag of the same
#     image (on the real node, tags made with ctr in the node's containerd and
#     removed at the end). 0 (default): no rollout.
# Both Services' EndpointSlices are sampled 10 times a second from the moment
# both objects are created, and one line is printed (the first keys are the
# original ones, in their original order):
# stagger: replicas=N lifetime=L duration=S operator_zero_ready_pct=X baseline_zero_ready_pct=Y operator_max_not_ready=K operator_recycles=R node=kwok|real cpu_load=K rollout_every=R observed_startup_s=T|unset late_replacements=M
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=2 LIFETIME=20 DURATION=600 LEARN=0 NODE=kwok CPU_LOAD=0 ROLLOUT_EVERY=0
usage() {
  echo "usage: $0 [--replicas N] [--lifetime L] [--duration S] [--learn]" \
    "[--node kwok|real] [--cpu-load K] [--rollout-every R]" >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --replicas) REPLICAS="$2"; shift 2 ;;
    --lifetime) LIFETIME="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --learn) LEARN=1; shift ;;
    --node) NODE="$2"; shift 2 ;;
    --cpu-load) CPU_LOAD="$2"; shift 2 ;;
    --rollout-every) ROLLOUT_EVERY="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$NODE" == kwok || "$NODE" == real ]] || usage
for n in "$REPLICAS" "$LIFETIME" "$DURATION" "$CPU_LOAD" "$ROLLOUT_EVERY"; do
  [[ "$n" =~ ^[0-9]+$ ]] || usage
done

source "$ROOT/bench/lib.sh"
if [[ "$NODE" == real ]]; then
  source tests/lib/node.sh
  require_real_node
  [[ -x "$BUILD/bin/sreracha" ]] || fail "$BUILD/bin/sreracha is missing (build the target sreracha)"
  scripts/images.sh import sreracha redis >/dev/null
fi
bench_namespace bench-stagger

# What this script starts, ended at exit before what lib.sh set up.
LOAD_PIDS=() ROLLOUT_PID="" TAGS=() SAMPLES=""
CTR_SOCKET="${SRERACHA_CLUSTER_DIR:-${TMPDIR:-/tmp}/sreracha-cluster-$(id -u)}/node/containerd/containerd.sock"
ctr_node() { ctr --address "$CTR_SOCKET" --namespace k8s.io "$@"; }
cleanup() {
  local pid
  for pid in "${LOAD_PIDS[@]}" $ROLLOUT_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${LOAD_PIDS[@]}" $ROLLOUT_PID; do
    wait "$pid" 2>/dev/null || true
  done
  LOAD_PIDS=() ROLLOUT_PID=""
  ((${#TAGS[@]} == 0)) || ctr_node images rm "${TAGS[@]}" >/dev/null 2>&1 || true
  TAGS=()
  [[ -z "$SAMPLES" ]] || rm -f "$SAMPLES"
}
eval "set -- $(trap -p EXIT)" # trap -- '<command>' EXIT
LIB_EXIT="${3:-}"
trap 'cleanup; '"$LIB_EXIT" EXIT

# Busy loops, bounded by timeout(1) in case this script is killed outright.
for ((i = 0; i < CPU_LOAD; i++)); do
  timeout "$((DURATION + 120))" sh -c 'while :; do :; done' &
  LOAD_PIDS+=($!)
done

# The image, and one new tag of it per rollout.
ROLLOUTS=0
((ROLLOUT_EVERY == 0)) || ROLLOUTS=$((DURATION / ROLLOUT_EVERY))
if [[ "$NODE" == real ]]; then
  IMAGE="$(image sreracha)"
else
  IMAGE=sreracha:bench # never pulled: kwok runs no container
fi
tag_of() { echo "${IMAGE%:*}:bench-${NS#bench-stagger-}-$1"; }
for ((i = 1; i <= ROLLOUTS; i++)); do
  if [[ "$NODE" == real ]]; then
    # Images are never pulled on the real node: the tag must be in containerd.
    ctr_node images tag --force "$IMAGE" "$(tag_of "$i")" >/dev/null
    TAGS+=("$(tag_of "$i")")
  fi
done

lifetime_field=""
((LEARN)) || lifetime_field="appLifetimeSeconds: $LIFETIME"
if [[ "$NODE" == kwok ]]; then
  kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: baseline}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: baseline}}
  template:
    metadata:
      labels: {app: baseline}
      annotations:
        sim.sreracha.io/lifetime-seconds: "$LIFETIME"
        sim.sreracha.io/startup-seconds: "2"
    spec:
      containers: [{name: app, image: $IMAGE}]
---
apiVersion: v1
kind: Service
metadata: {name: baseline}
spec:
  selector: {app: baseline}
  ports: [{port: 80}]
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: managed}
spec:
  image: $IMAGE
  replicas: $REPLICAS
  stagger: {$lifetime_field}
  podAnnotations:
    sim.sreracha.io/lifetime-seconds: "$LIFETIME"
    sim.sreracha.io/startup-seconds: "2"
YAML
else
  # The baseline is what a user would write by hand for this app: its image
  # and crash, a readiness probe on /?q=healthz (timing as the operator's),
  # the sysctl that lets the non-root app bind port 80 and a numeric user
  # (the image's USER www is a name), as `sreracha-operator render` gives the
  # app's pods. It uses the Sreracha's Redis (managed-redis), whose
  # NetworkPolicy admits only that instance's app pods; rather than give the
  # baseline the operator's labels (its pods would join the managed Service
  # and the operator's pod set), an extra NetworkPolicy (policies add up)
  # admits the baseline's pods too.
  kubectl apply -n "$NS" -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: baseline}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: baseline}}
  template:
    metadata:
      labels: {app: baseline}
    spec:
$(real_node_pod_spec 6)
      securityContext:
        runAsUser: 65532
        runAsGroup: 65532
        runAsNonRoot: true
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      containers:
      - name: app
        image: $IMAGE
        imagePullPolicy: Never
        env:
        - {name: REDIS_URL, value: "redis://managed-redis:6379"}
        - {name: SRERACHA_EXIT_AFTER, value: "$LIFETIME"}
        ports: [{name: http, containerPort: 80}]
        readinessProbe:
          httpGet: {path: "/?q=healthz", port: 80}
          periodSeconds: 5
          timeoutSeconds: 2
---
apiVersion: v1
kind: Service
metadata: {name: baseline}
spec:
  selector: {app: baseline}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: baseline-to-managed-redis}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: sreracha, app.kubernetes.io/instance: managed, app.kubernetes.io/component: redis}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: baseline}}}]
    ports: [{port: 6379, protocol: TCP}]
---
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: managed}
spec:
  image: $IMAGE
  imagePullPolicy: Never
  replicas: $REPLICAS
  stagger: {$lifetime_field}
  env: [{name: SRERACHA_EXIT_AFTER, value: "$LIFETIME"}]
  nodeSelector: {sreracha.io/node: real}
  tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
  redis:
    mode: Local
    local: {image: $(image redis)}
YAML
fi

if ((ROLLOUTS)); then
  (
    # Killed at the end: its sleep goes with it.
    trap '[[ -z "${nap:-}" ]] || kill "$nap" 2>/dev/null; exit 0' TERM
    for ((i = 1; i <= ROLLOUTS; i++)); do
      sleep "$ROLLOUT_EVERY" &
      nap=$!
      wait "$nap"
      kubectl set image deployment/baseline -n "$NS" app="$(tag_of "$i")" >/dev/null
      kubectl patch sreracha managed -n "$NS" --type merge \
        -p "{\"spec\":{\"image\":\"$(tag_of "$i")\"}}" >/dev/null
    done
  ) &
  ROLLOUT_PID=$!
fi

SAMPLES="$(mktemp)"
"$BUILD/bin/endpoint_sampler" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
  --service baseline --service managed --replicas "$REPLICAS" \
  --duration "$DURATION" --interval-ms 100 >"$SAMPLES"
value() { awk -v s="$1" -v k="$2" '$1 == "service=" s { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$SAMPLES"; }
stagger_status() { kubectl get sreracha managed -n "$NS" -o jsonpath="{.status.stagger.$1}"; }
recycles="$(stagger_status recycles)"
startup="$(stagger_status observedStartupSeconds)"
late="$(stagger_status lateReplacements)"
echo "stagger: replicas=$REPLICAS lifetime=$LIFETIME duration=$DURATION" \
  "operator_zero_ready_pct=$(value managed zero_ready_pct)" \
  "baseline_zero_ready_pct=$(value baseline zero_ready_pct)" \
  "operator_max_not_ready=$(value managed max_not_ready)" \
  "operator_recycles=${recycles:-0}" \
  "node=$NODE cpu_load=$CPU_LOAD rollout_every=$ROLLOUT_EVERY" \
  "observed_startup_s=${startup:-unset}" \
  "late_replacements=${late:-0}"
