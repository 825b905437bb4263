#!/usr/bin/env python3
"""Benchmark driver: tcp-info's cost per polling cycle against the kernel's.

For each N it holds N real connections (1 % streaming) between two connfarm
namespaces and, in the same run, interleaved:

  floor    build/bin/dump_bench BM_DumpFloor/10: a bare libmnl dump loop with
           exactly the daemon's request, paced 10 ms apart like the daemon,
           only walking the messages (CPU per dump). Measured before and after
           the daemon runs; the mean is used.
  daemon   build/bin/tcp-info with archives written, run twice, -reps SHORT
           and -reps SHORT+CYCLES; CPU (user + sys, from wait4) per cycle is
           the difference divided by CYCLES, so start-up and the first burst
           of new files cancel out.

and prints one table row per N: floor and daemon CPU per cycle, their ratio,
steady resident memory and memory per connection above an idle daemon's,
open descriptors, archive bytes per written record, and the polling rate the
long run achieved.

Usage (root, from the repository, after ./build.sh bench or a build):
  bench/driver.py                       # N = 1000, 10000, 50000
  bench/driver.py --conns 1000 --cycles 200
"""

import argparse
import json
import os
import re
import shutil
import signal
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


def run_daemon(name, reps, interval, sample=False):
    """Runs tcp-info -reps `reps`; returns a dict of what it cost."""
    out = tempfile.mkdtemp(prefix="tcpinfo-bench-")
    argv = in_ns(name, [os.path.join(BIN, "tcp-info"), "-output", out,
                        "-reps", str(reps), "-interval", interval,
                        "-prometheusx.listen-address="])
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    rss, fds = [], []
    # wait4 (not Popen.poll) reaps it, for its rusage. ip netns exec execs
    # the daemon: same pid.
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if not sample else os.WNOHANG)
        if pid == proc.pid:
            break
        time.sleep(0.5)
        r = status_value(proc.pid, "VmRSS")
        if r:
            rss.append(r)
            try:
                fds.append(len(os.listdir("/proc/%d/fd" % proc.pid)))
            except OSError:
                pass
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    stderr = proc.stderr.read()
    summary = {}
    for k, v in re.findall(r"(\w+)=(\d+)", stderr.splitlines()[-1]
                           if stderr else ""):
        summary[k] = int(v)
    size = 0
    for dirpath, _, files in os.walk(out):
        for f in files:
            size += os.path.getsize(os.path.join(dirpath, f))
    shutil.rmtree(out, ignore_errors=True)
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss": usage.ru_maxrss * 1024,
        "wall": wall,
        "rss": rss,
        "fds": fds,
        "records": summary.get("records_written", 0),
        "cycles": summary.get("cycles", reps),
        "bytes": size,
        "ok": os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
    }


def measure(n, args):
    name = "bn%d" % (os.getpid() % 10000)
    ready = os.path.join(tempfile.gettempdir(), name + ".ready")
    farm("up", "--name", name)
    run = None
    try:
        active = max(1, n * args.streaming_pct // 100)
        run = subprocess.Popen(
            [CONNFARM, "run", "--name", name, "--conns", str(n),
             "--active", str(active), "--duration", "3600",
             "--v6-fraction", "0.2", "--ready-file", ready],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not os.path.exists(ready):
            if time.monotonic() > deadline or run.poll() is not None:
                raise RuntimeError("connfarm did not establish %d" % n)
            time.sleep(0.2)
        time.sleep(2)  # let the establishment burst settle

        # Rounds of floor, short run, long run, floor: each round gives one
        # ratio; the medians over rounds are reported, with the range.
        rounds = []
        for _ in range(args.repeat):
            floor1, sockets = floor_cpu_per_dump(name, args.interval)
            short = run_daemon(name, args.short, args.interval)
            long = run_daemon(name, args.short + args.cycles, args.interval,
                              sample=True)
            floor2, _ = floor_cpu_per_dump(name, args.interval)
            floor = (floor1 + floor2) / 2
            per_cycle = (long["cpu"] - short["cpu"]) / args.cycles
            rounds.append({
                "floor": floor, "daemon": per_cycle,
                "ratio": per_cycle / floor, "long": long, "short": short,
                "sockets": sockets,
                "changed": (long["records"] - short["records"])
                / (args.cycles * max(1, sockets)),
            })
        med = lambda key: median([r[key] for r in rounds])
        long = rounds[-1]["long"]
        rss = [x for r in rounds for x in r["long"]["rss"]]
        steady = median(rss) if rss else long["maxrss"]
        return {
            "n": n, "sockets": rounds[-1]["sockets"],
            "floor_ms": med("floor") * 1e3, "daemon_ms": med("daemon") * 1e3,
            "ratio": med("ratio"),
            "ratio_min": min(r["ratio"] for r in rounds),
            "ratio_max": max(r["ratio"] for r in rounds),
            "changed_pct": med("changed") * 100,
            "rss_mb": steady / 2**20,
            "fds": max(x for r in rounds for x in r["long"]["fds"] or [0]),
            "bytes_per_record": long["bytes"] / max(1, long["records"]),
            "rate": median([r["long"]["cycles"] / r["long"]["wall"]
                            for r in rounds]),
            "ok": all(r["short"]["ok"] and r["long"]["ok"] for r in rounds),
        }
    finally:
        if run is not None and run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
        farm("down", "--name", name, "--force", check=False)


def median(values):
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--conns", default="1000,10000,50000",
                   help="comma-separated connection counts")
    p.add_argument("--cycles", type=int, default=300,
                   help="cycles measured (long run minus short run)")
    p.add_argument("--short", type=int, default=20, help="short run's -reps")
    p.add_argument("--interval", default="10ms",
                   help="polling interval of daemon and floor: 10ms or 100ms")
    p.add_argument("--repeat", type=int, default=3,
                   help="rounds per N; medians are reported")
    p.add_argument("--streaming-pct", type=int, default=1,
                   help="percent of connections streaming (each sends "
                   "every 100 ms: 10 with --interval 100ms makes about "
                   "10 %% of connections change every cycle)")
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
    print("| N | sockets/dump | changed/cycle | floor CPU/cycle "
          "| tcp-info CPU/cycle | ratio (range) "
          "| RSS | per conn | fds | bytes/record | cycles/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.conns.split(",")]:
        r = measure(n, args)
        print("| %d | %d | %.1f %% | %.2f ms | %.2f ms | %.2f (%.2f–%.2f) "
              "| %.1f MB | %.2f KiB | %d | %.0f | %.1f |%s"
              % (r["n"], r["sockets"], r["changed_pct"], r["floor_ms"],
                 r["daemon_ms"], r["ratio"], r["ratio_min"], r["ratio_max"],
                 r["rss_mb"],
                 (r["rss_mb"] * 2**20 - idle) / 1024 / n, r["fds"],
                 r["bytes_per_record"], r["rate"],
                 "" if r["ok"] else " (a daemon run failed)"),
              flush=True)


def run_daemon_idle(args):
    """Resident memory of a daemon polling an empty namespace."""
    name = "bi%d" % (os.getpid() % 10000)
    farm("up", "--name", name)
    try:
        r = run_daemon(name, 200, args.interval, sample=True)
        return sorted(r["rss"])[len(r["rss"]) // 2] if r["rss"] else 0
    finally:
        farm("down", "--name", name, "--force", check=False)


if __name__ == "__main__":
    main()
