# shellcheck shell=bash
# test/e2e/fault_lib.sh — helpers shared by the fault-injection scenarios
# (test/e2e/fault_*_test.sh), on top of lib.sh (source lib.sh first).
#
# Every fault is one phase of a scenario. A phase ends with one result row,
# appended to $KHG_FAULT_RESULTS/<scenario>.tsv (default build/fault-results/):
#
#   fault <TAB> what happened (measured) <TAB> pass|FAIL <TAB> seconds <TAB> test
#
# test/reliability/make_report.py turns these rows into the fault table of
# docs/RELIABILITY.md; nobody writes that table by hand.
#
# "No flap": the `ip monitor route` of a node (khg_monitor_start) must show, for each
# route of the mesh, exactly one addition (the first install) and no deletion.
# A replace of an existing route shows up as an addition too, so it counts as a flap.

: "${KHG_FAULT_RESULTS:=$KHG_ROOT/build/fault-results}"
KHG_FAULT_FILE=
KHG_FAULT_TEST=
KHG_FAULT_PHASE=
KHG_FAULT_STARTED=0

# fault_init SCENARIO: (after khg_init) starts this scenario's result file afresh.
fault_init() {
  KHG_FAULT_TEST="e2e.$1"
  mkdir -p "$KHG_FAULT_RESULTS"
  KHG_FAULT_FILE=$KHG_FAULT_RESULTS/$1.tsv
  : >"$KHG_FAULT_FILE"
}

# fault_begin ID "fault description": starts a phase (its clock and its step line); ID
# names its figure (FIGURE fault_ID_s=...).
KHG_FAULT_ID=
fault_begin() {
  KHG_FAULT_ID=$1
  KHG_FAULT_PHASE=$2
  KHG_FAULT_STARTED=$(khg_now_ms)
  khg_step "fault: $2"
}

fault__row() {
  local seconds
  seconds=$(awk -v ms=$(($(khg_now_ms) - KHG_FAULT_STARTED)) 'BEGIN { printf "%.1f", ms / 1000 }')
  printf '%s\t%s\t%s\t%s\t%s\n' "$KHG_FAULT_PHASE" "$(tr '\t\n' '  ' <<<"$2")" "$1" "$seconds" "$KHG_FAULT_TEST" \
    >>"$KHG_FAULT_FILE"
  khg_info "$1 after ${seconds} s: $2"
  khg_figure "fault_${KHG_FAULT_ID}_s" "$seconds" s
}

# fault_pass "what happened": the phase's result row (pass).
fault_pass() { fault__row pass "$1"; }

# fault_fail "what went wrong": the phase's result row (FAIL), then the scenario fails.
fault_fail() {
  fault__row FAIL "$1"
  khg_fail "$KHG_FAULT_PHASE: $1"
}

# fault_mesh_nodes: the nodes whose mutual routes must never flap (default: all).
FAULT_MESH=()

# fault_flaps [NODE...]: prints "nodeI->nodeK deleted D added A" for every mesh route of the
# given nodes (default: every node) whose monitor does not show exactly one addition and no
# deletion; prints nothing when no route flapped.
fault_flaps() {
  local nodes=("$@") mesh=("${FAULT_MESH[@]}") i k file cidr deleted added
  ((${#mesh[@]} > 0)) || mapfile -t mesh < <(khg_nodes)
  ((${#nodes[@]} > 0)) || nodes=("${mesh[@]}")
  for i in "${nodes[@]}"; do
    file=$KHG_RUN_DIR/node$i.monitor
    for k in "${mesh[@]}"; do
      [[ "$k" == "$i" ]] && continue
      cidr=$(khg_node_pod_cidr "$k")
      cidr=${cidr//./\\.}
      deleted=$(grep -cE "\] Deleted $cidr " "$file" || true)
      added=$(grep -cE "\] $cidr " "$file" || true)
      if [[ "$deleted" != 0 || "$added" != 1 ]]; then
        echo "node$i->node$k deleted $deleted added $added"
      fi
    done
  done
}

# fault_mesh_present: every node has its route to every other node of the mesh (other
# owned routes, e.g. to phantom nodes, may come and go).
fault_mesh_present() {
  local mesh=("${FAULT_MESH[@]}") i k
  ((${#mesh[@]} > 0)) || mapfile -t mesh < <(khg_nodes)
  for i in "${mesh[@]}"; do
    for k in "${mesh[@]}"; do
      [[ "$i" == "$k" ]] || khg_route_present "$i" "$(khg_node_pod_cidr "$k")" "$(khg_node_ip "$k")" || return 1
    done
  done
}

# fault_all_running: every controller is still running.
fault_all_running() {
  local i
  for i in $(khg_nodes); do
    khg_hostgw_running "$i" || {
      echo "node$i: kube-hostgw is not running"
      return 1
    }
  done
}

# fault_phantom_json K: a node without a namespace (podCIDR 10.244.K.0/24, address
# 198.51.100.(10+K) on the LAN): its route only needs an on-link address.
fault_phantom_json() { khg_node_json "node$1" "10.244.$1.0/24" "$KHG_LAN_SUBNET.$((10 + $1))"; }

fault_phantom_routed() {
  local i
  for i in $(khg_nodes); do khg_route_present "$i" "10.244.$1.0/24" "$KHG_LAN_SUBNET.$((10 + $1))" || return 1; done
}

fault_phantom_gone() {
  local i
  for i in $(khg_nodes); do khg_route_absent "$i" "10.244.$1.0/24" || return 1; done
}

# fault_log_count I TEXT: lines of nodeI.log containing TEXT (fixed string).
fault_log_count() { grep -cF -- "$2" "$KHG_RUN_DIR/node$1.log" || true; }

# fault_log_counts TEXT: the counts of every node, space-separated (for "grew on every node").
fault_log_counts() {
  local i out=()
  for i in $(khg_nodes); do out+=("$(fault_log_count "$i" "$1")"); done
  echo "${out[*]}"
}

# fault_log_grew TEXT BEFORE...: every node logged TEXT more often than BEFORE (from fault_log_counts).
fault_log_grew() {
  local text=$1 i n=0
  shift
  local before=("$@")
  for i in $(khg_nodes); do
    (($(fault_log_count "$i" "$text") > before[n])) || return 1
    n=$((n + 1))
  done
}

# fault_metric_all NAME [LABEL]: the metric on every node, space-separated.
fault_metric_all() {
  local i out=()
  for i in $(khg_nodes); do out+=("$(khg_metric "$i" "$1" "${2:-}")"); done
  echo "${out[*]}"
}
