#!/usr/bin/env bash
# Scenario 8 — hostile or broken Node objects (default route, outside --cluster-cidr,
# host bits set, loopback address, JSON fields of the wrong type, a podCIDR overlapping
# another node's) are skipped with a reason; nothing else changes, and the controllers
# keep following the API afterwards.
source "$(dirname "$0")/lib.sh"
khg_init hostile-nodes

khg_step "cluster: 3 nodes x 1 pod"
khg_cluster_up 3 1
for i in 1 2 3; do khg_monitor_start "$i"; done
khg_hostgw_start_all
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
before=()
for i in 1 2 3; do before[i]=$(khg_routes_snapshot "$i"); done

unchanged() {
  local i
  for i in 1 2 3; do [[ "$(khg_routes_snapshot "$i")" == "${before[i]}" ]] || return 1; done
}
skipped_metric() { khg_metric "$1" kube_hostgw_nodes_skipped "reason=\"$2\""; }
logged_skip() { grep '"Node skipped"' "$KHG_RUN_DIR/node$1.log" | grep "node=\"$2\"" | grep -q "reason=\"$3\""; }

khg_step "creating hostile nodes: 0.0.0.0/0, outside the cluster CIDR, host bits set, loopback address"
khg_api_create_json "$(khg_node_json evil-default 0.0.0.0/0 198.51.100.40)"
khg_api_create_json "$(khg_node_json evil-outside 10.99.0.0/24 198.51.100.41)"
khg_api_create_json "$(khg_node_json evil-hostbits 10.244.60.1/24 198.51.100.42)"
khg_api_create_json "$(khg_node_json evil-loopback 10.244.61.0/24 127.0.0.1)"
khg_step "creating nodes whose fields have the wrong JSON types"
# (the fields the API server does not validate itself: spec.podCIDRs must be a list of
# strings there, but spec.podCIDR alone, status.addresses and labels are not checked)
khg_api_create_json "$(khg_node_json evil-types "" "" |
  jq '.spec.podCIDR = 42 | .status.addresses = {"type": "InternalIP"} | .metadata.labels = ["not", "a", "map"]')"
khg_api_create_json "$(khg_node_json evil-types2 10.244.63.0/24 "" |
  jq '.status.addresses = [{"type": 7, "address": ["198.51.100.44"]}, "InternalIP", null] |
      .metadata.annotations = 12')"

for i in 1 2 3; do
  for expect in "evil-default default_route" "evil-outside outside_cluster_cidr" \
    "evil-hostbits invalid_pod_cidr" "evil-loopback invalid_address"; do
    read -r name reason <<<"$expect"
    khg_wait_for 10 "node$i to log that $name is skipped ($reason)" logged_skip "$i" "$name" "$reason" ||
      khg_fail "node$i: no 'Node skipped' line with reason=$reason for $name"
  done
  for reason in default_route outside_cluster_cidr invalid_pod_cidr invalid_address; do
    [[ "$(skipped_metric "$i" "$reason")" -ge 1 ]] ||
      khg_fail "node$i: kube_hostgw_nodes_skipped{reason=\"$reason\"} is $(skipped_metric "$i" "$reason")"
  done
  for name in evil-types evil-types2; do
    grep -q "$name\"" "$KHG_RUN_DIR/node$i.log" || khg_fail "node$i: nothing in the log names $name"
  done
done
khg_info "node1: $(grep '"Node skipped"' "$KHG_RUN_DIR/node1.log" | grep -c evil-) skip lines, e.g.:"
khg_info "$(grep '"Node skipped"' "$KHG_RUN_DIR/node1.log" | grep 'evil-default' | head -n 1 | cut -c1-200)"
khg_info "$(grep 'evil-types"' "$KHG_RUN_DIR/node1.log" | head -n 1 | cut -c1-200)"
khg_info "$(grep 'evil-types2"' "$KHG_RUN_DIR/node1.log" | head -n 1 | cut -c1-200)"
khg_hold 2 "no route changes" unchanged || khg_fail "routes changed because of hostile nodes"
for i in 1 2 3; do khg_hostgw_running "$i" || khg_fail "node$i: kube-hostgw exited"; done

khg_step "the controllers still follow the API: a well-formed node5 appears"
khg_api_create_json "$(khg_node_json node5 10.244.5.0/24 198.51.100.15)"
routed5() {
  local i
  for i in 1 2 3; do khg_route_present "$i" 10.244.5.0/24 198.51.100.15 || return 1; done
}
khg_wait_for 10 "node5's route on every node" routed5 || khg_fail "a valid node added after hostile ones got no route"
khg_api_delete_node node5
khg_wait_for 10 "node5's route gone again" unchanged || khg_fail "node5's route stayed after its deletion"

khg_step "creating evil-overlap: podCIDR 10.244.2.0/24, the same as node2's"
khg_api_create_json "$(khg_node_json evil-overlap 10.244.2.0/24 198.51.100.43)"
for i in 1 3; do
  khg_wait_for 10 "node$i to log evil-overlap as skipped" \
    bash -c "grep '\"Node skipped\"' '$KHG_RUN_DIR/node$i.log' | grep -q 'node=\"evil-overlap\"'" ||
    khg_fail "node$i: no 'Node skipped' line for evil-overlap"
done
khg_route_present 1 10.244.2.0/24 "$(khg_node_ip 2)" && khg_route_present 3 10.244.2.0/24 "$(khg_node_ip 2)" ||
  khg_fail "a node claiming node2's podCIDR took node2's route away on node1/node3 (only the newcomer should be skipped)"
khg_hold 2 "no route changes" unchanged || khg_fail "routes changed because of evil-overlap"
khg_all_pods_ping || khg_fail "pods cannot reach each other with hostile nodes in the API"
for i in 1 2 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    [[ "$(khg_monitor_deleted "$i" "$(khg_node_pod_cidr "$k")")" == 0 ]] ||
      khg_fail "node$i: the route to node$k was deleted at some point"
  done
done

khg_pass
