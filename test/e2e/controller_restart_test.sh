#!/usr/bin/env bash
# Scenario 6 — SIGTERM leaves the routes in place (pods keep talking while the DaemonSet
# is upgraded); a restart adopts them: no route still wanted is deleted and re-added,
# while a stale owned route (a node that went away while we were down) is removed.
source "$(dirname "$0")/lib.sh"
khg_init controller-restart

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
before=()
for i in 1 2 3; do before[i]=$(khg_routes_snapshot "$i"); done

khg_step "SIGTERM to every kube-hostgw"
for i in 1 2 3; do khg_monitor_start "$i"; done
for i in 1 2 3; do
  status=0
  khg_hostgw_stop "$i" TERM || status=$?
  [[ "$status" == 0 ]] || khg_fail "node$i: kube-hostgw exited with status $status on SIGTERM, want 0"
done
for i in 1 2 3; do
  [[ "$(khg_routes_snapshot "$i")" == "${before[i]}" ]] || khg_fail "node$i: routes changed on SIGTERM"
done
khg_all_pods_ping || khg_fail "pods stopped reaching each other when kube-hostgw stopped"
khg_info "routes unchanged and pods still ping with no kube-hostgw running"

khg_step "while stopped: a stale owned route appears on node1 (as if node9 had been deleted meanwhile)"
ip -n "$(khg_node_ns 1)" route add 10.244.9.0/24 via "$(khg_node_ip 2)" proto 44

khg_step "restarting kube-hostgw on every node"
started=$(khg_now_ms)
khg_hostgw_start_all
khg_wait_for 20 "every node ready" khg_all_ready || khg_fail "not ready after the restart"
khg_wait_for 10 "the stale route 10.244.9.0/24 removed" khg_route_absent 1 10.244.9.0/24 ||
  khg_fail "the stale owned route was not removed on restart"
elapsed=$(($(khg_now_ms) - started))
khg_figure restart_to_ready_and_clean_ms "$elapsed" ms
khg_full_mesh_ok || khg_fail "not the full mesh after the restart"
sleep 1 # let any late change show up in the monitors
for i in 1 2 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    n=$(khg_monitor_deleted "$i" "$(khg_node_pod_cidr "$k")")
    [[ "$n" == 0 ]] || khg_fail "node$i: the route to node$k was deleted $n time(s) across the restart"
  done
  # Only the log of the second run (after the last start marker) counts.
  added=$(awk '/^=== start/ { n = 0 } /"Route added"/ { n++ } END { print n + 0 }' "$KHG_RUN_DIR/node$i.log")
  [[ "$added" == 0 ]] || khg_fail "node$i: $added route(s) added again after the restart (should adopt them)"
done
[[ "$(khg_monitor_deleted 1 10.244.9.0/24)" == 1 ]] || khg_fail "the route monitor did not see the stale route's deletion"
khg_info "no wanted route deleted or re-added; the stale one removed"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the restart"

khg_pass
