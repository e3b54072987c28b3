#!/usr/bin/env python3
"""Soak test of `zonetrack serve` (run through scripts/soak).

Starts the release server on a temporary copy of a data directory, on a free port of 127.0.0.1,
and puts it under mixed load for a fixed time over keep-alive connections: point queries, items
pages, exports, CSV batch queries of ~1000 points, and a small share of deliberately bad
requests. Meanwhile the data directory is edited: zones.geojson rewritten with a changed name at
regular intervals, once after the whole folder was deleted and copied back (as editors and
deploy scripts do), and once with a broken file, then fixed. All along, a few connections are
held open as an attacker would: request bodies trickled a byte at a time and headers that never
end (each reconnecting when the server ends it); they are tallied, not judged (scripts/harden
measures the limits), but the load's good requests must not suffer from them.

Passes when: no request fails (every good request gets a 200, every deliberately bad one a 4xx
JSON error), every edit is picked up (a good one served, also after the folder was replaced, the
broken one refused while the last good data keeps serving), every replaced data version is freed
once the load ends (`/health` counts the snapshots alive: one), and resident memory beyond the
answer cache (`/health` reports its bytes; it is bounded, and refilled after each reload) grows
less than 50% after warm-up. The exact check is the snapshot count: glibc's allocator keeps a
few MiB more after some reloads under load and gives them back after others (RSS over 40 reloads
moved between 80 and 110 MiB without a trend), so a tight RSS bound fails at random on a short
run and a loose one only catches gross leaks.
Prints the figures; exits 1 when a criterion fails, 2 when the server cannot be started.

Only the Python standard library; only loopback; the load stops by itself after --seconds.
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TTY = sys.stdout.isatty()


def log(msg):
    """Progress, on a terminal only."""
    if TTY:
        print(f"\r\033[K{msg}", flush=True)


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    """User + system CPU time a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def copy_data(src, dst):
    """The data files of a data directory (JSON and GeoJSON, reference/ included)."""
    for root, _dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        for name in files:
            if name.endswith((".json", ".geojson")):
                os.makedirs(os.path.join(dst, rel), exist_ok=True)
                shutil.copy(os.path.join(root, name), os.path.join(dst, rel, name))


class Http:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port):
        self.port = port
        self.reader = None
        self.writer = None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def request(self, method, path, body=None, content_type=None, extra=()):
        """Sends a request and returns (status, headers, body). Reconnects when needed.
        `extra`: more header lines, as (name, value) pairs."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                "Accept: application/json"]
        head += [f"{k}: {v}" for k, v in extra]
        if body is not None:
            head.append(f"Content-Type: {content_type}")
            head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        try:
            self.writer.write(data)
            await self.writer.drain()
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split()[1])
            headers = {}
            while True:
                line = await self.reader.readuntil(b"\r\n")
                if line == b"\r\n":
                    break
                k, _, v = line.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            if "content-length" in headers:
                payload = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                payload = b"".join(parts)
            else:
                payload = await self.reader.read()
                await self.close()
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return status, headers, payload
        except BaseException:
            await self.close()
            raise


# What the held-open connections send first: a 1 MB batch body announced, then trickled; and a
# header line that never ends.
SLOW_BODY = (b"POST /query/points HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
             b"Content-Length: 1000000\r\n\r\n")
UNFINISHED_HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: "


class Held:
    """Tallies of the connections `hold_open` kept."""

    def __init__(self):
        self.opened = 0
        self.connect_failures = 0
        self.ended = []  # seconds each was held before the server ended it
        self.answers = {}  # the status it was ended with ("none": closed without an answer)
        self.open_at_end = 0

    def summary(self):
        out = {"opened": self.opened, "ended_by_server": len(self.ended),
               "open_at_end": self.open_at_end, "connect_failures": self.connect_failures,
               "answers": dict(sorted(self.answers.items()))}
        if self.ended:
            out["held_seconds"] = {"min": round(min(self.ended), 2),
                                   "median": round(statistics.median(self.ended), 2),
                                   "max": round(max(self.ended), 2)}
        return out


async def _server_ends(reader):
    """Waits until the server answers or closes a held connection; returns the status it
    answered with, or None when it closed (or reset) without one."""
    try:
        first = await reader.read(1024)
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", first)
    return int(m.group(1)) if m else None


async def hold_open(port, head, every, deadline, held, rng):
    """One attacker's connection: sends `head`, then one more byte every `every` s (body bytes
    or header bytes, whichever `head` left unfinished) so it never quite goes idle, until the
    server ends it; then reconnects, until `deadline`. The pause before reconnecting keeps a
    server that refuses at once from turning this into a connect storm."""
    trickle = b"a" if head.endswith(b": ") else b"0"
    # Spread the connects and the bytes, so the server sees a steady trickle, not bursts.
    await asyncio.sleep(rng.uniform(0, 1.0))
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), timeout=5)
        except (OSError, asyncio.TimeoutError):
            held.connect_failures += 1
            await asyncio.sleep(0.5)
            continue
        held.opened += 1
        opened = time.monotonic()
        ended = asyncio.create_task(_server_ends(reader))
        try:
            writer.write(head)
            await asyncio.wait({ended}, timeout=rng.uniform(0, every))
            while time.monotonic() < deadline and not ended.done():
                writer.write(trickle)
                await writer.drain()
                await asyncio.wait({ended},
                                   timeout=min(every, max(deadline - time.monotonic(), 0)))
        except OSError:
            pass  # a write to a connection the server closed: `ended` says how
        if not ended.done():
            await asyncio.wait({ended}, timeout=0.1)
        if ended.done():
            held.ended.append(time.monotonic() - opened)
            status = ended.result()
            key = str(status) if status else "none"
            held.answers[key] = held.answers.get(key, 0) + 1
        else:
            ended.cancel()
            held.open_at_end += 1
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        if time.monotonic() < deadline:
            await asyncio.sleep(0.25)


class Load:
    """The request mix and its tallies."""

    # Share of each kind of request (the rest of the mix is point queries).
    WEIGHTS = {"point": 55, "items": 22, "export": 4, "batch": 4, "bad": 8, "timeline": 7}

    def __init__(self, port, layers, seed):
        self.port = port
        self.layers = layers
        self.rng = random.Random(seed)
        self.latencies = {k: [] for k in self.WEIGHTS}
        self.counts = {k: 0 for k in self.WEIGHTS}
        self.errors = []
        self.error_count = 0
        self.bad_not_4xx = 0
        self.versions = set()
        self.batches = [self.batch_body(1000) for _ in range(8)]
        kinds = list(self.WEIGHTS)
        self.kinds = kinds
        self.cum = [sum(self.WEIGHTS[k] for k in kinds[: i + 1]) for i in range(len(kinds))]

    def point(self):
        return self.rng.uniform(35.6, 42.3), self.rng.uniform(32.4, 37.3)

    def day(self):
        return time.strftime("%Y-%m-%d", time.gmtime(1483228800 + self.rng.randrange(730) * 86400))

    def batch_body(self, n):
        lines = ["lon,lat,date,id"]
        for i in range(n):
            lon, lat = self.point()
            lines.append(f"{lon:.5f},{lat:.5f},{self.day()},p{i}")
        return ("\n".join(lines) + "\n").encode()

    BAD = [
        ("GET", "/query/point?lon=NaN&lat=32", None, None),
        ("GET", "/query/point?lon=36&lat=1e999", None, None),
        ("GET", "/query/point?lon=36&lat=32&datetime=0000-00-00", None, None),
        ("GET", "/query/point?lon=36&lat=32&datetime=2018-02-07T99:99:99Z", None, None),
        ("GET", "/query/point?lon=36&lat=32&colour=red", None, None),
        ("GET", "/collections/zones/items?bbox=35,34,37,32", None, None),
        ("GET", "/collections/zones/items?bbox=" + ",".join(["1"] * 1000), None, None),
        ("GET", "/collections/zones/items?limit=0", None, None),
        ("GET", "/collections/zones/items?datetime=+275760-09-13", None, None),
        ("GET", "/collections/zones/items/" + "x" * 10240, None, None),
        ("GET", "/collections/zones/items/..%2F..%2Fetc%2Fpasswd", None, None),
        ("GET", "/static/..%2F..%2Fetc%2Fpasswd", None, None),
        ("GET", "/collections/%FF/items", None, None),
        ("GET", "/export/zones.shp", None, None),
        ("GET", "/no/such/path", None, None),
        ("DELETE", "/collections/zones/items", None, None),
        ("POST", "/query/points", b"lon,lat\n\xff\xfe,32\n", "text/csv"),
        ("POST", "/query/points", b"{not json", "application/geo+json"),
        ("POST", "/query/points", b"1,1", "image/png"),
        ("POST", "/query/points?datetime=2018-01-01/2018-02-01", b"36,32\n", "text/csv"),
    ]

    def pick(self):
        r = self.rng.randrange(self.cum[-1])
        kind = next(k for k, c in zip(self.kinds, self.cum) if r < c)
        if kind == "point":
            lon, lat = self.point()
            q = f"lon={lon:.5f}&lat={lat:.5f}"
            if self.rng.random() < 0.8:
                q += f"&datetime={self.day()}"
            return kind, ("GET", f"/query/point?{q}", None, None)
        if kind == "timeline":
            lon, lat = self.point()
            return kind, ("GET", f"/query/timeline?lon={lon:.5f}&lat={lat:.5f}", None, None)
        if kind == "items":
            name, count = self.rng.choice(self.layers)
            offset = self.rng.randrange(max(count, 1))
            return kind, ("GET", f"/collections/{name}/items?limit=100&offset={offset}", None, None)
        if kind == "export":
            path = self.rng.choice(["/export/zones.geojson"] * 3 + ["/export/locations.csv"])
            return kind, ("GET", path, None, None)
        if kind == "batch":
            body = self.rng.choice(self.batches)
            return kind, ("POST", f"/query/points?datetime={self.day()}", body, "text/csv")
        return kind, self.rng.choice(self.BAD)

    def fail(self, what):
        self.error_count += 1
        if len(self.errors) < 20:
            self.errors.append(what)

    async def worker(self, deadline):
        http = Http(self.port)
        try:
            while time.monotonic() < deadline:
                kind, (method, path, body, ctype) = self.pick()
                start = time.perf_counter()
                try:
                    status, headers, payload = await asyncio.wait_for(
                        http.request(method, path, body, ctype), timeout=60)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                    self.counts[kind] += 1
                    self.fail(f"{method} {path[:100]}: {type(e).__name__} {e}")
                    continue
                self.latencies[kind].append(time.perf_counter() - start)
                self.counts[kind] += 1
                if kind == "bad":
                    ok = 400 <= status < 500 and headers.get("content-type") == "application/json"
                    if ok:
                        try:
                            doc = json.loads(payload)
                            ok = bool(doc.get("code")) and bool(doc.get("description"))
                        except ValueError:
                            ok = False
                    if not ok:
                        self.bad_not_4xx += 1
                        self.fail(f"bad request {method} {path[:100]} got {status} {payload[:120]!r}")
                elif status != 200:
                    self.fail(f"{method} {path[:100]} got {status} {payload[:200]!r}")
                elif kind in ("point", "timeline") and self.rng.random() < 0.05:
                    self.versions.add(json.loads(payload).get("data_version"))
        finally:
            await http.close()


def start_server(command, log_path, timeout=60):
    """Starts `command` (a `zonetrack serve` without --bind) on a free port of 127.0.0.1, its
    log appended to `log_path`; returns (process, port), port None when it did not start
    serving within `timeout` s."""
    with open(log_path, "a") as log_file:
        start = log_file.tell()
        server = subprocess.Popen(
            command + ["--bind", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=log_file,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")})
    end = time.monotonic() + timeout
    while time.monotonic() < end and server.poll() is None:
        with open(log_path) as f:
            f.seek(start)
            m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", f.read())
        if m:
            return server, int(m.group(1))
        time.sleep(0.05)
    return server, None


async def get_json(port, path):
    http = Http(port)
    try:
        status, _, body = await http.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return json.loads(body)
    finally:
        await http.close()


async def cache_kib(port):
    """The bytes kept in the server's answer cache (`/health`), in KiB."""
    health = await get_json(port, "/health")
    return health["answer_cache"]["bytes"] / 1024


async def wait_status(port, pred, timeout):
    """Polls /status until `pred(status)` holds; returns it, or None after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = await get_json(port, "/status")
        if pred(st):
            return st
        await asyncio.sleep(0.1)
    return None


async def served_name(port, key, name, timeout):
    """Polls the zone `key` until its name is `name`; True when it is within `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        feature = await get_json(port, f"/collections/zones/items/{key}")
        if feature["properties"].get("name") == name:
            return True
        await asyncio.sleep(0.1)
    return False


async def edit_data(port, data_dir, interval, results, stop):
    """Rewrites zones.geojson with a changed name every `interval` s, checking each is picked up
    (or refused) by /status. Before the second edit the whole folder is deleted and a copy put
    back (`rm -rf data && cp -r backup data`): a watch on the old folder sees nothing after
    that. The third edit is a broken file, fixed by the fourth."""
    path = os.path.join(data_dir, "zones.geojson")
    with open(path, encoding="utf-8") as f:
        original = f.read()
    m = re.search(r'"name":\s*"([^"]*)"', original)
    # The name edited is the first feature's: its key is where the replaced folder's edit shows.
    first = json.loads(original)["features"][0]
    assert first["properties"]["name"] == m.group(1), "the first name is not the first zone's"
    backup = data_dir + ".backup"  # beside the folder, outside the watch
    shutil.copytree(data_dir, backup)
    rev = 0
    broken_done = False
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
        # Every kind of edit is made once (rename, replaced folder, broken, fix): when the load
        # ends first (a short run on a slow machine), the rest follow at once, so every
        # criterion is judged; later renames only while the load runs.
        if stop.is_set() and rev >= 4:
            return
        before = (await get_json(port, "/status"))["last_load"]
        rev += 1
        broken = not broken_done and rev == 3
        new_name = f"{m.group(1)} (soak rev {rev})"
        if broken:
            text = original[: len(original) // 2]  # a file saved half-way
        else:
            text = original[: m.start(1)] + new_name + original[m.end(1):]
        if rev == 2:
            shutil.rmtree(data_dir)
            shutil.copytree(backup, data_dir)
            await asyncio.sleep(1.0)  # the edit comes later, not in the same burst
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        t0 = time.monotonic()
        if rev == 2:
            # What is served is checked, not /status: the copy put back is itself a change.
            ok = await served_name(port, first["id"], new_name, 15)
            results.append({"edit": rev, "kind": "replaced folder", "ok": ok,
                            "seconds": round(time.monotonic() - t0, 2)})
            log(f"edit {rev}: folder replaced, then edited: "
                + ("served" if ok else "NOT served"))
        elif broken:
            broken_done = True
            st = await wait_status(port, lambda s: s["last_load"]["at"] != before["at"]
                                   and not s["last_load"]["ok"], 15)
            ok = (st is not None and st["last_load"]["serving_version"]
                  == before["serving_version"] and st["last_load"]["problems"])
            results.append({"edit": rev, "kind": "broken", "ok": bool(ok),
                            "seconds": round(time.monotonic() - t0, 2)})
            log(f"edit {rev}: broken file refused, still serving {before['serving_version']}"
                if ok else f"edit {rev}: broken file NOT handled: {st}")
        else:
            st = await wait_status(port, lambda s: s["last_load"]["ok"]
                                   and s["last_load"]["serving_version"]
                                   != before["serving_version"], 15)
            results.append({"edit": rev, "kind": "fix" if rev == 4 else "rename",
                            "ok": st is not None, "seconds": round(time.monotonic() - t0, 2)})
            log(f"edit {rev}: now serving {st['last_load']['serving_version']}"
                if st else f"edit {rev}: reload NOT picked up")


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


async def soak(args, port, pid):
    collections = await get_json(port, "/collections")
    layers = [(c["id"], c["itemCount"]) for c in collections["collections"]
              if c["id"] in ("zones", "locations", "events", "governorates")]
    load = Load(port, layers, args.seed)
    rss = {"start": rss_kib(pid)}
    cpu = {"server": cpu_seconds(pid), "client": time.process_time()}
    rss_samples = []
    # The answer cache of the data version served (bounded by design, emptied by each reload):
    # memory beyond it is what must not grow.
    cache_samples = []
    edits = []
    stop = asyncio.Event()
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    # Warm-up: the first fifth of the run and the first two data edits (the first reload gives
    # the reload thread its own copy of the data: a one-off step, not growth).
    warmup = max(args.seconds * 0.2, 3.0)
    workers = [asyncio.create_task(load.worker(deadline)) for _ in range(args.connections)]
    rng = random.Random(args.seed + 1)
    held = {"slow bodies": Held(), "unfinished headers": Held()}
    hostile = ([asyncio.create_task(hold_open(port, SLOW_BODY, 2.0, deadline,
                                              held["slow bodies"], rng))
                for _ in range(args.slow_bodies)]
               + [asyncio.create_task(hold_open(port, UNFINISHED_HEADERS, 5.0, deadline,
                                                held["unfinished headers"], rng))
                  for _ in range(args.unfinished_headers)])
    interval = args.edit_every or max(args.seconds / 6.0, 2.0)
    editor = asyncio.create_task(edit_data(port, args.data_copy, interval, edits, stop))
    warm_taken = False
    while any(not w.done() for w in workers):
        await asyncio.sleep(1.0)
        now = time.monotonic() - t0
        kib = rss_kib(pid)
        rss_samples.append(kib)
        cache_samples.append(await cache_kib(port))
        edited = sum(1 for e in edits if e["ok"]) >= 2
        if not warm_taken and now >= warmup and (edited or now >= args.seconds * 0.5):
            rss["after_warmup"] = kib
            rss["beyond_cache_after_warmup"] = kib - cache_samples[-1]
            warm_taken = True
        if TTY:
            total = sum(load.counts.values())
            print(f"\r\033[K{now:5.1f}/{args.seconds:.0f} s  {total} requests "
                  f"({total / max(now, 1e-9):.0f}/s)  errors {load.error_count}  "
                  f"RSS {kib / 1024:.1f} MiB", end="", flush=True)
    if TTY:
        print()
    # The load's own time: edits still due when it ended come after (see edit_data).
    elapsed = time.monotonic() - t0
    stop.set()
    await editor
    await asyncio.gather(*workers)
    await asyncio.gather(*hostile)
    # Requests done, every old data version must be freed: only the one served stays (a
    # handler may still be letting go of one, hence the short wait).
    alive = None
    for _ in range(50):
        alive = (await get_json(port, "/health"))["snapshots_alive"]
        if alive <= 1:
            break
        await asyncio.sleep(0.1)
    rss["snapshots_alive_at_end"] = alive
    rss["end"] = rss_kib(pid)
    rss["beyond_cache_end"] = rss["end"] - await cache_kib(port)
    rss.setdefault("after_warmup", rss_samples[0] if rss_samples else rss["start"])
    rss.setdefault("beyond_cache_after_warmup", rss["after_warmup"])
    rss["max"] = max(rss_samples + [rss["end"]])
    rss["samples"] = rss_samples
    rss["cache_samples"] = cache_samples
    cpu = {"server": cpu_seconds(pid) - cpu["server"], "client": time.process_time() - cpu["client"]}
    return load, rss, edits, elapsed, cpu, held


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the zonetrack binary")
    ap.add_argument("--data", required=True, help="data directory to copy and serve")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--edit-every", type=float, help="seconds between data edits "
                    "(default: a sixth of the run, at least 2)")
    ap.add_argument("--slow-bodies", type=int, default=16,
                    help="connections trickling a batch body a byte every 2 s (default 16)")
    ap.add_argument("--unfinished-headers", type=int, default=4,
                    help="connections whose headers never end, a byte every 5 s (default 4)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--report", help="also write the figures to this JSON file")
    args = ap.parse_args()
    if args.seconds < 13:
        ap.error("--seconds must be at least 13: the data edits (a rename, the folder replaced "
                 "and a rename, a broken file, its fix) need about that long")

    tmp = tempfile.mkdtemp(prefix="zonetrack-soak-")
    args.data_copy = os.path.join(tmp, "data")
    copy_data(args.data, args.data_copy)
    log_path = os.path.join(tmp, "server.log")
    server = None
    try:
        server, port = start_server([args.bin, "serve", "--data", args.data_copy], log_path)
        if port is None:
            print("soak: the server did not start; its log:\n" + open(log_path).read(),
                  file=sys.stderr)
            return 2
        log(f"server pid {server.pid} on 127.0.0.1:{port}, data in {args.data_copy}")
        load, rss, edits, elapsed, cpu, held = asyncio.run(soak(args, port, server.pid))
        crashed = server.poll() is not None
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server_log = open(log_path).read() if os.path.exists(log_path) else ""
        shutil.rmtree(tmp, ignore_errors=True)

    all_lat = [x for v in load.latencies.values() for x in v]
    total = sum(load.counts.values())
    growth = rss["end"] / rss["after_warmup"] - 1.0
    growth_beyond_cache = rss["beyond_cache_end"] / rss["beyond_cache_after_warmup"] - 1.0
    criteria = {
        "no failed request": load.error_count - load.bad_not_4xx == 0,
        "every deliberate bad request got a JSON 4xx": load.bad_not_4xx == 0,
        "every good edit served, the broken one refused, then fixed": bool(edits)
        and all(e["ok"] for e in edits) and any(e["kind"] == "broken" for e in edits)
        and any(e["kind"] == "fix" for e in edits),
        "an edit after the data folder was replaced whole was served":
        any(e["kind"] == "replaced folder" and e["ok"] for e in edits),
        "every replaced data version freed (one snapshot alive at the end)":
        rss["snapshots_alive_at_end"] == 1,
        "RSS beyond the answer cache at the end within 50% of after warm-up":
        growth_beyond_cache <= 0.50,
        "the server ran to the end": not crashed,
    }
    report = {
        "seconds": round(elapsed, 1),
        "connections": args.connections,
        "requests": total,
        "requests_per_second": round(total / elapsed),
        "by_kind": {k: load.counts[k] for k in load.kinds},
        "errors": load.error_count - load.bad_not_4xx,
        "deliberate_bad_requests": load.counts["bad"],
        "deliberate_bad_not_4xx": load.bad_not_4xx,
        "latency_ms": {
            "p50": round(percentile(all_lat, 50) * 1000, 2),
            "p99": round(percentile(all_lat, 99) * 1000, 2),
            "max": round(max(all_lat, default=0) * 1000, 2),
            "by_kind": {k: {"p50": round(percentile(v, 50) * 1000, 2),
                            "p99": round(percentile(v, 99) * 1000, 2)}
                        for k, v in load.latencies.items()},
        },
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "cores": os.cpu_count(),
        "rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()
                    if k not in ("samples", "cache_samples", "snapshots_alive_at_end")},
        "snapshots_alive_at_end": rss["snapshots_alive_at_end"],
        "rss_mib_each_second": [round(v / 1024, 1) for v in rss["samples"]],
        "answer_cache_mib_each_second": [round(v / 1024, 1) for v in rss["cache_samples"]],
        "rss_growth_after_warmup_percent": round(growth * 100, 1),
        "rss_beyond_cache_growth_after_warmup_percent": round(growth_beyond_cache * 100, 1),
        "data_edits": edits,
        "data_versions_seen": len(load.versions),
        "held_open": {k: {"connections": n, **held[k].summary()} for k, n in
                      (("slow bodies", args.slow_bodies),
                       ("unfinished headers", args.unfinished_headers))},
        "failures": load.errors,
        "criteria": criteria,
    }
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)

    lat = report["latency_ms"]
    print(f"soak: {total} requests in {elapsed:.1f} s ({report['requests_per_second']}/s) "
          f"over {args.connections} connections")
    print("  mix: " + ", ".join(f"{k} {n}" for k, n in report["by_kind"].items()))
    print(f"  CPU: server {cpu['server']:.1f} s, this client {cpu['client']:.1f} s "
          f"({os.cpu_count()} cores, shared)")
    print(f"  errors: {report['errors']}; deliberate bad requests: {load.counts['bad']}, "
          f"not a JSON 4xx: {load.bad_not_4xx}")
    print(f"  latency: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    print("  by kind (p50/p99 ms): " + ", ".join(
        f"{k} {v['p50']}/{v['p99']}" for k, v in lat["by_kind"].items()))
    print(f"  RSS: start {report['rss_mib']['start']} MiB, after warm-up "
          f"{report['rss_mib']['after_warmup']} MiB, end {report['rss_mib']['end']} MiB, "
          f"max {report['rss_mib']['max']} MiB ({report['rss_growth_after_warmup_percent']:+}% "
          "after warm-up)")
    print(f"  beyond the answer cache: after warm-up "
          f"{report['rss_mib']['beyond_cache_after_warmup']} MiB, end "
          f"{report['rss_mib']['beyond_cache_end']} MiB "
          f"({report['rss_beyond_cache_growth_after_warmup_percent']:+}%); snapshots alive "
          f"at the end: {report['snapshots_alive_at_end']}")
    print("  data edits: " + ", ".join(
        f"#{e['edit']} {e['kind']} {'ok' if e['ok'] else 'FAILED'} ({e['seconds']} s)"
        for e in edits) + f"; {len(load.versions)} data versions seen in answers")
    for kind, h in report["held_open"].items():
        ended = (f"{h['ended_by_server']} ended by the server"
                 + (f" after {h['held_seconds']['min']}-{h['held_seconds']['max']} s "
                    f"({', '.join(f'{k}: {v}' for k, v in h['answers'].items())})"
                    if h["ended_by_server"] else ""))
        print(f"  held open: {h['connections']} {kind}: {h['opened']} connections opened, "
              f"{ended}, {h['open_at_end']} still open at the end")
    for name, ok in criteria.items():
        print(f"  {'PASS' if ok else 'FAIL'} {name}")
    if load.errors:
        print("  first failures:\n    " + "\n    ".join(load.errors), file=sys.stderr)
    if not all(criteria.values()):
        print("soak: FAILED; the server's log ends:\n" + "\n".join(server_log.splitlines()[-30:]),
              file=sys.stderr)
        return 1
    print("soak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
