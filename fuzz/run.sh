#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz and runs each
# for SECONDS (default 60): fuzz/run.sh [SECONDS].
#
# Each target starts from fuzz/corpus/<target>/ (read-only seeds, including
# regression-* inputs that once crashed) and writes new inputs to a temporary
# directory. A crash leaves its input in the log directory printed at the end
# and makes the script exit 1; copy it to fuzz/corpus/<target>/regression-*.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=(record_json split_message base64 dump_walk csvtool filter api_request)

cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DTCPINFO_FUZZ=ON -DTCPINFO_BENCH=OFF >/dev/null
ninja -C build-fuzz "${targets[@]/%/_fuzzer}"

work=$(mktemp -d /tmp/tcpinfo-fuzz.XXXXXX)
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/new" "$work/$t/crash"
  echo "fuzz/run.sh: $t for ${seconds}s" >&2
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build-fuzz/bin/${t}_fuzzer" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/$t/crash/" "$work/$t/new" "fuzz/corpus/$t" \
    >"$work/$t/log" 2>&1; then
    grep -E '^Done' "$work/$t/log" |
      sed "s/^/  $t: /" >&2 || true
  else
    failed+=("$t")
    tail -n 40 "$work/$t/log" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: FAILED: ${failed[*]} (logs and inputs in $work)" >&2
  exit 1
fi
echo "fuzz/run.sh: all targets ran ${seconds}s without a crash" >&2
rm -rf "$work"
