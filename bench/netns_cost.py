#!/usr/bin/env python3
"""Cost of -netns: tcp-info's CPU per polling cycle over many namespaces.

For each case NxC (N namespaces, C connections each) it makes N namespaces
of its own (`ip netns add`, lo up), holds C loopback connections in each
(both ends, made by this process after setns(2) into the namespace), runs
build/bin/tcp-info -netns=<the N names> -interval=<interval> -include-local
(so that every connection is handled like a real one) with archives in a
temporary directory, lets it warm up (--warmup seconds: every connection's
first snapshot written), then reads the daemon's CPU (every thread's time on
CPU, /proc/PID/task/*/schedstat) over --seconds, and prints CPU per cycle and the
share of one core. Each case runs twice: namespaces made with
net.ipv4.tcp_child_ehash_entries=0 (the kernel default: every namespace
shares the host-wide established hash, which each dump walks) and with
--child-ehash (each namespace gets a hash of its own, kernel >= 5.19); the
sysctl is restored afterwards. The namespaces are removed however it ends.

  sudo bench/netns_cost.py                       # 1x100 10x100 100x100 1x10000
  sudo bench/netns_cost.py --cases 100x100 --seconds 30
"""
import argparse
import ctypes
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CLONE_NEWNET = 0x40000000
SYSCTL = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(fd):
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def cpu_seconds(pid):
    """CPU time of every thread of `pid` (schedstat: nanoseconds on CPU)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total / 1e9


class Namespaces:
    """N namespaces named <prefix><i>, each with C loopback connections."""

    def __init__(self, prefix, count, conns, child_ehash):
        self.names = []
        self.sockets = []
        self.workers = []
        old = open(SYSCTL).read().strip()
        try:
            with open(SYSCTL, "w") as f:
                f.write(str(child_ehash))
            for i in range(count):
                self.names.append(f"{prefix}{i}")
                subprocess.run(["ip", "netns", "add", self.names[-1]], check=True)
        except BaseException:
            self.close()
            raise
        finally:
            with open(SYSCTL, "w") as f:
                f.write(old)
        # The connections are held by worker processes, at most 8,000 each
        # (two descriptors a connection; the hard RLIMIT_NOFILE may be low).
        chunks, load = [], 0
        try:
            for name in self.names:
                left = conns
                while left > 0:
                    n = min(left, 8000 - load)
                    chunks.append((name, n))
                    left -= n
                    load += n
                    if load == 8000:
                        self._start_worker(chunks)
                        chunks, load = [], 0
            if chunks:
                self._start_worker(chunks)
        except BaseException:
            self.close()
            raise

    def _start_worker(self, chunks):
        ready_r, ready_w = os.pipe()
        stop_r, stop_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            os.close(stop_w)
            for _, other in self.workers:  # or that worker never sees EOF
                os.close(other)
            code = 0
            try:
                home = os.open("/proc/self/ns/net", os.O_RDONLY)
                self._fill(home, chunks)
                os.write(ready_w, b"1")
                os.read(stop_r, 1)  # until the parent closes it
            except BaseException as e:
                import traceback
                traceback.print_exc()
                code = 1
            os._exit(code)
        os.close(ready_w)
        os.close(stop_r)
        self.workers.append((pid, stop_w))
        ok = os.read(ready_r, 1) == b"1"
        os.close(ready_r)
        if not ok:
            raise RuntimeError("a worker could not make its connections")

    def _fill(self, home, chunks):
        try:
            for name, conns in chunks:
                fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
                setns(fd)
                os.close(fd)
                subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
                self._connect(conns)
        finally:
            setns(home)

    def _connect(self, conns):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        port = listener.getsockname()[1]
        self.sockets.append(listener)
        for _ in range(conns):
            c = socket.create_connection(("127.0.0.1", port))
            s, _ = listener.accept()
            self.sockets += [c, s]

    def close(self):
        for pid, stop in self.workers:
            os.close(stop)
            os.waitpid(pid, 0)
        self.workers = []
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)


def last_cycle(log_path):
    """The number of the last cycle the daemon's debug log reported."""
    last = 0
    with open(log_path, errors="replace") as f:
        for line in f:
            m = re.match(r"tcp-info: debug: cycle (\d+):", line)
            if m:
                last = int(m.group(1))
    return last


def measure(binary, names, interval, warmup, seconds):
    out = tempfile.mkdtemp(prefix="netns_cost_", dir=os.environ.get("TMPDIR", "/tmp"))
    log = open(os.path.join(out, "log"), "w")
    daemon = subprocess.Popen(
        [binary, f"-output={out}/data", f"-netns={','.join(names)}",
         f"-interval={interval}", "-include-local", "-logx.debug=true",
         "-prometheusx.listen-address="], stdout=log, stderr=log)
    try:
        time.sleep(warmup)
        n0, c0, t0 = last_cycle(log.name), cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(seconds)
        n1, c1, t1 = last_cycle(log.name), cpu_seconds(daemon.pid), time.monotonic()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        log.close()
        shutil.rmtree(out, ignore_errors=True)
    # Share of one core, and CPU per cycle (cycles as the debug log, at
    # most one line a second, numbers them).
    return (c1 - c0) / (t1 - t0), (c1 - c0) / max(1, n1 - n0), (n1 - n0) / (t1 - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="1x100,10x100,100x100,1x10000")
    p.add_argument("--interval", default="1s")
    p.add_argument("--child-ehash", type=int, default=1024)
    p.add_argument("--warmup", type=float, default=8)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--binary", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin", "tcp-info"))
    a = p.parse_args()
    # A SIGTERM (timeout(1)) unwinds, so the namespaces are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"interval {a.interval}; CPU per cycle, share of one core, polling rate")
    print("| namespaces x connections | shared host hash | own hash (child_ehash "
          f"{a.child_ehash}) |\n| --- | --- | --- |")
    for case in a.cases.split(","):
        n, c = (int(x) for x in case.split("x"))
        row = []
        for ehash in (0, a.child_ehash):
            ns = Namespaces(f"nc{os.getpid() % 100000}-", n, c, ehash)
            try:
                share, per_cycle, rate = measure(a.binary, ns.names, a.interval,
                                                 a.warmup, a.seconds)
            finally:
                ns.close()
            row.append(f"{per_cycle * 1000:.2f} ms, {share * 100:.2f} % of a core, "
                       f"{rate:.2f} cycles/s")
            print(f"  {n} x {c} child_ehash {ehash}: {row[-1]}", file=sys.stderr,
                  flush=True)
        print(f"| {n} x {c:,} | {row[0]} | {row[1]} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
