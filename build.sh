#!/usr/bin/env bash
# One entry point for users and CI, on Debian 12 as root:
#   ./build.sh run [FLAGS...]  install dependencies, build, start the collector
#                              (archives under ./data, metrics on localhost:9990)
#   ./build.sh test            install dependencies, check formatting, build
#                              (normal and ASan+UBSan), run every test in both,
#                              and each fuzz target for 30 s
#   ./build.sh bench [ARGS]    install dependencies, build, run the benchmarks
#   ./build.sh deb             install dependencies, build the Debian package
#                              build-deb/tcp-info_<version>_<arch>.deb from
#                              debian/ (debhelper) and check it with lintian
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake ninja-build pkg-config clang clang-format
  libclang-rt-14-dev libmnl-dev libzstd-dev zstd nlohmann-json3-dev libabsl-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev prometheus
  iproute2 python3 procps systemd strace
  libsqlite3-dev sqlite3 libpq-dev librdkafka-dev libfixbuf-dev
  nfdump libfixbuf-tools postgresql-15
  debhelper dpkg-dev fakeroot lintian man-db
  libnftnl-dev nftables ethtool tcpdump
  libcurl4-openssl-dev influxdb influxdb-client
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

# build_deb: the package from a copy of the sources (tracked and new files,
# as git sees them) in build-deb/src, so that dpkg-buildpackage's results
# land in build-deb/ and nothing is written beside the checkout; lintian
# must find no error in it.
build_deb() {
  rm -rf build-deb
  mkdir -p build-deb/src
  git ls-files -z --cached --others --exclude-standard |
    tar --null -T - -cf - | tar -xf - -C build-deb/src
  (cd build-deb/src && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1) || {
    tail -40 build-deb/build.log >&2
    echo "build.sh: dpkg-buildpackage failed, see build-deb/build.log" >&2
    exit 1
  }
  rm -rf build-deb/src
  local deb
  deb=$(ls build-deb/tcp-info_*.deb)
  lintian --fail-on error --tag-display-limit 0 "$deb" >&2
  echo "$deb"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_deps
    build build
    mkdir -p data
    exec ./build/bin/tcp-info -output=./data -sink=sqlite:./data/flows.db -owners -traffic \
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
    build_deb >/dev/null  # for deb_integration_test
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
  deb)
    install_deps
    build_deb
    ;;
  *)
    echo "usage: $0 run [FLAGS...] | test | bench [ARGS...] | deb" >&2
    exit 2
    ;;
esac
