#!/usr/bin/env bash
# Scenario 4 — the API server goes away and comes back:
#   A. unreachable for 10 s (connections dropped, its link down), back with the same data:
#      no route is removed meanwhile, the controllers reconnect and see new events;
#   B. watches closed and requests refused (503, Retry-After), changes made and history
#      compacted meanwhile: the controllers' watch gets 410 Expired, they relist and converge;
#   C. killed (SIGKILL) for 10 s and replaced by a fresh server with new resourceVersions
#      and a changed node set: the controllers relist and converge; the routes to the
#      nodes that stayed are never deleted.
source "$(dirname "$0")/lib.sh"
khg_init apiserver-restart

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
for i in 1 2 3; do khg_monitor_start "$i"; done
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
api=$(khg_api_ns)

# A node without a namespace of its own: its routes only need its address on the LAN.
phantom_node() { khg_api_create_json "$(khg_node_json "node$1" "10.244.$1.0/24" "$KHG_LAN_SUBNET.$((10 + $1))")"; }
routed_everywhere() {
  local i
  for i in 1 2 3; do khg_route_present "$i" "10.244.$1.0/24" "$KHG_LAN_SUBNET.$((10 + $1))" || return 1; done
}
gone_everywhere() {
  local i
  for i in 1 2 3; do khg_route_absent "$i" "10.244.$1.0/24" || return 1; done
}
mesh_present() {
  local i k
  for i in 1 2 3; do
    for k in 1 2 3; do
      [[ "$i" == "$k" ]] || khg_route_present "$i" "$(khg_node_pod_cidr "$k")" "$(khg_node_ip "$k")" || return 1
    done
  done
}
no_mesh_route_deleted() {
  local i k
  for i in 1 2 3; do
    for k in 1 2 3; do
      [[ "$i" == "$k" ]] && continue
      [[ "$(khg_monitor_deleted "$i" "10.244.$k.0/24")" == 0 ]] || {
        echo "node$i: route to node$k was deleted"
        return 1
      }
    done
  done
}

khg_step "A: API server unreachable for 10 s (connections dropped, link down)"
khg_api POST /admin/drop-connections >/dev/null
ip -n "$api" link set eth0 down
khg_hold 10 "the full mesh stays while the API server is away" khg_full_mesh_ok ||
  khg_fail "routes changed while the API server was unreachable: $(khg_routes_snapshot 1 | tr '\n' ';')"
khg_all_pods_ping || khg_fail "pods stopped reaching each other while the API server was away"
ip -n "$api" link set eth0 up
started=$(khg_now_ms)
phantom_node 4
khg_wait_for 30 "node4's route on every node (the controllers watch again)" routed_everywhere 4 ||
  khg_fail "the controllers did not pick up a new node within 30 s of the API server's return"
elapsed=$(($(khg_now_ms) - started))
khg_info "reconnected and applied a new node $elapsed ms after the API server came back"
khg_figure api_back_to_new_route_ms "$elapsed" ms
no_mesh_route_deleted || khg_fail "a route was deleted during the outage"

listed_count() { grep -c '"Listed nodes"' "$KHG_RUN_DIR/node$1.log" || true; }
relisted_since() { # relisted_since COUNT...: every node logged "Listed nodes" more often than before
  local i=1 c
  for c in "$@"; do
    (($(listed_count "$i") > c)) || return 1
    i=$((i + 1))
  done
}
api_rv() { khg_api GET /api/v1/nodes | jq -r '.metadata.resourceVersion'; }

khg_step "B: changes the controllers cannot see, history compacted: their watch must get 410 and relist"
listed=("$(listed_count 1)" "$(listed_count 2)" "$(listed_count 3)")
# The server closes every watch and answers every request with 503 + Retry-After: 4 for a
# moment, so each controller is waiting to retry; meanwhile nodes change and the history is
# compacted. Resuming the watch from their old resourceVersion must then fail with 410
# Expired, and the controllers must relist.
refused_count() { grep -c 'Restarting node watch after a failure.*503' "$KHG_RUN_DIR/node$1.log" || true; }
refused=("$(refused_count 1)" "$(refused_count 2)" "$(refused_count 3)")
all_refused() {
  local i
  for i in 1 2 3; do (($(refused_count "$i") > refused[i - 1])) || return 1; done
}
khg_api POST "/admin/fail?status=503&count=1000000&retryAfter=4" >/dev/null
khg_api POST /admin/drop-connections >/dev/null
khg_wait_for 30 "every controller to be refused once (it then waits >= 4 s)" all_refused ||
  khg_fail "a controller did not come back to the API server within 30 s of losing its watch"
khg_api POST "/admin/fail?status=503&count=0" >/dev/null
phantom_node 5
khg_api_delete_node node4
khg_api POST /admin/compact >/dev/null
caught_up() { routed_everywhere 5 && gone_everywhere 4; }
khg_wait_for 60 "node5's route on every node and node4's gone (after a relist)" caught_up ||
  khg_fail "the controllers did not catch up after a compaction"
khg_wait_for 5 "every node to log a relist" relisted_since "${listed[@]}" ||
  khg_fail "the changes arrived without a relist: the watch did not see 410 Expired"
no_mesh_route_deleted || khg_fail "a mesh route was deleted around the compaction"
khg_info "every controller relisted after 410 Expired and converged"

khg_step "C: API server killed for 10 s, replaced by a fresh one (new resourceVersions, node5 gone, node6 new)"
old_rv=$(api_rv)
listed=("$(listed_count 1)" "$(listed_count 2)" "$(listed_count 3)")
# The link stays down until the fresh server is completely set up, so that no controller
# sees it half-way (a fresh server counts resourceVersions from its own start).
ip -n "$api" link set eth0 down
khg_api_kill
rm -f "$KHG_RUN_DIR/nodes/node5.json"
khg_node_json node6 10.244.6.0/24 "$KHG_LAN_SUBNET.16" >"$KHG_RUN_DIR/nodes/node6.json"
khg_hold 10 "the mesh routes stay while no API server runs" mesh_present ||
  khg_fail "routes were removed while the API server was dead"
khg_api_up --nodes-file "$(khg_api_nodes_file)"
# Like a kube-apiserver on a restored etcd: its resourceVersions move past the old ones and
# the history is compacted, so the controllers' watch from their old resourceVersion gets
# 410 Expired and they relist.
while (($(api_rv) <= old_rv)); do khg_api POST "/admin/touch?name=node1" >/dev/null; done
khg_api POST /admin/compact >/dev/null
started=$(khg_now_ms)
ip -n "$api" link set eth0 up
converged() {
  local i
  routed_everywhere 6 || return 1
  gone_everywhere 5 || return 1
  mesh_present || return 1
  for i in 1 2 3; do [[ "$(khg_route_count "$i")" == 3 ]] || return 1; done
}
# The controllers back off like client-go's reflector (doubling from 0.8 s up to 30 s, each
# delay drawn from [d, 2d], reset after 2 minutes without failure): after the outages of A
# and B their next attempt may be a minute away.
khg_wait_for 90 "every node: routes to the two other nodes and node6, none to node5" converged ||
  khg_fail "the controllers did not converge on the fresh API server's node set"
elapsed=$(($(khg_now_ms) - started))
khg_info "converged on the fresh server's node set $elapsed ms after it became reachable (includes the controllers' backoff)"
khg_figure fresh_api_to_converged_ms "$elapsed" ms
relisted_since "${listed[@]}" || khg_fail "no relist logged after the server's replacement"
no_mesh_route_deleted || khg_fail "a route to a node that never left was deleted and re-added"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the API server's replacement"
for i in 1 2 3; do
  khg_hostgw_running "$i" || khg_fail "node$i: kube-hostgw exited"
done

khg_pass
