#!/usr/bin/env bash
# Fault injection on the API side, one cluster, one phase per fault. Every phase checks
# that nothing was lost (full mesh on every node; a node created after the fault reaches
# every node), that no mesh route flapped (`ip monitor route` on every node: one
# addition, no deletion per route) and that every controller still runs:
#   1. API server killed (SIGKILL) and restarted 20 times in a row, its store kept in a
#      state file (--state-file, like etcd under a restarted kube-apiserver);
#   2. the watch connection cut in the middle of an event (half a JSON object, then FIN);
#   3. TLS handshake stall: connections accepted, nothing said for 14 s → the client's
#      10 s connect deadline fires, it retries and recovers when the stall ends;
#   4. 410 storm: every watch answered with ERROR 410 for 8 s → relists (with backoff,
#      not in a loop), no flap;
#   5. 429 Too Many Requests with Retry-After: 5 for 30 s → at most one request per
#      Retry-After per controller, routes stay;
#   6. token file replaced by a new token while the old one is revoked → 401, the client
#      rereads the file and goes on with the new token; neither token is ever logged.
#
# Knobs: kube-hostgw --api-backoff-max 2s (retry delays 0.8 s doubling up to 2 s, jittered
# x1-2, instead of up to 30 s), -v 2; fake-apiserver --state-file and its /admin fault hooks
# (test/fake-apiserver/README.md). Results: build/fault-results/fault_api.tsv.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
khg_init fault-api
fault_init fault_api

state=$KHG_RUN_DIR/apiserver.state
token_file=$KHG_RUN_DIR/token
khg_step "cluster: 3 nodes x 1 pod, the API server keeps its store in a state file"
khg_lan_up
khg_api_up --state-file "$state"
for i in 1 2 3; do
  khg_node_add "$i"
  khg_pods_add "$i" 1
  khg_api_create_node "$i"
done
# The controllers read their token from a file (like a projected service-account token).
umask 077
printf '%s\n' "$KHG_API_TOKEN" >"$token_file"
umask 022
sed -i "s|^    token: .*|    tokenFile: $token_file|" "$KHG_RUN_DIR/node.kubeconfig"
grep -q tokenFile "$KHG_RUN_DIR/node.kubeconfig" || khg_fail "could not switch the kubeconfig to a token file"
for i in 1 2 3; do khg_monitor_start "$i"; done
khg_hostgw_start_all --api-backoff-max 2s
khg_wait_for 20 "full mesh" khg_full_mesh_ok || khg_fail "no full mesh after the start"
khg_all_pods_ping || khg_fail "pods cannot reach each other after the start"

# The checks every phase ends with. $1: the phantom node created after the fault.
phase_end() {
  local phantom=$1 flaps
  khg_wait_for "${2:-20}" "node$phantom routed on every node" fault_phantom_routed "$phantom" ||
    fault_fail "a node created after the fault did not reach every node within ${2:-20} s"
  local recovered=$(($(khg_now_ms) - phantom_created))
  khg_api_delete_node "node$phantom"
  khg_wait_for 20 "node$phantom gone everywhere" fault_phantom_gone "$phantom" ||
    fault_fail "a node deleted after the fault kept its routes"
  khg_full_mesh_ok || fault_fail "the mesh is not complete: $(khg_routes_snapshot 1 | tr '\n' ';')"
  flaps=$(fault_flaps)
  [[ -z "$flaps" ]] || fault_fail "mesh routes flapped: $(tr '\n' ';' <<<"$flaps")"
  fault_all_running >/dev/null || fault_fail "$(fault_all_running)"
  RECOVERED_MS=$recovered
}
create_phantom() {
  phantom_created=$(khg_now_ms)
  khg_api_create_json "$(fault_phantom_json "$1")"
}
api_rv() { khg_api GET /api/v1/nodes | jq -r '.metadata.resourceVersion'; }

# ---------------------------------------------------------------------------------------
fault_begin api_restart_x20 "API server killed (SIGKILL) and restarted 20 times in a row, store kept in its state file"
failures=$(fault_log_counts "Restarting node watch after a failure")
rv_before=$(api_rv)
for n in $(seq 1 20); do
  khg_api_kill
  khg_api_up --state-file "$state"
  if ((n == 10)); then create_phantom 20; fi # a change in the middle of the restarts
  sleep 0.4
done
rv_after=$(api_rv)
((rv_after > rv_before)) || fault_fail "the restarted server lost its store (resourceVersion $rv_before -> $rv_after)"
restarts_seen=$(fault_log_counts "Restarting node watch after a failure")
phase_end 20 30
khg_all_pods_ping || fault_fail "pods cannot reach each other after the restarts"
fault_pass "every controller kept all routes, reconnected (watch failures logged per node: $failures -> $restarts_seen) and routed a node created during the restarts $RECOVERED_MS ms after its creation; resourceVersion $rv_before -> $rv_after (state kept); 0 mesh routes deleted or re-added"

# ---------------------------------------------------------------------------------------
fault_begin watch_cut_mid_event "watch connection cut in the middle of an event (half a JSON object, then the connection ends)"
failures=$(fault_log_counts "Restarting node watch after a failure")
cuts_before=$(grep -c "Cutting a watch event short" "$KHG_RUN_DIR/apiserver.log" || true)
khg_api POST "/admin/cut-watch?count=3" >/dev/null
create_phantom 21
phase_end 21
khg_api POST "/admin/cut-watch?count=0" >/dev/null
cuts=$(($(grep -c "Cutting a watch event short" "$KHG_RUN_DIR/apiserver.log" || true) - cuts_before))
((cuts == 3)) || fault_fail "the server cut $cuts watch events, expected 3 (one per controller)"
fault_log_grew "Restarting node watch after a failure" $failures ||
  fault_fail "a controller did not notice the cut stream (no watch failure logged)"
fault_pass "each of the 3 controllers got half of the ADDED event, logged the broken stream, watched again from its last resourceVersion and routed the node $RECOVERED_MS ms after its creation; 0 flaps"

# ---------------------------------------------------------------------------------------
fault_begin tls_handshake_stall "TLS handshake stall: the server accepts connections and says nothing for 14 s"
timeouts=$(fault_log_counts "no TLS handshake within")
khg_api POST "/admin/stall?seconds=14&drop=true" >/dev/null
stall_start=$(khg_now_ms)
khg_wait_for 20 "every controller's handshake deadline to fire" fault_log_grew "no TLS handshake within" $timeouts ||
  fault_fail "a controller did not time out its TLS handshake"
deadline_ms=$(($(khg_now_ms) - stall_start))
fault_mesh_present || fault_fail "routes changed during the stall"
while (($(khg_now_ms) - stall_start < 14200)); do sleep 0.2; done
create_phantom 22
phase_end 22 30
fault_pass "every controller's TLS handshake deadline (10 s) fired ($deadline_ms ms after the stall began for the last one), it retried, and after the stall a new node was routed everywhere $RECOVERED_MS ms after its creation; routes untouched, 0 flaps"

# ---------------------------------------------------------------------------------------
fault_begin watch_410_storm "410 storm: every watch answered with ERROR 410 Expired for 8 s"
relists=($(fault_metric_all kube_hostgw_node_relists_total))
khg_api POST "/admin/expire-watches?seconds=8&drop=true" >/dev/null
storm_start=$(khg_now_ms)
sleep 3
create_phantom 23 # a change during the storm arrives through a relist
khg_hold 4 "the mesh stays during the storm" fault_mesh_present || fault_fail "routes changed during the 410 storm"
while (($(khg_now_ms) - storm_start < 8200)); do sleep 0.2; done
relists_after=($(fault_metric_all kube_hostgw_node_relists_total))
phase_end 23
for n in 0 1 2; do
  d=$((${relists_after[n]%.*} - ${relists[n]%.*}))
  ((d >= 1)) || fault_fail "node$((n + 1)) never relisted during the storm"
  ((d <= 14)) || fault_fail "node$((n + 1)) relisted $d times in 8 s: a LIST loop, not a backoff"
done
fault_pass "the controllers relisted $((${relists_after[0]%.*} - ${relists[0]%.*}))/$((${relists_after[1]%.*} - ${relists[1]%.*}))/$((${relists_after[2]%.*} - ${relists[2]%.*})) times in 8 s (backoff after a fresh list's watch is refused again, no LIST loop), picked up a node created during the storm through a relist, $RECOVERED_MS ms after its creation; 0 flaps"

# ---------------------------------------------------------------------------------------
fault_begin throttled_429 "429 Too Many Requests with Retry-After: 5 on every request for 30 s"
before429=($(fault_metric_all kube_hostgw_api_requests_total 'code="429"'))
khg_api POST "/admin/fail?status=429&count=1000000&retryAfter=5" >/dev/null
khg_api POST /admin/drop-connections >/dev/null
khg_hold 30 "the mesh stays while the API server throttles" fault_mesh_present ||
  fault_fail "routes changed while the API server answered 429"
khg_api POST "/admin/fail?status=429&count=0" >/dev/null
after429=($(fault_metric_all kube_hostgw_api_requests_total 'code="429"'))
create_phantom 24
phase_end 24
counts=()
for n in 0 1 2; do
  d=$((${after429[n]%.*} - ${before429[n]%.*}))
  counts+=("$d")
  ((d >= 1)) || fault_fail "node$((n + 1)) never met the 429 (did it stop retrying?)"
  ((d <= 8)) || fault_fail "node$((n + 1)) sent $d requests in 30 s: Retry-After: 5 allows at most 7"
done
fault_pass "each controller sent ${counts[*]} requests in 30 s (Retry-After: 5 honoured over its 2 s backoff), kept every route, and routed a new node $RECOVERED_MS ms after the throttling ended; 0 flaps"

# ---------------------------------------------------------------------------------------
fault_begin token_rotation "token file replaced by a new token while the old token is revoked"
old_token=$KHG_API_TOKEN
new_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
changed=$(fault_log_counts "Token file changed; using the new token")
before401=($(fault_metric_all kube_hostgw_api_requests_total 'code="401"'))
printf '%s\n' "$new_token" >"$token_file.new"
chmod 600 "$token_file.new"
mv "$token_file.new" "$token_file"
khg_api POST "/admin/tokens?add=$new_token&remove=$old_token" >/dev/null
khg_api POST /admin/drop-connections >/dev/null
create_phantom 25
phase_end 25
fault_log_grew "Token file changed; using the new token" $changed ||
  fault_fail "a controller did not switch to the new token"
after401=($(fault_metric_all kube_hostgw_api_requests_total 'code="401"'))
for n in 0 1 2; do
  ((${after401[n]%.*} > ${before401[n]%.*})) || fault_fail "node$((n + 1)) never met the revoked token's 401"
done
for i in 1 2 3; do
  if grep -qF -e "$old_token" -e "$new_token" "$KHG_RUN_DIR/node$i.log"; then
    fault_fail "node$i's log contains a bearer token"
  fi
done
fault_pass "each controller got 401 with the revoked token, reread its token file at once, retried with the new token and routed a new node $RECOVERED_MS ms after its creation; neither token appears in any log; 0 flaps"

khg_all_pods_ping || khg_fail "pods cannot reach each other at the end"
khg_pass
