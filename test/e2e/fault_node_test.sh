#!/usr/bin/env bash
# Fault injection on the node side, one cluster, one phase per fault:
#   1. netlink event-buffer overflow: while node1's controller is frozen (SIGSTOP),
#      20000 foreign routes (proto static, 100.64.0.0/16 on eth0) are added and 19000 of
#      them deleted again in node1's namespace (~39000 kernel events, more than its 16 MiB
#      event socket holds) → on SIGCONT it reads ENOBUFS, counts an overrun and runs a full
#      pass: its own routes are untouched (no route change at all), the 1000 foreign
#      routes left are untouched, the final state is correct;
#   2. node1's eth0 flapped 10 times (down, 0.3 s, up) → the kernel drops the routes via
#      eth0 each time; the controller puts them back after each "up"; the other nodes'
#      routes never flap; final state correct, pods ping.
# Results: build/fault-results/fault_node.tsv (see fault_lib.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
khg_init fault-node
fault_init fault_node

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
for i in 1 2 3; do khg_monitor_start "$i"; done
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the start"
n1=$(khg_node_ns 1)

# ---------------------------------------------------------------------------------------
fault_begin netlink_overflow "netlink event-buffer overflow: 39000 foreign route events while the controller is frozen"
changes_before=$(khg_metric 1 kube_hostgw_route_changes_total)
overruns_before=$(khg_metric 1 kube_hostgw_netlink_overruns_total)
batch=$KHG_RUN_DIR/foreign.batch
{
  for ((n = 0; n < 20000; n++)); do echo "route add 100.64.$((n / 256)).$((n % 256))/32 dev eth0 proto static"; done
  for ((n = 1000; n < 20000; n++)); do echo "route del 100.64.$((n / 256)).$((n % 256))/32 dev eth0 proto static"; done
} >"$batch"
kill -STOP "${KHG_HOSTGW_PID[1]}"
ip -n "$n1" -batch "$batch" || { kill -CONT "${KHG_HOSTGW_PID[1]}"; fault_fail "ip -batch of the foreign routes failed"; }
kill -CONT "${KHG_HOSTGW_PID[1]}"
overran() { (($(khg_metric 1 kube_hostgw_netlink_overruns_total) > overruns_before)); }
khg_wait_for 20 "node1 to count a netlink overrun" overran ||
  fault_fail "no overrun counted: the event socket held every event (kube_hostgw_netlink_overruns_total unchanged)"
resynced_log=$(fault_log_count 1 "netlink event socket overrun")
passes_before=$(khg_metric 1 kube_hostgw_reconcile_passes_total)
passes_grew() { (($(khg_metric 1 kube_hostgw_reconcile_passes_total | cut -d. -f1) > ${passes_before%.*})); }
khg_wait_for 20 "a full pass after the overrun" passes_grew || fault_fail "no reconcile pass after the overrun"
foreign=$(ip -n "$n1" route show proto static | wc -l)
((foreign == 1000)) || fault_fail "node1 has $foreign foreign (proto static) routes, expected the 1000 left by the batch"
changes_after=$(khg_metric 1 kube_hostgw_route_changes_total)
[[ "$changes_after" == "$changes_before" ]] ||
  fault_fail "node1 changed routes after the overrun ($changes_before -> $changes_after route changes)"
khg_full_mesh_ok || fault_fail "the mesh is not correct after the overrun"
flaps=$(fault_flaps 2 3)
[[ -z "$flaps" ]] || fault_fail "mesh routes flapped: $(tr '\n' ';' <<<"$flaps")"
fault_all_running >/dev/null || fault_fail "$(fault_all_running)"
overruns=$(($(khg_metric 1 kube_hostgw_netlink_overruns_total) - overruns_before))
ip -n "$n1" route flush proto static
fault_pass "node1 read ENOBUFS ($overruns overrun(s) counted, logged $resynced_log time(s)) and ran a full pass: 0 route changes (its 2 routes untouched), the 1000 foreign routes left in place, full mesh on every node, 0 flaps on the other nodes"

# ---------------------------------------------------------------------------------------
fault_begin link_flap "node1's link (eth0) flapped 10 times: down, 0.3 s, up"
node1_mesh() { khg_full_mesh_ok 1 2 3; }
worst=0
total=0
for n in $(seq 1 10); do
  ip -n "$n1" link set eth0 down
  sleep 0.3
  [[ "$(khg_route_count 1)" == 0 ]] || fault_fail "flap $n: the kernel kept node1's routes via a down link?"
  up_at=$(khg_now_ms)
  ip -n "$n1" link set eth0 up
  khg_wait_for 15 "node1's routes back after flap $n" node1_mesh || fault_fail "node1's routes did not come back after flap $n"
  took=$(($(khg_now_ms) - up_at))
  total=$((total + took))
  ((took > worst)) && worst=$took
done
flaps=$(fault_flaps 2 3)
[[ -z "$flaps" ]] || fault_fail "routes on the other nodes flapped: $(tr '\n' ';' <<<"$flaps")"
khg_wait_for 10 "pods ping after the flaps" khg_all_pods_ping || fault_fail "pods cannot reach each other after the flaps"
fault_all_running >/dev/null || fault_fail "$(fault_all_running)"
fault_pass "node1's routes came back after each of the 10 flaps (mean $((total / 10)) ms, worst $worst ms after 'up', polled every 50 ms); routes on node2 and node3 never flapped; pods ping; controllers running"

khg_pass
