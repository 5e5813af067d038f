#!/usr/bin/env python3
"""Load benchmark: per-request server CPU of session layers, beside the peers, in one run.

Each bench server runs on one worker thread pinned to core 0; wrk runs pinned to core 1; all
traffic stays on 127.0.0.1. For every (framework, variant, route) cell the script reads the
server's CPU time, user + system, from /proc/<pid>/stat before and after a fixed-length wrk run
and divides by the requests served. "added" subtracts the same framework's no-session baseline,
measured in the same run with a dummy Cookie header of the same length as the variant's cookie
(once per distinct length), so receiving the cookie is not counted as session cost.

All servers of a framework run for the whole measurement. Every round measures every cell once,
in a shuffled order (seeded; the seed and each round's order are printed), so drift over the
run spreads over all columns instead of landing in one. Cells report medians over rounds.

Clients behave like a browser: wrk (through a small Lua cookie jar) and the instruction
counter's client send back every cookie the server sets, so a write's re-issued cookie, or a
refreshed one, is what the next request carries; no server is measured on a stale cookie it
keeps replacing (ours would re-sign it on every request once the refresh interval passed, and
a write would verify a token it has already seen).

The run fails instead of reporting numbers when a result cannot be trusted: before and after
measuring, one request per variant checks that /read answers 200 with the logged-in name and
/write answers 200 with a counter; any wrk socket error or error status during a round (wrk
counts statuses above 399 as "Non-2xx or 3xx responses") stops the run.

    python3 bench/run.py                      # every framework built in bench/
    python3 bench/run.py --frameworks axum --seconds 3 --rounds 1
    python3 bench/run.py --stores             # store mode: ours vs the peers' stores
    python3 bench/run.py --load               # bounded load test: ours and the peers on Redis
    python3 bench/run.py --json out.json      # also write the results as JSON
    python3 bench/run.py --markdown out.json  # only render BENCHMARKS.md tables from JSON

--stores starts its own redis-server and PostgreSQL server (initdb into a temporary directory,
fsync off, as `nobody` when run as root; both pinned to core 1 with wrk) and also reports the
store server's CPU (user + system) per request (redis-server; for PostgreSQL every process of
the cluster: postmaster, backends, background processes, and children reaped meanwhile),
server + store CPU per request, and wrk's p99 latency. SQLite runs inside the bench server
(sqlx's worker threads), so its cost is in the server's CPU. The SQL variants give each
variant a database of its own (PostgreSQL) or a file of its own (SQLite). --load runs many concurrent clients for a fixed time against ours-redis and the peers'
Redis stores on axum and actix, and reports requests/s, p99 latency and errors (which must be
zero for every variant).

JSON (--json FILE): a list of objects, one per (framework, variant, route), with `run`
("cookie" | "stores"), `framework`, `mode` (where the session lives: "cookie" | "memory" |
"redis"; "none" for the baselines), `variant` ("none", "ours", "ours-encrypted", ... or the
peer's name), `label`, `route` ("write" | "read"), `cookie_bytes` (length of the Cookie header
sent), `cpu_us` (server user + system CPU per request), `added_us` (cpu_us minus
`baseline_cpu_us`, the baseline with a cookie of the same length; null on baselines),
`user_cpu_us` and `added_user_us` (the same, user CPU only: the session layer's own code runs
in user space, while system time, mostly loopback TCP, is most of the run-to-run noise), `rps`,
`p99_ms`, in store runs `store_cpu_us` (Redis and PostgreSQL variants) and `total_cpu_us`
(server + store), in instruction store runs `store_instructions` (the same variants),
`cpu_us_rounds` (every round's cpu_us), and the run's `seconds`, `rounds`, `connections`,
`seed`.

Needs wrk (apt-get install -y wrk), taskset (util-linux) and, for --stores and --load,
redis-server; for --stores, PostgreSQL's initdb and postgres (on PATH or in
/usr/lib/postgresql/*/bin) and, as root, setpriv (util-linux).
"""

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
ROUTES = ("write", "read")
# What /read must answer for every variant (the name in bench::Typical::sample()).
LOGGED_IN_NAME = "alice"

# framework -> (binary, variants); every framework also runs its "none" baseline.
FRAMEWORKS = {
    "axum": ("axum-bench", ["ours", "ours-encrypted", "layer-floor", "tower-sessions", "signed-jar", "signed-jar-postcard", "private-jar"]),
    "actix": ("actix-bench", ["ours", "ours-encrypted", "layer-floor", "actix-session", "actix-session-private"]),
    "rocket": ("rocket-bench", ["ours", "ours-encrypted", "private-cookies"]),
}
# Store mode: framework -> (binary, variants); peers need the bench's `store-peers` feature, the
# SQL variants its `sql-stores` feature. actix has no SQL rows: actix-session has no SQL store.
STORE_FRAMEWORKS = {
    "axum": ("axum-bench", ["ours-memory", "tower-sessions", "ours-redis", "tower-sessions-redis", "ours-postgres", "tower-sessions-postgres", "ours-sqlite", "tower-sessions-sqlite"]),
    "actix": ("actix-bench", ["ours-memory", "ours-redis", "actix-session-redis"]),
}

# variant -> (label, mode, the variant of ours it is compared with; None for ours).
# A peer whose counterpart did not run (tower-sessions in a cookie run) is compared with "ours".
# The jar and Rocket rows hold a value whose format the library leaves to the application:
# their labels say which one we chose.
VARIANTS = {
    "none": ("no session (baseline)", "none", None),
    "ours": ("ours", "cookie", None),
    "ours-encrypted": ("ours, encrypted", "cookie", None),
    "ours-memory": ("ours, MemoryStore", "memory", None),
    "ours-redis": ("ours, RedisStore", "redis", None),
    "layer-floor": ("layer floor: the middleware's extension and cache headers, no session", "cookie", "ours"),
    "tower-sessions": ("tower-sessions (MemoryStore)", "memory", "ours-memory"),
    "signed-jar": ("axum-extra SignedCookieJar (value: JSON, our choice)", "cookie", "ours"),
    "signed-jar-postcard": ("axum-extra SignedCookieJar (value: postcard + base64url, as ours)", "cookie", "ours"),
    "private-jar": ("axum-extra PrivateCookieJar (encrypted; value: JSON, our choice)", "cookie", "ours-encrypted"),
    "actix-session": ("actix-session (CookieSessionStore, signed)", "cookie", "ours"),
    "actix-session-private": ("actix-session (CookieSessionStore, private: encrypted)", "cookie", "ours-encrypted"),
    "private-cookies": ("Rocket private cookies (encrypted; value: JSON, our choice)", "cookie", "ours-encrypted"),
    "tower-sessions-redis": ("tower-sessions 0.14 + tower-sessions-redis-store (fred)", "redis", "ours-redis"),
    "ours-postgres": ("ours, PostgresStore", "postgres", None),
    "ours-sqlite": ("ours, SqliteStore", "sqlite", None),
    "tower-sessions-postgres": ("tower-sessions 0.14 + tower-sessions-sqlx-store 0.15 (PostgreSQL)", "postgres", "ours-postgres"),
    "tower-sessions-sqlite": ("tower-sessions 0.14 + tower-sessions-sqlx-store 0.15 (SQLite)", "sqlite", "ours-sqlite"),
    "actix-session-redis": ("actix-session RedisSessionStore", "redis", "ours-redis"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """User + system CPU ticks of a process, all its threads included."""
    user, system = cpu_ticks_split(pid)
    return user + system


def cpu_ticks_split(pid):
    """(user, system) CPU ticks of a process, all its threads included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime is field 14, stime field 15; fields[0] is field 3
    return int(fields[11]), int(fields[12])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


@dataclasses.dataclass
class Server:
    variant: str
    proc: subprocess.Popen
    url: str
    cookie: str  # the Cookie header value /init gave ("" for the baseline)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def start(binary, variant, env=None, wrapper=None, patience=10):
    """Starts a bench server (pinned to core 0, or under `wrapper`, e.g. valgrind) and opens a
    session with GET /init; waits up to `patience` seconds for it to answer."""
    port = free_port()
    exe = os.path.join(target_dir(), "release", binary)
    command = (wrapper or ["taskset", "-c", "0"]) + [exe, variant, str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            with OPENER.open(f"{url}/init", timeout=5) as response:
                cookies = response.headers.get_all("Set-Cookie") or []
                cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
                return Server(variant, proc, url, cookie)
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{' '.join(command[:1])} {binary} {variant} did not start")


def dummy_cookie(length):
    """A Cookie header value of exactly `length` bytes that no server reads."""
    return "d=" + "x" * (length - 2)


def get(url, cookie):
    """One GET: (status, body). Redirects are not followed, so a 3xx shows as itself."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def check(binary, server, cookie):
    """The variant really serves the logged-in session with this cookie, or the run stops."""
    where = f"{binary} {server.variant}"
    if server.variant != "none" and not cookie:
        raise SystemExit(f"{where}: /init set no cookie")
    def logged_in(body):
        return body == LOGGED_IN_NAME

    def counter(body):
        return body.isdigit() and int(body) > 0

    for route, ok in (("read", logged_in), ("write", counter), ("read", logged_in)):
        status, body = get(f"{server.url}/{route}", cookie)
        if not (200 <= status < 300 and ok(body)):
            raise SystemExit(f"{where}: GET /{route} with its cookie answered {status} {body[:80]!r}; expected 2xx and, on /read, {LOGGED_IN_NAME!r}, on /write, a counter")


# wrk's client, like a browser, sends back the cookies the server sets: a re-issued cookie (a
# write, a refresh once the refresh interval has passed) is what the next request carries, so
# no server is measured verifying a stale cookie it keeps replacing. The jar is per wrk thread
# (one: -t1), shared by its connections, as a browser's tabs share one.
WRK_COOKIE_JAR = r"""
local names, values = {}, {}
local header = nil
local function rebuild()
  local parts = {}
  for _, name in ipairs(names) do
    if values[name] then parts[#parts + 1] = name .. "=" .. values[name] end
  end
  header = #parts > 0 and table.concat(parts, "; ") or nil
end
local function set(pair, attributes)
  local name, value = pair:match("^%s*([^=]+)=(.*)$")
  if not name then return end
  if not values[name] and value ~= "" then names[#names + 1] = name end
  if value == "" or attributes:lower():find("max%-age=0[^%d]") or attributes:lower():find("max%-age=0$") then
    values[name] = nil
  else
    values[name] = value
  end
end
init = function(args)
  for _, part in ipairs(args) do
    for pair in part:gmatch("[^;]+") do set(pair, "") end
  end
  rebuild()
end
request = function()
  return wrk.format(nil, nil, header and { Cookie = header } or {})
end
response = function(status, headers, body)
  for name, value in pairs(headers) do
    if name:lower() == "set-cookie" then
      local pair, attributes = value:match("^([^;]*)(.*)$")
      set(pair, attributes)
      rebuild()
    end
  end
end
"""


def wrk_script():
    """The path of the cookie-jar script for wrk, written once per run."""
    global WRK_SCRIPT_PATH
    if WRK_SCRIPT_PATH is None:
        import tempfile
        handle, WRK_SCRIPT_PATH = tempfile.mkstemp(prefix="bench-wrk-", suffix=".lua")
        with os.fdopen(handle, "w") as f:
            f.write(WRK_COOKIE_JAR)
    return WRK_SCRIPT_PATH


WRK_SCRIPT_PATH = None


def wrk(url, cookie, seconds, connections, allow_errors=False):
    """One wrk run: (requests, failed, p99 ms). Any failed request stops the run unless allowed."""
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", wrk_script(), url]
    if cookie:
        command += ["--", cookie.replace("; ", ";")]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    # wrk counts responses with a status above 399 here, and socket errors on their own line.
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(errors.group(1)) if errors else 0) + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    if (failed and not allow_errors) or requests == 0:
        raise SystemExit(f"{url}: {failed} failed of {requests} requests; results would not be trustworthy\n{out}")
    return requests, failed, latency_ms(out, "99%")


def latency_ms(out, percentile):
    match = re.search(rf"\s{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


@dataclasses.dataclass
class Cell:
    """One measured column entry: a server, a route, and the cookie sent with every request."""

    server: Server
    route: str
    cookie: str
    samples: list = dataclasses.field(default_factory=list)  # per round: (cpu µs, req/s, p99 ms, store µs, user cpu µs)

    @property
    def name(self):
        variant = self.server.variant
        if variant == "none":
            variant = f"none@{len(self.cookie)}B"
        return f"{variant}/{self.route}"

    def median(self, index):
        return statistics.median(s[index] for s in self.samples)


def measure_once(cell, seconds, connections, store=None):
    """One wrk run on a cell; `store` (a `StoreProcess` or `PostgresCluster`, or None) is the
    database server of the cell's variant, whose CPU is read around the run too."""
    user_before, system_before = cpu_ticks_split(cell.server.proc.pid)
    store_before = store.ticks() if store else 0
    requests, _, p99 = wrk(f"{cell.server.url}/{cell.route}", cell.cookie, seconds, connections)
    user_after, system_after = cpu_ticks_split(cell.server.proc.pid)
    user = user_after - user_before
    ticks = user + system_after - system_before
    store_ticks = (store.ticks() - store_before) if store else 0
    per_request = lambda t: t / TICK / requests * 1e6  # noqa: E731
    cell.samples.append((per_request(ticks), requests / seconds, p99, per_request(store_ticks), per_request(user)))


def run_framework(framework, binary, variants, args, rng, run, stores=None, env=None):
    """Measures one framework's baseline and variants, interleaved; returns the JSON rows.
    `stores` maps a mode ("redis", "postgres") to its database server, whose CPU per request
    is reported for the variants of that mode."""
    stores = stores or {}
    servers = []
    try:
        for variant in ["none"] + variants:
            servers.append(start(binary, variant, env))
        baseline, sessions = servers[0], servers[1:]
        lengths = sorted({len(s.cookie) for s in sessions})
        cells = [Cell(baseline, route, dummy_cookie(n)) for n in lengths for route in ROUTES]
        cells += [Cell(s, route, s.cookie) for s in sessions for route in ROUTES]
        for cell in cells:
            check(binary, cell.server, cell.cookie)

        print(f"{framework}: {len(cells)} cells x {args.rounds} rounds x {args.seconds}s, baseline at cookie lengths {', '.join(map(str, lengths))} B")
        for server in servers:
            for route in ROUTES:
                wrk(f"{server.url}/{route}", server.cookie or dummy_cookie(lengths[-1]), args.warmup, args.connections)
        for round_ in range(1, args.rounds + 1):
            order = rng.sample(cells, len(cells))
            print(f"{framework} round {round_} order: {' '.join(c.name for c in order)}")
            sys.stdout.flush()
            for i, cell in enumerate(order, 1):
                measure_once(cell, args.seconds, args.connections, stores.get(VARIANTS[cell.server.variant][1]))
                print(f"  [{round_}/{args.rounds} {i}/{len(order)}] {framework} {cell.name}: {cell.samples[-1][0]:.2f} µs/req", file=sys.stderr)
        for cell in cells:  # the cookies still verify after the whole measurement
            check(binary, cell.server, cell.cookie)
    finally:
        for server in servers:
            server.stop()

    meta = {"seconds": args.seconds, "rounds": args.rounds, "connections": args.connections, "seed": args.seed}
    base = {(c.route, len(c.cookie)): c.median(0) for c in cells if c.server is baseline}
    base_user = {(c.route, len(c.cookie)): c.median(4) for c in cells if c.server is baseline}
    rows = []
    for cell in cells:
        variant = cell.server.variant
        label, mode, _ = VARIANTS[variant]
        cpu = cell.median(0)
        row = {"run": run, "framework": framework, "mode": mode, "variant": variant, "label": label, "route": cell.route, "cookie_bytes": len(cell.cookie), "cpu_us": round(cpu, 3)}
        user_cpu = cell.median(4)
        row["user_cpu_us"] = round(user_cpu, 3)
        if variant == "none":
            row.update(baseline_cpu_us=None, added_us=None, added_user_us=None)
        else:
            baseline_cpu = base[(cell.route, len(cell.cookie))]
            baseline_user = base_user[(cell.route, len(cell.cookie))]
            row.update(baseline_cpu_us=round(baseline_cpu, 3), added_us=round(cpu - baseline_cpu, 3), added_user_us=round(user_cpu - baseline_user, 3))
        row.update(rps=round(cell.median(1)), p99_ms=round(cell.median(2), 3))
        if run == "stores":
            store_cpu = cell.median(3) if mode in stores else 0.0
            if mode in stores:
                row["store_cpu_us"] = round(store_cpu, 3)
            row["total_cpu_us"] = round(cpu + store_cpu, 3)
        row["cpu_us_rounds"] = [round(s[0], 3) for s in cell.samples]
        row.update(meta)
        rows.append(row)
    return rows


class StoreProcess:
    """A database server that is one process (redis-server): its CPU is that process's."""

    def __init__(self, proc):
        self.proc = proc
        self.pid = proc.pid

    def ticks(self):
        return cpu_ticks(self.pid)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def cluster_pids(postmaster):
    """The postmaster and its live children (backends, background workers)."""
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == postmaster:  # field 4, ppid
                pids.append(int(entry))
    return pids


class PostgresCluster:
    """A PostgreSQL server of its own for the run (see `start_postgres`). Its CPU is the CPU
    of every process of the cluster: the postmaster, its live children (one backend per
    connection, and the background processes: WAL writer, checkpointer, autovacuum...), and the
    children that exited (their CPU lands in the postmaster's cutime + cstime when it reaps
    them)."""

    def __init__(self, proc, directory, port):
        self.proc, self.directory, self.port = proc, directory, port
        self.pid = proc.pid
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def ticks(self):
        total = 0
        for pid in cluster_pids(self.pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a child that exited between the listing and now: reaped into cutime
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if pid == self.pid:
                total += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
        return total

    def stop(self):
        """Fast shutdown (SIGINT: backends end, no checkpoint wait), then the directory goes."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_bin_dir():
    """The directory with `initdb` and `postgres`: on PATH, else the newest of Debian's
    /usr/lib/postgresql/<version>/bin (as tests/src/servers.rs finds it)."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and all(os.path.isfile(os.path.join(directory, b)) for b in ("initdb", "postgres")):
            return directory
    versions = []
    if os.path.isdir("/usr/lib/postgresql"):
        for entry in os.listdir("/usr/lib/postgresql"):
            directory = os.path.join("/usr/lib/postgresql", entry, "bin")
            if entry.isdigit() and all(os.path.isfile(os.path.join(directory, b)) for b in ("initdb", "postgres")):
                versions.append((int(entry), directory))
    if not versions:
        raise SystemExit("PostgreSQL is required for the SQL store variants: apt-get install -y postgresql (initdb and postgres on PATH or in /usr/lib/postgresql/*/bin)")
    return max(versions)[1]


def nobody():
    """The uid and gid of `nobody`, from /etc/passwd (65534 when it does not say)."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.split(":")
                if parts[0] == "nobody":
                    return int(parts[2]), int(parts[3])
    except (OSError, ValueError, IndexError):
        pass
    return 65534, 65534


def start_postgres(wrapper=None, patience=30, writable=(), settings=()):
    """A PostgreSQL server of its own, as the tests start theirs (tests/src/servers.rs):
    `initdb` into a temporary directory, `postgres` on a free loopback port with its socket in
    that directory, trust authentication for `postgres`, `fsync` and `full_page_writes` off.
    As root it runs as `nobody` (PostgreSQL refuses root), through `setpriv`, which execs, so
    the process started is the postmaster itself. Pinned to core 1 (with wrk), or under
    `wrapper` (valgrind; `writable` are directories the server must write, given to nobody)."""
    import tempfile
    bin_dir = postgres_bin_dir()
    directory = tempfile.mkdtemp(prefix="bench-postgres-")
    drop = []
    if os.geteuid() == 0:
        uid, gid = nobody()
        for path in (directory, *writable):
            os.chown(path, uid, gid)
        drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    data = os.path.join(directory, "data")
    with open(os.path.join(directory, "initdb.log"), "w") as log:
        status = subprocess.run(drop + [os.path.join(bin_dir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], cwd=directory, stdout=log, stderr=log)
    if status.returncode != 0:
        raise SystemExit(f"initdb failed:\n{open(os.path.join(directory, 'initdb.log')).read()}")
    for _ in range(5):
        port = free_port()
        options = ["listen_addresses=127.0.0.1", "fsync=off", "full_page_writes=off", "max_connections=100", "shared_buffers=32MB", "unix_socket_permissions=0700", *settings]
        postgres = [os.path.join(bin_dir, "postgres"), "-D", data, "-k", directory, "-p", str(port)] + [a for s in options for a in ("-c", s)]
        # setpriv before valgrind, so that valgrind, too, runs as nobody.
        command = drop + wrapper + postgres if wrapper else ["taskset", "-c", "1"] + drop + postgres
        log = open(os.path.join(directory, "postgres.log"), "a")
        proc = subprocess.Popen(command, cwd=directory, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        cluster = PostgresCluster(proc, directory, port)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and proc.poll() is None:
            if postgres_accepts_sessions(port):
                return cluster
            time.sleep(0.1)
        proc.kill()
        proc.wait()
    shutil.rmtree(directory, ignore_errors=True)
    raise SystemExit("postgres did not start on any of five free ports")


def postgres_accepts_sessions(port):
    """The server answers a startup message with an authentication request ('R'), not an
    error ('E': still starting up)."""
    import struct
    body = struct.pack(">I", 196608) + b"user\0postgres\0database\0postgres\0\0"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(2)
            s.sendall(struct.pack(">I", len(body) + 4) + body)
            return s.recv(1) == b"R"
    except OSError:
        return False


def start_redis(wrapper=None, patience=10):
    """A redis-server on a free loopback port, no persistence: pinned to core 1 (with wrk), or
    under `wrapper`, e.g. valgrind."""
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is required: apt-get install -y redis-server")
    port = free_port()
    command = (wrapper or ["taskset", "-c", "1"]) + ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{command[0]} redis-server did not start")


def cookie_mode(args, rng):
    frameworks = [f for f in args.frameworks.split(",") if f in FRAMEWORKS]
    build(["--bin", FRAMEWORKS[f][0]] for f in frameworks)
    rows = []
    for framework in frameworks:
        binary, variants = FRAMEWORKS[framework]
        variants = chosen(variants, args)
        rows += run_framework(framework, binary, variants, args, rng, "cookie")
    return rows


STORE_FEATURES = ["--features", "store-peers,sql-stores"]


def chosen(variants, args):
    """The variants `--variants` keeps (all of them without it), in their table's order."""
    if not args.variants:
        return variants
    wanted = set(args.variants.split(","))
    return [v for v in variants if v in wanted]


def uses_mode(frameworks, mode, args):
    return any(VARIANTS[v][1] == mode for f in frameworks for v in chosen(STORE_FRAMEWORKS[f][1], args))


def stores(args, rng):
    import tempfile
    frameworks = [f for f in args.frameworks.split(",") if f in STORE_FRAMEWORKS]
    build([STORE_FEATURES] + [["--bin", STORE_FRAMEWORKS[f][0]] for f in frameworks])
    redis, url = start_redis()
    servers = {"redis": StoreProcess(redis)}
    env = dict(os.environ, BENCH_REDIS_URL=url)
    sqlite_dir = tempfile.mkdtemp(prefix="bench-sqlite-")
    env["BENCH_SQLITE_DIR"] = sqlite_dir
    rows = []
    try:
        if uses_mode(frameworks, "postgres", args):
            servers["postgres"] = start_postgres()
            env["BENCH_POSTGRES_URL"] = servers["postgres"].url
        for framework in frameworks:
            binary, variants = STORE_FRAMEWORKS[framework]
            variants = chosen(variants, args)
            rows += run_framework(framework, binary, variants, args, rng, "stores", servers, env)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(sqlite_dir, ignore_errors=True)
    return rows


# The load test: ours and the peers' Redis stores, each framework's variants under the same load.
LOAD_VARIANTS = {
    "axum": ("axum-bench", ["ours-redis", "tower-sessions-redis"]),
    "actix": ("actix-bench", ["ours-redis", "actix-session-redis"]),
}


def load(args):
    """Bounded load test: many clients for a fixed time against each Redis-backed variant."""
    frameworks = [f for f in args.frameworks.split(",") if f in LOAD_VARIANTS]
    build([["--features", "store-peers"]] + [["--bin", LOAD_VARIANTS[f][0]] for f in frameworks])
    redis, url = start_redis()
    env = dict(os.environ, BENCH_REDIS_URL=url)
    rows = []
    total_errors = 0
    try:
        print(f"\nload test: wrk -t1 -c{args.load_connections} for {args.load_seconds}s per route, every session on one record (every write races the others)\n")
        print("| framework | variant | route | requests | requests/s | p99 latency | errors |")
        print("|---|---|---|---|---|---|---|")
        for framework in frameworks:
            binary, variants = LOAD_VARIANTS[framework]
            for variant in variants:
                server = start(binary, variant, env)
                try:
                    check(binary, server, server.cookie)
                    for route in ROUTES:
                        requests, failed, p99 = wrk(f"{server.url}/{route}", server.cookie, args.load_seconds, args.load_connections, allow_errors=True)
                        total_errors += failed
                        label = VARIANTS[variant][0]
                        print(f"| {framework} | {label} | {route} | {requests:,} | {requests / args.load_seconds:,.0f} | {p99:.2f} ms | {failed} |")
                        sys.stdout.flush()
                        rows.append({"run": "load", "framework": framework, "mode": "redis", "variant": variant, "label": label, "route": route, "requests": requests, "rps": round(requests / args.load_seconds), "p99_ms": round(p99, 3), "errors": failed, "seconds": args.load_seconds, "connections": args.load_connections})
                    check(binary, server, server.cookie)
                finally:
                    server.stop()
    finally:
        redis.kill()
        redis.wait()
    if total_errors:
        raise SystemExit(f"{total_errors} failed requests")
    return rows


# Instruction counts: what the session layer adds, counted by callgrind instead of timed. The
# count of instructions a server executes per request is the same from run to run whatever else
# the machine does, which CPU time on a shared machine is not; it leaves out the kernel (the
# loopback TCP that most of the CPU time and its noise are) and says nothing about stalls, so
# it complements the CPU tables rather than replacing them.


def start_callgrind(binary, variant, out_dir, env=None):
    out = os.path.join(out_dir, f"callgrind.{binary}.{variant}.%p")
    valgrind = ["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={out}"]
    return start(binary, variant, env, wrapper=valgrind, patience=120)


def adopt(cookie, set_cookies):
    """The Cookie header a browser sends next: `cookie` with each Set-Cookie applied (a value
    replaced or added; removed on `Max-Age=0` or an empty value)."""
    jar = dict(part.split("=", 1) for part in cookie.split("; ") if "=" in part) if cookie else {}
    for header in set_cookies:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        if not value or re.search(r"(?i)max-age=0\b", attributes):
            jar.pop(name, None)
        else:
            jar[name] = value
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def requests_on_one_connection(url, route, cookie, count):
    """`count` sequential GETs on one keep-alive connection; each must answer as `check` wants.
    Like a browser, the client sends back the cookies the server sets, so a re-issued cookie
    (a write, a refresh) is what the next request carries."""
    import http.client
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for _ in range(count):
            connection.request("GET", f"/{route}", headers={"Cookie": cookie} if cookie else {})
            response = connection.getresponse()
            cookie = adopt(cookie, response.headers.get_all("Set-Cookie") or [])
            body = response.read().decode(errors="replace")
            ok = body == LOGGED_IN_NAME if route == "read" else body.isdigit()
            if response.status != 200 or not ok:
                raise SystemExit(f"{url}/{route} answered {response.status} {body[:80]!r} under valgrind")
    finally:
        connection.close()


def sha256_instructions(path):
    """Instructions spent inside SHA-256's compression function in a callgrind dump (its
    exclusive cost): valgrind does not emulate the SHA extensions, so under callgrind SHA-256
    runs in software, at many times the instructions it takes on a CPU with SHA-NI."""
    total, current, skip = 0, "", False
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                current = line[3:]
            elif line.startswith("calls="):
                skip = True  # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                elif "sha256" in current and "compress" in current:
                    total += int(line.split()[-1])
    return total


def callgrind_total(pid, out_dir, before):
    """Dumps the counters of a running callgrind and answers (instructions, of which in
    SHA-256 compression) since `before`, and the dumps seen so far."""
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    dumps = sorted((os.path.join(out_dir, f) for f in os.listdir(out_dir) if f".{pid}." in f or f.endswith(f".{pid}") or f".{pid}-" in f), key=os.path.getmtime)
    fresh = [d for d in dumps if d not in before]
    if not fresh:
        raise SystemExit(f"callgrind wrote no dump for {pid}")
    with open(fresh[-1]) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return (int(line.split()[1]), sha256_instructions(fresh[-1])), set(dumps)
    raise SystemExit(f"no totals in {fresh[-1]}")


def start_redis_callgrind(out_dir):
    """A redis-server under callgrind (no persistence), for the store's instructions."""
    out = os.path.join(out_dir, "callgrind.redis-server.%p")
    return start_redis(["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={out}"], patience=60)


def callgrind_file_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


class CallgrindProcess:
    """The instructions of one process under callgrind (redis-server) between two marks."""

    def __init__(self, pid, out_dir):
        self.pid, self.out_dir, self.before = pid, out_dir, set()

    def mark(self):
        _, self.before = callgrind_total(self.pid, self.out_dir, self.before)

    def since_mark(self):
        (total, _), self.before = callgrind_total(self.pid, self.out_dir, self.before)
        return total


def postgres_backends_instructions(binary, variant, route, count, env, cluster, out_dir):
    """The instructions PostgreSQL's backends spend on one life of a bench server (started
    natively, not under valgrind): 50 requests of warm-up then `count` more on `route`, all
    checked. A backend forked by a postmaster under callgrind is under callgrind too and writes
    its whole count to its own `callgrind.postgres.<pid>` file when it exits, which it does
    when the server's pool closes its connection. (callgrind_control cannot reach a forked
    child: valgrind gives only the first process a vgdb pipe.) The backends started during
    the life are the ones that served it; the cluster's background processes live through it
    and are not counted (autovacuum is off in this cluster, so nothing else comes and goes)."""
    def files():
        return {f for f in os.listdir(out_dir) if f.startswith("callgrind.postgres.")}

    files_before = files()
    children_before = set(cluster_pids(cluster.pid)[1:])
    # One pooled connection: a pool that opened a second one in one life and not in the other
    # would add a backend's start-up (millions of instructions) to the difference.
    server = start(binary, variant, dict(env, BENCH_SQL_MAX_CONNECTIONS="1"))
    try:
        requests_on_one_connection(server.url, route, server.cookie, 50)
        if count:
            requests_on_one_connection(server.url, route, server.cookie, count)
    finally:
        server.stop()
    deadline = time.monotonic() + 120
    while set(cluster_pids(cluster.pid)[1:]) - children_before:
        if time.monotonic() > deadline:
            raise SystemExit(f"the PostgreSQL backends of {variant} did not exit")
        time.sleep(0.1)
    fresh = [f for f in files() - files_before if int(f.split(".")[2]) not in children_before]
    if not fresh:
        raise SystemExit(f"no callgrind file from a PostgreSQL backend of {variant}")
    totals = [callgrind_file_total(os.path.join(out_dir, f)) for f in fresh]
    print(f"    {variant}/{route}, {count} counted: {len(totals)} backend(s), {', '.join(f'{t:,}' for t in totals)} instructions", file=sys.stderr)
    return sum(totals)


def postgres_per_request(binary, variant, route, count, env, cluster, out_dir):
    """Backend instructions per request: a life of `count` requests after the warm-up, minus
    a life of the warm-up alone (what connecting, migrating and /init cost)."""
    with_requests = postgres_backends_instructions(binary, variant, route, count, env, cluster, out_dir)
    without = postgres_backends_instructions(binary, variant, route, 0, env, cluster, out_dir)
    return (with_requests - without) / count


def start_postgres_callgrind(out_dir):
    """A PostgreSQL cluster of its own under callgrind, every backend counted."""
    out = os.path.join(out_dir, "callgrind.postgres.%p")
    return start_postgres(["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={out}"], patience=120, writable=(out_dir,), settings=["autovacuum=off"])


def instructions(args):
    """Instructions per request per (framework, variant, route), minus the baseline's; with
    --stores, store mode, with the database server's own instructions per request too
    (redis-server; PostgreSQL's backends)."""
    import tempfile
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("valgrind is required: apt-get install -y valgrind")
    table = STORE_FRAMEWORKS if args.stores else FRAMEWORKS
    frameworks = [f for f in args.frameworks.split(",") if f in table]
    build(([STORE_FEATURES] if args.stores else []) + [["--bin", table[f][0]] for f in frameworks])
    count = args.instructions_requests
    rows = []
    with tempfile.TemporaryDirectory() as out_dir:
        redis, postgres, env, counters = None, None, None, {}
        sqlite_dir = tempfile.mkdtemp(prefix="bench-sqlite-")
        if args.stores:
            redis, url = start_redis_callgrind(out_dir)
            env = dict(os.environ, BENCH_REDIS_URL=url, BENCH_SQLITE_DIR=sqlite_dir)
            counters["redis"] = CallgrindProcess(redis.pid, out_dir)
            if uses_mode(frameworks, "postgres", args):
                os.chmod(out_dir, 0o755)
                postgres = start_postgres_callgrind(out_dir)
                env["BENCH_POSTGRES_URL"] = postgres.url
        for framework in frameworks:
            binary, variants = table[framework]
            variants = chosen(variants, args)
            per_request = {}
            store_per_request = {}
            lengths = {}

            def count_cells(server, cells):
                """Counts each (key, route, cookie) cell on one running server."""
                before = set()
                store = counters.get(VARIANTS[server.variant][1])
                for key, route, cookie in cells:
                    # Warm up (allocator, caches of ours and theirs), then count.
                    requests_on_one_connection(server.url, route, cookie, 50)
                    _, before = callgrind_total(server.proc.pid, out_dir, before)
                    if store:
                        store.mark()
                    requests_on_one_connection(server.url, route, cookie, count)
                    (total, sha), before = callgrind_total(server.proc.pid, out_dir, before)
                    per_request[(key, route)] = (total / count, sha / count)
                    if store:
                        store_per_request[(key, route)] = store.since_mark() / count
                    print(f"  {framework} {key}/{route}: {total / count:,.0f} instructions/request ({sha / count:,.0f} in SHA-256)", file=sys.stderr)

            for variant in variants:
                server = start_callgrind(binary, variant, out_dir, env)
                try:
                    lengths[variant] = len(server.cookie)
                    count_cells(server, [(variant, route, server.cookie) for route in ROUTES])
                finally:
                    server.stop()
                if postgres and VARIANTS[variant][1] == "postgres":
                    for route in ROUTES:
                        store_per_request[(variant, route)] = postgres_per_request(binary, variant, route, count, env, postgres, out_dir)
                        print(f"  {framework} {variant}/{route}: {store_per_request[(variant, route)]:,.0f} PostgreSQL backend instructions/request", file=sys.stderr)
            # The baseline with a dummy cookie of each variant's length, so that receiving
            # (and the framework parsing) a longer cookie is not counted as session cost.
            server = start_callgrind(binary, "none", out_dir, env)
            try:
                count_cells(server, [(("none", n), route, dummy_cookie(n)) for n in sorted(set(lengths.values())) for route in ROUTES])
            finally:
                server.stop()
            for variant in variants:
                label, mode, _ = VARIANTS[variant]
                for route in ROUTES:
                    ir, sha = per_request[(variant, route)]
                    base_ir, base_sha = per_request[(("none", lengths[variant]), route)]
                    row = {"run": "instructions-stores" if args.stores else "instructions", "framework": framework, "mode": mode, "variant": variant, "label": label, "route": route, "cookie_bytes": lengths[variant], "instructions": round(ir), "sha256_instructions": round(sha), "baseline_instructions": round(base_ir), "added_instructions": round(ir - base_ir), "added_instructions_without_sha256": round((ir - sha) - (base_ir - base_sha)), "requests": count}
                    if (variant, route) in store_per_request:
                        row["store_instructions"] = round(store_per_request[(variant, route)])
                    rows.append(row)
        if redis:
            redis.kill()
            redis.wait()
        if postgres:
            postgres.stop()
        shutil.rmtree(sqlite_dir, ignore_errors=True)
    return rows


def render_load(rows):
    first = rows[0]
    out = [f"load test (wrk -t1 -c{first['connections']} for {first['seconds']}s per route, every request on one session):", ""]
    out.append("| framework | variant | route | requests | requests/s | p99 latency | errors |")
    out.append("|---|---|---|---|---|---|---|")
    for row in rows:
        name = f"**{row['label']}**" if row["variant"].startswith("ours") else row["label"]
        out.append(f"| {row['framework']} | {name} | {row['route']} | {row['requests']:,} | {row['rps']:,} | {row['p99_ms']:.2f} ms | {row['errors']} |")
    return out + [""]


def render_instructions(rows):
    what = "store mode, " if rows[0]["run"] == "instructions-stores" else ""
    out = [f"instructions per request ({what}callgrind, {rows[0]['requests']} sequential requests on one connection per cell, after 50 of warm-up; added is over the no-session baseline sent a dummy cookie of the variant\'s length):", ""]
    stores = rows[0]["run"] == "instructions-stores"
    columns = ["instructions", "added", "of which SHA-256", "added without SHA-256"] + (["store server"] if stores else [])
    out.append("| framework | variant | " + " | ".join(f"{route}: {c}" for route in ROUTES for c in columns) + " |")
    out.append("|---|---|" + "---|" * (2 * len(columns)))
    groups = {}
    for row in rows:
        groups.setdefault((row["framework"], row["variant"]), {})[row["route"]] = row
    fmt = lambda v: "" if v is None else f"{v:,}"  # noqa: E731
    signed = lambda v: "" if v is None else f"{v:+,}"  # noqa: E731
    for (framework, variant), cells in groups.items():
        w = cells["write"]
        name = f"**{w['label']}**" if variant.startswith("ours") else w["label"]
        line = []
        for route in ROUTES:
            c = cells[route]
            line += [fmt(c["instructions"]), signed(c["added_instructions"]), fmt(c.get("sha256_instructions")), signed(c.get("added_instructions_without_sha256"))]
            if stores:
                line.append(fmt(c.get("store_instructions")))
        out.append(f"| {framework} | {name} | " + " | ".join(line) + " |")
    if stores:
        out += ["", "The store server is redis-server for the Redis rows and, for the PostgreSQL rows, the backends serving the bench server's connections (counted over whole lives of a server, with and without the counted requests; the background processes are left out); SQLite runs inside the bench server, so its cost is in the server's columns."]
    out += ["", "Ratios of added instructions (peer / ours; above 1 means ours executes fewer), all and without SHA-256" + (", of the store server's, and of added server + store server" if stores else "") + ":", ""]
    out.append("| framework | peer / ours | write | read | write, without SHA-256 | read, without SHA-256 |" + (" write: store server | read: store server | write: server + store server | read: server + store server |" if stores else ""))
    out.append("|---|---|---|---|---|---|" + ("---|---|---|---|" if stores else ""))
    for (framework, variant), cells in groups.items():
        if variant == "none" or variant.startswith("ours"):
            continue
        counterpart = VARIANTS[variant][2] or "ours"
        mine = groups.get((framework, counterpart)) or groups.get((framework, "ours"))
        if mine:
            line = [ratio(cells[r]["added_instructions"], mine[r]["added_instructions"]) for r in ROUTES]
            line += [ratio(cells[r].get("added_instructions_without_sha256"), mine[r].get("added_instructions_without_sha256")) for r in ROUTES]
            if stores:
                line += [ratio(cells[r].get("store_instructions"), mine[r].get("store_instructions")) for r in ROUTES]
                line += [ratio(cells[r]["added_instructions"] + cells[r].get("store_instructions", 0), mine[r]["added_instructions"] + mine[r].get("store_instructions", 0)) for r in ROUTES]
            out.append(f"| {framework} | {cells['write']['label']} / {mine['write']['label']} | " + " | ".join(line) + " |")
    return out + [""]


# Rendering: BENCHMARKS.md-style tables from the JSON rows (also what a run prints).


def us(value):
    return "" if value is None else f"{value:.2f} µs"


def signed_us(value):
    return "" if value is None else f"{value:+.2f} µs"


def ratio(peer, ours):
    return f"{peer / ours:.2f}x" if peer is not None and ours and ours > 0 else "n/a"


def group(rows):
    """(framework, variant, cookie_bytes) -> {route: row}, in the order the rows came."""
    groups = {}
    for row in rows:
        groups.setdefault((row["framework"], row["variant"], row["cookie_bytes"]), {})[row["route"]] = row
    return groups


def display(row):
    if row["variant"] == "none":
        return f"{row['label']}, {row['cookie_bytes']}-byte dummy cookie"
    label = row["label"]
    return f"**{label}**" if row["variant"].startswith("ours") else label


def comparisons(groups):
    """(framework, peer cells, our cells) for every peer, beside its counterpart of ours."""
    ours = {(f, v): cells for (f, v, _), cells in groups.items() if v.startswith("ours")}
    for (framework, variant, _), cells in groups.items():
        if variant == "none" or variant.startswith("ours"):
            continue
        counterpart = VARIANTS[variant][2]
        mine = ours.get((framework, counterpart)) or ours.get((framework, "ours"))
        if mine:
            yield framework, cells, mine


def render(rows):
    out = []
    renderers = {"cookie": render_cookie, "stores": render_stores, "instructions": render_instructions, "instructions-stores": render_instructions, "load": render_load}
    for run, renderer in renderers.items():
        part = [r for r in rows if r["run"] == run]
        if part:
            out += renderer(part)
    return "\n".join(out) + "\n"


def header(rows, what):
    runs = sorted({(r["seconds"], r["rounds"], r["connections"], r["seed"]) for r in rows})
    setups = "; ".join(f"{s}s x {n} rounds per cell, wrk -t1 -c{c}, seed {seed}" for s, n, c, seed in runs)
    return [f"{what} ({setups}): cells interleaved in a shuffled order per round; CPU is user + system; medians over rounds.", ""]


def render_cookie(rows):
    groups = group(rows)
    out = header(rows, "cookie mode")
    out.append("| framework | variant | cookie | write: CPU/req | write: added | write: added, user | read: CPU/req | read: added | read: added, user | write req/s | read req/s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for (framework, _, length), cells in groups.items():
        w, r = cells["write"], cells["read"]
        out.append(f"| {framework} | {display(w)} | {length} B | {us(w['cpu_us'])} | {signed_us(w['added_us'])} | {signed_us(w.get('added_user_us'))} | {us(r['cpu_us'])} | {signed_us(r['added_us'])} | {signed_us(r.get('added_user_us'))} | {w['rps']:,} | {r['rps']:,} |")
    out += ["", "Ratios of added CPU (peer / ours; above 1 means ours costs less), user + system and user only:", ""]
    out.append("| framework | peer / ours | write | read | write, user | read, user |")
    out.append("|---|---|---|---|---|---|")
    for framework, peer, mine in comparisons(groups):
        cells = [ratio(peer[r]["added_us"], mine[r]["added_us"]) for r in ROUTES]
        cells += [ratio(peer[r].get("added_user_us"), mine[r].get("added_user_us")) for r in ROUTES]
        out.append(f"| {framework} | {peer['write']['label']} / {mine['write']['label']} | " + " | ".join(cells) + " |")
    return out + [""]


def render_stores(rows):
    groups = group(rows)
    out = header(rows, "store mode")
    columns = ["server CPU/req", "added", "store CPU/req", "total (server + store)/req", "p99"]
    out.append("| framework | variant | cookie | " + " | ".join(f"{route}: {c}" for route in ROUTES for c in columns) + " | write req/s | read req/s |")
    out.append("|" + "---|" * (3 + 2 * len(columns) + 2))
    for (framework, _, length), cells in groups.items():
        line = [framework, display(cells["write"]), f"{length} B"]
        for route in ROUTES:
            row = cells[route]
            line += [us(row["cpu_us"]), signed_us(row["added_us"]), us(row.get("store_cpu_us")), us(row.get("total_cpu_us")), f"{row['p99_ms']:.2f} ms"]
        line += [f"{cells['write']['rps']:,}", f"{cells['read']['rps']:,}"]
        out.append("| " + " | ".join(line) + " |")

    def added_total(row):  # server CPU over the baseline plus the store's CPU
        return None if row["added_us"] is None else row["added_us"] + row.get("store_cpu_us", 0.0)

    out += ["", "Ratios (peer / ours; above 1 means ours costs less), of added server CPU, of added server + store CPU, of added server user CPU, and of the store's CPU:", ""]
    out.append("| framework | peer / ours | write: server | read: server | write: server + store | read: server + store | write: server, user | read: server, user | write: store | read: store |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for framework, peer, mine in comparisons(groups):
        cells = [ratio(peer[r]["added_us"], mine[r]["added_us"]) for r in ROUTES]
        cells += [ratio(added_total(peer[r]), added_total(mine[r])) for r in ROUTES]
        cells += [ratio(peer[r].get("added_user_us"), mine[r].get("added_user_us")) for r in ROUTES]
        cells += [ratio(peer[r].get("store_cpu_us"), mine[r].get("store_cpu_us")) for r in ROUTES]
        out.append(f"| {framework} | {peer['write']['label']} / {mine['write']['label']} | " + " | ".join(cells) + " |")
    return out + [""]


def build(extra):
    command = ["cargo", "build", "--release", "-p", "bench"] + [a for part in extra for a in part]
    subprocess.run(command, cwd=ROOT, check=True)


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def write_json(path, rows):
    """The rows as JSON to `path` (nothing without one)."""
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=1, ensure_ascii=False)
            f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frameworks", help=f"comma-separated (default: all the mode has: {','.join(FRAMEWORKS)}; with --stores {','.join(STORE_FRAMEWORKS)})")
    parser.add_argument("--seconds", type=int, default=5, help="length of one measured wrk run (one cell in one round)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="seconds of wrk per server and route before round 1")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, help="seed of the per-round shuffled order (default: random, printed)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--markdown", metavar="FILE", help="measure nothing: print the tables for the JSON in FILE")
    parser.add_argument("--variants", help="comma-separated: measure only these variants (and the baselines), e.g. ours-sqlite,tower-sessions-sqlite")
    parser.add_argument("--stores", action="store_true", help="store mode: ours vs the peers' stores")
    parser.add_argument("--load", action="store_true", help="bounded load test: ours and the peers on Redis")
    parser.add_argument("--instructions", action="store_true", help="cookie mode, counted by callgrind: instructions per request instead of CPU time")
    parser.add_argument("--instructions-requests", type=int, default=400, help="requests counted per cell with --instructions")
    parser.add_argument("--load-seconds", type=int, default=10)
    parser.add_argument("--load-connections", type=int, default=64)
    args = parser.parse_args()
    if args.markdown:
        with open(args.markdown) as f:
            sys.stdout.write(render(json.load(f)))
        return
    if args.instructions:
        args.frameworks = args.frameworks or ",".join(STORE_FRAMEWORKS if args.stores else FRAMEWORKS)
        rows = instructions(args)
        write_json(args.json, rows)
        print()
        sys.stdout.write(render(rows))
        return
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required: apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'}")
    if args.load:
        args.frameworks = args.frameworks or ",".join(LOAD_VARIANTS)
        rows = load(args)
        write_json(args.json, rows)
        return
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    known = STORE_FRAMEWORKS if args.stores else FRAMEWORKS
    args.frameworks = args.frameworks or ",".join(known)
    unknown = [f for f in args.frameworks.split(",") if f and f not in known]
    if unknown:
        raise SystemExit(f"unknown framework(s) {', '.join(unknown)}; this mode has {', '.join(known)}")
    print(f"seed {args.seed} (repeat the order with --seed {args.seed}); server pinned to core 0, wrk{', redis-server and postgres' if args.stores else ''} to core 1")
    rng = random.Random(args.seed)
    rows = stores(args, rng) if args.stores else cookie_mode(args, rng)
    write_json(args.json, rows)
    print()
    sys.stdout.write(render(rows))


if __name__ == "__main__":
    main()
