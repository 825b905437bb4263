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
the sink sent (tcpinfo_sink_records_total) and dropped. With --filter EXPR
it compares tcp-info unfiltered and with -filter=EXPR the same way, and
reports the share of connections the filter selected (files archived).
With --traffic it compares tcp-info without and with -traffic the same
way.
--flags FLAGS compares the same way without and with those daemon flags:
--flags=-owners gives the cost of owner attribution (/proc scans, the BPF
hook, per-owner sums).

Usage (root, from the repository, after ./build.sh bench or a build):
  bench/driver.py                       # N = 1000, 10000, 50000
  bench/driver.py --conns 1000 --cycles 200
  bench/driver.py --conns 10000 --streaming-pct 10 --interval 100ms
  bench/driver.py --conns 10000 --churn 100 --sink 'sqlite:{out}/flows.db'
  bench/driver.py --poll --conns 1000,10000 --active-pcts 1,10
  bench/driver.py --life 100,1000

With --poll it compares -poll.mode=full and -poll.mode=adaptive the same
way (CPU per second, alternating order), on an idle host and at each N and
streaming percent. With --life it measures the CPU of a connection's life
(first sighting, snapshots, file, final record, close) with 1000 held
connections and C replaced per second: the CPU per second above the same
farm without churn, divided by C.
  bench/driver.py --conns 10000 --filter '{1pct}'
  bench/driver.py --conns 10000 --traffic
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
    """User + system CPU of process `pid` (all its threads) so far: the
    scheduler's nanosecond run time of each thread (/proc/PID/task/*/
    schedstat; a thread that ended is missing), else the clock ticks of
    /proc/PID/stat (10 ms resolution)."""
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        if total > 0:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_files(root):
    return sum(len(files) for _, _, files in os.walk(root))


def run_daemon(name, cycles, interval, idle=False, timeout=900, flags=()):
    """Runs tcp-info until it is in steady state, then measures `cycles`
    polling cycles; returns a dict of what they cost. `idle`: the namespace
    holds no connection (no file to wait for). `flags`: more flags, "{out}"
    in them standing for the output directory."""
    out = tempfile.mkdtemp(prefix="tcpinfo-bench-")
    extra = [f.replace("{out}", out) for f in flags]
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
            # A -filter that selects nothing: no file will come.
            if files == 0 and m.get(
                    "tcpinfo_polling_interval_histogram_count", 0) > 200:
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
        "cpu_per_second": (cpu2 - cpu1) / max(1e-9, sum_intervals(m1, m2)),
        "exact_requests": m2.get("tcpinfo_poll_exact_requests_total", 0)
        - m1.get("tcpinfo_poll_exact_requests_total", 0),
        "full_dumps": m2.get("tcpinfo_poll_full_dumps_total", 0)
        - m1.get("tcpinfo_poll_full_dumps_total", 0),
        "fallbacks": m2.get("tcpinfo_poll_fallbacks_total", 0),
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
        "traffic_series": sum(1 for k in m2
                              if k.startswith("ntm_bytes_total{")),
        "traffic_bytes": sum(v for k, v in m2.items()
                             if k.startswith("ntm_bytes_total{")),
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
        if args.sink:
            return compare(n, name, args, ["-sink=" + args.sink])
        if args.poll:
            return compare_poll(n, name, args)
        if args.filter:
            return compare(n, name, args,
                           ["-filter=" + args.filter.replace(
                               "{1pct}", one_percent_of_ports(name))])
        if args.traffic:
            return compare(n, name, args, ["-traffic"])
        if args.flags:
            return compare(n, name, args, args.flags.split())
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


def one_percent_of_ports(name):
    """A filter on local ports that selects 1 % of the farm's client
    sockets now (the kernel's ephemeral ports are far from uniform)."""
    out = subprocess.run(in_ns(name, ["ss", "-tnH", "state", "established"]),
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    ports = sorted(int(line.split()[2].rsplit(":", 1)[1])
                   for line in out.splitlines() if line.strip())
    first = len(ports) // 2
    last = first + max(1, len(ports) // 100) - 1
    return "sport >= %d and sport <= %d" % (ports[first], ports[last])


def compare(n, name, args, flags):
    """Rounds of plain tcp-info and tcp-info with `flags` (-sink=URL or
    -filter=EXPR), in alternating order: under churn the kernel's socket
    table (TIME_WAIT sockets included) keeps changing, and a fixed order
    would charge the drift to the second run of every round."""
    rounds = []
    for i in range(args.repeat):
        def run(flags=()):
            return run_daemon(name, args.cycles, args.interval, flags=flags)
        if i % 2 == 0:
            plain = run()
            with_sink = run(flags)
        else:
            with_sink = run(flags)
            plain = run()
        rounds.append({"plain": plain["cpu_per_cycle"],
                       "sink": with_sink["cpu_per_cycle"],
                       "ratio": with_sink["cpu_per_cycle"]
                       / plain["cpu_per_cycle"],
                       "rss": with_sink["rss"], "plain_rss": plain["rss"],
                       "sent": with_sink["sink_sent"],
                       "dropped": with_sink["sink_dropped"],
                       "selected": with_sink["files"] / max(1, plain["files"]),
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
            "selected_pct": med("selected") * 100, "flags": " ".join(flags),
            "ok": all(r["ok"] for r in rounds)}


def compare_poll(n, name, args, idle=False):
    """Rounds of tcp-info with -poll.mode=full and -poll.mode=adaptive on the
    same connections, in alternating order: CPU per second of each, their
    ratio, and what the adaptive daemon asked (exact requests and full dumps
    per second)."""
    rounds = []
    for i in range(args.repeat):
        def run(mode):
            return run_daemon(name, args.cycles, args.interval, idle=idle,
                              flags=["-poll.mode=" + mode])
        if i % 2 == 0:
            full = run("full")
            adaptive = run("adaptive")
        else:
            adaptive = run("adaptive")
            full = run("full")
        seconds = adaptive["cycles"] / max(1e-9, adaptive["rate"])
        rounds.append({"full": full["cpu_per_second"],
                       "adaptive": adaptive["cpu_per_second"],
                       "ratio": adaptive["cpu_per_second"]
                       / full["cpu_per_second"],
                       "exact": adaptive["exact_requests"] / seconds,
                       "dumps": adaptive["full_dumps"] / seconds,
                       "fallbacks": adaptive["fallbacks"],
                       "full_rate": full["rate"],
                       "adaptive_rate": adaptive["rate"],
                       "ok": full["ok"] and adaptive["ok"]})
    med = lambda key: median([r[key] for r in rounds])
    return {"n": n, "full_ms": med("full") * 1e3,
            "adaptive_ms": med("adaptive") * 1e3, "ratio": med("ratio"),
            "ratio_min": min(r["ratio"] for r in rounds),
            "ratio_max": max(r["ratio"] for r in rounds),
            "exact": med("exact"), "dumps": med("dumps"),
            "fallbacks": max(r["fallbacks"] for r in rounds),
            "full_rate": med("full_rate"), "adaptive_rate": med("adaptive_rate"),
            "ok": all(r["ok"] for r in rounds)}


def poll_idle_host(args):
    """compare_poll on an empty client namespace (an idle host)."""
    name = "bp%d" % (os.getpid() % 10000)
    farm("up", "--name", name)
    try:
        return compare_poll(0, name, args, idle=True)
    finally:
        farm("down", "--name", name, "--force", check=False)


def measure_life(held, churn, args):
    """The cost of a connection's life (issue 20, item 5): with `held`
    connections and `churn` of them replaced per second (connfarm --churn,
    short-lived ones off), the daemon's CPU per second above that of the
    same farm without churn, per new connection, for -poll.mode=full and
    adaptive (alternating order). The churned farm runs args.life_settle
    seconds first: its TIME_WAIT sockets, which every full dump walks, reach
    their steady number after tcp_fin_timeout (60 s)."""
    name = "bl%d" % (os.getpid() % 10000)
    ready = os.path.join(tempfile.gettempdir(), name + ".ready")
    modes = ("full", "adaptive")
    rounds = {m: [] for m in modes}
    for i in range(args.repeat):
        cost = {}
        for c in (0, churn):
            farm("up", "--name", name)
            run = subprocess.Popen(
                [CONNFARM, "run", "--name", name, "--conns", str(held),
                 "--active", "1", "--churn", str(c),
                 "--short-lived-per-sec", "0", "--duration", "3600",
                 "--ready-file", ready],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 120
                while not os.path.exists(ready):
                    if time.monotonic() > deadline or run.poll() is not None:
                        raise RuntimeError("connfarm did not establish")
                    time.sleep(0.2)
                time.sleep(args.life_settle if c else 2)
                order = modes if i % 2 == 0 else modes[::-1]
                for m in order:
                    cost[(c, m)] = run_daemon(
                        name, args.cycles, args.interval,
                        flags=["-poll.mode=" + m])["cpu_per_second"]
            finally:
                run.send_signal(signal.SIGTERM)
                try:
                    run.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    run.kill()
                farm("down", "--name", name, "--force", check=False)
        for m in modes:
            rounds[m].append((cost[(churn, m)] - cost[(0, m)]) / churn)
    return {m: {"median_us": median(rounds[m]) * 1e6,
                "min_us": min(rounds[m]) * 1e6,
                "max_us": max(rounds[m]) * 1e6} for m in modes}


def median(values):
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


def print_table(args, columns, row):
    """A table of one row per N: row(n, measure(n, args)) formats it."""
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for n in [int(x) for x in args.conns.split(",")]:
        r = measure(n, args)
        print(row(n, r) + ("" if r["ok"] else " (a daemon run failed)"),
              flush=True)


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
    p.add_argument("--poll", action="store_true",
                   help="compare -poll.mode=full and adaptive: CPU per "
                   "second at each N and each --active-pcts, and on an idle "
                   "host")
    p.add_argument("--active-pcts", default="1,10",
                   help="with --poll: comma-separated streaming percents")
    p.add_argument("--life", default="",
                   help="comma-separated churn rates: CPU per connection "
                   "life at each (1000 held; full and adaptive polling)")
    p.add_argument("--life-settle", type=int, default=60,
                   help="with --life: seconds of churn before measuring")
    p.add_argument("--filter", default="",
                   help="compare tcp-info unfiltered and with -filter=EXPR "
                   "({1pct} = a local-port range holding 1 %% of the "
                   "connections)")
    p.add_argument("--traffic", action="store_true",
                   help="compare tcp-info without and with -traffic")
    p.add_argument("--flags", default="",
                   help="compare tcp-info without and with these flags "
                   "(white-space separated), e.g. -owners")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("driver.py: needs root (network namespaces)")
    # Comparisons run no floor.
    comparing = args.sink or args.traffic or args.filter or args.poll or args.flags
    for b in ("tcp-info",) if comparing else ("tcp-info", "dump_bench"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            sys.exit("driver.py: build/bin/%s missing: run ./build.sh bench" % b)
    if args.life:
        print("interval %s, 1000 held connections, %d rounds of %d cycles, "
              "churn settled %d s" % (args.interval, args.repeat, args.cycles,
                                      args.life_settle))
        print("| new connections/s | CPU per life, full (range) "
              "| CPU per life, adaptive (range) |")
        print("|---|---|---|")
        for c in [int(x) for x in args.life.split(",")]:
            r = measure_life(1000, c, args)
            print("| %d | %.0f µs (%.0f–%.0f) | %.0f µs (%.0f–%.0f) |"
                  % (c, r["full"]["median_us"], r["full"]["min_us"],
                     r["full"]["max_us"], r["adaptive"]["median_us"],
                     r["adaptive"]["min_us"], r["adaptive"]["max_us"]),
                  flush=True)
        return
    if args.poll:
        print("interval %s, %d rounds of %d cycles (medians), order "
              "alternating" % (args.interval, args.repeat, args.cycles))
        print("| N | active | full CPU/s | adaptive CPU/s | ratio (range) "
              "| exact requests/s | full dumps/s | fallbacks "
              "| cycles/s full / adaptive |")
        print("|---|---|---|---|---|---|---|---|---|")

        def row(r, pct):
            print("| %d | %s | %.1f ms | %.1f ms | %.3f (%.3f–%.3f) | %.0f "
                  "| %.1f | %d | %.0f / %.0f |%s"
                  % (r["n"], pct, r["full_ms"], r["adaptive_ms"], r["ratio"],
                     r["ratio_min"], r["ratio_max"], r["exact"], r["dumps"],
                     r["fallbacks"], r["full_rate"], r["adaptive_rate"],
                     "" if r["ok"] else " (a daemon run failed)"),
                  flush=True)
        row(poll_idle_host(args), "idle host")
        for n in [int(x) for x in args.conns.split(",")]:
            for pct in [int(x) for x in args.active_pcts.split(",")]:
                args.streaming_pct = pct
                row(measure(n, args), "%d %%" % pct)
        return
    idle = run_daemon_idle(args)
    print("machine: %s, %d cores; idle daemon RSS %.1f MB"
          % (os.uname().release, os.cpu_count(), idle / 2**20))
    print("interval %s, %d %% streaming, %d rounds of %d cycles (medians)"
          % (args.interval, args.streaming_pct, args.repeat, args.cycles))
    if args.traffic and not args.sink:
        print("interval %s, %d %% streaming, churn %d/s, %d rounds of %d "
              "cycles (medians); -traffic"
              % (args.interval, args.streaming_pct, args.churn, args.repeat,
                 args.cycles))
        print_table(args, ["N", "without CPU/cycle", "-traffic CPU/cycle",
                           "ratio (range)", "RSS without", "RSS -traffic"],
                    lambda n, r: "| %d | %.3f ms | %.3f ms | %.3f (%.3f–%.3f) "
                    "| %.1f MB | %.1f MB |"
                    % (n, r["plain_ms"], r["sink_ms"], r["ratio"],
                       r["ratio_min"], r["ratio_max"], r["plain_rss_mb"],
                       r["rss_mb"]))
        return
    if args.flags and not args.sink:
        print("flags %s" % args.flags)
        print_table(args, ["N", "without CPU/cycle", "with CPU/cycle",
                           "ratio (range)", "RSS without", "RSS with",
                           "per conn with"],
                    lambda n, r: "| %d | %.2f ms | %.2f ms | %.3f (%.3f–%.3f) "
                    "| %.1f MB | %.1f MB | %.2f KiB |"
                    % (n, r["plain_ms"], r["sink_ms"], r["ratio"],
                       r["ratio_min"], r["ratio_max"], r["plain_rss_mb"],
                       r["rss_mb"], (r["rss_mb"] * 2**20 - idle) / 1024 / n))
        return
    if args.sink:
        print("interval %s, %d %% streaming, churn %d/s, %d rounds of %d "
              "cycles (medians); sink %s, flags %s"
              % (args.interval, args.streaming_pct, args.churn, args.repeat,
                 args.cycles, args.sink))
        print_table(args, ["N", "no sink CPU/cycle", "with sink CPU/cycle",
                           "ratio (range)", "RSS no sink", "RSS with sink",
                           "per conn with sink", "records sent", "dropped"],
                    lambda n, r: "| %d | %.2f ms | %.2f ms | %.3f (%.3f–%.3f) "
                    "| %.1f MB | %.1f MB | %.2f KiB | %d | %d |"
                    % (n, r["plain_ms"], r["sink_ms"], r["ratio"],
                       r["ratio_min"], r["ratio_max"], r["plain_rss_mb"],
                       r["rss_mb"], (r["rss_mb"] * 2**20 - idle) / 1024 / n,
                       r["sent"], r["dropped"]))
        return
    if args.filter:
        print("filter %s" % args.filter)
        print_table(args, ["N", "unfiltered CPU/cycle", "filtered CPU/cycle",
                           "ratio (range)", "selected", "RSS unfiltered",
                           "RSS filtered", "flag"],
                    lambda n, r: "| %d | %.2f ms | %.2f ms | %.3f (%.3f–%.3f) "
                    "| %.2f %% | %.1f MB | %.1f MB | `%s` |"
                    % (n, r["plain_ms"], r["sink_ms"], r["ratio"],
                       r["ratio_min"], r["ratio_max"], r["selected_pct"],
                       r["plain_rss_mb"], r["rss_mb"], r["flags"]))
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
