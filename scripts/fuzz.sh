#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default 60 s, all targets
#
# SECONDS=0 only replays the checked-in corpus (test/fuzz/corpus/<target>/).
# Each target starts from that corpus plus what earlier runs found
# (build-fuzz/fuzz-corpus/<target>/, not checked in). A crash or a failed
# property leaves its input in build-fuzz/fuzz-artifacts/<target>/ and makes
# the script fail; fix the bug, then copy the input into
# test/fuzz/corpus/<target>/ so ctest replays it from then on.
#
# Environment: BUILD_DIR (default build-fuzz), FUZZ_RSS_LIMIT_MB (default 2048).
# Output ends with one line: "fuzz: N passed, N failed (S s per target)".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
all_targets=(ip_prefix netlink_dump node_json watch_framer kubeconfig netlink_overlay)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
build_dir=${BUILD_DIR:-build-fuzz}
rss_limit=${FUZZ_RSS_LIMIT_MB:-2048}

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is missing (scripts/setup-deps.sh installs it)" >&2
  exit 1
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKHG_FUZZ=ON \
    -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target "${targets[@]/%/_fuzzer}"

# Input size bounds per target: big enough for the structures each parses.
declare -A max_len=([ip_prefix]=128 [netlink_dump]=2048 [node_json]=8192 [watch_framer]=8192 [kubeconfig]=4096 [netlink_overlay]=2048)

passed=0
failed=0
for target in "${targets[@]}"; do
  binary=$build_dir/bin/${target}_fuzzer
  seeds=test/fuzz/corpus/$target
  work=$build_dir/fuzz-corpus/$target
  artifacts=$build_dir/fuzz-artifacts/$target
  mkdir -p "$work" "$artifacts"
  log=$build_dir/fuzz-artifacts/$target.log
  if [[ "$seconds" == 0 ]]; then
    args=(-runs=0 "$seeds")
  else
    args=(-max_total_time="$seconds" -max_len="${max_len[$target]:-4096}" -timeout=10 -rss_limit_mb="$rss_limit"
          -print_final_stats=1 "$work" "$seeds")
  fi
  # stdin from /dev/null: a kubeconfig naming /dev/stdin as a file must not block the run.
  if "$binary" -artifact_prefix="$artifacts/" "${args[@]}" </dev/null >"$log" 2>&1; then
    runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo "?")
    echo "fuzz: $target: ok ($runs runs, corpus $(find "$work" -type f | wc -l) files)"
    passed=$((passed + 1))
  else
    echo "fuzz: $target: FAILED; input and log in $artifacts/ and $log:" >&2
    grep -E 'ERROR|fuzz property failed|SUMMARY|^Test unit written' "$log" | head -20 >&2 || tail -20 "$log" >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed ($seconds s per target)"
((failed == 0))
