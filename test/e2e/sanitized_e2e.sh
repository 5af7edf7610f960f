#!/usr/bin/env bash
# Runs one e2e scenario with the ASan+UBSan build of kube-hostgw and fails on any
# sanitizer report (also a leak report written when the controllers exit at teardown,
# after the scenario itself has passed).
#
#   test/e2e/sanitized_e2e.sh [SCENARIO]     default: pods_ping (test/e2e/<SCENARIO>_test.sh)
#
# Environment: ASAN_BUILD_DIR (default build-asan: its bin/kube-hostgw), KHG_FAKE_APISERVER
# (default build/bin/fake-apiserver, the server need not be sanitized). Needs root like
# every e2e scenario (exit 77 = skipped without it).
# The last line is "sanitized e2e: SCENARIO passed|FAILED|skipped" (scripts/test.sh reads it).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
scenario=${1:-pods_ping}
asan_dir=${ASAN_BUILD_DIR:-$root/build-asan}
hostgw=$asan_dir/bin/kube-hostgw
[[ -x "$hostgw" ]] || {
  echo "sanitized_e2e: $hostgw is not built: cmake --build $asan_dir --target kube-hostgw" >&2
  echo "sanitized e2e: $scenario FAILED"
  exit 1
}
if ! nm "$hostgw" 2>/dev/null | grep __asan_init >/dev/null; then  # (no -q: SIGPIPE + pipefail)
  echo "sanitized_e2e: $hostgw is not an ASan build (configure $asan_dir with -DKHG_SANITIZE=ON)" >&2
  echo "sanitized e2e: $scenario FAILED"
  exit 1
fi
reports=$(mktemp -d "${TMPDIR:-/tmp}/khg-sanitized-e2e.XXXX")
trap 'rm -rf "$reports"' EXIT

# log_path: reports go to files (the controllers' own logs are deleted when a scenario passes).
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export KHG_HOSTGW=$hostgw
export KHG_FAKE_APISERVER=${KHG_FAKE_APISERVER:-$root/build/bin/fake-apiserver}
# The sanitized controller is several times slower; the scenarios' own deadlines are ample.
started=$(date +%s)
bash "$root/test/e2e/${scenario}_test.sh"
status=$?
elapsed=$(($(date +%s) - started))

if ((status == 77)); then
  echo "sanitized e2e: $scenario skipped (needs root)"
  exit 77
fi
found=0
for file in "$reports"/*; do
  [[ -e "$file" ]] || continue
  # Only reports from kube-hostgw count (other tools in the scenario are not sanitized anyway).
  if [[ -s "$file" ]]; then
    echo "----- sanitizer report $(basename "$file") -----" >&2
    head -n 60 "$file" >&2
    found=1
  fi
done
if ((status != 0 || found)); then
  echo "sanitized_e2e: $scenario with the ASan+UBSan kube-hostgw: scenario exit $status, sanitizer reports: $found" >&2
  results=${KHG_FAULT_RESULTS:-$root/build/fault-results}
  mkdir -p "$results"
  printf '%s\t%s\tFAIL\t%s\t%s\n' "e2e scenario $scenario with the ASan+UBSan (LSan at exit) kube-hostgw" \
    "scenario exit $status, sanitizer reports found: $found" "$elapsed" "test/e2e/sanitized_e2e.sh $scenario" \
    >"$results/sanitized_e2e.tsv"
  echo "sanitized e2e: $scenario FAILED (${elapsed} s)"
  exit 1
fi
# One row for docs/RELIABILITY.md (test/reliability/make_report.py).
results=${KHG_FAULT_RESULTS:-$root/build/fault-results}
mkdir -p "$results"
printf '%s\t%s\tpass\t%s\t%s\n' "e2e scenario $scenario with the ASan+UBSan (LSan at exit) kube-hostgw" \
  "scenario passed; no AddressSanitizer, UndefinedBehaviorSanitizer or LeakSanitizer report from any controller, also after SIGTERM at teardown" \
  "$elapsed" "test/e2e/sanitized_e2e.sh $scenario" >"$results/sanitized_e2e.tsv"
echo "sanitized e2e: $scenario passed (${elapsed} s, ASan+UBSan kube-hostgw, no sanitizer report)"
exit 0
