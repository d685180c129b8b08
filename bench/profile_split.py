#!/usr/bin/env python3
"""Splits a perf recording of sreracha-operator by what the CPU was doing.

    bench/profile_split.py perf.data
    bench/profile_split.py --script FILE   (`perf script -F comm,tid,ip,sym`
                                            output; - for standard input)

Prints one line:

    profile samples=N client=..% decode=..% cache=..% reconcile=..% other=..%

client: the HTTP client (cpprestsdk and the Boost.Asio, OpenSSL and pplx
work under it, kube::io's hand-offs between the threads that wait, building
requests in kube::Client), with the system calls it makes; decode: splitting
watch streams into events and decoding them (kube::WatchDecoder), with the
informers' handlers; cache: runtime::Store (encoding, decoding, indexes);
reconcile: the rest of sreracha::Reconciler (rendering, comparing, stagger).

Each sample counts once, for the first of those frames met walking from the
leaf towards the thread's start: decoding inside a request's wait counts as
decode, an Asio handler run by a waiting worker as client. The recording
needs whole call chains (`perf record --call-graph dwarf`): cpprestsdk and
libc keep no frame pointers, and with `-g` most chains stop at their first
frame.
"""
import re
import subprocess
import sys
from collections import Counter

CATEGORIES = [
    ("cache", re.compile(r"runtime::Store::")),
    ("decode", re.compile(r"kube::WatchDecoder::|runtime::Informer::apply_event")),
    ("client", re.compile(r"boost::asio::|pplx::|web::http::|Concurrency::streams::|"
                          r"kube::io::|kube::Client::|^SSL_|^ssl3_|^tls_|^BIO_|^EVP_")),
    ("reconcile", re.compile(r"sreracha::|runtime::apply_and_prune|runtime::Controller::reconcile")),
]


def samples(script_output):
    """Yields each sample's frames (symbols), leaf first."""
    frames = None
    for line in script_output:
        if not line.strip():
            if frames is not None:
                yield frames
            frames = None
        elif not line[0].isspace():
            frames = []  # the header line: comm and tid
        elif frames is not None:
            parts = line.split(None, 1)  # address, then the symbol
            frames.append(parts[1].strip() if len(parts) > 1 else "")
    if frames is not None:
        yield frames


def category(frames):
    for frame in frames:
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return "other"


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--script":
        source = args[1]
        with (sys.stdin if source == "-" else open(source)) as script:
            counts = Counter(category(frames) for frames in samples(script))
    elif len(args) == 1 and not args[0].startswith("-"):
        source = args[0]
        perf = subprocess.Popen(["perf", "script", "-i", source, "-F", "comm,tid,ip,sym"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        counts = Counter(category(frames) for frames in samples(perf.stdout))
        if perf.wait() != 0:
            sys.exit(f"profile_split: perf script -i {source} failed")
    else:
        sys.exit("usage: profile_split.py perf.data | --script FILE")
    total = sum(counts.values())
    if total == 0:
        sys.exit(f"profile_split: no samples in {source}")
    shares = " ".join(f"{name}={100 * counts[name] / total:.1f}%"
                      for name in ["client", "decode", "cache", "reconcile", "other"])
    print(f"profile samples={total} {shares}")


if __name__ == "__main__":
    main()
