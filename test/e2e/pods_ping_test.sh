#!/usr/bin/env bash
# Scenario 1 — the problem and the fix: without kube-hostgw a pod cannot reach a pod on
# another node; with it, every pod reaches every other pod within a deadline. Also checks
# what /healthz, /readyz and /metrics answer.
source "$(dirname "$0")/lib.sh"
khg_init pods-ping

node_count=3 pods_per_node=2
khg_step "cluster: $node_count nodes x $pods_per_node pods, API server at $KHG_API_IP"
khg_cluster_up "$node_count" "$pods_per_node"

khg_step "before kube-hostgw: pod to pod across nodes must fail"
if khg_ping "$(khg_pod_ns 1 1)" "$(khg_pod_ip 2 1)" 1; then
  khg_fail "node1's pod reached node2's pod with no route installed: the test network is wrong"
fi
for i in $(khg_nodes); do
  [[ "$(khg_route_count "$i")" == 0 ]] || khg_fail "node$i already has proto 44 routes before the start"
done
# Pods on the same node do reach each other (the bridge works), so the failure above is
# the missing routes, not a broken set-up.
khg_ping "$(khg_pod_ns 1 1)" "$(khg_pod_ip 1 2)" 1 || khg_fail "pods on the same node cannot ping: broken set-up"

khg_step "starting kube-hostgw on every node"
for i in $(khg_nodes); do khg_monitor_start "$i"; done
started=$(khg_now_ms)
khg_hostgw_start_all
if ! khg_wait_for 30 "every pod to ping every pod on the other nodes" khg_all_pods_ping; then
  khg_all_pods_ping || true
  khg_fail "pods still cannot reach each other 30 s after the start"
fi
elapsed=$(($(khg_now_ms) - started))
khg_info "all $(khg_pod_pairs) cross-node pod pairs answer, $elapsed ms after the start"
khg_figure time_to_all_pings_ms "$elapsed" ms
khg_full_mesh_ok || khg_fail "routes are not exactly the full mesh: $(khg_routes 1)"
# The kernel's own timestamps of the route additions (without the ping loop's delays).
last=0
for i in $(khg_nodes); do
  at=$(khg_monitor_last_added_ms "$i" $(khg_nodes | grep -vx "$i")) || khg_fail "node$i: the route monitor missed a route addition"
  ((at > last)) && last=$at
done
khg_info "the last of the $((node_count * (node_count - 1))) routes was added $((last - started)) ms after the start (process start included)"
khg_figure time_to_all_routes_ms "$((last - started))" ms

khg_step "health endpoints"
for i in $(khg_nodes); do
  khg_wait_for 10 "node$i /readyz to answer 200" khg_ready "$i" || khg_fail "node$i: /readyz is $(khg_http_status "$i" /readyz)"
  [[ "$(khg_http_status "$i" /healthz)" == 200 ]] || khg_fail "node$i: /healthz is $(khg_http_status "$i" /healthz)"
  metrics=$(khg_http "$i" /metrics)
  grep -q '^# TYPE kube_hostgw_' <<<"$metrics" || khg_fail "node$i: /metrics has no kube_hostgw_ families"
  # One route per other node, plus the unreachable route for this node's own podCIDR.
  [[ "$(khg_metric "$i" kube_hostgw_routes_desired)" == "$node_count" ]] ||
    khg_fail "node$i: kube_hostgw_routes_desired is $(khg_metric "$i" kube_hostgw_routes_desired), want $node_count"
  [[ "$(khg_metric "$i" kube_hostgw_routes_installed)" == "$node_count" ]] ||
    khg_fail "node$i: kube_hostgw_routes_installed is $(khg_metric "$i" kube_hostgw_routes_installed), want $node_count"
  [[ "$(khg_own_unreachable "$i")" == "$(khg_node_pod_cidr "$i") 4278198272" ]] ||
    khg_fail "node$i: own unreachable route is '$(khg_own_unreachable "$i")'"
  [[ "$(khg_metric "$i" kube_hostgw_nodes)" == "$node_count" ]] ||
    khg_fail "node$i: kube_hostgw_nodes is $(khg_metric "$i" kube_hostgw_nodes), want $node_count"
  [[ "$(khg_metric "$i" kube_hostgw_ready)" == 1 ]] || khg_fail "node$i: kube_hostgw_ready is not 1"
  added=$(khg_metric "$i" kube_hostgw_route_changes_total 'result="ok"')
  ((added >= node_count - 1)) || khg_fail "node$i: kube_hostgw_route_changes_total{result=\"ok\"} is $added, want >= $((node_count - 1))"
done
code=$(khg_http_status 1 /no-such-path)
[[ "$code" == 404 ]] || khg_fail "GET /no-such-path answered $code, want 404"

khg_pass
