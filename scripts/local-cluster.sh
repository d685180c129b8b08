#!/usr/bin/env bash
# A real, local Kubernetes control plane with simulated nodes and one real one:
# etcd, kube-apiserver (RBAC and the Node authorizer, service-account tokens),
# kube-controller-manager, kube-scheduler, and kwok playing the kubelet for
# fake nodes in two zones: on those no container runs, pods are scheduled and
# their status is simulated by kwok stages (tests/e2e/stages). Where root and
# the kernel allow, also one real node (scripts/real-node.sh): kubelet,
# kube-proxy, containerd, runc, a CNI bridge and CoreDNS, running the pods
# that tolerate its taint sreracha.io/node=real:NoSchedule. The control plane
# listens on 127.0.0.1 only; the real node on its pod bridge's address.
#
#   scripts/local-cluster.sh up          start (idempotent)
#   scripts/local-cluster.sh down        stop exactly what `up` started; remove state
#   scripts/local-cluster.sh status      exit 0 when the API server answers
#   scripts/local-cluster.sh env         `export KUBECONFIG=... PATH=...` for eval
#   scripts/local-cluster.sh kubeconfig  the admin kubeconfig's path
#   scripts/local-cluster.sh node-status the real node: "ready", "skipped: <why>"
#                                        or "failed: <why>" (exit 0 only when ready)
#   scripts/local-cluster.sh nodes N     at least N fake nodes (benchmarks at scale;
#                                        each holds 110 pods)
#   scripts/local-cluster.sh kill etcd|kube-apiserver
#                                        SIGKILL it (chaos tests)
#   scripts/local-cluster.sh restart etcd|kube-apiserver
#                                        start it again as `up` did; wait until healthy
#
# Environment:
#   SRERACHA_CLUSTER_DIR   state directory (default /tmp/sreracha-cluster-$UID);
#                          one cluster per directory
#   SRERACHA_API_PORT, SRERACHA_ETCD_PORT   ports (default 36443, 32379; the
#                          etcd peer port is the etcd port + 1)
#   SRERACHA_NODES         number of fake nodes, half per zone (default 4)
#   SRERACHA_REAL_NODE=0   no real node; SRERACHA_POD_CIDR its pod network
#                          (scripts/real-node.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SRERACHA_CLUSTER_DIR:-${TMPDIR:-/tmp}/sreracha-cluster-$(id -u)}"
API_PORT="${SRERACHA_API_PORT:-36443}"
ETCD_PORT="${SRERACHA_ETCD_PORT:-32379}"
NODES="${SRERACHA_NODES:-4}"
HOST=127.0.0.1
SERVICE_CIDR=10.96.0.0/16

TOOL_PATH="$("$ROOT/scripts/tools.sh" path)"
export PATH="$TOOL_PATH:$PATH"
KUBECONFIG_FILE="$DIR/admin.kubeconfig"

log() { echo "local-cluster: $*" >&2; }

api_ready() {
  [[ -f "$KUBECONFIG_FILE" ]] &&
    kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=2s get --raw /readyz >/dev/null 2>&1
}

# wait_for <seconds> <description> <command...>
wait_for() {
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then
      log "timed out waiting for $what; logs in $DIR/logs"
      return 1
    fi
    sleep 0.2
  done
}

# --- certificates ---------------------------------------------------------

# issue <name> <subject> [<subjectAltName>]: an EC key and a certificate
# signed by the cluster CA.
issue() {
  local name="$1" subject="$2" san="${3:-}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/pki/$name.key" 2>/dev/null
  openssl req -new -key "$DIR/pki/$name.key" -subj "$subject" -out "$DIR/pki/$name.csr" 2>/dev/null
  local ext="$DIR/pki/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$san" ]]; then
      echo "extendedKeyUsage=serverAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl x509 -req -in "$DIR/pki/$name.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" \
    -CAcreateserial -days 365 -extfile "$ext" -out "$DIR/pki/$name.crt" 2>/dev/null
  rm -f "$DIR/pki/$name.csr" "$ext"
}

make_pki() {
  mkdir -p "$DIR/pki"
  if [[ -f "$DIR/pki/ca.crt" ]]; then
    # A directory from before the real node existed.
    [[ -f "$DIR/pki/apiserver-kubelet-client.crt" ]] ||
      issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    return 0
  fi
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$DIR/pki/ca.key" -subj "/CN=sreracha-local-ca" -days 365 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$DIR/pki/ca.crt" 2>/dev/null
  issue apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1"
  issue admin "/O=system:masters/CN=sreracha-admin"
  issue controller-manager "/CN=system:kube-controller-manager"
  issue scheduler "/CN=system:kube-scheduler"
  # kwok writes node and pod status for every fake node: cluster-admin.
  issue kwok "/O=system:masters/CN=kwok"
  # The API server's identity towards kubelets (logs, exec, port-forward).
  issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  # Service-account token signing key.
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/pki/sa.key" 2>/dev/null
  openssl ec -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null
  chmod 600 "$DIR"/pki/*.key
}

# kubeconfig <name> <file>: a kubeconfig authenticating with pki/<name>.crt.
kubeconfig() {
  local name="$1" file="$2"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sreracha-local
  cluster:
    server: https://$HOST:$API_PORT
    certificate-authority-data: $(base64 -w0 "$DIR/pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$DIR/pki/$name.crt")
    client-key-data: $(base64 -w0 "$DIR/pki/$name.key")
contexts:
- name: sreracha-local
  context:
    cluster: sreracha-local
    user: $name
    namespace: default
current-context: sreracha-local
EOF
  chmod 600 "$file"
}

# --- processes ------------------------------------------------------------

# start <name> <command...>: runs in the background, records the PID and the
# command (tests that restart a component read it from $DIR/<name>.cmd).
start() {
  local name="$1"
  shift
  printf '%q ' "$@" >"$DIR/$name.cmd"
  # Appended: a component restarted by a chaos test keeps its first life's log.
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

running() {
  local pidfile="$DIR/$1.pid"
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start_etcd() {
  running etcd && return 0
  start etcd etcd \
    --name local --data-dir "$DIR/etcd" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://$HOST:$((ETCD_PORT + 1))" \
    --initial-cluster "local=http://$HOST:$((ETCD_PORT + 1))" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  wait_for 30 etcd curl -fsS -o /dev/null "http://$HOST:$ETCD_PORT/health" 2>/dev/null
}

start_apiserver() {
  running kube-apiserver && return 0
  start kube-apiserver kube-apiserver \
    --bind-address "$HOST" --advertise-address "$HOST" --secure-port "$API_PORT" \
    --etcd-servers "http://$HOST:$ETCD_PORT" \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --kubelet-client-certificate "$DIR/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$DIR/pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$DIR/pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$DIR/pki/sa.pub" \
    --service-account-signing-key-file "$DIR/pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --endpoint-reconciler-type none \
    --allow-privileged=true \
    --profiling=false \
    --enable-priority-and-fairness=false
  wait_for 90 kube-apiserver api_ready
}

start_controller_manager() {
  running kube-controller-manager && return 0
  kubeconfig controller-manager "$DIR/controller-manager.kubeconfig"
  # --secure-port 0: no serving endpoint at all (nothing here scrapes it).
  start kube-controller-manager kube-controller-manager \
    --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --secure-port 0 --leader-elect=false \
    --use-service-account-credentials \
    --service-account-private-key-file "$DIR/pki/sa.key" \
    --root-ca-file "$DIR/pki/ca.crt" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10
}

start_scheduler() {
  running kube-scheduler && return 0
  kubeconfig scheduler "$DIR/scheduler.kubeconfig"
  start kube-scheduler kube-scheduler \
    --kubeconfig "$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
    --bind-address "$HOST" --secure-port 0 --leader-elect=false
}

start_kwok() {
  running kwok && return 0
  kubeconfig kwok "$DIR/kwok.kubeconfig"
  local stages=()
  for f in "$ROOT"/tests/e2e/stages/*.yaml; do stages+=(--config "$f"); done
  start kwok kwok \
    --kubeconfig "$DIR/kwok.kubeconfig" \
    "${stages[@]}" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 \
    --cidr 10.244.0.0/16 \
    --node-ip 10.1.0.1
}

create_nodes() {
  local i zone
  for ((i = 0; i < NODES; i++)); do
    if ((i % 2 == 0)); then zone=zone-a; else zone=zone-b; fi
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    topology.kubernetes.io/zone: $zone
    topology.kubernetes.io/region: local
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
EOF
  done | kubectl --kubeconfig "$KUBECONFIG_FILE" apply --server-side --field-manager local-cluster -f - >/dev/null
}

nodes_ready() {
  local ready
  ready="$(kubectl --kubeconfig "$KUBECONFIG_FILE" get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
    grep -c True || true)"
  [[ "$ready" -ge "$NODES" ]]
}

# shellcheck source=scripts/real-node.sh
source "$ROOT/scripts/real-node.sh"

default_sa_exists() {
  kubectl --kubeconfig "$KUBECONFIG_FILE" get serviceaccount default -n default >/dev/null 2>&1
}

up() {
  local start_time=$SECONDS
  if api_ready && running kwok && running kube-controller-manager && running kube-scheduler &&
    real_node_running; then
    log "already running ($DIR)"
    return 0
  fi
  "$ROOT/scripts/tools.sh" build
  mkdir -p "$DIR/logs"
  make_pki
  kubeconfig admin "$KUBECONFIG_FILE"
  start_etcd
  start_apiserver
  start_controller_manager
  start_scheduler
  start_kwok
  create_nodes
  # A real node that fails to start leaves the kwok cluster usable; its tests
  # then fail with the reason (node-status), they are not skipped. A subshell
  # outside any condition, so that set -e holds in it (bash ignores -e in a
  # function called from an `if` or `||`): a failed step, above all a safety
  # rule, stops it before any pod can start.
  local node_rc
  set +e
  (set -e; real_node_up)
  node_rc=$?
  set -e
  if ((node_rc != 0)); then
    echo "failed: the real node did not start (exit $node_rc); logs in $DIR/logs" >"$NODE_STATUS"
    log "$(cat "$NODE_STATUS")"
  fi
  wait_for 60 "$NODES Ready nodes" nodes_ready
  # Pods cannot be created in a namespace before its default ServiceAccount exists.
  wait_for 60 "the default ServiceAccount" default_sa_exists
  real_node_wait || true
  log "up in $((SECONDS - start_time))s: KUBECONFIG=$KUBECONFIG_FILE"
}

down() {
  local name pid
  # The real node first: its pods, containerd, bridge and rules; then the
  # rest in reverse start order, so nothing logs errors about a vanished
  # dependency. The operator `make demo` leaves running goes first.
  stop_component operator
  real_node_down
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    if running "$name"; then
      pid="$(cat "$DIR/$name.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
  done
  rm -rf "$DIR"
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    if api_ready; then
      echo "running: KUBECONFIG=$KUBECONFIG_FILE"
    else
      echo "not running"
      exit 1
    fi
    ;;
  env)
    echo "export KUBECONFIG=$KUBECONFIG_FILE"
    echo "export PATH=$TOOL_PATH:\$PATH"
    ;;
  kubeconfig) echo "$KUBECONFIG_FILE" ;;
  node-status)
    if [[ -f "$NODE_STATUS" ]]; then cat "$NODE_STATUS"; else echo "skipped: the local cluster is not running"; fi
    [[ "$(cat "$NODE_STATUS" 2>/dev/null)" == ready ]]
    ;;
  nodes)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 nodes N" >&2; exit 2; }
    NODES="$2"
    create_nodes
    wait_for 60 "$NODES Ready nodes" nodes_ready
    ;;
  kill | restart)
    case "${2:-}" in
      etcd | kube-apiserver) ;;
      *)
        echo "usage: $0 $1 etcd|kube-apiserver" >&2
        exit 2
        ;;
    esac
    if [[ "$1" == kill ]]; then
      running "$2" || { log "$2 is not running"; exit 1; }
      pid="$(cat "$DIR/$2.pid")"
      kill -9 "$pid"
      for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      log "$2 (pid $pid) SIGKILLed"
    elif [[ "$2" == etcd ]]; then
      start_etcd
    else
      start_apiserver
    fi
    ;;
  *)
    echo "usage: $0 up|down|status|env|kubeconfig|node-status|nodes|kill|restart" >&2
    exit 2
    ;;
esac
