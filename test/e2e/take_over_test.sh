#!/usr/bin/env bash
# Issue 15 — taking over from flannel host-gw on a live cluster, with no packet lost.
# Three nodes already carry flannel-style routes (`ip route add PODCIDR via NODE`, i.e.
# proto boot), one of them through a wrong gateway; node1 also has a boot route for a
# node that is gone (10.244.9.0/24), a boot route outside the cluster CIDR, a boot
# default route and a boot route inside the cluster CIDR in another table. Pods ping
# each other every 10 ms from before kube-hostgw starts (--adopt-protocol boot) until
# after it has taken over: no ping is lost; every peer route is then one proto 44 route,
# rewritten in place (`ip monitor route` never saw a live route deleted), the stale one
# is gone, the others are untouched; a restart changes nothing.
#
# KHG_TAKE_OVER_MODE=annotation (take_over_annotation_test.sh): the same, each node's
# flannel public-ip annotation naming a second address on its eth0 that differs from its
# InternalIP (node3: public-ip-overwrite wins over public-ip), flannel's routes going via
# those addresses, and kube-hostgw run with --address-annotation.
source "$(dirname "$0")/lib.sh"
mode=${KHG_TAKE_OVER_MODE:-plain}
khg_init "take-over-$mode"

readonly kOverwrite=flannel.alpha.coreos.com/public-ip-overwrite
readonly kPublicIp=flannel.alpha.coreos.com/public-ip
public_ip() { if [[ "$mode" == annotation ]]; then echo "$KHG_LAN_SUBNET.$((150 + $1))"; else khg_node_ip "$1"; fi; }
ns() { khg_node_ns "$1"; }

khg_step "cluster: 3 nodes x 1 pod ($mode)"
khg_cluster_up 3 1
if [[ "$mode" == annotation ]]; then
  for i in 1 2 3; do ip -n "$(ns "$i")" addr add "$(public_ip "$i")/24" dev eth0; done
  khg_api_patch_node node1 "{\"metadata\":{\"annotations\":{\"$kPublicIp\":\"$(public_ip 1)\"}}}"
  khg_api_patch_node node2 "{\"metadata\":{\"annotations\":{\"$kPublicIp\":\"$(public_ip 2)\"}}}"
  khg_api_patch_node node3 \
    "{\"metadata\":{\"annotations\":{\"$kOverwrite\":\"$(public_ip 3)\",\"$kPublicIp\":\"$(khg_node_ip 3)\"}}}"
  KHG_HOSTGW_ARGS+=(--address-annotation "$kOverwrite" --address-annotation "$kPublicIp")
fi
KHG_HOSTGW_ARGS+=(--adopt-protocol boot)

khg_step "flannel's routes (proto boot), a stale one, and boot routes kube-hostgw must leave alone"
for i in 1 2 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    via=$(public_ip "$k")
    # node2 reaches node3's pods through node1 (a wrong gateway that still works: node1 forwards).
    [[ "$i" == 2 && "$k" == 3 ]] && via=$(public_ip 1)
    ip -n "$(ns "$i")" route add "$(khg_node_pod_cidr "$k")" via "$via"
  done
done
n1=$(ns 1)
ip -n "$n1" route add 10.244.9.0/24 via "$(khg_node_ip 2)"                # node9 left while flannel was down
ip -n "$n1" route add 203.0.113.128/25 via "$(khg_node_ip 3)"             # outside the cluster CIDR
ip -n "$n1" route add default via "$(khg_node_ip 3)"                     # a default route
ip -n "$n1" route add 10.244.2.0/24 via "$(khg_node_ip 2)" table 100      # another table
ip -n "$n1" route add 10.244.3.0/24 via "$(khg_node_ip 3)" proto static table main metric 50 # another protocol
untouched() {
  ip -n "$n1" route show 203.0.113.128/25
  ip -n "$n1" route show default
  ip -n "$n1" route show table 100
  ip -n "$n1" route show 10.244.3.0/24 proto static
}
untouched_before=$(untouched)
[[ $(grep -c . <<<"$untouched_before") == 4 ]] || khg_fail "setup: expected 4 routes to leave alone, got: $untouched_before"
khg_all_pods_ping || khg_fail "setup: the flannel-style routes do not carry the pods' traffic"

khg_step "pods ping each other every 10 ms; kube-hostgw starts meanwhile"
for i in 1 2 3; do khg_monitor_start "$i"; done
declare -a ping_pids=() ping_outs=()
count=1200 # 12 s at 10 ms
for i in 1 2 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    out=$KHG_RUN_DIR/ping.$i.$k
    ip netns exec "$(khg_pod_ns "$i" 1)" ping -i 0.01 -c "$count" -W 1 -q "$(khg_pod_ip "$k" 1)" >"$out" 2>&1 &
    khg__bg "$!"
    ping_pids+=("$!")
    ping_outs+=("$out")
  done
done
sleep 1
started=$(khg_now_ms)
khg_hostgw_start_all
taken_over() {
  local i
  for i in 1 2 3; do
    [[ -z "$(ip -n "$(ns "$i")" route show proto boot type unicast | grep '^10\.244\.' || true)" ]] || return 1
  done
  khg_all_ready
}
khg_wait_for 20 "every flannel route taken over" taken_over || khg_fail "the boot routes were not taken over"
khg_figure take_over_ms "$(($(khg_now_ms) - started))" ms
lost_total=0
for n in "${!ping_pids[@]}"; do
  wait "${ping_pids[n]}" || true
  line=$(grep -E 'packets transmitted' "${ping_outs[n]}" || true)
  [[ -n "$line" ]] || khg_fail "no ping statistics in ${ping_outs[n]}: $(cat "${ping_outs[n]}")"
  sent=$(awk '{ print $1 }' <<<"$line")
  received=$(awk '{ print $4 }' <<<"$line")
  ((sent == count)) || khg_fail "${ping_outs[n]}: $sent sent, want $count"
  lost_total=$((lost_total + sent - received))
  khg_info "$(basename "${ping_outs[n]}"): $line"
done
khg_figure pings_lost "$lost_total" "of $((count * 6))"
((lost_total == 0)) || khg_fail "$lost_total ping(s) lost during the take-over"

khg_step "afterwards: one proto 44 route per peer, the stale one gone, the rest untouched"
for i in 1 2 3; do
  for k in 1 2 3; do
    [[ "$i" == "$k" ]] && continue
    cidr=$(khg_node_pod_cidr "$k")
    routes=$(ip -n "$(ns "$i")" route show "$cidr" table main proto boot; ip -n "$(ns "$i")" route show "$cidr" table main proto 44)
    want="$cidr via $(public_ip "$k") dev eth0"
    # (through a nexthop object, the default where the kernel has them, it reads "PREFIX nhid N via ...")
    ours=$(ip -n "$(ns "$i")" route show "$cidr" table main proto 44 | sed -E 's/ nhid [0-9]+//')
    [[ "$(grep -c . <<<"$routes")" == 1 && "$ours" == "$want"* ]] ||
      khg_fail "node$i: routes to $cidr: '$routes', want one '$want proto 44'"
    deleted=$(khg_monitor_deleted "$i" "$cidr")
    [[ "$deleted" == 0 ]] || khg_fail "node$i: ip monitor saw the live route to $cidr deleted $deleted time(s)"
  done
done
khg_route_absent 1 10.244.9.0/24 || khg_fail "node1: the stale boot route 10.244.9.0/24 is still there"
[[ "$(khg_monitor_deleted 1 10.244.9.0/24)" == 1 ]] || khg_fail "node1: the monitor did not see the stale route deleted"
[[ "$(untouched)" == "$untouched_before" ]] || khg_fail "node1: a route kube-hostgw must not touch changed:
before: $untouched_before
after:  $(untouched)"
adopted=$(khg_metric 1 kube_hostgw_routes_adopted_total 'op="replace"')
deleted=$(khg_metric 1 kube_hostgw_routes_adopted_total 'op="delete"')
[[ "$adopted" == 2 && "$deleted" == 1 ]] || khg_fail "node1: kube_hostgw_routes_adopted_total: replace $adopted (want 2), remove $deleted (want 1)"
grep -q 'Routes adopted' "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1: no 'Routes adopted' log line"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the take-over"
khg_info "every peer route is ours, rewritten in place; the stale one deleted; nothing else touched"

khg_step "a restart changes nothing"
snapshot() { ip -n "$(ns "$1")" route show table all | grep -v -E '^(local|broadcast|multicast|fe80|ff00)' | sort; }
declare -a before=()
for i in 1 2 3; do before[i]=$(snapshot "$i"); done
for i in 1 2 3; do khg_hostgw_stop "$i" TERM || khg_fail "node$i: kube-hostgw did not stop cleanly"; done
khg_hostgw_start_all
khg_wait_for 20 "every node ready again" khg_all_ready || khg_fail "not ready after the restart"
sleep 1.5 # a pass's late changes would show by now
for i in 1 2 3; do
  [[ "$(snapshot "$i")" == "${before[i]}" ]] || khg_fail "node$i: the routes changed across the restart:
$(diff <(echo "${before[i]}") <(snapshot "$i"))"
  changes=$(awk '/^=== start/ { n = 0 } /Route (added|replaced|deleted)/ { n++ } END { print n + 0 }' \
    "$KHG_RUN_DIR/node$i.log")
  [[ "$changes" == 0 ]] || khg_fail "node$i: $changes route change(s) after the restart"
done

khg_step "someone adds a boot route inside the cluster CIDR again: adopted on the next pass"
ip -n "$n1" route replace "$(khg_node_pod_cidr 2)" via "$(public_ip 2)" proto boot
ip -n "$n1" route add 10.244.8.0/24 via "$(khg_node_ip 3)"
back() {
  [[ -z "$(ip -n "$n1" route show proto boot type unicast | grep '^10\.244\.' || true)" ]] &&
    khg_route_present 1 "$(khg_node_pod_cidr 2)" "$(public_ip 2)"
}
khg_wait_for 10 "the new boot routes handled" back || khg_fail "node1: re-added boot routes were not taken over:
$(ip -n "$n1" route show)"
khg_route_absent 1 10.244.8.0/24 || khg_fail "node1: the unbacked boot route 10.244.8.0/24 stayed"
# Woken by the kernel event (-v >= 1 logs it), not only found by the next periodic resync.
grep -q 'Kernel change.*(adoptable)' "$KHG_RUN_DIR/node1.log" ||
  khg_fail "node1: no kernel event named the re-added boot route as adoptable"

[[ "$(untouched)" == "$untouched_before" ]] || khg_fail "node1: a route kube-hostgw must not touch changed"

khg_pass
