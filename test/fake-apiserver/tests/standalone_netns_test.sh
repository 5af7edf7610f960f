#!/usr/bin/env bash
# The standalone fake-apiserver binary inside a network namespace this test
# creates (and always deletes): `pki` writes a usable PKI, --nodes-file loads
# a NodeList, it serves on 198.51.100.250, admin endpoints work, bad flags exit
# 2, and SIGTERM ends it with exit code 0.
#
#   standalone_netns_test.sh path/to/fake-apiserver
set -euo pipefail

bin=${1:?usage: $0 path/to/fake-apiserver}
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root to create a network namespace"
  exit 77
fi
for tool in ip curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

ns=khg-fakeapi-$$
work=$(mktemp -d /tmp/fake-apiserver-netns-XXXXXX)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 198.51.100.250/32 dev lo

"$bin" pki --out "$work/pki" --san 198.51.100.250 --san apiserver.test >/dev/null
for f in ca.crt server.crt server.key client.crt client.key; do [[ -s "$work/pki/$f" ]] || fail "pki did not write $f"; done

cat >"$work/nodes.json" <<'JSON'
{"kind":"NodeList","apiVersion":"v1","items":[
 {"metadata":{"name":"n1"},"spec":{"podCIDR":"10.244.1.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.11"}]}},
 {"metadata":{"name":"n2"},"spec":{"podCIDRs":["10.244.2.0/24"]},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.12"}]}}]}
JSON

# Bad flags: exit code 2 with a message naming the problem.
set +e
"$bin" --listen 198.51.100.250 --cert "$work/missing.crt" --key "$work/pki/server.key" --token t 2>"$work/err"
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "missing --cert file: exit code $rc, want 2"
grep -q "missing.crt" "$work/err" || fail "error does not name the missing file: $(cat "$work/err")"

ip netns exec "$ns" "$bin" --listen 198.51.100.250 --port 6443 --cert "$work/pki/server.crt" \
  --key "$work/pki/server.key" --client-ca "$work/pki/ca.crt" --token t1 --token t2 \
  --nodes-file "$work/nodes.json" --bookmark-interval-ms 500 >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/out" && break; sleep 0.1; done
grep -q "fake-apiserver: listening on https://198.51.100.250:6443" "$work/out" || fail "no ready line: $(cat "$work/out" "$work/log")"

api() { ip netns exec "$ns" curl -sS --cacert "$work/pki/ca.crt" "$@"; }
list=$(api -H "Authorization: Bearer t2" https://198.51.100.250:6443/api/v1/nodes)
[[ "$list" == *'"name":"n1"'* && "$list" == *'"name":"n2"'* ]] || fail "list: $list"
[[ "$list" == *'"podCIDRs":["10.244.1.0/24"]'* ]] || fail "podCIDRs not defaulted: $list"
cert_list=$(api --cert "$work/pki/client.crt" --key "$work/pki/client.key" https://198.51.100.250:6443/api/v1/nodes/n2)
[[ "$cert_list" == *'"name":"n2"'* ]] || fail "client certificate: $cert_list"
code=$(api -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" https://198.51.100.250:6443/api/v1/nodes)
[[ "$code" == 401 ]] || fail "wrong token: HTTP $code"
gen=$(api -X POST -H "Authorization: Bearer t1" "https://198.51.100.250:6443/admin/generate?count=100&nodeIPBase=100.64.0.0/16")
[[ "$gen" == *'"count":100'* ]] || fail "generate: $gen"
count=$(api -H "Authorization: Bearer t1" https://198.51.100.250:6443/api/v1/nodes | grep -o '"kind":"Node"' | wc -l)
[[ "$count" -eq 102 ]] || fail "after generate: $count nodes, want 102"
gz=$(api -H "Authorization: Bearer t1" -H "Accept-Encoding: gzip" -D - -o /dev/null https://198.51.100.250:6443/api/v1/nodes)
[[ "${gz,,}" == *"content-encoding: gzip"* ]] || fail "no gzip: $gz"

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
[[ $rc -eq 0 ]] || fail "exit code after SIGTERM: $rc"
grep -q "SIGTERM, stopping" "$work/out" || fail "no stop line"
echo "PASS"
