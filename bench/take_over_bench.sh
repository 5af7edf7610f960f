#!/usr/bin/env bash
# Take-over at scale (issue 15): two node namespaces, each carrying flannel-style routes
# (proto boot) for NODES-1 peers (NODES in the API; peers 3..NODES exist only there, their
# addresses on the LAN subnet) plus 5 stale ones; a pod on each node pings the other every
# 10 ms while kube-hostgw --adopt-protocol=boot starts on both. Prints the take-over time
# (start to the last boot route gone, polled; and from `ip monitor route` timestamps), the
# pings lost and whether any live route was deleted. Needs root; only namespaces it makes.
#
#   sudo bash bench/take_over_bench.sh [NODES]      (default 100; binaries from build/bin)
#
# A figure from a shared, busy machine is noise-prone: run it several times.
source "$(dirname "$0")/../test/e2e/lib.sh"
nodes=${1:-100}
((nodes >= 3 && nodes <= 200)) || khg_fail "NODES must be 3..200 (node addresses 198.51.100.11..210)"
khg_init take-over-bench

khg_step "cluster: 2 node namespaces x 1 pod, $nodes nodes in the API"
khg_cluster_up 2 1
for ((k = 3; k <= nodes; k++)); do khg_api_create_node "$k"; done
for i in 1 2; do
  ns=$(khg_node_ns "$i")
  {
    for ((k = 1; k <= nodes; k++)); do
      [[ "$k" == "$i" ]] && continue
      echo "route add $(khg_node_pod_cidr "$k") via $(khg_node_ip "$k")"
    done
    for ((k = 0; k < 5; k++)); do echo "route add 10.244.$((250 + k)).0/24 via $(khg_node_ip 2)"; done
  } | ip -n "$ns" -batch -
done
want=$((nodes - 1 + 5))
for i in 1 2; do
  have=$(ip -n "$(khg_node_ns "$i")" route show proto boot | grep -c '^10\.244\.')
  [[ "$have" == "$want" ]] || khg_fail "node$i: $have boot routes, want $want"
done
khg_info "$want boot routes per node ($((nodes - 1)) peers + 5 stale)"

khg_step "pings every 10 ms; kube-hostgw --adopt-protocol=boot starts on both nodes"
for i in 1 2; do khg_monitor_start "$i"; done
count=1000
ip netns exec "$(khg_pod_ns 1 1)" ping -i 0.01 -c "$count" -W 1 -q "$(khg_pod_ip 2 1)" >"$KHG_RUN_DIR/ping.1" 2>&1 &
p1=$!
khg__bg "$p1"
ip netns exec "$(khg_pod_ns 2 1)" ping -i 0.01 -c "$count" -W 1 -q "$(khg_pod_ip 1 1)" >"$KHG_RUN_DIR/ping.2" 2>&1 &
p2=$!
khg__bg "$p2"
sleep 1
started_us=$(khg_now_us)
khg_hostgw_start 1 --adopt-protocol=boot
khg_hostgw_start 2 --adopt-protocol=boot
no_boot_left() {
  local i
  for i in 1 2; do
    ! ip -n "$(khg_node_ns "$i")" route show proto boot | grep -q '^10\.244\.' || return 1
  done
}
khg_wait_for 60 "every boot route taken over" no_boot_left || khg_fail "boot routes left after 60 s"
polled_us=$(($(khg_now_us) - started_us))
wait "$p1" "$p2" || true
lost=0
for f in "$KHG_RUN_DIR/ping.1" "$KHG_RUN_DIR/ping.2"; do
  line=$(grep 'packets transmitted' "$f") || khg_fail "no ping statistics in $f"
  lost=$((lost + $(awk '{ print $1 - $4 }' <<<"$line")))
  khg_info "$(basename "$f"): $line"
done
sleep 0.5
last_us=0
live_deleted=0
for i in 1 2; do
  for ((k = 1; k <= nodes; k++)); do
    [[ "$k" == "$i" ]] && continue
    live_deleted=$((live_deleted + $(khg_monitor_deleted "$i" "$(khg_node_pod_cidr "$k")")))
    if at=$(khg_monitor_added_us "$i" "$(khg_node_pod_cidr "$k")"); then ((at > last_us)) && last_us=$at; fi
  done
done
khg_figure take_over_nodes "$nodes"
khg_figure take_over_polled_ms "$(khg_us_to_ms "$polled_us")" "ms (start of both kube-hostgw to no boot route left, polled every 50 ms)"
((last_us > 0)) && khg_figure take_over_kernel_ms "$(khg_us_to_ms $((last_us - started_us)))" "ms (start to the last replace seen by ip monitor)"
khg_figure take_over_pings_lost "$lost" "of $((2 * count))"
khg_figure take_over_live_routes_deleted "$live_deleted"
for i in 1 2; do
  khg_figure "node${i}_routes_adopted" "$(khg_metric "$i" kube_hostgw_routes_adopted_total 'op="replace"')"
  khg_figure "node${i}_stale_deleted" "$(khg_metric "$i" kube_hostgw_routes_adopted_total 'op="delete"')"
done
# Where the time goes, from node1's log: the start, the first node list, the adoption.
grep -E '^=== start|Node list received|Routes adopted|Routes changed' "$KHG_RUN_DIR/node1.log" | head -6 | sed 's/^/    node1: /'
((lost == 0 && live_deleted == 0)) || khg_fail "pings lost: $lost, live routes deleted: $live_deleted"
khg_pass
