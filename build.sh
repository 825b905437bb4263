#!/usr/bin/env bash
# One entry point for users and CI, on Debian 12 as root:
#   ./build.sh run [FLAGS...]  install dependencies, build, start the collector
#                              (archives under ./data, metrics on localhost:9990)
#   ./build.sh test            install dependencies, check formatting, build
#                              (normal and ASan+UBSan), run every test in both,
#                              and each fuzz target for 30 s
#   ./build.sh bench [ARGS]    install dependencies, build, run the benchmarks
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake ninja-build pkg-config clang clang-format
  libclang-rt-14-dev libmnl-dev libzstd-dev zstd nlohmann-json3-dev libabsl-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev prometheus
  iproute2 python3 procps systemd strace
  libsqlite3-dev sqlite3 libpq-dev librdkafka-dev libfixbuf-dev
  nfdump libfixbuf-tools postgresql-15
  libbpf-dev bpftool libelf-dev zlib1g-dev)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [CMAKE ARGS...]
build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_deps
    build build
    mkdir -p data
    exec ./build/bin/tcp-info -output=./data -sink=sqlite:./data/flows.db -owners \
      -prometheusx.listen-address=localhost:9990 "$@"
    ;;
  test)
    install_deps
    # Formatting is part of the contract (.clang-format, Google style).
    unformatted=$(git ls-files '*.cc' '*.h' | while read -r f; do
      clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
    if [ -n "$unformatted" ]; then
      echo "build.sh: not clang-formatted:" $unformatted >&2
      exit 1
    fi
    build build
    (cd build && ctest --output-on-failure --timeout 600 -j2)
    fuzz/run.sh 30
    # Last, so that ctest's summary closes the output.
    build build-asan -DTCPINFO_SANITIZE=ON -DTCPINFO_BENCH=OFF
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure --timeout 600 -j2)
    ;;
  bench)
    install_deps
    build build
    for b in build/bin/*_bench; do [ -x "$b" ] && "$b" "$@"; done
    ;;
  *)
    echo "usage: $0 run [FLAGS...] | test | bench [ARGS...]" >&2
    exit 2
    ;;
esac
