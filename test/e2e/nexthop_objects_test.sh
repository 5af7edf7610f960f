#!/usr/bin/env bash
# Issue 17 — --nexthop-objects=on: every route to another node goes through a nexthop
# object of protocol 44 (one per route); a nexthop deleted by hand is repaired with its
# route; a node's new address is one nexthop replace (the route keeps its nhid); a restart
# adopts everything with no change; a restart with --nexthop-objects=off turns the routes
# back into plain gateway routes in place (never deleted) and deletes the nexthops.
source "$(dirname "$0")/lib.sh"
khg_init nexthop-objects

# nh_routes I: node I's owned unicast routes as "PREFIX nhid GATEWAY" lines (nhid "-": none).
nh_routes() {
  khg_routes "$1" | jq -r '.[] | "\(.dst) \(.nhid // "-") \(.gateway // "-")"' | sort
}
# nh_ours I: node I's nexthops of protocol 44, as "ID GATEWAY" lines.
nh_ours() {
  ip -n "$(khg_node_ns "$1")" -j nexthop show |
    jq -r '.[] | select(.protocol == "44" or .protocol == 44 or .protocol == "kube-hostgw") | "\(.id) \(.gateway)"' | sort
}
# nh_mesh_ok [NODES...]: on each node, one route per other node, through a nexthop of ours
# whose gateway is that node's address (override with NH_ADDR[k]), and no other nexthop of ours.
declare -A NH_ADDR=()
nh_mesh_ok() {
  local nodes=("$@") i k want have ids nexthops
  ((${#nodes[@]} > 0)) || mapfile -t nodes < <(khg_nodes)
  for i in "${nodes[@]}"; do
    want=$(for k in "${nodes[@]}"; do
      [[ "$k" == "$i" ]] || echo "$(khg_node_pod_cidr "$k") ${NH_ADDR[$k]:-$(khg_node_ip "$k")}"
    done | sort)
    have=$(nh_routes "$i" | awk '$2 != "-" { print $1, $3 }' | sort)
    [[ "$want" == "$have" ]] || return 1
    ids=$(nh_routes "$i" | awk '{ print $2 }' | sort)
    nexthops=$(nh_ours "$i" | awk '{ print $1 }' | sort)
    [[ "$ids" == "$nexthops" ]] || return 1
  done
}
# log_mark I: the number of lines in node I's log now; since_mark I MARK PATTERN: lines
# matching PATTERN after it.
log_mark() { wc -l <"$KHG_RUN_DIR/node$1.log"; }
since_mark() { tail -n +"$(($2 + 1))" "$KHG_RUN_DIR/node$1.log" | grep -cE -- "$3" || true; }
# after_last_start I PATTERN: lines of node I's log matching PATTERN since its last start.
after_last_start() {
  awk -v p="$2" '/^=== start/ { n = 0 } $0 ~ p { n++ } END { print n + 0 }' "$KHG_RUN_DIR/node$1.log"
}

khg_step "cluster: 3 nodes x 1 pod, kube-hostgw --nexthop-objects=on"
khg_cluster_up 3 1
khg_hostgw_start_all --nexthop-objects=on
khg_wait_for 20 "routes through nexthops of protocol 44 on every node" nh_mesh_ok || khg_fail "no nexthop mesh"
khg_wait_for 10 "every pod to ping every pod" khg_all_pods_ping || khg_fail "pods cannot reach each other"
for i in 1 2 3; do
  [[ "$(nh_ours "$i" | wc -l)" == 2 ]] || khg_fail "node$i: want 2 nexthops of protocol 44, have: $(nh_ours "$i")"
  [[ "$(khg_metric "$i" kube_hostgw_nexthop_objects)" == 1 ]] || khg_fail "node$i: kube_hostgw_nexthop_objects is not 1"
done
khg_info "node1: $(nh_routes 1 | tr '\n' ';')"

khg_step "a nexthop deleted by hand on node1 (the kernel takes node2's route along)"
id=$(nh_routes 1 | awk -v p="$(khg_node_pod_cidr 2)" '$1 == p { print $2 }')
[[ -n "$id" && "$id" != - ]] || khg_fail "node1 has no nexthop for node2's route"
started=$(khg_now_ms)
ip -n "$(khg_node_ns 1)" nexthop del id "$id"
route_back() { ip -n "$(khg_node_ns 1)" route show "$(khg_node_pod_cidr 2)" proto 44 | grep -q nhid; }
khg_wait_for 10 "node1 to put the route back" route_back || khg_fail "node2's route not repaired on node1"
khg_figure nexthop_deleted_to_repaired_ms "$(($(khg_now_ms) - started))" ms
khg_wait_for 10 "node1 to repair the nexthop and the route" nh_mesh_ok 1 2 3 || khg_fail "not repaired"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the repair"

khg_step "node2's new address 198.51.100.32: one nexthop replace per node, routes untouched"
ip -n "$(khg_node_ns 2)" addr add 198.51.100.32/24 dev eth0
before1=$(nh_routes 1 | awk '{ print $1, $2 }')
before3=$(nh_routes 3 | awk '{ print $1, $2 }')
for i in 1 3; do khg_monitor_start "$i"; done
declare -A MARK=([1]=$(log_mark 1) [3]=$(log_mark 3))
# Status changes only through the status subresource (as the kubelet writes them).
khg_api PATCH /api/v1/nodes/node2/status \
  '{"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.32"},{"type":"Hostname","address":"node2"}]}}' \
  application/merge-patch+json >/dev/null
NH_ADDR[2]=198.51.100.32
khg_wait_for 10 "node1 and node3 to reach node2 via 198.51.100.32" nh_mesh_ok || khg_fail "the address change did not arrive"
sleep 0.5 # late changes would show up in the monitors and logs
[[ "$(nh_routes 1 | awk '{ print $1, $2 }')" == "$before1" ]] || khg_fail "node1: a route changed its nhid"
[[ "$(nh_routes 3 | awk '{ print $1, $2 }')" == "$before3" ]] || khg_fail "node3: a route changed its nhid"
for i in 1 3; do
  n=$(since_mark "$i" "${MARK[$i]}" '"Nexthop (added|replaced|deleted)"')
  [[ "$n" == 1 ]] || khg_fail "node$i: $n nexthop changes for node2's new address, want 1"
  n=$(since_mark "$i" "${MARK[$i]}" '"Nexthop replaced".*node="node2"')
  [[ "$n" == 1 ]] || khg_fail "node$i: $n 'Nexthop replaced' lines for node2, want 1"
  n=$(since_mark "$i" "${MARK[$i]}" '"Route (added|replaced|deleted)"')
  [[ "$n" == 0 ]] || khg_fail "node$i: node2's address change changed $n route(s)"
  # (The kernel announces the route as updated, with the nexthop's new gateway; never deleted.)
  [[ "$(khg_monitor_deleted "$i" "$(khg_node_pod_cidr 2)")" == 0 ]] || khg_fail "node$i: node2's route was deleted"
done
khg_all_pods_ping || khg_fail "pods cannot reach node2's pod via its new address"

khg_step "a restart with no change adopts nexthops and routes"
snapshot() { for i in 1 2 3; do nh_routes "$i"; nh_ours "$i"; done; }
before=$(snapshot)
for i in 1 2 3; do khg_hostgw_stop "$i" || khg_fail "node$i: kube-hostgw did not stop cleanly"; done
khg_hostgw_start_all --nexthop-objects=on
khg_wait_for 20 "every node ready" khg_all_ready || khg_fail "not ready after the restart"
sleep 0.5
[[ "$(snapshot)" == "$before" ]] || khg_fail "nexthops or routes changed across the restart"
for i in 1 2 3; do
  n=$(after_last_start "$i" '"(Route|Nexthop) (added|replaced|deleted)"')
  [[ "$n" == 0 ]] || khg_fail "node$i: $n change(s) after a restart with nothing to change"
done

khg_step "a restart with --nexthop-objects=off: plain gateway routes, replaced in place"
for i in 1 2 3; do khg_hostgw_stop "$i" || khg_fail "node$i: kube-hostgw did not stop cleanly"; done
for i in 1 2 3; do : >"$KHG_RUN_DIR/node$i.monitor"; done
khg_hostgw_start_all --nexthop-objects=off
plain_mesh_ok() {
  local i
  for i in 1 2 3; do
    [[ -z "$(nh_ours "$i")" ]] || return 1
    [[ "$(nh_routes "$i" | awk '$2 != "-"' | wc -l)" == 0 ]] || return 1
    [[ "$(nh_routes "$i" | wc -l)" == 2 ]] || return 1
  done
}
khg_wait_for 20 "plain routes and no nexthop of ours on every node" plain_mesh_ok || khg_fail "not converted back"
khg_route_present 1 "$(khg_node_pod_cidr 2)" 198.51.100.32 || khg_fail "node1: no plain route to node2 via its new address"
khg_route_present 2 "$(khg_node_pod_cidr 1)" "$(khg_node_ip 1)" || khg_fail "node2: no plain route to node1"
for i in 1 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    n=$(khg_monitor_deleted "$i" "$(khg_node_pod_cidr "$k")")
    [[ "$n" == 0 ]] || khg_fail "node$i: the route to node$k was deleted $n time(s) on the way back to plain routes"
  done
  n=$(after_last_start "$i" '"Route replaced"')
  [[ "$n" == 2 ]] || khg_fail "node$i: $n 'Route replaced' lines, want 2"
  n=$(after_last_start "$i" '"Nexthop deleted"')
  [[ "$n" == 2 ]] || khg_fail "node$i: $n 'Nexthop deleted' lines, want 2"
  [[ "$(khg_metric "$i" kube_hostgw_nexthop_objects)" == 0 ]] || khg_fail "node$i: kube_hostgw_nexthop_objects is not 0"
done
khg_all_pods_ping || khg_fail "pods cannot reach each other with plain routes"

khg_pass
