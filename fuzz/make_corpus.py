#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/ from /work/shared/testdata.

Usage: fuzz/make_corpus.py [TESTDATA_DIR]. Writes only seed-* files, so
regression-* files (inputs that once crashed) are kept.
"""
import json
import os
import struct
import subprocess
import sys

TESTDATA = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/testdata"
MLAB = os.path.join(TESTDATA, "mlab")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NLMSG_HDR = 16
SOCK_DIAG_BY_FAMILY = 20
NLMSG_DONE = 3


def unzstd(name):
    return subprocess.run(["zstd", "-dc", os.path.join(MLAB, name)],
                          check=True, capture_output=True).stdout


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, "seed-" + name), "wb") as f:
        f.write(data)


def raw_messages(dump):
    out, at = [], 0
    while at + NLMSG_HDR <= len(dump):
        length = struct.unpack_from("<I", dump, at)[0]
        if length < NLMSG_HDR:
            break
        out.append(dump[at:at + length])
        at += (length + 3) & ~3
    return out


def main():
    archive = unzstd("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst")
    lines = archive.split(b"\n")
    for i in (0, 1, 2, len(lines) // 2):  # line 0 is the metadata line
        write("record_json", "jdczh-line%d" % i, lines[i])
    finwait = unzstd(
        "finwait2-sample_1554836592_unsafe_000000000135A272.00000.jsonl.zst")
    write("record_json", "finwait2-line1", finwait.split(b"\n")[1])

    snapshot = json.loads(lines[1])
    write("base64", "rawidm", snapshot["RawIDM"].encode())
    for t, attr in enumerate(snapshot["Attributes"] or []):
        if attr and t in (2, 4):  # INET_DIAG_INFO, INET_DIAG_CONG
            write("base64", "attr%d" % t, attr.encode())

    messages = raw_messages(unzstd("raw-netlink-dump.zst"))
    for i in (0, 1, len(messages) // 2, len(messages) - 1):
        write("split_message", "raw%d" % i, messages[i][NLMSG_HDR:])
    done = struct.pack("<IHHIIi", NLMSG_HDR + 4, NLMSG_DONE, 2, 0, 0, 0)
    write("dump_walk", "three-and-done",
          b"".join(m + b"\0" * (-len(m) % 4) for m in messages[:3]) + done)
    write("dump_walk", "one", messages[0])
    write("dump_walk", "done", done)

    for seed, name in (
            ("jdczh-00183.zst",
             "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst"),
            ("jdczh-00185.zst",
             "ndt-jdczh_1553815964_00000000000003E8.00185.jsonl.zst"),
            ("finwait2.zst",
             "finwait2-sample_1554836592_unsafe_000000000135A272.00000"
             ".jsonl.zst")):
        with open(os.path.join(MLAB, name), "rb") as f:
            write("csvtool", seed, f.read())
    write("csvtool", "plain-lines", b"\n".join(lines[:4]) + b"\n")
    write("csvtool", "raw-messages",
          b"".join(m + b"\0" * (-len(m) % 4) for m in messages[:4]))


if __name__ == "__main__":
    main()
