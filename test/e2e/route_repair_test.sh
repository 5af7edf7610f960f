#!/usr/bin/env bash
# Scenario 5 — someone else breaks the routes: an owned route deleted by hand, replaced
# with a wrong gateway, the node's link set down and up, its address removed and put
# back. kube-hostgw restores each from kernel events; the time to repair is printed.
source "$(dirname "$0")/lib.sh"
khg_init route-repair

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
node1=$(khg_node_ns 1)
gw2=$(khg_node_ip 2)

# Milliseconds until node1 has "10.244.2.0/24 via $gw2" with protocol 44 again (tight poll).
time_to_restore() {
  local start=$1 deadline=$(($1 + 10000))
  while (($(khg_now_ms) < deadline)); do
    # (With nexthop objects the route reads "10.244.2.0/24 nhid N via $gw2 ...".)
    if [[ "$(ip -n "$node1" route show 10.244.2.0/24 proto 44)" == "10.244.2.0/24 "*"via $gw2 "* ]]; then
      echo $(($(khg_now_ms) - start))
      return 0
    fi
    sleep 0.005
  done
  return 1
}

khg_step "deleting node1's route to node2 by hand, 5 times"
khg_monitor_start 1
times=()
for round in 1 2 3 4 5; do
  started_us=$(khg_now_us)
  ip -n "$node1" route del 10.244.2.0/24 proto 44
  time_to_restore "$((started_us / 1000))" >/dev/null ||
    khg_fail "round $round: the deleted route was not restored within 10 s"
  sleep 0.2
  # Up to the re-addition as `ip monitor` saw it (an upper bound: it includes starting
  # the `ip route del` process and the monitor's own read delay).
  deleted_at=$(khg_monitor_deleted_us 1 10.244.2.0/24) || khg_fail "round $round: the monitor saw no deletion"
  added_at=$(khg_monitor_added_us 1 10.244.2.0/24) || khg_fail "round $round: the monitor saw no re-addition"
  ((added_at >= deleted_at && deleted_at >= started_us)) || khg_fail "round $round: monitor events out of order"
  times+=("$((added_at - started_us))")
done
sorted=$(for t in $(printf '%s\n' "${times[@]}" | sort -n); do printf '%s ' "$(khg_us_to_ms "$t")"; done)
khg_info "restored within (ms from running 'ip route del' to the re-addition event, sorted): $sorted"
khg_figure route_deleted_to_restored_median_ms "$(khg_us_to_ms "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)")" ms
khg_figure route_deleted_to_restored_max_ms "$(khg_us_to_ms "$(printf '%s\n' "${times[@]}" | sort -n | tail -n 1)")" ms

khg_step "replacing node1's route to node2 with a wrong gateway (still proto 44)"
started=$(khg_now_ms)
ip -n "$node1" route replace 10.244.2.0/24 via "$(khg_node_ip 3)" proto 44
time_to_restore "$started" >/dev/null || khg_fail "the wrong gateway was not corrected within 10 s"
ms=$(($(khg_monitor_added_ms 1 10.244.2.0/24) - started))
khg_info "gateway corrected $ms ms after the replace command started (kernel event time)"
khg_figure route_wrong_gateway_to_fixed_ms "$ms" ms

khg_step "node1's link eth0 down (the kernel drops its routes silently), then up"
ip -n "$node1" link set eth0 down
khg_wait_for 5 "the kernel to drop node1's routes" bash -c "[[ -z \"\$(ip -n $node1 route show proto 44 type unicast)\" ]]" ||
  khg_fail "routes via a down link stayed (unexpected kernel behaviour)"
sleep 0.5
started=$(khg_now_ms)
ip -n "$node1" link set eth0 up
khg_wait_for 10 "node1's routes back after link up" khg_full_mesh_ok || khg_fail "routes not restored after link up"
elapsed=$(($(khg_monitor_last_added_ms 1 2 3) - started))
khg_info "all of node1's routes back $elapsed ms after link up (kernel event time)"
khg_figure link_up_to_routes_ms "$elapsed" ms

khg_step "node1's address removed, then added back"
ip -n "$node1" addr del "$(khg_node_ip 1)/24" dev eth0
khg_wait_for 5 "the kernel to drop node1's routes" bash -c "[[ -z \"\$(ip -n $node1 route show proto 44 type unicast)\" ]]" ||
  khg_fail "routes stayed after the address went (unexpected kernel behaviour)"
sleep 0.5
started=$(khg_now_ms)
ip -n "$node1" addr add "$(khg_node_ip 1)/24" dev eth0
khg_wait_for 10 "node1's routes back after the address returns" khg_full_mesh_ok ||
  khg_fail "routes not restored after the address came back"
elapsed=$(($(khg_monitor_last_added_ms 1 2 3) - started))
khg_info "all of node1's routes back $elapsed ms after the address returned (kernel event time)"
khg_figure address_back_to_routes_ms "$elapsed" ms
khg_wait_for 10 "every pod to ping every pod" khg_all_pods_ping || khg_fail "pods cannot reach each other after the repairs"

khg_step "a route that is not ours is left alone"
ip -n "$node1" route add 10.99.0.0/24 via "$gw2" proto static
sleep 2
[[ -n "$(ip -n "$node1" route show 10.99.0.0/24 proto static)" ]] || khg_fail "kube-hostgw deleted a proto static route"

khg_pass
