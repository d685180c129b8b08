# The local cluster's one real node: containerd + runc + the CNI bridge
# (Debian's packages), kubelet and kube-proxy (built like the control plane),
# CoreDNS for cluster.local, and images built on this machine
# (scripts/images.sh). Sourced by scripts/local-cluster.sh, whose helpers
# (log, start, running, wait_for, issue, kubeconfig) and settings (DIR, HOST,
# KUBECONFIG_FILE, SERVICE_CIDR) it uses; not a command of its own.
#
# Safety, on a machine that is not ours to change:
# - Pods live on a bridge of our own with a pod CIDR of our own; nothing
#   masquerades their traffic. Installed and checked before the first pod
#   starts, in the mangle table (netfilter runs it before filter, where
#   kube-proxy prepends rules that ACCEPT; nothing else writes to mangle):
#   PREROUTING, before routing, DROPs everything from the pod CIDR to a
#   destination outside the pod and service CIDRs and the node's address (the
#   egress rule); FORWARD, after kube-proxy's DNAT, DROPs everything from the
#   pod CIDR to outside it (a packet still addressed to a ClusterIP is one
#   kube-proxy did not translate, and would follow the default route off this
#   machine) and everything between the bridge and other interfaces. Only
#   the bridge forwards (per-device forwarding; the host's ip_forward stays
#   off). Pods reach nothing on the host but the cluster DNS, and nothing from
#   other interfaces reaches the pods or the node's ports.
# - A blackhole route for a TEST-NET the egress test dials, so even a missing
#   rule sends nothing off this machine.
# - containerd runs with an HTTP(S) proxy that does not exist: an image that
#   is not imported fails to pull instead of dialing a registry.
# - CoreDNS serves cluster.local and forwards nothing.
# - Every host setting that kubelet or kube-proxy would change is recorded
#   first and put back by `down`, which stops exactly the processes `up`
#   started, by PID, and removes the bridge, rules, routes, mounts and cgroups.
#
# Settings (environment):
#   SRERACHA_REAL_NODE=0   do not start the real node (kwok nodes only)
#   SRERACHA_POD_CIDR      the real node's pod network (default 10.234.0.0/24;
#                          must end in .0 and collide with nothing on this machine)

NODE_NAME="${SRERACHA_NODE_NAME:-real-node}"
NODE_DIR="$DIR/node"
NODE_STATUS="$DIR/node.status"
POD_CIDR="${SRERACHA_POD_CIDR:-10.234.0.0/24}"
# The bridge's address: the pods' gateway, the node's InternalIP, where the
# kubelet and CoreDNS listen (the kubelet refuses a loopback node IP).
NODE_IP="${POD_CIDR%.0/*}.1"
BRIDGE=sreracha0
DNS_SERVICE_IP=10.96.0.10
COREDNS_READY_PORT=18181
CONTAINERD_SOCKET="$NODE_DIR/containerd/containerd.sock"
# Our chains live in the mangle table, whose hooks netfilter runs before the
# filter table's. kube-proxy prepends rules to filter FORWARD that ACCEPT its
# marked and established traffic, and a guard that another component's rule
# can pre-empt is no guard; nothing else writes to mangle's built-in chains.
NF_TABLE=mangle
# The egress rule, the last of SRERACHA-PREROUTING (tests check it with
# iptables -t mangle -C SRERACHA-PREROUTING and read its counter). Before
# routing, so it also sees what a blackhole route would discard.
EGRESS_RULE=(-s "$POD_CIDR" -m comment --comment "sreracha: pods reach nothing beyond this machine" -j DROP)
# A port nothing listens on: containerd's registry traffic goes nowhere.
NO_PROXY_URL=http://127.0.0.1:9
# Host settings kubelet (setupKernelTunables) or kube-proxy may change; `up`
# records them and `down` restores what differs.
HOST_SYSCTLS=(
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.ipv4.conf.all.route_localnet
  net.ipv4.ip_forward
)

# --- can this machine run it? ------------------------------------------------

ip_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# cidr_overlaps <a/n> <b/m>
cidr_overlaps() {
  local a="${1%/*}" an="${1#*/}" b="${2%/*}" bn="${2#*/}"
  [[ "$1" == */* ]] || an=32
  [[ "$2" == */* ]] || bn=32
  local n=$((an < bn ? an : bn))
  local mask=$(((0xffffffff << (32 - n)) & 0xffffffff))
  (($(($(ip_to_int "$a") & mask)) == $(($(ip_to_int "$b") & mask))))
}

# A TEST-NET for the egress test that this machine does not use itself (this
# project's machines sit on 192.0.2.0/24, TEST-NET-1, with their gateway in it).
egress_probe_net() {
  local net
  for net in 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do
    if ! host_uses "$net"; then
      echo "$net"
      return 0
    fi
  done
  return 1
}

# host_uses <cidr>: an address or a route of this machine (other than ours and
# the default route) overlaps it.
host_uses() {
  local dst
  while read -r dst; do
    [[ -z "$dst" || "$dst" == default ]] && continue
    if cidr_overlaps "$dst" "$1"; then return 0; fi
  done < <(ip -4 route show table all type unicast | awk '!/ dev '"$BRIDGE"' / {print $1}'
           ip -4 -o addr show | awk '$2 != "'"$BRIDGE"'" {print $4}'
           ip -4 route show table main | awk '$1 == "via" || $2 == "via" {print $3}')
  return 1
}

# Prints why this machine cannot run the real node; empty when it can. Each
# kernel feature is tried, not guessed from module lists (modules are built
# in on some kernels and /proc/modules may not exist).
node_unavailable_reason() {
  if [[ "${SRERACHA_REAL_NODE:-1}" == 0 ]]; then echo "disabled by SRERACHA_REAL_NODE=0"; return; fi
  if [[ $(id -u) -ne 0 ]]; then echo "needs root (running as uid $(id -u))"; return; fi
  local cmd
  for cmd in containerd containerd-shim-runc-v2 ctr runc iptables ip /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback; do
    if ! command -v "$cmd" >/dev/null; then echo "$cmd is missing (scripts/setup.sh installs it)"; return; fi
  done
  for cmd in kubelet kube-proxy coredns; do
    if ! command -v "$cmd" >/dev/null; then echo "$cmd is not built (scripts/tools.sh build node)"; return; fi
  done
  if ! grep -qw overlay /proc/filesystems; then echo "the kernel has no overlay file system"; return; fi
  if [[ ! -d /sys/fs/cgroup/memory && ! -f /sys/fs/cgroup/cgroup.controllers ]]; then echo "no memory cgroup"; return; fi
  if [[ ! -d /proc/sys/net/bridge ]]; then echo "no bridge netfilter (br_netfilter): Service traffic between pods would break"; return; fi
  local out
  if ip link show "$BRIDGE" >/dev/null 2>&1 && [[ ! -f "$NODE_DIR/bridge" ]]; then
    echo "$BRIDGE exists but is not this cluster's: another real node runs here ($(ip -br addr show "$BRIDGE"))"; return
  fi
  if ! out="$(ip link add sreracha-probe type bridge 2>&1)"; then echo "cannot create a bridge: $out"; return; fi
  ip link del sreracha-probe
  if ! out="$(ip link add sreracha-v0 type veth peer name sreracha-v1 2>&1)"; then echo "cannot create a veth pair: $out"; return; fi
  ip link del sreracha-v0
  if ! out="$(iptables -w 5 -n -L FORWARD 2>&1 >/dev/null)"; then echo "no netfilter: iptables -L FORWARD: $out"; return; fi
  if [[ ! "$POD_CIDR" =~ ^([0-9]+\.){3}0/(1[6-9]|2[0-4])$ ]]; then echo "SRERACHA_POD_CIDR=$POD_CIDR: want a.b.c.0/16..24"; return; fi
  if [[ ! -f "$NODE_DIR/bridge" ]] && host_uses "$POD_CIDR"; then
    echo "pod CIDR $POD_CIDR collides with this machine's addresses or routes (set SRERACHA_POD_CIDR)"; return
  fi
  if ! egress_probe_net >/dev/null; then echo "every TEST-NET is in use on this machine"; return; fi
}

# --- host settings -----------------------------------------------------------

save_sysctls() {
  [[ -f "$NODE_DIR/sysctl.saved" ]] && return 0
  local key
  for key in "${HOST_SYSCTLS[@]}"; do
    if [[ -r "/proc/sys/${key//.//}" ]]; then echo "$key=$(sysctl -n "$key")"; fi
  done >"$NODE_DIR/sysctl.saved"
}

restore_sysctls() {
  [[ -f "$NODE_DIR/sysctl.saved" ]] || return 0
  local line key value
  while IFS= read -r line; do
    key="${line%%=*}" value="${line#*=}"
    if [[ "$(sysctl -n "$key" 2>/dev/null)" != "$value" ]]; then
      sysctl -qw "$key=$value" || log "could not restore $key=$value"
    fi
  done <"$NODE_DIR/sysctl.saved"
}

# --- network -----------------------------------------------------------------

# ipt <iptables|ip6tables> <table> <chain> <rule...>: append unless present.
ipt() {
  local cmd="$1" table="$2" chain="$3"
  shift 3
  "$cmd" -w 5 -t "$table" -C "$chain" "$@" 2>/dev/null || "$cmd" -w 5 -t "$table" -A "$chain" "$@"
}

# first_jump <chain> <target>: the jump to our chain is the first rule of the
# table's built-in chain. Inserts before deleting an older jump, so there is
# no moment without it.
first_jump() {
  local chain="$1" target="$2" first
  # (2>/dev/null: iptables-nft warns on every listing where legacy tables exist.)
  first="$(iptables -w 5 -t "$NF_TABLE" -S "$chain" 2>/dev/null | sed -n 2p)"
  [[ "$first" == "-A $chain -j $target" ]] && return 0
  iptables -w 5 -t "$NF_TABLE" -I "$chain" 1 -j "$target"
  local n
  n="$(iptables -w 5 -t "$NF_TABLE" -L "$chain" -n --line-numbers 2>/dev/null |
    awk -v t="$target" '$2 == t {n = $1} END {print n}')"
  if [[ -n "$n" && "$n" != 1 ]]; then iptables -w 5 -t "$NF_TABLE" -D "$chain" "$n"; fi
}

network_up() {
  local probe_net
  probe_net="$(egress_probe_net)"
  echo "$probe_net" >"$NODE_DIR/egress-probe-net"
  # The blackhole first: even if a rule below went missing, nothing sent to
  # the test net leaves this machine.
  ip route replace blackhole "$probe_net"

  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    touch "$NODE_DIR/bridge"
    # IPv4 only: no IPv6 address or route on the pods' bridge.
    sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1" 2>/dev/null || true
    ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  touch "$NODE_DIR/bridge"
  # Only packets that arrive on the bridge are forwarded; ip_forward stays off.
  sysctl -qw "net.ipv4.conf.$BRIDGE.forwarding=1"

  record_kube_chains
  # Before routing: pods reach pods, Services and the node, nothing else.
  iptables -w 5 -t "$NF_TABLE" -N SRERACHA-PREROUTING 2>/dev/null || true
  ipt iptables "$NF_TABLE" SRERACHA-PREROUTING -s "$POD_CIDR" -d "$POD_CIDR" -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-PREROUTING -s "$POD_CIDR" -d "$SERVICE_CIDR" -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-PREROUTING -s "$POD_CIDR" -d "$NODE_IP" -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-PREROUTING "${EGRESS_RULE[@]}"
  first_jump PREROUTING SRERACHA-PREROUTING
  # Forwarding, after DNAT: pod traffic stays among the pods.
  iptables -w 5 -t "$NF_TABLE" -N SRERACHA-FORWARD 2>/dev/null || true
  ipt iptables "$NF_TABLE" SRERACHA-FORWARD -s "$POD_CIDR" ! -d "$POD_CIDR" \
    -m comment --comment "sreracha: forwarded pod traffic stays among the pods" -j DROP
  ipt iptables "$NF_TABLE" SRERACHA-FORWARD -i "$BRIDGE" ! -o "$BRIDGE" \
    -m comment --comment "sreracha: nothing from the pod bridge leaves it" -j DROP
  ipt iptables "$NF_TABLE" SRERACHA-FORWARD -o "$BRIDGE" ! -i "$BRIDGE" \
    -m comment --comment "sreracha: nothing from other interfaces reaches the pods" -j DROP
  first_jump FORWARD SRERACHA-FORWARD
  # Input: pods reach the host only for DNS (and answers to the host's own
  # connections: probes, port-forward); other interfaces never reach the
  # node's address.
  iptables -w 5 -t "$NF_TABLE" -N SRERACHA-INPUT 2>/dev/null || true
  ipt iptables "$NF_TABLE" SRERACHA-INPUT -i "$BRIDGE" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-INPUT -i "$BRIDGE" -d "$NODE_IP" -p udp --dport 53 -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-INPUT -i "$BRIDGE" -d "$NODE_IP" -p tcp --dport 53 -j RETURN
  ipt iptables "$NF_TABLE" SRERACHA-INPUT -i "$BRIDGE" \
    -m comment --comment "sreracha: pods reach no host service but DNS" -j DROP
  # (Everything from the bridge has returned or been dropped above.)
  ipt iptables "$NF_TABLE" SRERACHA-INPUT -d "$NODE_IP" ! -i lo \
    -m comment --comment "sreracha: the node's ports are for this machine only" -j DROP
  first_jump INPUT SRERACHA-INPUT
  if command -v ip6tables >/dev/null && ip6tables -w 5 -n -L FORWARD >/dev/null 2>&1; then
    ipt ip6tables filter FORWARD -i "$BRIDGE" -m comment --comment "sreracha: no IPv6 from pods" -j DROP
    ipt ip6tables filter FORWARD -o "$BRIDGE" -m comment --comment "sreracha: no IPv6 to pods" -j DROP
  fi

  # Checked, not assumed, before containerd exists (tests/node/egress_test.sh
  # compares this record's time with the kubelet's start).
  iptables -w 5 -t "$NF_TABLE" -C SRERACHA-PREROUTING "${EGRESS_RULE[@]}"
  iptables -w 5 -t "$NF_TABLE" -C PREROUTING -j SRERACHA-PREROUTING
  iptables -w 5 -t "$NF_TABLE" -C FORWARD -j SRERACHA-FORWARD
  touch "$NODE_DIR/egress-rule.checked"

  mkdir -p "$NODE_DIR/cni/net.d"
  # isGateway false: the bridge's address is ours (above), and the plugin would
  # otherwise switch on the host's ip_forward. ipMasq false: no masquerade.
  write_config "$NODE_DIR/cni/net.d/10-sreracha.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sreracha",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    }
  ]
}
EOF
}

# The KUBE-* chains the kubelet and kube-proxy create: `up` records which
# exist before it (none, on a machine without another Kubernetes), `down`
# removes the others with every rule that jumps to them (kube-proxy --cleanup
# leaves the kubelet's canaries and KUBE-FIREWALL).
kube_chains() {
  local cmd table
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$cmd" -w 5 -t "$table" -S 2>/dev/null | awk -v c="$cmd" -v t="$table" '$1 == "-N" && $2 ~ /^KUBE-/ {print c, t, $2}'
    done
  done
}

record_kube_chains() {
  [[ -f "$NODE_DIR/kube-chains.before" ]] || kube_chains >"$NODE_DIR/kube-chains.before"
}

remove_kube_chains() {
  [[ -f "$NODE_DIR/kube-chains.before" ]] || return 0
  local cmd table chain builtin n
  local -A new=()
  while read -r cmd table chain; do
    if ! grep -qx "$cmd $table $chain" "$NODE_DIR/kube-chains.before"; then new["$cmd $table $chain"]=1; fi
  done < <(kube_chains)
  ((${#new[@]})) || return 0
  # Jumps to them from the built-in chains, by line number from the bottom up.
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      for builtin in $("$cmd" -w 5 -t "$table" -S 2>/dev/null | awk '$1 == "-P" {print $2}'); do
        for n in $("$cmd" -w 5 -t "$table" -L "$builtin" -n --line-numbers 2>/dev/null |
          awk '$2 ~ /^KUBE-/ {print $1, $2}' | while read -r n chain; do
            if [[ -n "${new["$cmd $table $chain"]:-}" ]]; then echo "$n"; fi
          done | sort -rn); do
          "$cmd" -w 5 -t "$table" -D "$builtin" "$n"
        done
      done
    done
  done
  local key
  for key in "${!new[@]}"; do
    read -r cmd table chain <<<"$key"
    "$cmd" -w 5 -t "$table" -F "$chain" 2>/dev/null || true
  done
  for key in "${!new[@]}"; do
    read -r cmd table chain <<<"$key"
    "$cmd" -w 5 -t "$table" -X "$chain" 2>/dev/null || log "could not remove $cmd -t $table chain $chain"
  done
}

network_down() {
  local probe_net
  if [[ -f "$NODE_DIR/bridge" ]] && ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE"
  fi
  local chain
  for chain in PREROUTING:SRERACHA-PREROUTING FORWARD:SRERACHA-FORWARD INPUT:SRERACHA-INPUT; do
    while iptables -w 5 -t "$NF_TABLE" -D "${chain%%:*}" -j "${chain#*:}" 2>/dev/null; do :; done
    iptables -w 5 -t "$NF_TABLE" -F "${chain#*:}" 2>/dev/null || true
    iptables -w 5 -t "$NF_TABLE" -X "${chain#*:}" 2>/dev/null || true
  done
  if command -v ip6tables >/dev/null; then
    while ip6tables -w 5 -D FORWARD -i "$BRIDGE" -m comment --comment "sreracha: no IPv6 from pods" -j DROP 2>/dev/null; do :; done
    while ip6tables -w 5 -D FORWARD -o "$BRIDGE" -m comment --comment "sreracha: no IPv6 to pods" -j DROP 2>/dev/null; do :; done
  fi
  if [[ -f "$NODE_DIR/egress-probe-net" ]]; then
    probe_net="$(cat "$NODE_DIR/egress-probe-net")"
    ip route del blackhole "$probe_net" 2>/dev/null || true
  fi
  # CNI's result cache lives outside our directory (libcni's default): the
  # entries of our sandboxes (those `down` killed without a CNI DEL), for our
  # network and containerd's loopback.
  local sandbox
  for sandbox in "$NODE_DIR"/containerd/{root,state}/io.containerd.grpc.v1.cri/sandboxes/*/; do
    [[ -d "$sandbox" ]] || continue
    sandbox="$(basename "$sandbox")"
    rm -f "/var/lib/cni/results/sreracha-$sandbox-"* "/var/lib/cni/results/cni-loopback-$sandbox-"*
  done
}

# --- cgroups -----------------------------------------------------------------

# The kubelet puts pods under <hierarchy>/sreracha/kubepods; the root must
# exist in every v1 hierarchy (a new cpuset needs its cpus and mems).
cgroups_up() {
  local h
  for h in /sys/fs/cgroup/*/; do
    h="${h%/}"
    [[ -d "$h" && "$h" != /sys/fs/cgroup/unified ]] || continue
    mkdir -p "$h/sreracha"
    if [[ -f "$h/cpuset.cpus" && -z "$(cat "$h/sreracha/cpuset.cpus")" ]]; then
      cat "$h/cpuset.cpus" >"$h/sreracha/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/sreracha/cpuset.mems"
    fi
  done
}

# Every process still in our cgroups (containers whose shim is gone).
cgroup_pids() {
  local h
  for h in /sys/fs/cgroup/*/sreracha; do
    if [[ -d "$h" ]]; then find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -u
}

cgroups_down() {
  local h
  for h in /sys/fs/cgroup/*/sreracha; do
    [[ -d "$h" ]] || continue
    # Leaves first; a cgroup directory is removed with rmdir, never rm -r.
    find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# --- certificates and configuration ------------------------------------------

# write_config <file> < content: replaces the file only when the content
# differs. kube-proxy exits when its configuration file is written to, so
# an `up` that restarts another component must leave it alone.
write_config() {
  local new="$1.new.$$"
  cat >"$new"
  if cmp -s "$new" "$1"; then rm -f "$new"; else mv "$new" "$1"; fi
}

node_pki() {
  [[ -f "$DIR/pki/kubelet.crt" ]] || issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  [[ -f "$DIR/pki/kubelet-serving.crt" ]] || issue kubelet-serving "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  # The built-in binding system:node-proxier names this user.
  [[ -f "$DIR/pki/kube-proxy.crt" ]] || issue kube-proxy "/CN=system:kube-proxy"
  [[ -f "$DIR/pki/coredns.crt" ]] || issue coredns "/CN=sreracha:coredns"
  chmod 600 "$DIR"/pki/*.key
  local name
  for name in kubelet kube-proxy coredns; do
    [[ -f "$NODE_DIR/$name.kubeconfig" ]] || kubeconfig "$name" "$NODE_DIR/$name.kubeconfig"
  done
}

write_containerd_config() {
  mkdir -p "$NODE_DIR/containerd"
  write_config "$NODE_DIR/containerd/config.toml" <<EOF
# containerd for the local cluster's real node (scripts/real-node.sh).
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
# opt would write /opt/containerd; the others are snapshotters and exporters
# this node does not use.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "$CONTAINERD_SOCKET"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$("$ROOT/scripts/images.sh" ref pause)"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # runc's "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # exec, attach and port-forward streams: the kubelet proxies them here.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$NODE_DIR/containerd/runc"
        # PID 1 is not systemd here; the kubelet uses cgroupfs too.
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_DIR/containerd/certs.d"
EOF
}

write_kubelet_config() {
  mkdir -p "$NODE_DIR/kubelet"
  # The pods' resolv.conf gets the cluster DNS only, not this machine's
  # resolvers or search domains.
  echo "# pods on the real node resolve through the cluster DNS only" >"$NODE_DIR/resolv.conf"
  write_config "$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $DIR/pki/kubelet-serving.crt
tlsPrivateKeyFile: $DIR/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
imageServiceEndpoint: unix://$CONTAINERD_SOCKET
# PID 1 is not systemd; cgroups are v1 (hybrid); no swap accounting.
cgroupDriver: cgroupfs
cgroupRoot: /sreracha
failCgroupV1: false
failSwapOn: false
# Root lacks CAP_SYS_RESOURCE: leave the kubelet's own score alone.
oomScoreAdj: 0
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
registerWithTaints:
- {key: sreracha.io/node, value: real, effect: NoSchedule}
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $NODE_DIR/kubelet/volume-plugins
# Bounded load on a shared machine.
maxPods: 20
podPidsLimit: 512
containerLogMaxSize: 1Mi
containerLogMaxFiles: 2
# Images are imported, never pulled: never collect them, and evict only when
# the machine is really short.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 200Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
# No systemd inhibitor locks here.
shutdownGracePeriod: 0s
EOF
}

write_kube_proxy_config() {
  write_config "$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $NODE_DIR/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
# The node's IP: without it kube-proxy waits 30 s for the Node object.
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts on the bridge's address only: none on 127.0.0.1 (which would
# need route_localnet) or on this machine's public interface.
nodePortAddresses: [$NODE_IP/32]
iptables:
  localhostNodePorts: false
oomScoreAdj: 0
# Zeros leave the host's conntrack settings as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

write_corefile() {
  write_config "$NODE_DIR/Corefile" <<EOF
# Cluster names only; no forward plugin, so nothing leaves this machine.
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    ready 127.0.0.1:$COREDNS_READY_PORT
    errors
    cache 30
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $NODE_DIR/coredns.kubeconfig sreracha-local
        pods disabled
        ttl 5
    }
}
EOF
}

# The cluster DNS Service (a ClusterIP kube-proxy serves) with the host's
# CoreDNS behind it, and what CoreDNS may read.
apply_dns_objects() {
  kubectl --kubeconfig "$KUBECONFIG_FILE" apply --server-side --field-manager local-cluster -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "sreracha:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "sreracha:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "sreracha:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "sreracha:coredns"}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-real-node
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: local-cluster.sreracha.io
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: [$NODE_IP]
  conditions: {ready: true}
  nodeName: $NODE_NAME
EOF
}

# --- processes ---------------------------------------------------------------

ctr_node() { ctr --address "$CONTAINERD_SOCKET" --namespace k8s.io "$@"; }

containerd_ready() { ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1; }
coredns_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$COREDNS_READY_PORT/ready" 2>/dev/null; }
# livez: healthz also wants the Node object to be eligible for traffic.
kube_proxy_ready() { curl -fsS -o /dev/null http://127.0.0.1:10256/livez 2>/dev/null; }
real_node_ready() {
  [[ "$(kubectl --kubeconfig "$KUBECONFIG_FILE" get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# Whether `up` has nothing left to do for the real node.
real_node_running() {
  case "$(cat "$NODE_STATUS" 2>/dev/null)" in
    ready) running containerd && running coredns && running kube-proxy && running kubelet ;;
    skipped* | failed*) return 0 ;;
    *) return 1 ;;
  esac
}

# Starts the node's parts; real_node_wait waits for them. On a machine that
# cannot run it, one line says why and the cluster has kwok nodes only.
real_node_up() {
  local reason
  reason="$(node_unavailable_reason)"
  if [[ -n "$reason" ]]; then
    log "real node skipped: $reason"
    echo "skipped: $reason" >"$NODE_STATUS"
    return 0
  fi
  if [[ -f "$NODE_STATUS" && "$(cat "$NODE_STATUS")" == ready ]] &&
    running containerd && running coredns && running kube-proxy && running kubelet; then
    return 0
  fi
  echo "starting" >"$NODE_STATUS"
  mkdir -p "$NODE_DIR"
  # Directories containerd (shim sockets) and libcni (its result cache) make
  # outside ours, whatever their settings: removed by `down` if they are new.
  local made
  for made in /run/containerd /var/lib/cni; do
    if [[ ! -e "$made" ]] && ! grep -qx "$made" "$NODE_DIR/made-dirs" 2>/dev/null; then echo "$made" >>"$NODE_DIR/made-dirs"; fi
  done
  save_sysctls
  cgroups_up
  network_up
  node_pki
  write_containerd_config
  if ! running containerd; then
    # A proxy that does not exist: a missing image fails to pull, it is never
    # fetched from a registry.
    start containerd env HTTP_PROXY="$NO_PROXY_URL" HTTPS_PROXY="$NO_PROXY_URL" NO_PROXY= \
      containerd --config "$NODE_DIR/containerd/config.toml"
  fi
  wait_for 30 containerd containerd_ready || return 1
  "$ROOT/scripts/images.sh" import
  apply_dns_objects
  write_corefile
  running coredns || start coredns coredns -conf "$NODE_DIR/Corefile" -quiet
  write_kube_proxy_config
  # kube-proxy waits for its Node object, which the kubelet registers: both
  # start now, real_node_wait waits for them.
  running kube-proxy || start kube-proxy kube-proxy --config "$NODE_DIR/kube-proxy.yaml"
  # The kubelet starts the pods: not without the egress rule.
  iptables -w 5 -t "$NF_TABLE" -C SRERACHA-PREROUTING "${EGRESS_RULE[@]}"
  write_kubelet_config
  running kubelet || start kubelet kubelet \
    --config "$NODE_DIR/kubelet.yaml" \
    --kubeconfig "$NODE_DIR/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" \
    --cert-dir "$NODE_DIR/kubelet/pki" \
    --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP" \
    --node-labels "type=real,sreracha.io/node=real,topology.kubernetes.io/zone=zone-a,topology.kubernetes.io/region=local"
}

real_node_wait() {
  [[ "$(cat "$NODE_STATUS" 2>/dev/null)" == starting ]] || return 0
  if wait_for 60 "CoreDNS" coredns_ready && wait_for 90 "the real node $NODE_NAME Ready" real_node_ready &&
    wait_for 60 kube-proxy kube_proxy_ready; then
    echo ready >"$NODE_STATUS"
    log "real node $NODE_NAME Ready (pods on $POD_CIDR, bridge $BRIDGE)"
  else
    echo "failed: the real node did not become Ready; logs in $DIR/logs (kubelet.log, containerd.log)" >"$NODE_STATUS"
    log "$(cat "$NODE_STATUS")"
    return 1
  fi
}

# pid_is <pid> <pattern>: the process is alive and its command line matches
# (a PID from a file may have been reused).
pid_is() {
  [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

stop_pid() {
  local pid="$1"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop_component() {
  if running "$1"; then stop_pid "$(cat "$DIR/$1.pid")"; fi
  rm -f "$DIR/$1.pid"
}

# Stops what real_node_up started and removes what it made. Safe to run when
# it never started, or only partly.
real_node_down() {
  [[ -d "$NODE_DIR" ]] || return 0
  # No restarts while the containers go.
  stop_component kubelet
  if running containerd && containerd_ready; then
    local task
    for task in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
    for task in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks delete -f "$task" >/dev/null 2>&1 || true
    done
  fi
  stop_component containerd
  stop_component coredns
  stop_component kube-proxy
  # Shims outlive containerd by design; each bundle records its shim's PID.
  local pidfile pid shim_sockets=()
  for pidfile in "$NODE_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
    [[ -f "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if pid_is "$pid" "containerd-shim.*$CONTAINERD_SOCKET"; then stop_pid "$pid"; fi
    if [[ -f "$(dirname "$pidfile")/address" ]]; then
      shim_sockets+=("$(sed 's|^unix://||' "$(dirname "$pidfile")/address")")
    fi
  done
  # Container processes whose shim is already gone are still in our cgroups.
  for pid in $(cgroup_pids); do kill -9 "$pid" 2>/dev/null || true; done
  # Shim sockets live in containerd's fixed /run/containerd/s; only ours.
  for pid in "${shim_sockets[@]}"; do
    if [[ "$pid" == /run/containerd/s/* ]]; then rm -f "$pid"; fi
  done
  if command -v kube-proxy >/dev/null; then
    # kube-proxy removes the iptables chains and rules it made.
    kube-proxy --cleanup --config "$NODE_DIR/kube-proxy.yaml" >"$DIR/logs/kube-proxy-cleanup.log" 2>&1 || true
  fi
  unmount_under "$NODE_DIR"
  remove_kube_chains
  network_down
  cgroups_down
  restore_sysctls
  local made
  if [[ -f "$NODE_DIR/made-dirs" ]]; then
    while read -r made; do
      # Only if empty: something else may have started using it meanwhile.
      find "$made" -depth -type d -empty -delete 2>/dev/null || true
    done <"$NODE_DIR/made-dirs"
  fi
  rm -f "$NODE_STATUS"
}

# unmount_under <dir>: every mount below dir, deepest first (overlay rootfs,
# pod volumes, network namespaces, sandbox shm).
unmount_under() {
  local target
  for _ in 1 2 3; do
    local targets=()
    while IFS= read -r target; do
      if [[ "$target" == "$1"/* ]]; then targets+=("$target"); fi
    done < <(awk '{print $5}' /proc/self/mountinfo | sort -r)
    ((${#targets[@]})) || return 0
    for target in "${targets[@]}"; do umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true; done
  done
  if awk '{print $5}' /proc/self/mountinfo | grep -q "^$1/"; then
    log "still mounted under $1: $(awk '{print $5}' /proc/self/mountinfo | grep "^$1/" | tr '\n' ' ')"
  fi
}
