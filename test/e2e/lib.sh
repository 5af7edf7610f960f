# shellcheck shell=bash
# test/e2e/lib.sh — a Kubernetes-like cluster made of network namespaces.
#
# Sourced by the end-to-end scenarios (test/e2e/*_test.sh), scripts/demo.sh and the
# benchmarks. Everything it creates lives in network namespaces it owns, named with a
# per-run prefix (default "khg<PID>-"); they are deleted when the sourcing script exits,
# also on failure or Ctrl-C. It never changes a route, link or address in the machine's
# own namespace: every `ip` command is `ip -n NS ...` or `ip netns exec NS ...`, and veth
# pairs are created inside a namespace with their peer moved straight into another one.
#
# The picture:
#
#   namespace "lan": bridge br0 (198.51.100.0/24)  [and br1 (203.0.113.0/24) with a router]
#        |            |             |                     |
#     node1         node2   ...   api (198.51.100.250)   rtr (198.51.100.1 | 203.0.113.1)
#     eth0 198.51.100.11           fake-apiserver :6443
#     cni0 10.244.1.1/24
#       |-- pod n1p1  10.244.1.11
#       `-- pod n1p2  10.244.1.12
#
# Nodes are numbered from 1; node I is "nodeI" in the API with podCIDR 10.244.I.0/24 and
# InternalIP 198.51.100.(10+I) (or 203.0.113.(10+I) for a node behind the router).
#
# Typical use:
#   source "$(dirname "$0")/lib.sh"
#   khg_init scenario-name          # root check (exit 77 = skipped), cleanup trap, run folder
#   khg_cluster_up 3 2              # lan + api server + 3 nodes with 2 pods each, nodes in the API
#   khg_hostgw_start_all
#   khg_wait_for 20 "full mesh" khg_full_mesh_ok
#
# Environment:
#   KHG_HOSTGW, KHG_FAKE_APISERVER  binaries (default: build/bin/kube-hostgw, build/bin/fake-apiserver)
#   KHG_PREFIX                      namespace prefix (default khg<PID>-)
#   KHG_KEEP_LOGS=1                 keep the run folder even on success
#   KHG_RESYNC                      --resync-period given to kube-hostgw (default 5s)
#   KHG_QUIET=1                     no step lines
#   KHG_LEAVE_UP=1                  on success, leave everything running (demo.sh --keep)
#   KHG_RUN_DIR                     run folder (default: a new mktemp folder)
#   KHG_CLUSTER_CIDRS               --cluster-cidr given to kube-hostgw (default 10.244.0.0/16;
#                                   dual stack: "10.244.0.0/16,2001:db8:244::/48")
#   KHG_HOSTGW_ARGS                 bash array of extra flags for every kube-hostgw start
#                                   (e.g. KHG_HOSTGW_ARGS=(--cross-subnet=skip))

set -euo pipefail

# Sourced twice (demo.sh does): the second time is a no-op.
if [[ -n "${KHG_LIB_SOURCED:-}" ]]; then return 0; fi
KHG_LIB_SOURCED=1

KHG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${KHG_BIN_DIR:=$KHG_ROOT/build/bin}"
: "${KHG_HOSTGW:=$KHG_BIN_DIR/kube-hostgw}"
: "${KHG_FAKE_APISERVER:=$KHG_BIN_DIR/fake-apiserver}"
: "${KHG_PREFIX:=khg$$-}"
: "${KHG_RESYNC:=5s}"

readonly KHG_LAN_SUBNET=198.51.100
readonly KHG_FAR_SUBNET=203.0.113
readonly KHG_API_IP=198.51.100.250
readonly KHG_API_PORT=6443
readonly KHG_ROUTER_NEAR_IP=198.51.100.1
readonly KHG_ROUTER_FAR_IP=203.0.113.1
readonly KHG_CLUSTER_CIDR=10.244.0.0/16
readonly KHG_HEALTH=127.0.0.1:2401
# IPv6 (dual stack): node addresses on the LAN 2001:db8:100::(10+I)/64 (behind the
# router 2001:db8:113::(10+I)/64), podCIDRs 2001:db8:244:I::/64, pods 2001:db8:244:I::(10+J).
readonly KHG_LAN6_PREFIX=2001:db8:100
readonly KHG_FAR6_PREFIX=2001:db8:113
readonly KHG_CLUSTER_CIDR6=2001:db8:244::/48
: "${KHG_CLUSTER_CIDRS:=$KHG_CLUSTER_CIDR}"
if ! declare -p KHG_HOSTGW_ARGS >/dev/null 2>&1; then KHG_HOSTGW_ARGS=(); fi

KHG_NAME=e2e
KHG_RUN_DIR=${KHG_RUN_DIR:-}
KHG_NETNS=()          # namespaces we created, in creation order
KHG_BG_PIDS=()        # background processes we started (monitors, servers, controllers)
KHG_HAVE_ROUTER=0
KHG_HAVE_ROUTER6=0
KHG_API_PID=
KHG_API_TOKEN=
KHG_OK=0              # set to 1 by khg_pass: the run folder is removed on success
declare -A KHG_NODE_PODS=()   # node index -> number of pods
declare -A KHG_NODE_SIDE=()   # node index -> near|far
declare -A KHG_HOSTGW_PID=()  # node index -> controller pid
declare -A KHG_MONITOR_PID=() # node index -> `ip monitor route` pid

# ---------------------------------------------------------------------------------------
# Messages and time

khg_now_ms() { date +%s%3N; }
khg_now_us() { date +%s%6N; }

khg_step() {
  [[ "${KHG_QUIET:-0}" == 1 ]] && return 0
  printf '[%s] %s: %s\n' "$(date +%H:%M:%S.%3N)" "$KHG_NAME" "$*"
}

khg_info() { printf '    %s\n' "$*"; }

# Prints a measured figure in one greppable form: "FIGURE name=value unit".
khg_figure() { printf 'FIGURE %s=%s %s\n' "$1" "$2" "${3:-}"; }

khg_fail() {
  printf 'FAIL: %s: %s\n' "$KHG_NAME" "$*" >&2
  exit 1
}

khg_pass() {
  KHG_OK=1
  printf 'PASS: %s\n' "$KHG_NAME"
}

# khg_wait_for TIMEOUT_SECONDS "what we wait for" COMMAND [ARGS...]
# Runs COMMAND every 50 ms until it succeeds; returns 1 with a message on timeout.
khg_wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$(($(khg_now_ms) + timeout * 1000))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if (($(khg_now_ms) >= deadline)); then
      printf 'timed out after %s s waiting for: %s\n' "$timeout" "$what" >&2
      return 1
    fi
    sleep 0.05
  done
}

# khg_hold SECONDS "what must stay true" COMMAND [ARGS...]
# Checks COMMAND every 100 ms for SECONDS; returns 1 as soon as it fails once.
khg_hold() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$(($(khg_now_ms) + seconds * 1000))
  while (($(khg_now_ms) < deadline)); do
    if ! "$@" >/dev/null 2>&1; then
      printf 'no longer true: %s\n' "$what" >&2
      return 1
    fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------
# Set-up and tear-down

khg_require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: $KHG_NAME needs root (it creates network namespaces, veth pairs and bridges; CI runs as root)"
    exit 77
  fi
  local tool
  for tool in ip ping curl jq; do
    command -v "$tool" >/dev/null || khg_fail "the command '$tool' is missing: run scripts/setup-deps.sh"
  done
}

khg_require_binaries() {
  local bin
  for bin in "$KHG_HOSTGW" "$KHG_FAKE_APISERVER"; do
    [[ -x "$bin" ]] || khg_fail "$bin is not built: cmake --build build --target kube-hostgw fake-apiserver"
  done
}

# Deletes one namespace: stops every process still inside it (only processes in a
# namespace of ours, by pid), then removes it.
khg__netns_delete() {
  local ns=$1 pids pid
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [[ -n "$pids" ]]; then
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      [[ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ]] && break
      sleep 0.1
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  ip netns del "$ns" 2>/dev/null || true
}

# Removes namespaces left by a crashed run: prefix "khg<PID>-" whose PID is gone.
khg_clean_leftovers() {
  local ns owner
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if [[ "$ns" =~ ^khg([0-9]+)- ]]; then
      owner=${BASH_REMATCH[1]}
      if ! kill -0 "$owner" 2>/dev/null; then
        echo "cleaning up namespace $ns left by a run that is gone (pid $owner)"
        khg__netns_delete "$ns"
      fi
    fi
  done
}

# Removes every namespace whose name starts with PREFIX (used by demo.sh --clean).
khg_clean_prefix() {
  local prefix=$1 ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$ns" == "$prefix"* ]] && khg__netns_delete "$ns"
  done
  return 0
}

khg__dump_state() {
  local i ns
  echo "----- state at failure ($KHG_NAME) -----" >&2
  for i in "${!KHG_NODE_SIDE[@]}"; do
    ns=$(khg_node_ns "$i")
    echo "node$i routes:" >&2
    ip -n "$ns" route show 2>&1 | sed 's/^/    /' >&2 || true
    ip -n "$ns" -6 route show proto 44 2>&1 | sed 's/^/    /' >&2 || true
    if [[ -f "$KHG_RUN_DIR/node$i.log" ]]; then
      echo "node$i kube-hostgw log (last 15 lines):" >&2
      tail -n 15 "$KHG_RUN_DIR/node$i.log" | sed 's/^/    /' >&2
    fi
  done
  if [[ -f "$KHG_RUN_DIR/apiserver.log" ]]; then
    echo "fake-apiserver log (last 10 lines):" >&2
    tail -n 10 "$KHG_RUN_DIR/apiserver.log" | sed 's/^/    /' >&2
  fi
  echo "logs kept in $KHG_RUN_DIR" >&2
}

khg__on_exit() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((status != 0)) && [[ "$status" != 77 ]] && [[ -n "$KHG_RUN_DIR" ]]; then
    khg__dump_state
  fi
  if ((status == 0)) && [[ "${KHG_LEAVE_UP:-0}" == 1 ]]; then
    exit 0 # demo.sh --keep: namespaces, processes and the run folder stay
  fi
  khg_teardown
  if [[ -n "$KHG_RUN_DIR" && -d "$KHG_RUN_DIR" ]]; then
    if ((status == 0)) && [[ "$KHG_OK" == 1 ]] && [[ "${KHG_KEEP_LOGS:-0}" != 1 ]]; then
      rm -rf "$KHG_RUN_DIR"
    elif ((status == 0)); then
      echo "logs kept in $KHG_RUN_DIR"
    fi
  fi
  exit "$status"
}

# Stops our processes and deletes our namespaces (newest first). Safe to call twice.
khg_teardown() {
  local pid i
  for pid in "${KHG_BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${KHG_BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  KHG_BG_PIDS=()
  for ((i = ${#KHG_NETNS[@]} - 1; i >= 0; i--)); do
    khg__netns_delete "${KHG_NETNS[i]}"
  done
  KHG_NETNS=()
}

# khg_init NAME: root check, trap, run folder, leftovers of crashed runs removed.
khg_init() {
  KHG_NAME=${1:-e2e}
  khg_require_root
  khg_require_binaries
  khg_clean_leftovers
  trap khg__on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE
  if [[ -z "${KHG_RUN_DIR}" ]]; then
    KHG_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/${KHG_PREFIX}${KHG_NAME}.XXXX")
  elif [[ -f "$KHG_RUN_DIR/.khg-run" ]]; then
    rm -rf "${KHG_RUN_DIR:?}"/* # a run folder of an earlier run: start afresh
  else
    mkdir -p "$KHG_RUN_DIR"
    [[ -z "$(ls -A "$KHG_RUN_DIR")" ]] || khg_fail "KHG_RUN_DIR=$KHG_RUN_DIR is not empty and not a kube-hostgw run folder"
  fi
  touch "$KHG_RUN_DIR/.khg-run"
  mkdir -p "$KHG_RUN_DIR/nodes"
}

khg__bg() { KHG_BG_PIDS+=("$1"); }

khg_netns_add() {
  local ns=$1
  ip netns add "$ns"
  KHG_NETNS+=("$ns")
  ip -n "$ns" link set lo up
}

khg_sysctl() {
  local ns=$1
  shift
  ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# khg_no_dad NS IFACE...: the interfaces skip IPv6 duplicate address detection. Call
# before the link comes up. A new link's link-local address stays tentative for 1-2 s, and
# the kernel sends no neighbour solicitation from an interface without a usable link-local
# address: a router namespace born a second ago silently drops the first IPv6 packets it
# forwards (e2e.cross_subnet_vxlan's set-up check failed 1 run in 5 under load).
# Only the harness's own links: devices kube-hostgw creates keep the kernel's default.
khg_no_dad() {
  local ns=$1 iface
  shift
  for iface; do khg_sysctl "$ns" "net.ipv6.conf.$iface.accept_dad=0"; done
}

# ---------------------------------------------------------------------------------------
# Topology

khg_lan_ns() { echo "${KHG_PREFIX}lan"; }
khg_api_ns() { echo "${KHG_PREFIX}api"; }
khg_router_ns() { echo "${KHG_PREFIX}rtr"; }
khg_node_ns() { echo "${KHG_PREFIX}n$1"; }
khg_pod_ns() { echo "${KHG_PREFIX}n$1p$2"; }
khg_node_pod_cidr() { echo "10.244.$1.0/24"; }
khg_pod_ip() { echo "10.244.$1.$((10 + $2))"; }
khg_node_ip() {
  if [[ "${KHG_NODE_SIDE[$1]:-near}" == far ]]; then echo "$KHG_FAR_SUBNET.$((10 + $1))"; else echo "$KHG_LAN_SUBNET.$((10 + $1))"; fi
}

# The LAN: a namespace holding the bridge br0 every node is plugged into.
khg_lan_up() {
  local lan
  lan=$(khg_lan_ns)
  khg_netns_add "$lan"
  ip -n "$lan" link add br0 type bridge
  ip -n "$lan" link set br0 up
}

# A router between 198.51.100.0/24 (br0) and 203.0.113.0/24 (br1). Call before
# khg_api_up and khg_node_add so that their default routes point at it.
khg_router_up() {
  local lan rtr
  lan=$(khg_lan_ns)
  rtr=$(khg_router_ns)
  ip -n "$lan" link add br1 type bridge
  ip -n "$lan" link set br1 up
  khg_netns_add "$rtr"
  ip -n "$rtr" link add near type veth peer name rtr0 netns "$lan"
  ip -n "$rtr" link add far type veth peer name rtr1 netns "$lan"
  ip -n "$lan" link set rtr0 master br0 up
  ip -n "$lan" link set rtr1 master br1 up
  ip -n "$rtr" addr add "$KHG_ROUTER_NEAR_IP/24" dev near
  ip -n "$rtr" addr add "$KHG_ROUTER_FAR_IP/24" dev far
  khg_no_dad "$rtr" near far
  ip -n "$rtr" link set near up
  ip -n "$rtr" link set far up
  khg_sysctl "$rtr" net.ipv4.ip_forward=1
  KHG_HAVE_ROUTER=1
}

# khg_node_add I [near|far]: node namespace with eth0 on the LAN (or behind the router),
# forwarding on, and the pod bridge cni0 holding 10.244.I.1/24.
khg_node_add() {
  local i=$1 side=${2:-near} lan ns
  lan=$(khg_lan_ns)
  ns=$(khg_node_ns "$i")
  KHG_NODE_SIDE[$i]=$side
  KHG_NODE_PODS[$i]=0
  khg_netns_add "$ns"
  ip -n "$ns" link add eth0 type veth peer name "n$i" netns "$lan"
  if [[ "$side" == far ]]; then
    ((KHG_HAVE_ROUTER)) || khg_fail "node$i: a far node needs khg_router_up first"
    ip -n "$lan" link set "n$i" master br1 up
  else
    ip -n "$lan" link set "n$i" master br0 up
  fi
  ip -n "$ns" addr add "$(khg_node_ip "$i")/24" dev eth0
  khg_no_dad "$ns" eth0
  ip -n "$ns" link set eth0 up
  if ((KHG_HAVE_ROUTER)); then
    if [[ "$side" == far ]]; then
      ip -n "$ns" route add default via "$KHG_ROUTER_FAR_IP"
    else
      ip -n "$ns" route add default via "$KHG_ROUTER_NEAR_IP"
    fi
  fi
  khg_sysctl "$ns" net.ipv4.ip_forward=1
  ip -n "$ns" link add cni0 type bridge
  ip -n "$ns" addr add "10.244.$i.1/24" dev cni0
  khg_no_dad "$ns" cni0
  ip -n "$ns" link set cni0 up
}

# khg_pods_add I P: P pod namespaces on node I's cni0, 10.244.I.(10+j), default via the bridge.
khg_pods_add() {
  local i=$1 count=$2 node pod j
  node=$(khg_node_ns "$i")
  for ((j = KHG_NODE_PODS[$i] + 1; j <= KHG_NODE_PODS[$i] + count; j++)); do
    pod=$(khg_pod_ns "$i" "$j")
    khg_netns_add "$pod"
    ip -n "$pod" link add eth0 type veth peer name "vp$j" netns "$node"
    ip -n "$node" link set "vp$j" master cni0 up
    ip -n "$pod" addr add "$(khg_pod_ip "$i" "$j")/24" dev eth0
    khg_no_dad "$pod" eth0
    ip -n "$pod" link set eth0 up
    ip -n "$pod" route add default via "10.244.$i.1"
  done
  KHG_NODE_PODS[$i]=$((KHG_NODE_PODS[$i] + count))
}

khg_nodes() { printf '%s\n' "${!KHG_NODE_SIDE[@]}" | sort -n; }

# ---------------------------------------------------------------------------------------
# IPv6 (dual stack). Addresses are added with `nodad` so they are usable at once.

khg_node_pod_cidr6() { echo "2001:db8:244:$1::/64"; }
khg_pod_ip6() { echo "2001:db8:244:$1::$((10 + $2))"; }
khg_node_ip6() {
  if [[ "${KHG_NODE_SIDE[$1]:-near}" == far ]]; then echo "$KHG_FAR6_PREFIX::$((10 + $1))"; else echo "$KHG_LAN6_PREFIX::$((10 + $1))"; fi
}

# khg_router_up_v6: the router (khg_router_up) routes IPv6 too: 2001:db8:100::1/64 on
# the LAN side, 2001:db8:113::1/64 behind it, IPv6 forwarding in its namespace. Call
# before khg_node_add_v6 so that the nodes' IPv6 default routes point at it.
khg_router_up_v6() {
  local rtr
  rtr=$(khg_router_ns)
  ((KHG_HAVE_ROUTER)) || khg_fail "khg_router_up_v6 needs khg_router_up first"
  khg_sysctl "$rtr" net.ipv6.conf.all.forwarding=1
  ip -n "$rtr" addr add "$KHG_LAN6_PREFIX::1/64" dev near nodad
  ip -n "$rtr" addr add "$KHG_FAR6_PREFIX::1/64" dev far nodad
  KHG_HAVE_ROUTER6=1
}

# khg_node_add_v6 I: gives node I an IPv6 address on eth0 (on its side of the router),
# 2001:db8:244:I::1/64 on cni0 and IPv6 forwarding. Call after khg_node_add.
khg_node_add_v6() {
  local i=$1 ns
  ns=$(khg_node_ns "$i")
  khg_sysctl "$ns" net.ipv6.conf.all.forwarding=1
  ip -n "$ns" addr add "$(khg_node_ip6 "$i")/64" dev eth0 nodad
  ip -n "$ns" addr add "2001:db8:244:$i::1/64" dev cni0 nodad
  if ((KHG_HAVE_ROUTER6)); then
    if [[ "${KHG_NODE_SIDE[$i]}" == far ]]; then
      ip -n "$ns" -6 route add default via "$KHG_FAR6_PREFIX::1"
    else
      ip -n "$ns" -6 route add default via "$KHG_LAN6_PREFIX::1"
    fi
  fi
}

# khg_pods_add_v6 I: gives every pod of node I an IPv6 address and an IPv6 default route
# via the bridge (cni0 must have its IPv6 address: khg_node_add_v6, or khg_cni_add_v6).
khg_pods_add_v6() {
  local i=$1 j pod
  for ((j = 1; j <= KHG_NODE_PODS[$i]; j++)); do
    pod=$(khg_pod_ns "$i" "$j")
    ip -n "$pod" addr add "$(khg_pod_ip6 "$i" "$j")/64" dev eth0 nodad
    ip -n "$pod" -6 route add default via "2001:db8:244:$i::1"
  done
}

# khg_cni_add_v6 I: only the pod side of IPv6 on node I (cni0 address, forwarding), for a
# node whose own address is IPv4 only.
khg_cni_add_v6() {
  local i=$1 ns
  ns=$(khg_node_ns "$i")
  khg_sysctl "$ns" net.ipv6.conf.all.forwarding=1
  ip -n "$ns" addr add "2001:db8:244:$i::1/64" dev cni0 nodad
}

# khg_ping6 FROM_NS IP [WAIT_SECONDS]: one ICMPv6 echo request; succeeds on a reply.
khg_ping6() {
  ip netns exec "$1" ping -6 -c 1 -W "${3:-1}" -q "$2" >/dev/null 2>&1
}

# Like khg_all_pods_ping, over IPv6 (pods' 2001:db8:244:I::(10+J) addresses).
khg_all_pods_ping6() { khg__all_pods_ping 6 "$@"; }

# khg_routes6 I: node I's IPv6 routes that carry protocol 44, as JSON.
# (unicast only: the own-podCIDR unreachable routes are not routes to other nodes)
khg_routes6() { ip -n "$(khg_node_ns "$1")" -6 -j route show proto 44 type unicast; }

# ---------------------------------------------------------------------------------------
# The fake API server

# Starts (or restarts) fake-apiserver in its namespace. The first call creates the
# namespace, the certificates (real TLS: a CA and a server certificate for
# 198.51.100.250), the tokens and the kubeconfigs:
#   $KHG_RUN_DIR/node.kubeconfig   bearer token, used by every kube-hostgw
#   $KHG_RUN_DIR/admin.kubeconfig  client certificate, for kubectl (khg_kubectl)
# Extra arguments go to fake-apiserver (e.g. --nodes-file FILE).
khg_api_up() {
  local api lan
  api=$(khg_api_ns)
  lan=$(khg_lan_ns)
  if [[ ! -d "$KHG_RUN_DIR/pki" ]]; then
    khg_netns_add "$api"
    ip -n "$api" link add eth0 type veth peer name api netns "$lan"
    ip -n "$lan" link set api master br0 up
    ip -n "$api" addr add "$KHG_API_IP/24" dev eth0
    ip -n "$api" link set eth0 up
    if ((KHG_HAVE_ROUTER)); then
      ip -n "$api" route add default via "$KHG_ROUTER_NEAR_IP"
    fi
    "$KHG_FAKE_APISERVER" pki --out "$KHG_RUN_DIR/pki" --san "$KHG_API_IP" >"$KHG_RUN_DIR/pki.log" 2>&1 ||
      khg_fail "fake-apiserver pki failed: $(cat "$KHG_RUN_DIR/pki.log")"
    KHG_API_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    khg__write_kubeconfigs
  fi
  : >"$KHG_RUN_DIR/apiserver.out"
  ip netns exec "$api" "$KHG_FAKE_APISERVER" --listen "$KHG_API_IP" --port "$KHG_API_PORT" \
    --cert "$KHG_RUN_DIR/pki/server.crt" --key "$KHG_RUN_DIR/pki/server.key" \
    --client-ca "$KHG_RUN_DIR/pki/ca.crt" --token "$KHG_API_TOKEN" \
    --bookmark-interval-ms "${KHG_BOOKMARK_MS:-2000}" "$@" \
    >"$KHG_RUN_DIR/apiserver.out" 2>>"$KHG_RUN_DIR/apiserver.log" &
  KHG_API_PID=$!
  khg__bg "$KHG_API_PID"
  khg_wait_for 15 "fake-apiserver to print 'listening on'" grep -q "listening on" "$KHG_RUN_DIR/apiserver.out" ||
    khg_fail "fake-apiserver did not start: $(tail -n 5 "$KHG_RUN_DIR/apiserver.log")"
}

# Kills the API server process (SIGKILL: no goodbye to the clients).
khg_api_kill() {
  [[ -n "$KHG_API_PID" ]] || return 0
  kill -KILL "$KHG_API_PID" 2>/dev/null || true
  wait "$KHG_API_PID" 2>/dev/null || true
  KHG_API_PID=
}

khg__b64() { base64 -w0 <"$1"; }

khg__write_kubeconfigs() {
  local ca server="https://$KHG_API_IP:$KHG_API_PORT"
  ca=$(khg__b64 "$KHG_RUN_DIR/pki/ca.crt")
  umask 077
  cat >"$KHG_RUN_DIR/node.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: kube-hostgw
  user:
    token: $KHG_API_TOKEN
contexts:
- name: e2e
  context:
    cluster: e2e
    user: kube-hostgw
current-context: e2e
EOF
  cat >"$KHG_RUN_DIR/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: admin
  user:
    client-certificate-data: $(khg__b64 "$KHG_RUN_DIR/pki/client.crt")
    client-key-data: $(khg__b64 "$KHG_RUN_DIR/pki/client.key")
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
EOF
  umask 022
}

# khg_api METHOD PATH [BODY [CONTENT_TYPE]]: one authenticated request (client
# certificate) from inside the api namespace; prints the response body, fails on >= 400.
khg_api() {
  local method=$1 path=$2 body=${3:-} type=${4:-application/json}
  local args=(-sS --fail-with-body --max-time 10 -X "$method"
    --cacert "$KHG_RUN_DIR/pki/ca.crt" --cert "$KHG_RUN_DIR/pki/client.crt" --key "$KHG_RUN_DIR/pki/client.key")
  if [[ -n "$body" ]]; then
    args+=(-H "Content-Type: $type" --data-binary "$body")
  fi
  ip netns exec "$(khg_api_ns)" curl "${args[@]}" "https://$KHG_API_IP:$KHG_API_PORT$path"
}

# kubectl with the admin kubeconfig, run inside the api namespace (only if kubectl is installed).
khg_have_kubectl() { command -v kubectl >/dev/null; }
khg_kubectl() {
  ip netns exec "$(khg_api_ns)" kubectl --kubeconfig "$KHG_RUN_DIR/admin.kubeconfig" "$@"
}

# khg_node_json NAME POD_CIDR INTERNAL_IP: a realistic v1 Node object (labels,
# annotations, conditions, capacity, images), the way a kubelet writes it.
# POD_CIDR may be "" (no podCIDR yet) or a comma-separated list (dual stack);
# INTERNAL_IP too (one InternalIP entry per address).
khg_node_json() {
  local name=$1 cidrs=$2 ip=$3
  jq -n --arg name "$name" --arg cidrs "$cidrs" --arg ip "$ip" '
    ($cidrs | split(",") | map(select(length > 0))) as $c |
    {
      apiVersion: "v1", kind: "Node",
      metadata: {
        name: $name,
        labels: {
          "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": $name, "kubernetes.io/os": "linux",
          "node.kubernetes.io/instance-type": "e2e"
        },
        annotations: {
          "node.alpha.kubernetes.io/ttl": "0",
          "volumes.kubernetes.io/controller-managed-attach-detach": "true",
          "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock"
        }
      },
      spec: ((if ($c | length) > 0 then {podCIDR: $c[0], podCIDRs: $c} else {} end) + {providerID: ("e2e://" + $name)}),
      status: {
        capacity: {cpu: "2", "ephemeral-storage": "30830Mi", memory: "4026532Ki", pods: "110"},
        allocatable: {cpu: "2", "ephemeral-storage": "28412Mi", memory: "3924132Ki", pods: "110"},
        conditions: [
          {type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available", lastHeartbeatTime: "2026-11-27T00:00:00Z", lastTransitionTime: "2026-11-27T00:00:00Z"},
          {type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure", lastHeartbeatTime: "2026-11-27T00:00:00Z", lastTransitionTime: "2026-11-27T00:00:00Z"},
          {type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available", lastHeartbeatTime: "2026-11-27T00:00:00Z", lastTransitionTime: "2026-11-27T00:00:00Z"},
          {type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: "2026-11-27T00:00:00Z", lastTransitionTime: "2026-11-27T00:00:00Z"}
        ],
        addresses: (($ip | split(",") | map(select(length > 0)) | map({type: "InternalIP", address: .})) + [{type: "Hostname", address: $name}]),
        daemonEndpoints: {kubeletEndpoint: {Port: 10250}},
        nodeInfo: {
          architecture: "amd64", bootID: "00000000-0000-0000-0000-000000000000",
          containerRuntimeVersion: "containerd://1.7.24", kernelVersion: "6.1.0-28-amd64",
          kubeProxyVersion: "v1.31.4", kubeletVersion: "v1.31.4", machineID: "0",
          operatingSystem: "linux", osImage: "Debian GNU/Linux 12 (bookworm)", systemUUID: "0"
        },
        images: [
          {names: ["registry.k8s.io/kube-proxy@sha256:0000000000000000000000000000000000000000000000000000000000000000", "registry.k8s.io/kube-proxy:v1.31.4"], sizeBytes: 30229262},
          {names: ["registry.k8s.io/pause@sha256:0000000000000000000000000000000000000000000000000000000000000000", "registry.k8s.io/pause:3.10"], sizeBytes: 320368}
        ]
      }
    }'
}

# khg_api_create_node I [POD_CIDR [IP]]: nodeI in the API (defaults: 10.244.I.0/24, its address).
khg_api_create_node() {
  local i=$1 cidr=${2-$(khg_node_pod_cidr "$1")} ip=${3-$(khg_node_ip "$1")}
  khg_api_create_json "$(khg_node_json "node$i" "$cidr" "$ip")"
}

# khg_api_create_json JSON: POST any Node JSON (also hostile ones); remembered for restarts.
khg_api_create_json() {
  local json=$1 name
  name=$(jq -r '.metadata.name' <<<"$json")
  khg_api POST /api/v1/nodes "$json" >/dev/null
  printf '%s\n' "$json" >"$KHG_RUN_DIR/nodes/$name.json"
}

# khg_api_replace_json JSON: PUT the whole object (as kubectl replace does).
khg_api_replace_json() {
  local json=$1 name
  name=$(jq -r '.metadata.name' <<<"$json")
  khg_api PUT "/api/v1/nodes/$name" "$json" >/dev/null
  printf '%s\n' "$json" >"$KHG_RUN_DIR/nodes/$name.json"
}

# khg_api_patch_node NAME MERGE_PATCH_JSON
khg_api_patch_node() {
  local name=$1 patch=$2
  khg_api PATCH "/api/v1/nodes/$name" "$patch" application/merge-patch+json >/dev/null
  if [[ -f "$KHG_RUN_DIR/nodes/$name.json" ]]; then
    jq --argjson p "$patch" '. * $p' "$KHG_RUN_DIR/nodes/$name.json" >"$KHG_RUN_DIR/nodes/$name.json.new"
    mv "$KHG_RUN_DIR/nodes/$name.json.new" "$KHG_RUN_DIR/nodes/$name.json"
  fi
}

khg_api_delete_node() {
  local name=$1
  khg_api DELETE "/api/v1/nodes/$name" >/dev/null
  rm -f "$KHG_RUN_DIR/nodes/$name.json"
}

# Every node the harness has put in the API, as one NodeList file (for --nodes-file).
khg_api_nodes_file() {
  local out=$KHG_RUN_DIR/nodelist.json
  if compgen -G "$KHG_RUN_DIR/nodes/*.json" >/dev/null; then
    jq -s '{apiVersion: "v1", kind: "NodeList", metadata: {}, items: .}' "$KHG_RUN_DIR"/nodes/*.json >"$out"
  else
    echo '{"apiVersion":"v1","kind":"NodeList","metadata":{},"items":[]}' >"$out"
  fi
  echo "$out"
}

# Re-creates, in a freshly started server, every node the harness remembers.
khg_api_recreate_nodes() {
  local f
  for f in "$KHG_RUN_DIR"/nodes/*.json; do
    [[ -e "$f" ]] || continue
    khg_api POST /api/v1/nodes "$(cat "$f")" >/dev/null
  done
}

# ---------------------------------------------------------------------------------------
# The whole cluster

# khg_cluster_up NODES PODS_PER_NODE [FAR_NODES]: LAN, API server, nodes 1..NODES on
# the LAN and NODES+1..NODES+FAR_NODES behind a router, pods, and every node in the API.
khg_cluster_up() {
  local nodes=$1 pods=$2 far=${3:-0} i
  khg_lan_up
  if ((far > 0)); then khg_router_up; fi
  khg_api_up
  for ((i = 1; i <= nodes; i++)); do khg_node_add "$i" near; done
  for ((i = nodes + 1; i <= nodes + far; i++)); do khg_node_add "$i" far; done
  for ((i = 1; i <= nodes + far; i++)); do
    ((pods > 0)) && khg_pods_add "$i" "$pods"
    khg_api_create_node "$i"
  done
  return 0
}

# ---------------------------------------------------------------------------------------
# kube-hostgw

# khg_hostgw_start I [EXTRA FLAGS...]: kube-hostgw in node I's namespace, log in nodeI.log.
khg_hostgw_start() {
  local i=$1
  shift
  local ns
  ns=$(khg_node_ns "$i")
  echo "=== start $(date +%H:%M:%S.%3N): kube-hostgw $*" >>"$KHG_RUN_DIR/node$i.log"
  ip netns exec "$ns" "$KHG_HOSTGW" \
    --kubeconfig "$KHG_RUN_DIR/node.kubeconfig" \
    --node-name "node$i" \
    --cluster-cidr "$KHG_CLUSTER_CIDRS" \
    --resync-period "$KHG_RESYNC" \
    --healthz-bind-address "$KHG_HEALTH" \
    -v "${KHG_VERBOSITY:-2}" ${KHG_HOSTGW_ARGS[@]+"${KHG_HOSTGW_ARGS[@]}"} "$@" >>"$KHG_RUN_DIR/node$i.log" 2>&1 &
  KHG_HOSTGW_PID[$i]=$!
  khg__bg "$!"
}

khg_hostgw_start_all() {
  local i
  for i in $(khg_nodes); do khg_hostgw_start "$i" "$@"; done
}

khg_hostgw_running() { kill -0 "${KHG_HOSTGW_PID[$1]}" 2>/dev/null; }

# khg_hostgw_stop I [SIGNAL]: sends SIGNAL (default TERM) and waits up to 10 s for the exit.
# Returns the exit status of the controller.
khg_hostgw_stop() {
  local i=$1 sig=${2:-TERM} pid status=0
  pid=${KHG_HOSTGW_PID[$i]:-}
  [[ -n "$pid" ]] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$(($(khg_now_ms) + 10000))
  while kill -0 "$pid" 2>/dev/null && (($(khg_now_ms) < deadline)); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    echo "node$i: kube-hostgw did not exit within 10 s of SIG$sig" >&2
    wait "$pid" 2>/dev/null || true
    unset "KHG_HOSTGW_PID[$i]"
    return 124
  fi
  wait "$pid" 2>/dev/null || status=$?
  unset "KHG_HOSTGW_PID[$i]"
  return "$status"
}

# khg_http I PATH: GET http://127.0.0.1:2401PATH inside node I; prints the body.
khg_http() {
  ip netns exec "$(khg_node_ns "$1")" curl -sS --fail-with-body --max-time 5 "http://$KHG_HEALTH$2"
}

khg_http_status() {
  ip netns exec "$(khg_node_ns "$1")" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$KHG_HEALTH$2" || true
}

khg_ready() { [[ "$(khg_http_status "$1" /readyz)" == 200 ]]; }

khg_all_ready() {
  local i
  for i in $(khg_nodes); do khg_ready "$i" || return 1; done
}

# khg_metric I NAME [LABEL_MATCH]: sum of the samples of metric NAME on node I whose
# label set contains LABEL_MATCH (e.g. 'node="node4"'); 0 if none.
khg_metric() {
  local i=$1 name=$2 want=${3:-}
  khg_http "$i" /metrics | awk -v name="$name" -v want="$want" '
    $1 ~ ("^" name "({|$)") && index($1, want) > 0 { sum += $NF; found = 1 }
    END { printf "%s\n", found ? sum : 0 }'
}

# ---------------------------------------------------------------------------------------
# Routes

# khg_routes I: node I's unicast routes that carry protocol 44 (its routes to other
# nodes; not the unreachable route for its own podCIDR), as JSON.
khg_routes() { ip -n "$(khg_node_ns "$1")" -j route show proto 44 type unicast; }

# khg_own_unreachable I [4|6]: node I's unreachable routes of protocol 44, as "PREFIX METRIC" lines.
khg_own_unreachable() {
  ip -n "$(khg_node_ns "$1")" "-${2:-4}" -j route show proto 44 type unreachable | jq -r '.[] | "\(.dst) \(.metric)"'
}

khg_route_count() { khg_routes "$1" | jq 'length'; }

# khg_route_present I PREFIX VIA: node I has "PREFIX via VIA proto 44".
khg_route_present() {
  local routes=khg_routes
  [[ "$2" == *:* ]] && routes=khg_routes6
  "$routes" "$1" | jq -e --arg dst "$2" --arg via "$3" 'any(.[]; .dst == $dst and .gateway == $via)' >/dev/null
}

# khg_route_absent I PREFIX: node I has no route at all for PREFIX.
khg_route_absent() {
  [[ "$(ip -n "$(khg_node_ns "$1")" -j route show "$2" | jq 'length')" == 0 ]]
}

# The invariant for a set of nodes (default: every node): on each node, exactly one owned
# route per other node in the set, PREFIX via that node's address, and nothing else owned.
# (One `ip` call per node: this is polled in tight loops.)
khg_full_mesh_ok() {
  local nodes=("$@") i k want have
  ((${#nodes[@]} > 0)) || mapfile -t nodes < <(khg_nodes)
  for i in "${nodes[@]}"; do
    want=$(for k in "${nodes[@]}"; do
      [[ "$k" == "$i" ]] || echo "$(khg_node_pod_cidr "$k") $(khg_node_ip "$k")"
    done | sort)
    # "PREFIX [nhid N] via GW ...": routes through nexthop objects (--nexthop-objects) name their id first.
    have=$(ip -n "$(khg_node_ns "$i")" route show proto 44 type unicast |
      awk '{ via = "-"; for (f = 2; f < NF; f++) if ($f == "via") { via = $(f + 1); break } print $1, via }' | sort)
    [[ "$want" == "$have" ]] || return 1
  done
}

# A snapshot of node I's owned routes (sorted text), for "nothing else changed" checks.
khg_routes_snapshot() {
  khg_routes "$1" | jq -r '.[] | "\(.dst) via \(.gateway // "-") dev \(.dev)"' | sort
}

# khg_monitor_start I: `ip monitor route` in node I, with timestamps, into nodeI.monitor.
khg_monitor_start() {
  local i=$1 ns
  ns=$(khg_node_ns "$i")
  ip -n "$ns" -ts monitor route >>"$KHG_RUN_DIR/node$i.monitor" 2>&1 &
  KHG_MONITOR_PID[$i]=$!
  khg__bg "$!"
  sleep 0.2 # let it subscribe before the events we want to see
}

# khg_monitor_deleted I PREFIX: number of "Deleted PREFIX ..." lines seen on node I.
khg_monitor_deleted() {
  local file=$KHG_RUN_DIR/node$1.monitor
  [[ -f "$file" ]] || { echo 0; return; }
  grep -c -- "Deleted $2 " "$file" || true
}

# khg_monitor_added_us I PREFIX / khg_monitor_deleted_us I PREFIX: the kernel event time
# (epoch microseconds, from `ip -ts monitor`) of the last addition / deletion of PREFIX on
# node I; the _ms variants in milliseconds. Fail if the monitor saw none. Used for figures
# without the harness's own polling delays.
khg__monitor_us() {
  local file=$KHG_RUN_DIR/node$1.monitor line ts
  [[ -f "$file" ]] || return 1
  if [[ "$3" == added ]]; then
    line=$(grep -v '\] Deleted ' "$file" | grep -F -- "] $2 " | tail -n 1 || true)
  else
    line=$(grep -F -- "] Deleted $2 " "$file" | tail -n 1 || true)
  fi
  [[ -n "$line" ]] || return 1
  ts=${line#\[}
  ts=${ts%%]*}
  echo $(($(date -d "$ts" +%s%N) / 1000))
}
khg_monitor_added_us() { khg__monitor_us "$1" "$2" added; }
khg_monitor_deleted_us() { khg__monitor_us "$1" "$2" deleted; }
khg_monitor_added_ms() { local us; us=$(khg__monitor_us "$1" "$2" added) && echo $((us / 1000)); }
khg_monitor_deleted_ms() { local us; us=$(khg__monitor_us "$1" "$2" deleted) && echo $((us / 1000)); }

# khg_us_to_ms MICROSECONDS: "1.234" (milliseconds with three decimals).
khg_us_to_ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# khg_monitor_last_added_ms I NODE...: the latest addition time (epoch ms) on node I of the
# routes to the given nodes' podCIDRs. Fails if one was never seen added.
khg_monitor_last_added_ms() {
  local i=$1 k at last=0
  shift
  for k in "$@"; do
    at=$(khg_monitor_added_ms "$i" "$(khg_node_pod_cidr "$k")") || return 1
    ((at > last)) && last=$at
  done
  echo "$last"
}

# ---------------------------------------------------------------------------------------
# Pods

# khg_ping FROM_NS IP [WAIT_SECONDS]: one echo request; succeeds on a reply.
khg_ping() {
  ip netns exec "$1" ping -c 1 -W "${3:-1}" -q "$2" >/dev/null 2>&1
}

# Every pod pings every pod on the other nodes of the set (default: all nodes), all in
# parallel (one `ip netns exec` per source pod). Prints the failed pairs; returns 1 if any failed.
khg_all_pods_ping() { khg__all_pods_ping 4 "$@"; }

# khg__all_pods_ping FAMILY [NODE...]: FAMILY 4 (khg_pod_ip) or 6 (khg_pod_ip6).
khg__all_pods_ping() {
  local family=$1
  shift
  local nodes=("$@") i j k l out dests n pod_ip=khg_pod_ip
  [[ "$family" == 6 ]] && pod_ip=khg_pod_ip6
  local -a outs=() pids=() sources=()
  ((${#nodes[@]} > 0)) || mapfile -t nodes < <(khg_nodes)
  for i in "${nodes[@]}"; do
    for ((j = 1; j <= KHG_NODE_PODS[$i]; j++)); do
      dests=()
      for k in "${nodes[@]}"; do
        [[ "$k" == "$i" ]] && continue
        for ((l = 1; l <= KHG_NODE_PODS[$k]; l++)); do dests+=("$("$pod_ip" "$k" "$l")"); done
      done
      ((${#dests[@]} > 0)) || continue
      out=$(mktemp "$KHG_RUN_DIR/ping.XXXXXX")
      ip netns exec "$(khg_pod_ns "$i" "$j")" bash -c \
        'f=$1; shift; for ip; do (ping "-$f" -c 1 -W 1 -q "$ip" >/dev/null 2>&1 || echo "$ip") & done; wait' \
        _ "$family" "${dests[@]}" >"$out" 2>&1 &
      pids+=("$!")
      outs+=("$out")
      sources+=("node$i/pod$j ($("$pod_ip" "$i" "$j"))")
    done
  done
  local failed=0
  for n in "${!pids[@]}"; do
    wait "${pids[n]}" || true
    while read -r ip; do
      [[ -n "$ip" ]] || continue
      echo "no reply: ${sources[n]} -> $ip"
      failed=1
    done <"${outs[n]}"
    rm -f "${outs[n]}"
  done
  return "$failed"
}

# Number of pod pairs khg_all_pods_ping tries for the set.
khg_pod_pairs() {
  local nodes=("$@") i k total=0
  ((${#nodes[@]} > 0)) || mapfile -t nodes < <(khg_nodes)
  for i in "${nodes[@]}"; do
    for k in "${nodes[@]}"; do
      [[ "$k" == "$i" ]] || total=$((total + KHG_NODE_PODS[$i] * KHG_NODE_PODS[$k]))
    done
  done
  echo "$total"
}
