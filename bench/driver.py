#!/usr/bin/env python3
"""Benchmark driver: tcp-info's cost per polling cycle against the kernel's.

For each N it holds N real connections (1 % streaming) between two connfarm
namespaces and, in the same run, interleaved in --repeat rounds:

  floor    build/bin/dump_bench BM_DumpFloor/<interval>: a bare libmnl dump
           loop with exactly the daemon's request, scheduled as the daemon
           schedules its cycles (each starts one interval after the previous
           one started, at once if that one overran), only walking the
           messages (CPU per dump). Measured before and after the daemon
           runs; the mean is used.
  daemon   build/bin/tcp-info with archives written, in steady state: once
           the start-up burst is over (every connection's first snapshot
           written to its new file), the CPU (user + sys, /proc/PID/stat)
           it spends over a fixed number of polling cycles (--cycles, counted
           by its tcpinfo_polling_interval_histogram), per cycle. The burst
           itself is reported apart, as CPU per new connection.

and prints one table row per N: floor and daemon CPU per cycle, their ratio,
steady resident memory and memory per connection above an idle daemon's,
open descriptors, archive bytes per written record, the polling rate, and
the start-up cost per connection.

With --sink URL it compares instead, in the same rounds and on the same
connections, tcp-info without sinks and with -sink=URL ("{out}" in URL
stands for the daemon's output directory): CPU per cycle of each, their
ratio, and the memory per connection with the sink, plus the flow records
the sink sent (tcpinfo_sink_records_total) and dropped. --flags FLAGS
compares the same way without and with those daemon flags (with --sink,
the second run has both): --flags=-owners gives the cost of owner
attribution (/proc scans, the BPF hook, per-owner sums).

Usage (root, from the repository, after ./build.sh bench or a build):
  bench/driver.py                       # N = 1000, 10000, 50000
  bench/driver.py --conns 1000 --cycles 200
  bench/driver.py --conns 10000 --streaming-pct 10 --interval 100ms
  bench/driver.py --conns 10000 --churn 100 --sink 'sqlite:{out}/flows.db'
  bench/driver.py --conns 10000 --churn 100 --flags=-owners
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
CONNFARM = os.environ.get(
    "TCPINFO_CONNFARM", os.path.join(ROOT, "..", "shared", "tools", "connfarm"))


def farm(*args, check=True, **kw):
    return subprocess.run([CONNFARM, *args], check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def in_ns(name, argv):
    return ["ip", "netns", "exec", name + "-cli", *argv]


def interval_ms(interval):
    m = re.fullmatch(r"(\d+)ms", interval)
    if not m or m.group(1) not in ("10", "100"):
        sys.exit("driver.py: --interval must be 10ms or 100ms (the paced "
                 "floors dump_bench has)")
    return int(m.group(1))


def floor_cpu_per_dump(name, interval):
    """CPU seconds per paced dump, and sockets per dump, from dump_bench."""
    out = subprocess.run(
        in_ns(name, [os.path.join(BIN, "dump_bench"),
                     "--benchmark_filter=BM_DumpFloor/%d/"
                     % interval_ms(interval),
                     "--benchmark_format=json"]),
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True).stdout
    bench = json.loads(out)["benchmarks"][0]
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[bench["time_unit"]]
    return bench["cpu_time"] * unit, bench.get("sockets", 0)


def status_value(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)
METRICS_PORT = 9990


def scrape(name):
    """The daemon's metrics (series -> value; a labelled series keyed by
    its whole text, 'name{label="v"}'), read
    from inside namespace NAME-cli where it listens."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/%s-cli" % name, os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into %s-cli" % name)
        try:
            conn = socket.create_connection(("127.0.0.1", METRICS_PORT),
                                            timeout=5)
        finally:
            if LIBC.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)
    with conn:
        conn.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    values = {}
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        try:
            values[series] = float(value)
        except ValueError:
            pass
    return values


def cpu_seconds(pid):
    """User + system CPU of process `pid` (all its threads) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_files(root):
    return sum(len(files) for _, _, files in os.walk(root))


def run_daemon(name, cycles, interval, idle=False, timeout=900, sink=None,
               flags=()):
    """Runs tcp-info until it is in steady state, then measures `cycles`
    polling cycles; returns a dict of what they cost. `idle`: the namespace
    holds no connection (no file to wait for). `sink`: a -sink URL, "{out}"
    standing for the output directory."""
    out = tempfile.mkdtemp(prefix="tcpinfo-bench-")
    extra = ["-sink=" + sink.replace("{out}", out)] if sink else []
    extra += list(flags)
    argv = in_ns(name, [os.path.join(BIN, "tcp-info"), "-output", out,
                        "-interval", interval,
                        "-prometheusx.listen-address=127.0.0.1:%d"
                        % METRICS_PORT] + extra)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    # ip netns exec execs the daemon: same pid.
    pid = proc.pid
    deadline = start + timeout

    def metrics():
        while True:
            if proc.poll() is not None:
                raise RuntimeError("tcp-info exited: %s" % proc.stderr.read())
            if time.monotonic() > deadline:
                raise RuntimeError("tcp-info did not reach steady state")
            try:
                return scrape(name)
            except OSError:
                time.sleep(0.2)

    rss, fds = [], []
    try:
        # Steady state: every connection's file is on disk (the writer
        # thread's start-up burst is over), and then 2 s more. Under churn
        # new files keep coming: within 1 % of the count will do.
        while not idle:
            m = metrics()
            files = m.get("tcpinfo_new_file_total", 0)
            if files > 0 and count_files(out) >= files * 0.99:
                break
            time.sleep(1)
        time.sleep(2)
        m1 = metrics()
        cpu1 = cpu_seconds(pid)
        c1 = m1["tcpinfo_polling_interval_histogram_count"]
        warm_cycles = c1
        while True:
            time.sleep(0.5)
            rss.append(status_value(pid, "VmRSS"))
            try:
                fds.append(len(os.listdir("/proc/%d/fd" % pid)))
            except OSError:
                pass
            m2 = metrics()
            cpu2 = cpu_seconds(pid)
            c2 = m2["tcpinfo_polling_interval_histogram_count"]
            if c2 - c1 >= cycles:
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    size = 0
    for dirpath, _, files in os.walk(out):
        for f in files:
            size += os.path.getsize(os.path.join(dirpath, f))
    shutil.rmtree(out, ignore_errors=True)
    summary = {}
    for k, v in re.findall(r"(\w+)=(\d+)", stderr.splitlines()[-1]
                           if stderr else ""):
        summary[k] = int(v)
    per_cycle = (cpu2 - cpu1) / (c2 - c1)
    return {
        "cpu_per_cycle": per_cycle,
        # What the start-up burst cost beyond its cycles' steady cost.
        "startup_cpu": max(0.0, cpu1 - warm_cycles * per_cycle),
        "rate": (c2 - c1) / max(1e-9, sum_intervals(m1, m2)),
        "rss": rss,
        "fds": fds,
        "window_records": m2.get("tcpinfo_snapshot_total", 0)
        - m1.get("tcpinfo_snapshot_total", 0),
        "cycles": c2 - c1,
        "files": m2.get("tcpinfo_new_file_total", 0),
        "records": summary.get("records_written", 0),
        "sink_sent": sum(v for k, v in m2.items()
                         if k.startswith("tcpinfo_sink_records_total")
                         and 'result="sent"' in k),
        "sink_dropped": sum(v for k, v in m2.items()
                            if k.startswith("tcpinfo_sink_records_total")
                            and 'result="dropped"' in k),
        "bytes": size,
        "ok": proc.returncode == 0,
    }


def sum_intervals(m1, m2):
    """Seconds between the cycles counted in m1 and m2 (the histogram's
    sum of polling intervals)."""
    key = "tcpinfo_polling_interval_histogram_sum"
    return m2.get(key, 0) - m1.get(key, 0)


def measure(n, args):
    name = "bn%d" % (os.getpid() % 10000)
    ready = os.path.join(tempfile.gettempdir(), name + ".ready")
    farm("up", "--name", name)
    run = None
    try:
        active = max(1, n * args.streaming_pct // 100)
        churn = ["--churn", str(args.churn)] if args.churn else []
        run = subprocess.Popen(
            [CONNFARM, "run", "--name", name, "--conns", str(n),
             "--active", str(active), "--duration", "3600",
             "--v6-fraction", "0.2", "--ready-file", ready] + churn,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not os.path.exists(ready):
            if time.monotonic() > deadline or run.poll() is not None:
                raise RuntimeError("connfarm did not establish %d" % n)
            time.sleep(0.2)
        time.sleep(2)  # let the establishment burst settle
        if args.churn:
            # Churn starts once all are established; TIME_WAIT sockets
            # (in the table every dump walks) reach their steady number
            # after tcp_fin_timeout (60 s).
            time.sleep(60)

        # Rounds of floor, daemon, floor: each round gives one ratio; the
        # medians over rounds are reported, with the range.
        rounds = []
        if args.sink or args.flags:
            return compare_sink(n, name, args)
        for _ in range(args.repeat):
            floor1, sockets = floor_cpu_per_dump(name, args.interval)
            d = run_daemon(name, args.cycles, args.interval)
            floor2, _ = floor_cpu_per_dump(name, args.interval)
            floor = (floor1 + floor2) / 2
            rounds.append({
                "floor": floor, "daemon": d["cpu_per_cycle"],
                "ratio": d["cpu_per_cycle"] / floor, "run": d,
                "sockets": sockets,
                "changed": d["window_records"]
                / (d["cycles"] * max(1, sockets)),
                "startup": d["startup_cpu"] / max(1, sockets),
                "rate": d["rate"],
            })
        med = lambda key: median([r[key] for r in rounds])
        last = rounds[-1]["run"]
        rss = [x for r in rounds for x in r["run"]["rss"]]
        return {
            "n": n, "sockets": rounds[-1]["sockets"],
            "floor_ms": med("floor") * 1e3, "daemon_ms": med("daemon") * 1e3,
            "ratio": med("ratio"),
            "ratio_min": min(r["ratio"] for r in rounds),
            "ratio_max": max(r["ratio"] for r in rounds),
            "changed_pct": med("changed") * 100,
            "rss_mb": median(rss) / 2**20,
            "fds": max(x for r in rounds for x in r["run"]["fds"] or [0]),
            "bytes_per_record": last["bytes"] / max(1, last["records"]),
            "rate": med("rate"),
            "startup_us": med("startup") * 1e6,
            "archived": min(r["run"]["files"] / max(1, r["sockets"])
                            for r in rounds) * 100,
            "ok": all(r["run"]["ok"] for r in rounds),
        }
    finally:
        if run is not None and run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
        farm("down", "--name", name, "--force", check=False)


def compare_sink(n, name, args):
    """Rounds of tcp-info without sinks and with -sink=args.sink, in
    alternating order: under churn the kernel's socket table (TIME_WAIT
    sockets included) keeps changing, and a fixed order would charge the
    drift to the second run of every round."""
    rounds = []
    for i in range(args.repeat):
        def run(sink=None, flags=()):
            return run_daemon(name, args.cycles, args.interval, sink=sink,
                              flags=flags)
        compared = args.flags.split()
        if i % 2 == 0:
            plain = run()
            with_sink = run(args.sink, compared)
        else:
            with_sink = run(args.sink, compared)
            plain = run()
        rounds.append({"plain": plain["cpu_per_cycle"],
                       "sink": with_sink["cpu_per_cycle"],
                       "ratio": with_sink["cpu_per_cycle"]
                       / plain["cpu_per_cycle"],
                       "rss": with_sink["rss"], "plain_rss": plain["rss"],
                       "sent": with_sink["sink_sent"],
                       "dropped": with_sink["sink_dropped"],
                       "ok": plain["ok"] and with_sink["ok"]})
    med = lambda key: median([r[key] for r in rounds])
    return {"n": n, "plain_ms": med("plain") * 1e3,
            "sink_ms": med("sink") * 1e3, "ratio": med("ratio"),
            "ratio_min": min(r["ratio"] for r in rounds),
            "ratio_max": max(r["ratio"] for r in rounds),
            "rss_mb": median([x for r in rounds for x in r["rss"]]) / 2**20,
            "plain_rss_mb": median([x for r in rounds
                                    for x in r["plain_rss"]]) / 2**20,
            "sent": med("sent"), "dropped": max(r["dropped"] for r in rounds),
            "ok": all(r["ok"] for r in rounds)}


def median(values):
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--conns", default="1000,10000,50000",
                   help="comma-separated connection counts")
    p.add_argument("--cycles", type=int, default=300,
                   help="steady-state cycles measured per round")
    p.add_argument("--interval", default="10ms",
                   help="polling interval of daemon and floor: 10ms or 100ms")
    p.add_argument("--repeat", type=int, default=3,
                   help="rounds per N; medians are reported")
    p.add_argument("--streaming-pct", type=int, default=1,
                   help="percent of connections streaming (each sends "
                   "every 100 ms: 10 with --interval 100ms makes about "
                   "10 %% of connections change every cycle)")
    p.add_argument("--churn", type=int, default=0,
                   help="connections closed and replaced per second")
    p.add_argument("--sink", default="",
                   help="compare tcp-info without sinks and with -sink=URL "
                   "({out} = the daemon's output directory)")
    p.add_argument("--flags", default="",
                   help="compare tcp-info without and with these flags "
                   "(white-space separated), e.g. -owners")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("driver.py: needs root (network namespaces)")
    for b in ("tcp-info", "dump_bench"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            sys.exit("driver.py: build/bin/%s missing: run ./build.sh bench" % b)
    idle = run_daemon_idle(args)
    print("machine: %s, %d cores; idle daemon RSS %.1f MB"
          % (os.uname().release, os.cpu_count(), idle / 2**20))
    print("interval %s, %d %% streaming, %d rounds of %d cycles (medians)"
          % (args.interval, args.streaming_pct, args.repeat, args.cycles))
    if args.sink or args.flags:
        print("interval %s, %d %% streaming, churn %d/s, %d rounds of %d "
              "cycles (medians); sink %s, flags %s"
              % (args.interval, args.streaming_pct, args.churn, args.repeat,
                 args.cycles, args.sink or "none", args.flags or "none"))
        print("| N | no sink CPU/cycle | with sink CPU/cycle | ratio (range) "
              "| RSS no sink | RSS with sink | per conn with sink "
              "| records sent | dropped |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n in [int(x) for x in args.conns.split(",")]:
            r = measure(n, args)
            print("| %d | %.2f ms | %.2f ms | %.3f (%.3f–%.3f) | %.1f MB "
                  "| %.1f MB | %.2f KiB | %d | %d |%s"
                  % (n, r["plain_ms"], r["sink_ms"], r["ratio"],
                     r["ratio_min"], r["ratio_max"], r["plain_rss_mb"],
                     r["rss_mb"], (r["rss_mb"] * 2**20 - idle) / 1024 / n,
                     r["sent"], r["dropped"],
                     "" if r["ok"] else " (a daemon run failed)"),
                  flush=True)
        return
    print("| N | sockets/dump | changed/cycle | floor CPU/cycle "
          "| tcp-info CPU/cycle | ratio (range) "
          "| RSS | per conn | fds | bytes/record | cycles/s "
          "| start-up CPU/conn | archived |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.conns.split(",")]:
        r = measure(n, args)
        print("| %d | %d | %.1f %% | %.2f ms | %.2f ms | %.2f (%.2f–%.2f) "
              "| %.1f MB | %.2f KiB | %d | %.0f | %.1f | %.0f µs | %.1f %% |%s"
              % (r["n"], r["sockets"], r["changed_pct"], r["floor_ms"],
                 r["daemon_ms"], r["ratio"], r["ratio_min"], r["ratio_max"],
                 r["rss_mb"],
                 (r["rss_mb"] * 2**20 - idle) / 1024 / n, r["fds"],
                 r["bytes_per_record"], r["rate"], r["startup_us"],
                 r["archived"],
                 "" if r["ok"] else " (a daemon run failed)"),
              flush=True)


def run_daemon_idle(args):
    """Resident memory of a daemon polling an empty namespace."""
    name = "bi%d" % (os.getpid() % 10000)
    farm("up", "--name", name)
    try:
        r = run_daemon(name, 200, args.interval, idle=True)
        return sorted(r["rss"])[len(r["rss"]) // 2] if r["rss"] else 0
    finally:
        farm("down", "--name", name, "--force", check=False)


if __name__ == "__main__":
    main()
