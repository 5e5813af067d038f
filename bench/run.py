#!/usr/bin/env python3
"""Load benchmark: per-request server CPU of session layers, beside the peers, in one run.

Each bench server runs on one worker thread pinned to core 0; wrk runs pinned to core 1; all
traffic stays on 127.0.0.1. For every (framework, variant, route) the script reads the server's
user CPU time from /proc/<pid>/stat before and after a fixed-length wrk run and divides by the
requests served. The result is reported minus the same framework's no-session baseline, because
req/s drifts by up to 20% between rounds on this machine while CPU per request repeats within a
few percent.

    python3 bench/run.py                      # every framework built in bench/
    python3 bench/run.py --frameworks axum --seconds 3 --rounds 1

Needs wrk (apt-get install -y wrk) and taskset (util-linux).
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")

# framework -> (binary, [variants], the peer variants' labels)
FRAMEWORKS = {
    "axum": ("axum-bench", ["none", "ours", "tower-sessions", "signed-jar"]),
    "actix": ("actix-bench", ["none", "ours", "actix-session"]),
    "rocket": ("rocket-bench", ["none", "ours", "ours-encrypted", "private-cookies"]),
}
LABELS = {
    "none": "no session (baseline)",
    "ours": "ours",
    "ours-encrypted": "ours, encrypted",
    "tower-sessions": "tower-sessions (MemoryStore)",
    "signed-jar": "axum-extra SignedCookieJar",
    "actix-session": "actix-session (CookieSessionStore, signed)",
    "private-cookies": "Rocket private cookies (encrypted)",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """User CPU ticks of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11])  # utime is field 14; fields[0] is field 3


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start(binary, variant):
    port = free_port()
    exe = os.path.join(target_dir(), "release", binary)
    proc = subprocess.Popen(["taskset", "-c", "0", exe, variant, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(NoRedirect)
    for _ in range(200):
        try:
            with opener.open(f"{url}/init", timeout=1) as response:
                cookies = response.headers.get_all("Set-Cookie") or []
                cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
                return proc, url, cookie
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{binary} {variant} did not start")


def wrk(url, cookie, seconds, connections):
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} non-2xx responses\n{out}")
    return requests


def measure(binary, variant, seconds, rounds, connections):
    proc, url, cookie = start(binary, variant)
    try:
        results = {}
        for route in ("write", "read"):
            wrk(f"{url}/{route}", cookie, 1, connections)  # warm up
            per_request, rates = [], []
            for _ in range(rounds):
                before = cpu_ticks(proc.pid)
                requests = wrk(f"{url}/{route}", cookie, seconds, connections)
                ticks = cpu_ticks(proc.pid) - before
                per_request.append(ticks / TICK / requests * 1e6)
                rates.append(requests / seconds)
            results[route] = (statistics.median(per_request), statistics.median(rates))
        return results
    finally:
        proc.kill()
        proc.wait()


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required: apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'}")
    frameworks = [f for f in args.frameworks.split(",") if f]
    bins = [FRAMEWORKS[f][0] for f in frameworks]
    build = ["cargo", "build", "--release", "-p", "bench"] + [a for b in bins for a in ("--bin", b)]
    subprocess.run(build, cwd=ROOT, check=True)

    print(f"\n{args.seconds}s x {args.rounds} rounds per cell, wrk -t1 -c{args.connections}, server pinned to core 0, wrk to core 1\n")
    print("| framework | variant | write: CPU/req | write: added | read: CPU/req | read: added | write req/s | read req/s |")
    print("|---|---|---|---|---|---|---|---|")
    for framework in frameworks:
        binary, variants = FRAMEWORKS[framework]
        rows = {v: measure(binary, v, args.seconds, args.rounds, args.connections) for v in variants}
        base = rows["none"]
        for variant, result in rows.items():
            cells = []
            for route in ("write", "read"):
                cpu = result[route][0]
                added = "" if variant == "none" else f"{cpu - base[route][0]:+.2f} µs"
                cells += [f"{cpu:.2f} µs", added]
            print(f"| {framework} | {LABELS[variant]} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {result['write'][1]:,.0f} | {result['read'][1]:,.0f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
