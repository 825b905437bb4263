#!/usr/bin/env python3
"""Soak test: tcp-info under heavy churn for minutes, resident memory flat.

Holds N real connections (default 50,000, 20 % IPv6) between two connfarm
namespaces with heavy churn (connections closed and replaced, short-lived
connections opened and closed within milliseconds, some streaming), runs
build/bin/tcp-info in the client namespace at its default 10 ms interval
(archives to a temporary directory, metrics on a port inside the namespace)
for --duration seconds, samples its resident memory (VmRSS), open descriptors
and polling rate every --sample seconds, stops it with SIGTERM and checks:

  rss     after --warmup seconds, resident memory is flat: the highest sample
          of the second half exceeds the median of the first half by at most
          max(--rss-mb MiB, --rss-pct %), and the least-squares slope over the
          whole measured window is at most max(--slope-mb MiB, --slope-pct %)
          per minute.
  fds     never more than --max-fds open, and the second half's highest is at
          most 2 above the first half's (a metrics scrape in flight).
  rate    every sample window polled at least once, and the median polling
          rate of the second half is at least 80 % of the first half's.
  files   the number of distinct archive uuids is within 1 % (or 50) of the
          connections the farm opened while the daemon ran (the ones already
          established when it started, the ones opened after, short-lived
          ones included: destroy events catch those); a sample of files
          decodes, each starting with its metadata record.
  exit    tcp-info exits 0 on SIGTERM within 30 s.

Why a warm-up: the daemon remembers connections finished by their destroy
event for 60 s (so a dump already in flight cannot reopen them), so that map
grows for the first minute of churn and is steady after it; 90 s also lets the
hash tables and the writer's batch buffers reach their working size. A leak
of one cache entry (about 0.6 KiB) per closed connection at the default 700
closes/s is about 25 MiB a minute, far above the bounds.

Prints a table of the samples, the figures and PASS or FAIL; exit code 0 on
PASS, 1 on FAIL, 2 on a set-up error.

Usage (root, from the repository, after a build):
  bench/soak.py                                   # 50,000 connections, 5 min
  bench/soak.py --conns 2000 --duration 120 --warmup 40
"""

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from driver import CONNFARM, farm, status_value  # bench/driver.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 2**20


class FarmRun:
    """`connfarm run`, its latest stats line kept as a dict of ints."""

    def __init__(self, name, args, ready):
        argv = [CONNFARM, "run", "--name", name, "--conns", str(args.conns),
                "--active", str(args.active), "--churn", str(args.churn),
                "--short-lived-per-sec", str(args.short_lived_per_sec),
                "--v6-fraction", str(args.v6_fraction),
                "--duration", str(min(3600, args.duration + 600)),
                "--stats-interval", "1", "--ready-file", ready]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lock = threading.Lock()
        self.stats = {}
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("stats "):
                    self.stats = {k: int(v) for k, v in
                                  re.findall(r"(\w+)=(\d+)\b", line)}

    def latest(self):
        with self.lock:
            return dict(self.stats)

    def wait_stats_after(self, when):
        """The first stats line read after monotonic time `when` (<= 3 s)."""
        deadline = time.monotonic() + 3
        first = self.latest()
        while time.monotonic() < deadline:
            s = self.latest()
            if s != first and time.monotonic() > when:
                return s
            time.sleep(0.05)
        return self.latest()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(timeout=5)


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def scrape_cycles(name, port):
    """Polling cycles so far, from the daemon's /metrics; None if unknown."""
    try:
        out = subprocess.run(
            ["ip", "netns", "exec", name + "-cli", "curl", "-sf", "-m", "2",
             "http://127.0.0.1:%d/metrics" % port],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            timeout=5).stdout
    except subprocess.TimeoutExpired:
        return None
    m = re.search(r"^tcpinfo_polling_interval_histogram_count (\S+)$", out,
                  re.M)
    return int(float(m.group(1))) + 1 if m else None


def slope_per_minute(points):
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return 60 * sum((t - mt) * (v - mv) for t, v in points) / den


def archive_uuids(out):
    uuids, files = set(), []
    for dirpath, _, names in os.walk(out):
        for f in names:
            if f.endswith(".jsonl.zst"):
                uuids.add(f.split(".", 1)[0])
                files.append(os.path.join(dirpath, f))
    return uuids, files


def check_sample(files, k):
    """Decodes k random archive files; a list of problems found."""
    problems = []
    for path in random.Random(1).sample(files, min(k, len(files))):
        r = subprocess.run(["zstd", "-dcq", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        lines = r.stdout.splitlines()
        if r.returncode != 0 or not r.stdout.endswith("\n"):
            problems.append("%s: does not decode (%s)" % (path, r.stderr.strip()))
        elif not lines[0].startswith('{"Timestamp":"0001-01-01T00:00:00Z",'
                                     '"Metadata":'):
            problems.append("%s: first line is not metadata" % path)
        elif len(lines) < 2:
            problems.append("%s: no snapshot" % path)
    return problems


def evaluate(samples, args):
    """Checks the samples; (list of (check, ok, text)), figures dict."""
    checks = []
    measured = [s for s in samples if s["t"] >= args.warmup]
    if len(measured) < 4:
        return [("samples", False, "fewer than 4 samples after the warm-up")], {}
    half = len(measured) // 2
    first, second = measured[:half], measured[half:]
    base = statistics.median(s["rss"] for s in first)
    peak = max(s["rss"] for s in second)
    growth = peak - base
    allowed = max(args.rss_mb * MIB, args.rss_pct / 100 * base)
    checks.append(("rss growth", growth <= allowed,
                   "max of 2nd half %.1f MiB - median of 1st half %.1f MiB = "
                   "%+.2f MiB (allowed %.2f)" % (peak / MIB, base / MIB,
                                                  growth / MIB, allowed / MIB)))
    slope = slope_per_minute([(s["t"], s["rss"]) for s in measured])
    allowed = max(args.slope_mb * MIB, args.slope_pct / 100 * base)
    checks.append(("rss slope", slope <= allowed,
                   "%+.3f MiB/min over %.0f s (allowed %.2f)"
                   % (slope / MIB, measured[-1]["t"] - measured[0]["t"],
                      allowed / MIB)))
    fds_all = max(s["fds"] for s in samples)
    fds_first = max(s["fds"] for s in first)
    fds_second = max(s["fds"] for s in second)
    checks.append(("fds", fds_all <= args.max_fds and
                   fds_second <= fds_first + 2,
                   "max %d (allowed %d), 1st half max %d, 2nd half max %d"
                   % (fds_all, args.max_fds, fds_first, fds_second)))
    rates = [s["rate"] for s in samples[1:] if s["rate"] is not None]
    figures = {"base": base, "peak": peak, "slope": slope, "fds": fds_all}
    if rates:
        r1 = statistics.median(s["rate"] for s in first
                               if s["rate"] is not None)
        r2 = statistics.median(s["rate"] for s in second
                               if s["rate"] is not None)
        figures.update(rate1=r1, rate2=r2, rate_min=min(rates))
        checks.append(("rate", min(rates) > 0 and r2 >= 0.8 * r1,
                       "median %.1f/s (1st half) %.1f/s (2nd half), lowest "
                       "window %.1f/s" % (r1, r2, min(rates))))
    else:
        checks.append(("rate", False, "no polling rate (metrics unreadable)"))
    return checks, figures


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--conns", type=int, default=50000)
    p.add_argument("--v6-fraction", type=float, default=0.2)
    p.add_argument("--active", type=int, default=500)
    p.add_argument("--churn", type=int, default=500,
                   help="connections closed and replaced per second")
    p.add_argument("--short-lived-per-sec", type=int, default=200)
    p.add_argument("--duration", type=float, default=300,
                   help="seconds the daemon runs")
    p.add_argument("--warmup", type=float, default=90,
                   help="seconds excluded from the flatness checks")
    p.add_argument("--sample", type=float, default=5, help="seconds")
    p.add_argument("--rss-mb", type=float, default=4)
    p.add_argument("--rss-pct", type=float, default=5)
    p.add_argument("--slope-mb", type=float, default=1)
    p.add_argument("--slope-pct", type=float, default=1)
    p.add_argument("--max-fds", type=int, default=32)
    p.add_argument("--metrics-port", type=int, default=9990,
                   help="inside the farm's namespace")
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "bin",
                                                     "tcp-info"))
    p.add_argument("--keep", action="store_true",
                   help="keep the archive directory")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak.py: needs root (network namespaces)")
    if not os.access(args.binary, os.X_OK):
        sys.exit("soak.py: %s missing: build first" % args.binary)

    name = "sk%d" % (os.getpid() % 10000)
    work = tempfile.mkdtemp(prefix="tcpinfo-soak-")
    out = os.path.join(work, "out")
    os.mkdir(out)
    prefix = "soak%d" % os.getpid()
    with open(os.path.join(work, "prefix"), "w") as f:
        f.write(prefix + "\n")
    ready = os.path.join(work, "ready")
    log = os.path.join(work, "tcp-info.log")
    run, daemon, ok = None, None, False
    farm("up", "--name", name)
    try:
        t0 = time.monotonic()
        run = FarmRun(name, args, ready)
        while not os.path.exists(ready):
            if time.monotonic() - t0 > 300 or run.proc.poll() is not None:
                print("\n".join(run.lines[-20:]))
                print("soak.py: connfarm did not establish %d" % args.conns)
                return 2
            time.sleep(0.2)
        print("farm %s: %d connections in %.1f s; churn %d/s, short-lived "
              "%d/s, %d active, %.0f %% IPv6" % (
                  name, args.conns, time.monotonic() - t0, args.churn,
                  args.short_lived_per_sec, args.active,
                  100 * args.v6_fraction), flush=True)
        time.sleep(2)
        at_start = run.latest()
        with open(log, "w") as logf:
            daemon = subprocess.Popen(
                ["ip", "netns", "exec", name + "-cli", args.binary,
                 "-output", out, "-uuid-prefix-file",
                 os.path.join(work, "prefix"),
                 "-prometheusx.listen-address=127.0.0.1:%d"
                 % args.metrics_port],
                stdout=logf, stderr=subprocess.STDOUT)
        start = time.monotonic()
        samples = []
        print("|      t |  RSS MiB | fds | cycles/s | CPU % | farm est. "
              "| farm opened | short |")
        print("|-------:|---------:|----:|---------:|------:|----------:"
              "|------------:|------:|", flush=True)
        prev = None
        next_sample = start + args.sample
        while time.monotonic() < start + args.duration:
            time.sleep(max(0, next_sample - time.monotonic()))
            next_sample += args.sample
            if daemon.poll() is not None:
                print("soak.py: tcp-info exited early (%d)" % daemon.returncode)
                break
            now = time.monotonic()
            s = {"t": now - start, "rss": status_value(daemon.pid, "VmRSS") or None,
                 "fds": open_fds(daemon.pid), "cpu": cpu_seconds(daemon.pid),
                 "cycles": scrape_cycles(name, args.metrics_port),
                 "rate": None, "cpu_pct": None}
            if s["rss"] is None or s["fds"] is None:
                continue
            if prev is not None:
                dt = s["t"] - prev["t"]
                if s["cycles"] is not None and prev["cycles"] is not None:
                    s["rate"] = (s["cycles"] - prev["cycles"]) / dt
                if s["cpu"] is not None and prev["cpu"] is not None:
                    s["cpu_pct"] = 100 * (s["cpu"] - prev["cpu"]) / dt
            samples.append(s)
            prev = s
            fs = run.latest()
            print("| %6.1f | %8.1f | %3d | %8s | %5s | %9d | %11d | %5d |" % (
                s["t"], s["rss"] / MIB, s["fds"],
                "-" if s["rate"] is None else "%.1f" % s["rate"],
                "-" if s["cpu_pct"] is None else "%.0f" % s["cpu_pct"],
                fs.get("established", 0), fs.get("opened", 0),
                fs.get("short", 0)), flush=True)

        stop_time = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        at_stop = run.wait_stats_after(stop_time)
        try:
            code = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            code = daemon.wait()
        exit_wall = time.monotonic() - stop_time
        run.stop()

        checks, figures = evaluate(samples, args)
        checks.append(("exit", code == 0,
                       "exit code %d %.1f s after SIGTERM" % (code, exit_wall)))
        uuids, files = archive_uuids(out)
        # connfarm's "opened" counts short-lived connections too.
        expected = (at_start.get("established", 0) +
                    at_stop.get("opened", 0) - at_start.get("opened", 0))
        slack = max(50, expected // 100)
        checks.append(("files", abs(len(uuids) - expected) <= slack,
                       "%d archived connections (%d files), farm opened about "
                       "%d while the daemon ran (allowed +-%d)"
                       % (len(uuids), len(files), expected, slack)))
        problems = check_sample(files, 200)
        checks.append(("decode", not problems and files,
                       "%d random files decode, metadata first"
                       % min(200, len(files)) if not problems
                       else "; ".join(problems[:3])))

        with open(log) as f:
            daemon_log = f.read().splitlines()
        summary = [l for l in daemon_log if "summary " in l]
        print()
        print(summary[-1] if summary else "tcp-info: no summary line")
        errors = [l for l in daemon_log if "summary " not in l]
        if errors:
            print("tcp-info also logged %d other lines, first: %s"
                  % (len(errors), errors[0]))
        print("load: %s" % open("/proc/loadavg").read().strip())
        ok = all(c[1] for c in checks)
        for check, passed, text in checks:
            print("%-10s %s  %s" % (check, "ok  " if passed else "FAIL", text))
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if run is not None:
            run.stop()
        farm("down", "--name", name, "--force", check=False)
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
