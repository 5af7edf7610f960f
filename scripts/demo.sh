#!/usr/bin/env bash
# The kube-hostgw demo: a 3-node "cluster" made of Linux network namespaces on this
# machine, 2 pods per node, a stand-in Kubernetes API server, and kube-hostgw on every
# node. Shows the problem (pods on different nodes cannot talk), then the fix, and a pod
# reaching an "outside" host behind a router through kube-hostgw's egress masquerade.
#
#   scripts/demo.sh           run the demo, then remove everything it created
#   scripts/demo.sh --keep    leave the cluster running to look around
#   scripts/demo.sh --clean   remove a cluster left by --keep
#
# Needs root (it creates network namespaces): run it as root, or prefix sudo.
#
# BUILD_DIR=DIR uses (and builds) the binaries in DIR instead of build/.
#
# Nothing outside the namespaces it creates is touched: the machine's own routes, links
# and addresses stay as they are. Addresses used: nodes 198.51.100.0/24, pods 10.244.0.0/16,
# the router and the outside host 203.0.113.0/24.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
keep=0
clean=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --clean) clean=1 ;;
    -h | --help)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "demo.sh: unknown option '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: needs root to create network namespaces: run it as root, or as  sudo $0 $*" >&2
  exit 1
fi

export KHG_PREFIX=khgdemo-
export KHG_RUN_DIR=/tmp/kube-hostgw-demo
export KHG_QUIET=1
node_count=3 pods_per_node=2

if [[ -t 1 ]]; then
  bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' off=$'\e[0m'
else
  bold='' green='' red='' dim='' off=''
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
explain() { printf '    %s\n' "$@"; }
show() { # show CMD...: prints the command, then runs it with its output indented
  printf '    %s$ %s%s\n' "$dim" "$*" "$off"
  "$@" 2>&1 | sed 's/^/      /'
}

# ---- clean ----------------------------------------------------------------------------
remove_demo() {
  local ns any=0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if [[ "$ns" == "$KHG_PREFIX"* ]]; then
      any=1
      break
    fi
  done
  if ((any)); then
    # shellcheck source=../test/e2e/lib.sh
    source "$root/test/e2e/lib.sh"
    set +e
    khg_clean_prefix "$KHG_PREFIX"
    set -e
    echo "demo.sh: removed the demo's namespaces and the processes inside them"
  fi
  if [[ -f "$KHG_RUN_DIR/.khg-run" ]]; then rm -rf "$KHG_RUN_DIR"; fi
}
if ((clean)); then
  remove_demo
  echo "demo.sh: clean"
  exit 0
fi

# ---- build ----------------------------------------------------------------------------
say "Getting the programs ready"
build_dir=${BUILD_DIR:-$root/build}
{
  explain "installing build dependencies if missing (Debian packages), then building into build/."
  explain "The first build takes a few minutes; later runs only rebuild what changed."
  "$root/scripts/setup-deps.sh" | sed 's/^/      /'
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$root/build-demo-cmake.log" 2>&1 ||
      { cat "$root/build-demo-cmake.log" >&2; exit 1; }
    rm -f "$root/build-demo-cmake.log"
  fi
  if ! cmake --build "$build_dir" -j "$(nproc)" --target kube-hostgw fake-apiserver >/tmp/kube-hostgw-demo-build.log 2>&1; then
    tail -n 40 /tmp/kube-hostgw-demo-build.log >&2
    echo "demo.sh: the build failed (full log: /tmp/kube-hostgw-demo-build.log)" >&2
    exit 1
  fi
  rm -f /tmp/kube-hostgw-demo-build.log
  explain "built: $build_dir/bin/kube-hostgw and $build_dir/bin/fake-apiserver"
}
export KHG_HOSTGW=$build_dir/bin/kube-hostgw
export KHG_FAKE_APISERVER=$build_dir/bin/fake-apiserver

remove_demo # a cluster left by an earlier --keep
# shellcheck source=../test/e2e/lib.sh
source "$root/test/e2e/lib.sh"
# shellcheck source=../test/e2e/cni_lib.sh
source "$root/test/e2e/cni_lib.sh" # khg_outside_up
export KHG_LEAVE_UP=$keep
khg_init demo

# ---- the cluster ----------------------------------------------------------------------
say "Step 1: a pretend cluster of $node_count nodes, each with $pods_per_node pods"
explain "Each node and each pod is a Linux network namespace: its own interfaces and routes," \
  "like a separate machine. The nodes share one LAN (a bridge); the pods of a node sit on" \
  "that node's bridge cni0, the way a CNI plugin (bridge + host-local) puts them there."
khg_lan_up
khg_router_up    # the nodes' default gateway, towards 203.0.113.0/24
khg_outside_up   # an "outside" host 203.0.113.50; the router knows no route to the pods
khg_api_up
for ((i = 1; i <= node_count; i++)); do
  khg_node_add "$i"
  khg_pods_add "$i" "$pods_per_node"
done
echo
printf '    %-7s %-16s %-15s %s\n' NODE "NODE ADDRESS" "POD NETWORK" PODS
for ((i = 1; i <= node_count; i++)); do
  pod_list=""
  for ((j = 1; j <= pods_per_node; j++)); do pod_list+="$(khg_pod_ip "$i" "$j") "; done
  printf '    %-7s %-16s %-15s %s\n' "node$i" "$(khg_node_ip "$i")" "$(khg_node_pod_cidr "$i")" "$pod_list"
done

say "Step 2: the Kubernetes API server knows these nodes"
explain "A stand-in API server (fake-apiserver, real TLS) runs at https://$KHG_API_IP:$KHG_API_PORT." \
  "Each Node object carries what kube-hostgw needs: spec.podCIDR and the InternalIP address."
for ((i = 1; i <= node_count; i++)); do khg_api_create_node "$i"; done
if khg_have_kubectl; then
  columns='NAME:.metadata.name,POD-CIDR:.spec.podCIDR,INTERNAL-IP:.status.addresses[0].address'
  printf '    %s$ kubectl get nodes -o custom-columns=%s%s\n' "$dim" "$columns" "$off"
  khg_kubectl get nodes -o custom-columns="$columns" 2>&1 | sed 's/^/      /'
else
  printf '    %s$ curl https://%s:%s/api/v1/nodes | jq ...%s\n' "$dim" "$KHG_API_IP" "$KHG_API_PORT" "$off"
  khg_api GET /api/v1/nodes | jq -r '.items[] | "      \(.metadata.name)  podCIDR=\(.spec.podCIDR)  InternalIP=\(.status.addresses[0].address)"'
fi

say "Step 3: the problem"
explain "node1's pod $(khg_pod_ip 1 1) pings node2's pod $(khg_pod_ip 2 1):"
show ip netns exec "$(khg_pod_ns 1 1)" ping -c 2 -W 1 "$(khg_pod_ip 2 1)" || true
printf '    %snode1'"'"'s pod cannot reach node2'"'"'s pod: 100%% packet loss — this is the problem.%s\n' "$red$bold" "$off"
explain "node1 knows its own pods (10.244.1.0/24 on cni0) and the LAN, nothing about 10.244.2.0/24:"
show ip -n "$(khg_node_ns 1)" route

# ---- kube-hostgw ----------------------------------------------------------------------
say "Step 4: start kube-hostgw on every node"
explain "Each one watches the Node objects over HTTPS and adds, on its node, a route" \
  "'<other node's podCIDR> via <other node's address>' for every other node (protocol 44)," \
  "an 'unreachable' route for its own podCIDR (it loses to cni0's; it stops traffic for pods" \
  "that do not exist from leaking to the default gateway), and with --masquerade an" \
  "nftables table for the pods' traffic leaving the cluster."
started=$(khg_now_ms)
khg_hostgw_start_all --masquerade
if ! khg_wait_for 30 "every node's routes" khg_full_mesh_ok; then
  echo "${red}demo.sh: the routes did not appear within 30 s; logs in $KHG_RUN_DIR$off" >&2
  exit 1
fi
khg_wait_for 10 "readiness" khg_all_ready || true
explain "all routes in place after $(($(khg_now_ms) - started)) ms. The routing tables now:"
for ((i = 1; i <= node_count; i++)); do
  echo "    ${bold}node$i${off}"
  show ip -n "$(khg_node_ns "$i")" route show proto 44
done

say "Step 5: the same ping again"
show ip netns exec "$(khg_pod_ns 1 1)" ping -c 2 -W 1 "$(khg_pod_ip 2 1)"
explain "and every pod to every pod on the other nodes:"
if failures=$(khg_all_pods_ping); then
  printf '    %sall %s cross-node pod pairs answer — the pod network works.%s\n' "$green$bold" "$(khg_pod_pairs)" "$off"
else
  printf '%s\n' "$failures" | sed 's/^/    /'
  echo "${red}demo.sh: some pods cannot reach each other; logs in $KHG_RUN_DIR$off" >&2
  exit 1
fi

say "Step 6: a pod reaches a host outside the cluster"
explain "The router in front of $KHG_OUTSIDE_IP has no route to 10.244.0.0/16: it can only answer" \
  "because kube-hostgw masquerades pod traffic leaving the cluster to the node's address" \
  "(pod -> pod and pod -> node traffic keeps the pod's own address)."
show ip netns exec "$(khg_pod_ns 1 1)" ping -c 2 -W 1 "$KHG_OUTSIDE_IP"
explain "node1's table (sets, not one rule per node: a node joining is one set element):"
show ip netns exec "$(khg_node_ns 1)" nft list table inet kube-hostgw

say "Step 7: what kube-hostgw said (node1's log)"
grep -E '"(Route added|Masquerade entry added|First sync complete|Node list received)"' "$KHG_RUN_DIR/node1.log" | head -n 7 | cut -c1-160 | sed 's/^/      /' || true
explain "health and metrics, inside node1 (each node has its own 127.0.0.1):"
printf '    %s$ ip netns exec %s curl -s http://%s/metrics | grep ...%s\n' "$dim" "$(khg_node_ns 1)" "$KHG_HEALTH" "$off"
khg_http 1 /metrics | grep -E '^kube_hostgw_(routes_desired|routes_installed|nodes|ready) ' | sed 's/^/      /' || true

khg_pass >/dev/null
if ((keep)); then
  say "The cluster stays up (--keep). Look around:"
  # The commands need root: shown with sudo only to someone who came through sudo.
  sudo=${SUDO_USER:+sudo }
  explain "${sudo}ip netns list | grep $KHG_PREFIX                           # the namespaces" \
    "${sudo}ip -n ${KHG_PREFIX}n1 route                                  # node1's routes" \
    "${sudo}ip netns exec ${KHG_PREFIX}n1p1 ping $(khg_pod_ip 3 2)                 # a pod pings another" \
    "${sudo}ip netns exec ${KHG_PREFIX}n1 curl -s http://$KHG_HEALTH/metrics   # node1's metrics" \
    "${sudo}ip -n ${KHG_PREFIX}n2 route del 10.244.1.0/24                 # break a route: it comes back" \
    "less $KHG_RUN_DIR/node1.log                      # node1's kube-hostgw log"
  if khg_have_kubectl; then
    explain "${sudo}ip netns exec ${KHG_PREFIX}api kubectl --kubeconfig $KHG_RUN_DIR/admin.kubeconfig get nodes"
  fi
  explain "" "Remove everything:  ${sudo}scripts/demo.sh --clean"
else
  say "Cleaning up: stopping kube-hostgw and the API server, deleting the namespaces"
  explain "(run with --keep to leave the cluster up and look around)"
fi
