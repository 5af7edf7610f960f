# shellcheck shell=bash
# test/e2e/cni_lib.sh — pods made by the real CNI plugins, as a container runtime makes them.
#
# Sourced after lib.sh. A "node" here is a namespace without a hand-made bridge: the
# bridge plugin creates cni0 in it when the first pod is added. A pod is added by running
# the plugins of a conflist in order (CNI_COMMAND=ADD, each plugin's config = its entry
# plus the list's cniVersion and name, plus prevResult = the previous plugin's result, per
# the CNI spec for network configuration lists) and removed by DEL in reverse order with
# the cached result as prevResult. The plugins run with `ip netns exec <node>`: the
# bridge, host-local and portmap plugins act on the network namespace they are started
# in (that is their "host"), and enter CNI_NETNS only for the pod's side.
#
# Nothing outside our namespaces and the run folder is touched: the conflists are files in
# $KHG_RUN_DIR (never /etc/cni/net.d), host-local's leases go to the dataDir the conflist
# names (a folder in $KHG_RUN_DIR, never /var/lib/cni/networks), and pods' namespaces are
# ours (khg_netns_add), deleted by lib.sh's teardown.
#
# Environment:
#   KHG_CNI_PATH      plugin folder (default /usr/lib/cni: Debian's containernetworking-plugins)
#   KHG_PODNET_TOOL   build/bin/khg-podnet-tool (renders conflists, applies the masquerade table)

: "${KHG_CNI_PATH:=/usr/lib/cni}"
: "${KHG_PODNET_TOOL:=$KHG_BIN_DIR/khg-podnet-tool}"
readonly KHG_OUTSIDE_IP=203.0.113.50

khg_cni_require() {
  local plugin
  for plugin in bridge host-local portmap; do
    [[ -x "$KHG_CNI_PATH/$plugin" ]] ||
      khg_fail "CNI plugin $KHG_CNI_PATH/$plugin is missing: run scripts/setup-deps.sh (containernetworking-plugins)"
  done
  [[ -x "$KHG_PODNET_TOOL" ]] || khg_fail "$KHG_PODNET_TOOL is not built: cmake --build build --target khg-podnet-tool"
  command -v nft >/dev/null || khg_fail "the command 'nft' is missing: run scripts/setup-deps.sh (nftables)"
}

# khg_podnet_node_add I: node I's namespace with eth0 on the LAN at 198.51.100.(10+I)/24,
# a default route via the router when there is one, IPv4 forwarding on, and no bridge.
khg_podnet_node_add() {
  local i=$1 lan ns
  lan=$(khg_lan_ns)
  ns=$(khg_node_ns "$i")
  KHG_NODE_SIDE[$i]=near
  KHG_NODE_PODS[$i]=0
  khg_netns_add "$ns"
  ip -n "$ns" link add eth0 type veth peer name "n$i" netns "$lan"
  ip -n "$lan" link set "n$i" master br0 up
  ip -n "$ns" addr add "$(khg_node_ip "$i")/24" dev eth0
  khg_no_dad "$ns" eth0
  ip -n "$ns" link set eth0 up
  if ((KHG_HAVE_ROUTER)); then ip -n "$ns" route add default via "$KHG_ROUTER_NEAR_IP"; fi
  khg_sysctl "$ns" net.ipv4.ip_forward=1
}

# khg_outside_up: a host "out" at 203.0.113.50 behind the router (br1), default route via
# the router. The router has no route to the pod network: only masqueraded pod traffic
# gets an answer from it.
khg_outside_up() {
  local lan out
  lan=$(khg_lan_ns)
  out="${KHG_PREFIX}out"
  ((KHG_HAVE_ROUTER)) || khg_fail "khg_outside_up needs khg_router_up first"
  khg_netns_add "$out"
  ip -n "$out" link add eth0 type veth peer name out0 netns "$lan"
  ip -n "$lan" link set out0 master br1 up
  ip -n "$out" addr add "$KHG_OUTSIDE_IP/24" dev eth0
  khg_no_dad "$out" eth0
  ip -n "$out" link set eth0 up
  ip -n "$out" route add default via "$KHG_ROUTER_FAR_IP"
}
khg_outside_ns() { echo "${KHG_PREFIX}out"; }

# IPv6 for the same picture (addresses with nodad, usable at once): router
# 2001:db8:100::1 | 2001:db8:203::1, outside host 2001:db8:203::50, forwarding on in the
# router; still no route to the pod network (2001:db8:244::/48) anywhere outside the nodes.
readonly KHG_OUTSIDE_IP6=2001:db8:203::50
readonly KHG_ROUTER_NEAR_IP6=$KHG_LAN6_PREFIX::1
khg_outside_up_v6() {
  local rtr out
  rtr=$(khg_router_ns)
  out=$(khg_outside_ns)
  khg_sysctl "$rtr" net.ipv6.conf.all.forwarding=1
  ip -n "$rtr" addr add "$KHG_ROUTER_NEAR_IP6/64" dev near nodad
  ip -n "$rtr" addr add 2001:db8:203::1/64 dev far nodad
  ip -n "$out" addr add "$KHG_OUTSIDE_IP6/64" dev eth0 nodad
  ip -n "$out" -6 route add default via 2001:db8:203::1
}

# khg_podnet_node_add_v6 I: node I's IPv6 address 2001:db8:100::(10+I)/64 on eth0, an IPv6
# default route via the router, IPv6 forwarding on. Call after khg_podnet_node_add.
khg_podnet_node_add_v6() {
  local i=$1 ns
  ns=$(khg_node_ns "$i")
  khg_sysctl "$ns" net.ipv6.conf.all.forwarding=1
  ip -n "$ns" addr add "$(khg_node_ip6 "$i")/64" dev eth0 nodad
  ip -n "$ns" -6 route add default via "$KHG_ROUTER_NEAR_IP6"
}

# khg__cni_plugin NODE_NS COMMAND CONFIG_JSON CONTAINER_ID POD_NS: runs the plugin named by
# CONFIG_JSON's "type" in NODE_NS; prints its stdout (the result, or the error object).
khg__cni_plugin() {
  local node_ns=$1 command=$2 config=$3 container=$4 pod_ns=$5 type
  type=$(jq -r '.type' <<<"$config")
  [[ "$type" =~ ^[a-z0-9-]+$ ]] || khg_fail "CNI plugin type '$type' is not a plain name"
  printf '%s' "$config" | ip netns exec "$node_ns" env CNI_COMMAND="$command" CNI_CONTAINERID="$container" \
    CNI_NETNS="/run/netns/$pod_ns" CNI_IFNAME=eth0 CNI_PATH="$KHG_CNI_PATH" "$KHG_CNI_PATH/$type"
}

# khg_cni_pod_add I J CONFLIST: pod namespace n<I>p<J> attached by the conflist's plugins,
# run in node I's namespace. The final result is kept in $KHG_RUN_DIR/cni/<pod>.json.
khg_cni_pod_add() {
  local i=$1 j=$2 conflist=$3 node pod count index config prev=null result
  node=$(khg_node_ns "$i")
  pod=$(khg_pod_ns "$i" "$j")
  khg_netns_add "$pod"
  mkdir -p "$KHG_RUN_DIR/cni"
  count=$(jq '.plugins | length' "$conflist")
  for ((index = 0; index < count; index++)); do
    config=$(jq -c --argjson i "$index" --argjson prev "$prev" \
      '.plugins[$i] + {cniVersion, name} + (if $prev == null then {} else {prevResult: $prev} end)' "$conflist")
    if ! result=$(khg__cni_plugin "$node" ADD "$config" "$pod" "$pod"); then
      khg_fail "CNI ADD of $pod: plugin $((index + 1)) ($(jq -r .type <<<"$config")) failed: $result"
    fi
    prev=$(jq -c . <<<"$result") || khg_fail "CNI ADD of $pod: plugin $((index + 1)) printed no JSON: $result"
  done
  printf '%s\n' "$prev" >"$KHG_RUN_DIR/cni/$pod.json"
  KHG_NODE_PODS[$i]=$((KHG_NODE_PODS[$i] > j ? KHG_NODE_PODS[$i] : j))
}

# khg_cni_pod_del I J CONFLIST: DEL through the plugins in reverse order (prevResult: the
# cached result). Leaves the pod's namespace (teardown removes it).
khg_cni_pod_del() {
  local i=$1 j=$2 conflist=$3 node pod count index config prev output
  node=$(khg_node_ns "$i")
  pod=$(khg_pod_ns "$i" "$j")
  prev=$(cat "$KHG_RUN_DIR/cni/$pod.json")
  count=$(jq '.plugins | length' "$conflist")
  for ((index = count - 1; index >= 0; index--)); do
    config=$(jq -c --argjson i "$index" --argjson prev "$prev" \
      '.plugins[$i] + {cniVersion, name, prevResult: $prev}' "$conflist")
    if ! output=$(khg__cni_plugin "$node" DEL "$config" "$pod" "$pod"); then
      khg_fail "CNI DEL of $pod: plugin $((index + 1)) ($(jq -r .type <<<"$config")) failed: $output"
    fi
  done
  rm -f "$KHG_RUN_DIR/cni/$pod.json"
}

# khg_cni_pod_ip I J [4|6]: the pod's address (without length) from its CNI result.
khg_cni_pod_ip() {
  local pod family=${3:-4}
  pod=$(khg_pod_ns "$1" "$2")
  if [[ "$family" == 4 ]]; then
    jq -r '[.ips[].address | select(contains("."))][0] | split("/")[0]' "$KHG_RUN_DIR/cni/$pod.json"
  else
    jq -r '[.ips[].address | select(contains(":"))][0] | split("/")[0]' "$KHG_RUN_DIR/cni/$pod.json"
  fi
}

# khg_udp_source FROM_NS TO_NS TO_IP: sends one UDP datagram from FROM_NS to TO_IP (a
# listener bound to it in TO_NS) and prints the source address the listener saw.
khg_udp_source() {
  local from=$1 to=$2 address=$3 out pid port=40000
  out=$(mktemp "$KHG_RUN_DIR/udp.XXXX")
  ip netns exec "$to" "$KHG_PODNET_TOOL" udp-listen "$address" "$port" 5 >"$out" 2>&1 &
  pid=$!
  if ! khg_wait_for 5 "UDP listener on $address in $to" grep -q listening "$out"; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    khg_fail "UDP listener on $address did not start: $(cat "$out")"
  fi
  ip netns exec "$from" "$KHG_PODNET_TOOL" udp-send "$address" "$port" >/dev/null
  if ! wait "$pid"; then
    echo "none ($(tail -n 1 "$out"))"
    return 0
  fi
  sed -n 's/^from //p' "$out"
}
