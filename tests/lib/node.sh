# Helpers for tests on the real node (tests/node). Source after testlib.sh.
# require_real_node skips the test (exit 77, with the reason) where the
# cluster has no real node and fails it where the node should run but did not
# start; pods go onto the node with real_node_pod_spec.

NODE_SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SKIP=77

skip() {
  echo "SKIP: $*"
  exit "$SKIP"
}

# Sets REAL_NODE (the node's name).
require_real_node() {
  local status
  if [[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" == 1 ]]; then
    REAL_NODE="$(kubectl get nodes -l sreracha.io/node=real -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
    [[ -n "$REAL_NODE" ]] || skip "no node labelled sreracha.io/node=real in this cluster"
  else
    status="$("$NODE_SRC/scripts/local-cluster.sh" node-status || true)"
    case "$status" in
      ready) ;;
      skipped:*) skip "no real node: ${status#skipped: }" ;;
      *) fail "the real node should run here but: $status" ;;
    esac
    REAL_NODE="$(kubectl get nodes -l sreracha.io/node=real -o jsonpath='{.items[0].metadata.name}')"
  fi
  local ready
  ready="$(kubectl get node "$REAL_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
  [[ "$ready" == True ]] || fail "node $REAL_NODE is not Ready ($ready)"
  export REAL_NODE
}

image() { "$NODE_SRC/scripts/images.sh" ref "$1"; }

# The lines that put a pod on the real node (its label and taint), to splice
# into a pod spec at two spaces of indentation less than `indent`.
#   real_node_pod_spec <indent>
real_node_pod_spec() {
  local pad
  pad="$(printf '%*s' "$1" '')"
  cat <<EOF
${pad}nodeSelector: {sreracha.io/node: real}
${pad}tolerations: [{key: sreracha.io/node, operator: Equal, value: real, effect: NoSchedule}]
${pad}automountServiceAccountToken: false
${pad}enableServiceLinks: false
EOF
}

# A container (for a pod's `containers:` list) that sends GET /?q=1 to the
# Service <service> of the pod's namespace, resolved by the cluster DNS,
# <count> times at <rate> a second, each on a new connection with a 1 s
# deadline (testserver load), then prints its counts and exits.
#   load_client_container <service> <count> <rate>
load_client_container() {
  cat <<EOF
  - name: $1
    image: $(image testserver)
    imagePullPolicy: Never
    command:
    - sh
    - -c
    - |
      hosts="\$(getent hosts "\$0")"
      ip="\${hosts%% *}"
      [ -n "\$ip" ] || { echo "load: \$0 does not resolve"; exit 1; }
      exec testserver load "\$ip" 80 "/?q=1" "\$1" "\$2" 1000 "\$0"
    - $1
    - "$2"
    - "$3"
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
EOF
}

# The counts of a load_client_container, as "key=value ..." (requests, ok,
# success_pct, longest_failure_run, ...); its log (with the first 20 runs of
# failures) goes to stderr.
#   load_counts <pod> <container>
load_counts() {
  local log line
  log="$(kubectl logs -n "$NS" "$1" -c "$2")"
  line="$(grep '^load: requests=' <<<"$log" | tail -1)" || fail "no counts from the $2 client: $(tail -5 <<<"$log")"
  { grep -v '^load: failed' <<<"$log" || true; grep '^load: failed' <<<"$log" | head -20 || true; } | sed "s/^/$2 /" >&2
  sed 's/^load: //' <<<"$line"
}

# pod_field <pod> <jsonpath>
pod_field() { kubectl get pod "$1" -n "$NS" -o jsonpath="$2"; }

pod_ready() { [[ "$(pod_field "$1" '{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }

# The name of the one pod with label app=<app>.
pod_of() { kubectl get pods -n "$NS" -l "app=$1" -o jsonpath='{.items[0].metadata.name}'; }

# On failure, what the kubelet said about the namespace's pods.
dump_pods() {
  echo "--- pods and events in $NS:" >&2
  kubectl get pods -n "$NS" -o wide >&2 || true
  kubectl get events -n "$NS" --sort-by=.lastTimestamp 2>/dev/null | tail -20 >&2 || true
}
