#!/bin/bash
# Gateway mode's cost (README "Gateway mode"): a router namespace with 50 LAN
# devices (one namespace each, behind a bridge) and masquerading to a WAN
# namespace; 100,000 conntrack entries made by real UDP flows (2,000 per
# device, UDP timeout raised so they stay); every device sends a datagram
# every second. tcp-info runs in the router with -gateway.lan=br0
# -gateway.interval=1s and a sqlite sink; the script reports the CPU time of
# its gateway thread and of the whole process over DURATION seconds, its RSS,
# and what one conntrack dump of the table costs, for comparison.
#
#   sudo bench/gateway_bench.sh [build/bin/tcp-info] [DURATION=60] [FLAGS...]
#
# FLAGS are added to tcp-info's (e.g. -interval=1s, to take the TCP
# collector's 10 ms polling out of the whole-process figure).
#
# Needs root, iproute2, nftables, conntrack, python3. Addresses in
# 10.77.0.0/16; everything is removed on exit.
set -euo pipefail
BIN=${1:-build/bin/tcp-info}
DURATION=${2:-60}
shift $(($# < 2 ? $# : 2))
EXTRA=("$@")
DEVICES=50
FLOWS_PER_DEVICE=2000
P=gb$$
WORK=$(mktemp -d)
TCPINFO=
cleanup() {
  [[ -n $TCPINFO ]] && kill "$TCPINFO" 2>/dev/null && wait "$TCPINFO" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do ip netns del "$ns"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
q() { "$@" >/dev/null 2>&1; }

ip netns add ${P}r; ip netns add ${P}w
ip -n ${P}r link set lo up; ip -n ${P}w link set lo up
ip -n ${P}r link add br0 type bridge
ip link add wan0 netns ${P}r type veth peer name eth0 netns ${P}w
ip -n ${P}r addr add 10.77.0.1/17 dev br0
ip -n ${P}r addr add 10.77.250.1/30 dev wan0
ip -n ${P}w addr add 10.77.250.2/30 dev eth0
ip -n ${P}r link set br0 up; ip -n ${P}r link set wan0 up; ip -n ${P}w link set eth0 up
ip netns exec ${P}r sysctl -qw net.ipv4.ip_forward=1 \
  net.netfilter.nf_conntrack_udp_timeout=600 net.netfilter.nf_conntrack_acct=1
ip netns exec ${P}r nft 'table ip nat { chain post { type nat hook postrouting priority 100; oifname "wan0" masquerade; }; }'
for i in $(seq 1 $DEVICES); do
  d=${P}d$i
  ip netns add $d; ip -n $d link set lo up
  ip link add p$i netns ${P}r type veth peer name eth0 netns $d
  ip -n ${P}r link set p$i master br0; ip -n ${P}r link set p$i up
  ip -n $d addr add 10.77.1.$((i + 1))/17 dev eth0; ip -n $d link set eth0 up
  ip -n $d route add default via 10.77.0.1
done

# 100,000 flows: each device sends one datagram to 2,000 WAN ports.
for i in $(seq 1 $DEVICES); do
  ip netns exec ${P}d$i python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for port in range(20000, 20000 + $FLOWS_PER_DEVICE):
    s.sendto(b'x' * 64, ('10.77.250.2', port))
" &
done
wait
ENTRIES=$(ip netns exec ${P}r conntrack -C)
echo "conntrack entries: $ENTRIES"
TIMEFORMAT='%R s wall, %S s system, %U s user'
echo -n "one conntrack dump of the table (conntrack -L): "
{ time ip netns exec ${P}r conntrack -L >/dev/null 2>&1; } 2>&1

# Every device, every second, one datagram (so 50 rows a second).
for i in $(seq 1 $DEVICES); do
  ip netns exec ${P}d$i python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    s.sendto(b'y' * 100, ('10.77.250.2', 9)); time.sleep(1)
" >/dev/null 2>&1 &
done

ip netns exec ${P}r "$BIN" -output="$WORK/out" -prometheusx.listen-address= \
  -gateway.lan=br0 -gateway.interval=1s -sink=sqlite:"$WORK/usage.db" "${EXTRA[@]}" \
  2>"$WORK/tcp-info.log" &
TCPINFO=$!
sleep 3
PID=$(pgrep -P "$TCPINFO" -x tcp-info || echo "$TCPINFO")
[[ -d /proc/$PID/task ]] || { cat "$WORK/tcp-info.log"; exit 1; }
TID=$(grep -l '^tcpinfo-gateway$' /proc/$PID/task/*/comm | head -1 | cut -d/ -f5)
ticks() { awk '{print $14 + $15}' "$1"; }
HZ=$(getconf CLK_TCK)
threads() {
  for t in /proc/$PID/task/*; do echo "$(cat $t/comm) $(ticks $t/stat)"; done | sort
}
threads >"$WORK/threads0"
g0=$(ticks /proc/$PID/task/$TID/stat); p0=$(ticks /proc/$PID/stat)
sleep "$DURATION"
g1=$(ticks /proc/$PID/task/$TID/stat); p1=$(ticks /proc/$PID/stat)
threads >"$WORK/threads1"
RSS=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
ROWS=$(python3 -c "
import sqlite3; print(sqlite3.connect('$WORK/usage.db').execute('select count(*), count(distinct mac) from device_usage').fetchone())")
awk -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v hz="$HZ" -v d="$DURATION" \
  'BEGIN { printf "gateway thread: %.2f %% of a core; whole tcp-info: %.2f %% of a core (over %d s)\n", 100 * g / hz / d, 100 * p / hz / d, d }'
echo "per thread (name: % of a core):"
join <(awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' "$WORK/threads0" | sort) \
     <(awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' "$WORK/threads1" | sort) |
  awk -v hz="$HZ" -v d="$DURATION" '{printf "  %s: %.2f\n", $1, 100 * ($3 - $2) / hz / d}'
echo "tcp-info VmRSS: $RSS KiB with $ENTRIES conntrack entries"
echo "device_usage rows, devices: $ROWS"
echo "conntrack entries still: $(ip netns exec ${P}r conntrack -C)"
