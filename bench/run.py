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
    python3 bench/run.py --stores             # store mode: ours vs the peers' stores
    python3 bench/run.py --load               # bounded load test against our Redis store

--stores starts its own redis-server (pinned to core 1 with wrk) and also reports the
redis-server CPU (user + system) per request and wrk's p99 latency. --load runs many
concurrent clients for a fixed time against ours-redis on axum and reports requests/s, p99
latency and errors (which must be zero).

Needs wrk (apt-get install -y wrk), taskset (util-linux) and, for --stores and --load,
redis-server.
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
    "ours-memory": "ours, MemoryStore",
    "ours-redis": "ours, RedisStore",
    "tower-sessions-redis": "tower-sessions 0.14 + tower-sessions-redis-store (fred)",
    "actix-session-redis": "actix-session RedisSessionStore",
}

# Store mode: framework -> (binary, variants); peers need the bench's `store-peers` feature.
STORE_FRAMEWORKS = {
    "axum": ("axum-bench", ["none", "ours-memory", "tower-sessions", "ours-redis", "tower-sessions-redis"]),
    "actix": ("actix-bench", ["none", "ours-memory", "ours-redis", "actix-session-redis"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid, system=False):
    """User (and with `system`, also kernel) CPU ticks of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime is field 14, stime field 15; fields[0] is field 3
    return int(fields[11]) + (int(fields[12]) if system else 0)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start(binary, variant, env=None):
    port = free_port()
    exe = os.path.join(target_dir(), "release", binary)
    proc = subprocess.Popen(["taskset", "-c", "0", exe, variant, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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


def wrk(url, cookie, seconds, connections, details=False):
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(errors.group(1)) if errors else 0) + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    if failed and not details:
        raise SystemExit(f"{url}: {failed} failed requests\n{out}")
    if not details:
        return requests
    return requests, failed, latency_ms(out, "99%")


def latency_ms(out, percentile):
    match = re.search(rf"\s{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def measure(binary, variant, seconds, rounds, connections, redis=None, env=None):
    """Per route: (server user CPU µs/req, req/s, redis CPU µs/req, p99 ms)."""
    proc, url, cookie = start(binary, variant, env)
    try:
        results = {}
        for route in ("write", "read"):
            wrk(f"{url}/{route}", cookie, 1, connections)  # warm up
            per_request, rates, redis_cpu, p99 = [], [], [], []
            for _ in range(rounds):
                before = cpu_ticks(proc.pid)
                redis_before = cpu_ticks(redis.pid, system=True) if redis else 0
                requests, _, latency = wrk(f"{url}/{route}", cookie, seconds, connections, details=True)
                ticks = cpu_ticks(proc.pid) - before
                redis_ticks = (cpu_ticks(redis.pid, system=True) - redis_before) if redis else 0
                per_request.append(ticks / TICK / requests * 1e6)
                redis_cpu.append(redis_ticks / TICK / requests * 1e6)
                rates.append(requests / seconds)
                p99.append(latency)
            results[route] = (statistics.median(per_request), statistics.median(rates), statistics.median(redis_cpu), statistics.median(p99))
        return results
    finally:
        proc.kill()
        proc.wait()


def start_redis():
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is required: apt-get install -y redis-server")
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def stores(args):
    build = ["cargo", "build", "--release", "-p", "bench", "--features", "store-peers", "--bin", "axum-bench", "--bin", "actix-bench"]
    subprocess.run(build, cwd=ROOT, check=True)
    redis, url = start_redis()
    env = dict(os.environ, BENCH_REDIS_URL=url)
    try:
        print(f"\nstore mode: {args.seconds}s x {args.rounds} rounds per cell, wrk -t1 -c{args.connections} --latency; server pinned to core 0, wrk and redis-server to core 1\n")
        print("| framework | variant | write: server CPU/req | write: added | write: redis CPU/req | write p99 | read: server CPU/req | read: added | read: redis CPU/req | read p99 | write req/s | read req/s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for framework in [f for f in args.frameworks.split(",") if f in STORE_FRAMEWORKS]:
            binary, variants = STORE_FRAMEWORKS[framework]
            rows = {v: measure(binary, v, args.seconds, args.rounds, args.connections, redis, env) for v in variants}
            base = rows["none"]
            for variant, result in rows.items():
                cells = []
                for route in ("write", "read"):
                    cpu, _, redis_cpu, p99 = result[route]
                    added = "" if variant == "none" else f"{cpu - base[route][0]:+.2f} µs"
                    redis_cell = f"{redis_cpu:.2f} µs" if "redis" in variant else ""
                    cells += [f"{cpu:.2f} µs", added, redis_cell, f"{p99:.2f} ms"]
                print(f"| {framework} | {LABELS[variant]} | {' | '.join(cells)} | {result['write'][1]:,.0f} | {result['read'][1]:,.0f} |")
                sys.stdout.flush()
    finally:
        redis.kill()
        redis.wait()


def load(args):
    """Bounded load test: many clients for a fixed time against ours-redis (axum)."""
    subprocess.run(["cargo", "build", "--release", "-p", "bench", "--bin", "axum-bench"], cwd=ROOT, check=True)
    redis, url = start_redis()
    env = dict(os.environ, BENCH_REDIS_URL=url)
    proc, base, cookie = start("axum-bench", "ours-redis", env)
    try:
        print(f"\nload test: ours-redis on axum, wrk -t1 -c{args.load_connections} for {args.load_seconds}s per route\n")
        print("| route | requests | requests/s | p99 latency | errors |")
        print("|---|---|---|---|---|")
        total_errors = 0
        for route in ("write", "read"):
            requests, failed, p99 = wrk(f"{base}/{route}", cookie, args.load_seconds, args.load_connections, details=True)
            total_errors += failed
            print(f"| {route} | {requests:,} | {requests / args.load_seconds:,.0f} | {p99:.2f} ms | {failed} |")
        if total_errors:
            raise SystemExit(f"{total_errors} failed requests")
    finally:
        proc.kill()
        proc.wait()
        redis.kill()
        redis.wait()


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--stores", action="store_true", help="store mode: ours vs the peers' stores")
    parser.add_argument("--load", action="store_true", help="bounded load test against ours-redis")
    parser.add_argument("--load-seconds", type=int, default=10)
    parser.add_argument("--load-connections", type=int, default=64)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required: apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'}")
    if args.stores:
        return stores(args)
    if args.load:
        return load(args)
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
