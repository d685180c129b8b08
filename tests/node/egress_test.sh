# Pods on the real node cannot reach beyond this machine: the egress DROP
# rule (scripts/real-node.sh) is in the mangle table's PREROUTING and our
# chains come first in PREROUTING and FORWARD (netfilter runs mangle before
# filter); it was in place before the kubelet, which starts every pod, was
# started; the TEST-NET the probe dials is blackholed on the host; and a
# pod's connection to it is dropped by the rule, whose packet counter rises.
# And nothing is pulled: containerd's registry traffic goes to a dead proxy.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/node.sh"
require_real_node
[[ $(id -u) -eq 0 ]] || skip "reading iptables counters needs root"
[[ "${SRERACHA_USE_EXISTING_CLUSTER:-}" != 1 ]] || skip "checks the local cluster's own rules"
test_namespace node-egress
trap 'status=$?; ((status == 0)) || dump_pods; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

# The node's settings, from the script that made them.
DIR="$(dirname "$("$NODE_SRC/scripts/local-cluster.sh" kubeconfig)")"
ROOT="$NODE_SRC"
source "$NODE_SRC/scripts/real-node.sh"

iptables -w 5 -t "$NF_TABLE" -C SRERACHA-PREROUTING "${EGRESS_RULE[@]}" ||
  fail "the egress rule is missing: iptables -t $NF_TABLE -C SRERACHA-PREROUTING ${EGRESS_RULE[*]}"
for chain in PREROUTING FORWARD; do
  first="$(iptables -w 5 -t "$NF_TABLE" -S "$chain" 2>/dev/null | sed -n 2p)"
  [[ "$first" == "-A $chain -j SRERACHA-$chain" ]] || fail "$NF_TABLE $chain starts with '$first', not our chain"
done
checked="$(stat -c %.9Y "$NODE_DIR/egress-rule.checked")" || fail "no record of the rule's check before the kubelet"
kubelet_started="$(stat -c %.9Y "$DIR/kubelet.cmd")"
[[ "$(printf '%s\n%s\n' "$checked" "$kubelet_started" | sort -g | head -1)" == "$checked" ]] ||
  fail "the egress rule was checked at $checked, after the kubelet started at $kubelet_started"
pass "iptables -t $NF_TABLE -C finds the egress DROP rule, our chains first, checked before the kubelet started"

probe_net="$(cat "$NODE_DIR/egress-probe-net")"
probe_ip="${probe_net%.0/*}.1"
grep -q "^blackhole $probe_net" <<<"$(ip route show type blackhole)" || fail "no blackhole route for $probe_net"
pass "$probe_net is blackholed on the host"

counter() {
  iptables -w 5 -t "$NF_TABLE" -L SRERACHA-PREROUTING -n -v -x 2>/dev/null | awk '/pods reach nothing beyond this machine/ {print $1; exit}'
}
before="$(counter)"
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: prober}
spec:
$(real_node_pod_spec 2)
  restartPolicy: Never
  securityContext: {runAsUser: 33}
  containers:
  - name: prober
    image: $(image testserver)
    imagePullPolicy: Never
    args: [connect, "$probe_ip", "80", "3"]
EOF
done_() { [[ "$(pod_field prober '{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
wait_until 60 "the prober to finish" done_
[[ "$(pod_field prober '{.status.phase}')" == Failed ]] || fail "the pod connected to $probe_ip: $(kubectl logs -n "$NS" prober)"
log_line="$(kubectl logs -n "$NS" prober)"
[[ "$log_line" == *"timed out"* ]] || fail "the connection to $probe_ip did not time out (dropped): '$log_line'"
after="$(counter)"
((after > before)) || fail "the egress rule's counter did not rise ($before -> $after)"
pass "a pod's connection to $probe_ip timed out; the rule dropped $((after - before)) packets"

# Nothing is pulled: an image that was not imported fails through containerd's
# proxy that does not exist (the registry named is the blackholed TEST-NET, so
# even a direct dial would stay on this machine).
kubectl apply -n "$NS" -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: puller}
spec:
$(real_node_pod_spec 2)
  containers:
  - name: puller
    image: $probe_ip/nothing:1
    imagePullPolicy: Always
EOF2
pull_failed() {
  grep -q 'proxyconnect tcp: dial tcp 127.0.0.1:9' <<<"$(kubectl get events -n "$NS" \
    --field-selector involvedObject.name=puller,reason=Failed -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')"
}
wait_until 60 "the pull of $probe_ip/nothing:1 to fail at the dead proxy" pull_failed
pass "an image that was not imported is not pulled: containerd's registry traffic ends at 127.0.0.1:9"
