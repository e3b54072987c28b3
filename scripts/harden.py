#!/usr/bin/env python3
"""Hardening measurements of `zonetrack serve` (issue 10; run through scripts/harden).

Tries the HTTP edge as an attacker would, on loopback against a release binary: each scenario
starts a fresh server on a free port of 127.0.0.1 with a temporary copy of a data directory,
measures, and stops it.

  slow-bodies         520 connections trickle a 1 MB POST body a byte every ~2 s (and reconnect
                      when closed) for ~40 s; meanwhile 10 normal requests must answer 200 in 1 s
  unfinished-headers  a request whose headers never end must be closed within 30 s; with half a
                      request line open, the server must exit within 5 s of SIGTERM
  batches             two concurrent 100,000-point GeoJSON batches at a point covered by many
                      zones: peak RSS <= 400 MiB, back within 100 MiB of the start after 5 s,
                      /health under 1 s throughout
  bad-csv             one good CSV line and ~16 MiB of bad ones: peak RSS under 250 MiB
  replaced-folder     the data folder deleted and copied back (and renamed over): the next edit
                      is served within 10 s; /health never shows the folder's absolute path

Prints the figures and PASS/FAIL per criterion; exits 1 when a criterion fails, 2 when a server
cannot be started. Only the Python standard library; only loopback; every loop is bounded.
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from soak import SLOW_BODY, Held, copy_data, hold_open

TTY = sys.stdout.isatty()
MIB = 1024 * 1024
SCENARIOS = ["slow-bodies", "unfinished-headers", "batches", "bad-csv", "replaced-folder"]


def log(msg):
    """Progress, on a terminal only."""
    if TTY:
        print(f"\r\033[K{msg}", flush=True)


def proc_kib(pid, field):
    """A `Vm...` line of /proc/PID/status (VmRSS, VmHWM), in KiB; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


class ServerDidNotStart(Exception):
    pass


class Server:
    """`zonetrack serve` on a fresh temporary copy of the data, on a free port of 127.0.0.1."""

    def __init__(self, binary, data_src):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="zonetrack-harden-")
        self.data = os.path.join(self.tmp, "data")
        copy_data(data_src, self.data)
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc = None
        self.port = None

    def __enter__(self):
        try:
            with open(self.log_path, "w") as log_file:
                self.proc = subprocess.Popen(
                    [self.binary, "serve", "--data", self.data, "--bind", "127.0.0.1:0"],
                    stdout=subprocess.DEVNULL, stderr=log_file,
                    env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")})
        except OSError as e:  # no such binary, not executable
            self.__exit__(None, None, None)
            raise ServerDidNotStart(f"{self.binary}: {e}") from e
        # Port 0 lets the kernel pick a free port; the server says which in its log.
        end = time.monotonic() + 60
        while self.port is None and time.monotonic() < end and self.proc.poll() is None:
            with open(self.log_path) as f:
                m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            text = self.server_log()
            self.__exit__(None, None, None)
            raise ServerDidNotStart(text)
        log(f"server pid {self.proc.pid} on 127.0.0.1:{self.port}, data in {self.data}")
        return self

    def __exit__(self, *_exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        # Only cleanup here (scenario b times SIGTERM itself): do not wait for a server that
        # lingers after SIGTERM, as today's does with connections open.
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def server_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def request(port, method, path, body=None, content_type=None, timeout=10.0):
    """One request on a fresh connection. Returns (status or None, headers, body, seconds,
    error text or None); the time runs from connect to the answer's last byte."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return (resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload,
                time.perf_counter() - start, None)
    except (OSError, http.client.HTTPException) as e:
        return None, {}, b"", time.perf_counter() - start, f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def get_json(port, path, timeout=10.0):
    status, _, body, _, err = request(port, "GET", path, timeout=timeout)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status or err}")
    return json.loads(body)


class Result:
    """A scenario's figures (label, value) and criteria (description, passed)."""

    def __init__(self, name):
        self.name = name
        self.figures = []
        self.criteria = []

    def figure(self, label, value):
        self.figures.append((label, value))

    def criterion(self, text, ok):
        self.criteria.append((text, bool(ok)))


# --- a. slow request bodies -------------------------------------------------------------------

SLOW_CONNECTIONS = 520
SLOW_SECONDS = 40.0
SLOW_BYTE_EVERY = 2.0
NORMAL_REQUESTS = 10
NORMAL_FIRST_AT = 3.0
NORMAL_SPACING = 3.0  # 10 requests from 3 s to 30 s


async def slow_bodies_run(port):
    rng = random.Random(10)
    stats = Held()
    t0 = time.monotonic()
    end = t0 + SLOW_SECONDS
    # Each reconnects when the server ends it (after 0.25 s), as an attacker would.
    attackers = [asyncio.create_task(hold_open(port, SLOW_BODY, SLOW_BYTE_EVERY, end, stats, rng))
                 for _ in range(SLOW_CONNECTIONS)]

    async def normal(i):
        await asyncio.sleep(max(t0 + NORMAL_FIRST_AT + i * NORMAL_SPACING - time.monotonic(), 0))
        path = ("/health" if i % 2 == 0
                else "/query/point?lon=36.1&lat=32.617&datetime=2018-02-15")
        status, _, body, seconds, err = await asyncio.to_thread(request, port, "GET", path,
                                                                None, None, 10.0)
        shown = status if status else err
        log(f"  normal {i + 1}: GET {path} -> {shown} in {seconds * 1000:.0f} ms "
            f"({stats.opened} slow connections opened)")
        return {"path": path, "status": status, "seconds": seconds,
                "error": err or (None if status == 200 else body[:120].decode(errors="replace"))}

    normals = await asyncio.gather(*(normal(i) for i in range(NORMAL_REQUESTS)))
    await asyncio.gather(*attackers)
    return stats, normals


def slow_bodies(args, res):
    with Server(args.bin, args.data) as srv:
        get_json(srv.port, "/health")
        stats, normals = asyncio.run(slow_bodies_run(srv.port))
        alive = srv.alive()
    good = [n for n in normals if n["status"] == 200 and n["seconds"] < 1.0]
    statuses = {}
    for n in normals:
        key = str(n["status"]) if n["status"] else "no answer"
        statuses[key] = statuses.get(key, 0) + 1
    res.figure("normal requests answered 200 within 1 s", f"{len(good)} of {len(normals)}")
    res.figure("normal requests by status", ", ".join(f"{k}: {v}" for k, v in statuses.items()))
    lat = [n["seconds"] for n in normals]
    res.figure("normal request latency (median / max)",
               f"{statistics.median(lat) * 1000:.0f} / {max(lat) * 1000:.0f} ms")
    # Two kinds of ending: refused at once (the cap is full, or a connection limit) and held
    # for a while, then ended (a body timeout); the second says how long a slot stays taken.
    at_once = [s for s in stats.ended if s < 1.0]
    held = [s for s in stats.ended if s >= 1.0]
    res.figure("slow connections opened (incl. reconnects)", stats.opened)
    res.figure("slow connections ended by the server", len(stats.ended))
    res.figure("  how they ended (status, or none)",
               ", ".join(f"{k}: {v}" for k, v in sorted(stats.answers.items())) or "-")
    res.figure("  within 1 s of connecting", len(at_once))
    res.figure("  after being held (count: min / median / max)",
               f"{len(held)}: {min(held):.1f} / {statistics.median(held):.1f} / "
               f"{max(held):.1f} s" if held else "0")
    res.figure("slow connections still open at the end", stats.open_at_end)
    res.figure("slow connects refused or timed out", stats.connect_failures)
    res.criterion("10 of 10 normal requests answer 200 within 1 s",
                  len(good) == NORMAL_REQUESTS)
    res.criterion("the server ran to the end", alive)
    return {"normal_requests": normals, "slow_connections": stats.summary()}


# --- b. unfinished headers --------------------------------------------------------------------

HEADER_CLOSE_LIMIT = 30.0
HEADER_GIVE_UP = 60.0
SIGTERM_LIMIT = 5.0
SIGTERM_GIVE_UP = 30.0


def unfinished_headers(args, res):
    with Server(args.bin, args.data) as srv:
        get_json(srv.port, "/health")
        # A header line that never ends, kept alive with a byte every 5 s.
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        closed_after = None
        answer = b""
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: ")
            t0 = time.monotonic()
            next_byte = t0 + 5.0
            while closed_after is None and time.monotonic() - t0 < HEADER_GIVE_UP:
                ready, _, _ = select.select([sock], [], [], max(next_byte - time.monotonic(), 0))
                try:
                    if ready:
                        data = sock.recv(4096)
                        if not data:
                            closed_after = time.monotonic() - t0
                        # Anything it answers (a 408, a 431) is kept; closing is what counts.
                        answer += data[: max(200 - len(answer), 0)]
                    elif time.monotonic() >= next_byte:
                        sock.sendall(b"a")
                        next_byte += 5.0
                        log(f"  unfinished headers: still open after "
                            f"{time.monotonic() - t0:.0f} s")
                except OSError:  # reset, or a write to a closed socket
                    closed_after = time.monotonic() - t0
        finally:
            sock.close()
        status = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        res.figure("unfinished headers: closed by the server after",
                   f"{closed_after:.1f} s" if closed_after is not None
                   else f"not closed in {HEADER_GIVE_UP:.0f} s")
        res.figure("unfinished headers: the server answered",
                   status.group(1).decode() if status else "nothing")
        res.criterion(f"a connection with unfinished headers is closed within "
                      f"{HEADER_CLOSE_LIMIT:.0f} s",
                      closed_after is not None and closed_after <= HEADER_CLOSE_LIMIT)

        # Half a request line and nothing else, then SIGTERM.
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            sock.sendall(b"GET /hea")
            time.sleep(0.5)  # let the server accept it and read what came
            alive_before = srv.alive()
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            try:
                srv.proc.wait(timeout=SIGTERM_GIVE_UP)
                exit_after = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                exit_after = None
        finally:
            sock.close()
        res.figure("half a request line open: exit after SIGTERM",
                   f"{exit_after:.2f} s (exit status {srv.proc.returncode})"
                   if exit_after is not None else f"still running after {SIGTERM_GIVE_UP:.0f} s")
        res.criterion(f"with half a request line open, the server exits within "
                      f"{SIGTERM_LIMIT:.0f} s of SIGTERM",
                      exit_after is not None and exit_after < SIGTERM_LIMIT)
        res.criterion("the server ran to the end", alive_before)
    return {"unfinished_headers_closed_seconds": closed_after,
            "unfinished_headers_answer": answer.decode(errors="replace"),
            "sigterm_exit_seconds": exit_after}


# --- c. two large batches ---------------------------------------------------------------------

BATCH_POINTS = 100_000
PEAK_LIMIT_MIB = 400
AFTER_LIMIT_MIB = 100
HEALTH_LIMIT = 1.0


def covering_count(conn, lon, lat):
    """How many zones cover (lon, lat) with no date, and how many of them on a boundary."""
    conn.request("GET", f"/query/point?lon={lon:.3f}&lat={lat:.3f}&nearest=0",
                 headers={"Accept": "application/json"})
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    if resp.status != 200:
        raise RuntimeError(f"/query/point: {resp.status} {doc}")
    cov = doc["covering"]
    return len(cov), sum(1 for c in cov if c.get("on_boundary"))


def most_covered_spot(port):
    """Searches the south-west (Daraa, Quneitra, the Golan bands, where the reported distance
    bands and the de-escalation zones overlap) for the point covered by the most zones when no
    date is given: a coarse grid, then a finer one around the best. A point on no zone boundary
    is preferred, so a rounding of its coordinates cannot change the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    best = (-1, 0, 0.0, 0.0)
    try:
        def search(lons, lats):
            nonlocal best
            for lon in lons:
                for lat in lats:
                    n, on_edge = covering_count(conn, lon, lat)
                    if (n, -on_edge) > (best[0], -best[1]):
                        best = (n, on_edge, lon, lat)
        search([35.6 + 0.05 * i for i in range(29)], [32.3 + 0.05 * j for j in range(29)])
        _, _, lon0, lat0 = best
        search([lon0 - 0.05 + 0.01 * i for i in range(11)],
               [lat0 - 0.05 + 0.01 * j for j in range(11)])
    finally:
        conn.close()
    count, _, lon, lat = best
    return round(lon, 3), round(lat, 3), count


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every 20 ms until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.02):
            kib = proc_kib(self.pid, "VmRSS")
            if kib is None:
                return
            self.peak = max(self.peak, kib)
            self.samples += 1


class HealthPoller(threading.Thread):
    """GET /health every 200 ms (one at a time, so a stall shows as one long request) until
    stopped; keeps the worst latency and any failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.worst = 0.0
        self.count = 0
        self.failures = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            status, _, _, seconds, err = request(self.port, "GET", "/health", timeout=30)
            self.count += 1
            self.worst = max(self.worst, seconds)
            if status != 200:
                self.failures.append(status or err)
            self.halt.wait(max(0.2 - seconds, 0))


def batches(args, res):
    # The spot is searched on a server of its own, so the measured one starts untouched.
    with Server(args.bin, args.data) as srv:
        lon, lat, count = most_covered_spot(srv.port)
    log(f"  spot {lon},{lat}: covered by {count} zones with no date")
    feature = ('{"type":"Feature","properties":{},"geometry":{"type":"Point",'
               f'"coordinates":[{lon},{lat}]}}}}')
    body = ('{"type":"FeatureCollection","features":['
            + ",".join([feature] * BATCH_POINTS) + "]}").encode()
    res.figure("batch spot (lon, lat): zones covering it, no date", f"{lon}, {lat}: {count}")
    res.figure("each batch's body", f"{BATCH_POINTS:,} points, {len(body) / MIB:.1f} MiB GeoJSON")

    with Server(args.bin, args.data) as srv:
        get_json(srv.port, "/health")
        start_kib = proc_kib(srv.pid, "VmRSS")
        sampler = RssSampler(srv.pid)
        poller = HealthPoller(srv.port)
        answers = [None, None]

        def post(i):
            answers[i] = request(srv.port, "POST", "/query/points", body,
                                 "application/geo+json", timeout=180)

        sampler.start()
        poller.start()
        posters = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for p in posters:
            p.start()
        for p in posters:
            p.join()
        poller.halt.set()
        poller.join()
        log("  batches answered; waiting 5 s")
        time.sleep(5.0)
        after_kib = proc_kib(srv.pid, "VmRSS")
        sampler.halt.set()
        sampler.join()
        hwm_kib = proc_kib(srv.pid, "VmHWM")
        alive = srv.alive()

    # Parsed only now: 2 x ~90 MB of JSON keeps this process busy, not the server.
    checks = []
    for status, headers, payload, seconds, err in answers:
        results = None
        if status == 200:
            try:
                doc = json.loads(payload)
                results = doc.get("results", doc.get("features"))
            except ValueError as e:
                err = f"not JSON: {e}"
        checks.append({"status": status, "seconds": seconds, "bytes": len(payload),
                       "results": len(results) if isinstance(results, list) else None,
                       "error": err})
    peak_kib = max(sampler.peak, hwm_kib or 0)
    for i, c in enumerate(checks):
        res.figure(f"batch {i + 1}: status, results, answer size, wall time",
                   f"{c['status'] or c['error']}, {c['results']}, {c['bytes'] / MIB:.1f} MiB, "
                   f"{c['seconds']:.1f} s")
    res.figure("RSS at start (after one /health)", mib(start_kib))
    res.figure("peak RSS (20 ms samples / VmHWM)", f"{mib(sampler.peak)} / {mib(hwm_kib)}")
    res.figure("RSS 5 s after the batches", mib(after_kib))
    res.figure("/health during the batches: worst latency",
               f"{poller.worst * 1000:.0f} ms over {poller.count} requests"
               + (f", failures: {poller.failures[:5]}" if poller.failures else ""))
    res.criterion(f"spot covered by 14 zones found (got {count})", count >= 14)
    res.criterion(f"both batches answered 200 with {BATCH_POINTS:,} results (JSON)",
                  all(c["status"] == 200 and c["results"] == BATCH_POINTS for c in checks))
    res.criterion(f"peak RSS <= {PEAK_LIMIT_MIB} MiB", peak_kib <= PEAK_LIMIT_MIB * 1024)
    res.criterion(f"RSS 5 s after <= start + {AFTER_LIMIT_MIB} MiB",
                  after_kib is not None and after_kib <= start_kib + AFTER_LIMIT_MIB * 1024)
    res.criterion(f"/health under {HEALTH_LIMIT:.0f} s throughout (and 200)",
                  poller.worst < HEALTH_LIMIT and not poller.failures)
    res.criterion("the server ran to the end", alive)
    return {"spot": [lon, lat], "zones_at_spot": count, "body_bytes": len(body),
            "batches": checks, "rss_kib": {"start": start_kib, "peak_sampled": sampler.peak,
                                           "hwm": hwm_kib, "after_5s": after_kib},
            "health_worst_seconds": poller.worst, "health_requests": poller.count,
            "health_failures": poller.failures}


# --- d. a CSV batch of bad lines --------------------------------------------------------------

BAD_CSV_LIMIT_MIB = 250
BODY_LIMIT = 16 * MIB


def bad_csv(args, res):
    good = b"36.1,32.617\n"
    # Just under the server's 16 MiB body limit, so the body is read, not refused.
    body = good + b"x\n" * ((BODY_LIMIT - 64 - len(good)) // 2)
    with Server(args.bin, args.data) as srv:
        get_json(srv.port, "/health")
        start_kib = proc_kib(srv.pid, "VmRSS")
        status, headers, payload, seconds, err = request(srv.port, "POST", "/query/points",
                                                         body, "text/csv", timeout=120)
        hwm_kib = proc_kib(srv.pid, "VmHWM")
        alive = srv.alive()
    res.figure("body", f"1 good line + {(len(body) - len(good)) // 2:,} bad lines, "
               f"{len(body):,} bytes")
    res.figure("status, answer size, wall time",
               f"{status or err}, {len(payload):,} bytes, {seconds:.1f} s")
    errors = headers.get("x-batch-errors", "")
    res.figure("x-batch-errors header", f"{errors.count('line ')} errors named, "
               f"{len(errors):,} bytes" if errors else "none")
    res.figure("RSS at start / peak (VmHWM)", f"{mib(start_kib)} / {mib(hwm_kib)}")
    res.criterion("the batch is answered (a status, not a dropped connection)", status is not None)
    res.criterion(f"peak RSS under {BAD_CSV_LIMIT_MIB} MiB",
                  hwm_kib is not None and hwm_kib < BAD_CSV_LIMIT_MIB * 1024)
    res.criterion("the server ran to the end", alive)
    return {"body_bytes": len(body), "status": status, "seconds": seconds,
            "rss_kib": {"start": start_kib, "hwm": hwm_kib}}


# --- e. a replaced data folder ----------------------------------------------------------------

EDIT_LIMIT = 10.0
EDIT_GIVE_UP = 15.0
ROUNDS = 2  # twice on one server: a watch re-armed once must also survive the next time


def replace_rm_cp(data, backup):
    """`rm -rf data && cp -r backup data`."""
    shutil.rmtree(data)
    shutil.copytree(backup, data)


def replace_mv(data, backup):
    """`cp -r backup data.new; rm -rf data; mv data.new data`."""
    staged = data + ".new"
    shutil.copytree(backup, staged)
    shutil.rmtree(data)
    os.rename(staged, data)


def replaced_folder(args, res):
    out = {}
    for variant, replace in (("rm -rf + cp -r", replace_rm_cp), ("mv data.new data", replace_mv)):
        # A server per variant, so the second is not judged on a watch the first broke.
        with Server(args.bin, args.data) as srv:
            tmp_path = srv.tmp
            leaks = []

            def health():
                status, _, body, _, err = request(srv.port, "GET", "/health")
                text = body.decode(errors="replace")
                if tmp_path in text:
                    leaks.append(text[:300])
                return status, text

            status, _ = health()
            backup = os.path.join(srv.tmp, "backup")
            shutil.copytree(srv.data, backup)
            zones_path = os.path.join(srv.data, "zones.geojson")
            with open(zones_path, encoding="utf-8") as f:
                first = json.load(f)["features"][0]
            key, name = first["id"], first["properties"]["name"]
            rounds = []
            for rnd in range(1, ROUNDS + 1):
                replace(srv.data, backup)
                time.sleep(1.0)
                _, during = health()
                # The same edit as soak.py's: the first zone's name, in place.
                with open(zones_path, encoding="utf-8") as f:
                    text = f.read()
                m = re.search(r'"name":\s*"([^"]*)"', text)
                assert m and m.group(1) == name, "the first name in zones.geojson moved"
                new_name = f"{name} (harden rev {rnd})"
                with open(zones_path, "w", encoding="utf-8") as f:
                    f.write(text[: m.start(1)] + new_name + text[m.end(1):])
                t0 = time.monotonic()
                served_after = None
                while served_after is None and time.monotonic() - t0 < EDIT_GIVE_UP:
                    st, _, body, _, _ = request(srv.port, "GET", f"/collections/zones/items/{key}")
                    if st == 200 and json.loads(body)["properties"].get("name") == new_name:
                        served_after = time.monotonic() - t0
                    else:
                        time.sleep(0.1)
                _, after = health()
                rounds.append({"served_after": served_after, "health_after_replace": during,
                               "health_after_edit": after})
                log(f"  {variant} round {rnd}: edit "
                    + (f"served after {served_after:.2f} s" if served_after is not None
                       else f"not served in {EDIT_GIVE_UP:.0f} s"))
                if served_after is None:
                    break  # later rounds would only repeat the failure
            alive = srv.alive()
        shown = ", ".join(f"{r['served_after']:.2f} s" if r["served_after"] is not None
                          else f"not in {EDIT_GIVE_UP:.0f} s" for r in rounds)
        res.figure(f"{variant}: edit served after (round 1, 2)", shown)
        try:
            problems = json.loads(rounds[-1]["health_after_edit"])["last_load"]["problems"]
        except (ValueError, KeyError, TypeError):
            problems = None
        if problems:
            res.figure(f"{variant}: /health problems at the end", "; ".join(problems)[:160])
        res.figure(f"{variant}: /health answers showing the temp dir's path", len(leaks))
        res.criterion(f"{variant}: every edit served within {EDIT_LIMIT:.0f} s "
                      f"({ROUNDS} rounds)", len(rounds) == ROUNDS and all(
                          r["served_after"] is not None and r["served_after"] <= EDIT_LIMIT
                          for r in rounds))
        res.criterion(f"{variant}: /health never shows an absolute path", not leaks)
        res.criterion(f"{variant}: the server ran to the end", alive)
        out[variant] = {"rounds": rounds, "path_leaks": leaks[:3]}
    return out


RUNNERS = {"slow-bodies": slow_bodies, "unfinished-headers": unfinished_headers,
           "batches": batches, "bad-csv": bad_csv, "replaced-folder": replaced_folder}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n")[2])
    ap.add_argument("--bin", required=True, help="the zonetrack binary")
    ap.add_argument("--data", required=True, help="data directory to copy and serve")
    ap.add_argument("--only", action="append", choices=SCENARIOS, metavar="NAME",
                    help="run only this scenario (repeatable): " + ", ".join(SCENARIOS))
    ap.add_argument("--report", help="also write the figures to this JSON file")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)

    # 520 slow connections plus the normal ones need more descriptors than a default 1024
    # leaves room for on some systems.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    results, report = [], {}
    for name in [s for s in SCENARIOS if not args.only or s in args.only]:
        log(f"{name}:")
        res = Result(name)
        t0 = time.monotonic()
        try:
            report[name] = RUNNERS[name](args, res)
        except ServerDidNotStart as e:
            print(f"harden: the server did not start ({name}); its log:\n{e}", file=sys.stderr)
            return 2
        except Exception as e:  # noqa: BLE001 - one broken scenario must not hide the others
            traceback.print_exc()
            res.criterion(f"the scenario ran to its end ({type(e).__name__}: {e})", False)
            report[name] = {"error": f"{type(e).__name__}: {e}"}
        report[name] = {"seconds": round(time.monotonic() - t0, 1), **report[name],
                        "criteria": dict(res.criteria)}
        results.append(res)

    width = max(len(label) for r in results for label, _ in r.figures)
    print(f"harden: {args.bin}")
    for r in results:
        print(f"\n{r.name} ({report[r.name]['seconds']:.0f} s)")
        for label, value in r.figures:
            print(f"  {label:<{width}}  {value}")
        for text, ok in r.criteria:
            print(f"  {'PASS' if ok else 'FAIL'} {text}")
    failed = [f"{r.name}: {text}" for r in results for text, ok in r.criteria if not ok]
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2, default=str)
    if failed:
        print(f"\nharden: FAILED {len(failed)} criteria:\n  " + "\n  ".join(failed))
        return 1
    print("\nharden: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
