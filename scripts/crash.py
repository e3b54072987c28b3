#!/usr/bin/env python3
"""Crash test of editing with revisions (run through scripts/crash).

Makes a data folder (`zonetrack init`) and an editor, keeps a copy of the folder as imported,
and serves the folder with the release server. Several clients then send a stream of edits
(creates, PATCHes of geometry and of properties, PUTs and DELETEs of zones, locations and
events), each with a message naming it (`X-Zonetrack-Message: crash c<client> e<seq>`), while
the server is killed with SIGKILL at random moments and restarted. Each client owns its own
features, so the edits to one feature come one after another and "the last acknowledged write
to it" is well defined; the server still sees the clients' writes interleaved.

An edit answered 2xx is acknowledged; one refused (4xx) must have written nothing; one cut off
by a kill is uncertain: it may or may not be in the log, but at most once. After each kill (the
folder as the crash left it), after each restart and at the end it checks:

- the log: complete lines parse, only the last may be cut short (and only before a restart),
  revisions are numbered 1, 2, 3 ... without gaps, each is one of our edits, at most once, in
  each client's order, and each change's `before` is the feature as the previous revision left
  it;
- every acknowledged edit is in the log, as the revision its ETag named, with what it set; no
  refused edit is; each feature's last change is its last acknowledged edit or a later one;
- the log folded forward from the folder as imported equals, feature by feature in source form,
  what the layer files hold and what the server serves (`/collections/{layer}/items`), and
  `/revisions` names the log's latest revision;
- `zonetrack validate DIR` passes.

Exits 0 when every check passes, 1 with the failures listed, 2 when the server cannot be started.
Only the Python standard library; only loopback.
"""

import argparse
import asyncio
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from soak import TTY, Http, log, start_server

LAYERS = ("zones", "locations", "events")
# Export-form members derived from other data: not in the source form, never compared.
DERIVED = ("key", "actor_name", "colour")
AUTHOR = "crash"


def read_layers(folder):
    """{layer: {id: source feature}} of a data folder's editable layers, in file order."""
    out = {}
    for layer in LAYERS:
        with open(os.path.join(folder, f"{layer}.geojson"), encoding="utf-8") as f:
            out[layer] = {feat["id"]: feat for feat in json.load(f)["features"]}
    return out


def read_log(folder):
    """(revisions, torn): the complete lines of history/log.jsonl parsed, and the text of a
    last line without its newline ('' when there is none)."""
    path = os.path.join(folder, "history", "log.jsonl")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return [], ""
    complete = text.rfind("\n") + 1
    return [json.loads(line) for line in text[:complete].splitlines() if line.strip()], \
        text[complete:]


def is_rule_zone(feature):
    return feature["properties"].get("rule") is not None


def comparable(feature, served):
    """What must agree between a feature's source form and its served export form: every
    property but the derived ones, and the geometry; a rule zone's geometry is derived and its
    rule served as a description, so for those only that it has a rule."""
    props = {k: v for k, v in feature["properties"].items() if k not in DERIVED}
    geometry = feature["geometry"]
    rule = props.pop("rule", None)
    if served:
        is_rule = isinstance(rule, str)
    else:
        is_rule = rule is not None
    if is_rule:
        geometry = "rule"
    return {"props": props, "geometry": geometry, "rule": is_rule}


class Attempt:
    """One edit sent, and what became of it."""

    def __init__(self, client, seq, kind, method, layer, fid, body):
        self.client, self.seq, self.kind = client, seq, kind
        self.method, self.layer, self.fid, self.body = method, layer, fid, body
        self.message = f"crash c{client} e{seq}"
        self.status = None  # None: cut off (uncertain)
        self.etag = None  # the revision number the answer's ETag named
        self.error = None

    @property
    def acked(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self):
        return self.status is not None and self.status >= 400

    def matches(self, after):
        """Whether a change's `after` is what this edit set."""
        if self.method == "DELETE":
            return after is None
        if after is None or after["id"] != self.fid:
            return False
        props = self.body.get("properties") or {}
        if any(after["properties"].get(k) != v for k, v in props.items()):
            return False
        return "geometry" not in self.body or after["geometry"] == self.body["geometry"]


class Run:
    """The server, the clients' shared state and the checks."""

    def __init__(self, args, tmp):
        self.args = args
        self.rng = random.Random(args.seed)
        self.data = os.path.join(tmp, "data")
        self.imported = os.path.join(tmp, "imported")
        self.editors = os.path.join(tmp, "editors.toml")
        self.server_log = os.path.join(tmp, "server.log")
        self.server = None
        self.port = None
        self.epoch = 0  # one more each restart: a client's connection is for one server
        self.running = asyncio.Event()
        self.in_flight = 0
        self.started = 0
        self.attempts = []
        self.failures = []
        self.checks = {"after a kill": 0, "after a restart": 0, "at the end": 0}
        self.torn_lines = 0
        self.kills = 0
        self.kill_latencies = []
        self.logged = set()

    def fail(self, when, what):
        self.failures.append(f"{when}: {what}")
        log(f"FAIL {when}: {what}")

    def zonetrack(self, *argv):
        return subprocess.run([self.args.bin, *argv], capture_output=True, text=True)

    def setup(self):
        out = self.zonetrack("init", self.data)
        if out.returncode != 0:
            raise RuntimeError(f"zonetrack init failed: {out.stderr}")
        shutil.copytree(self.data, self.imported)
        out = self.zonetrack("editors", "add", AUTHOR, "--file", self.editors)
        if out.returncode != 0:
            raise RuntimeError(f"zonetrack editors add failed: {out.stderr}")
        self.token = out.stdout.split()[-1]
        self.base = read_layers(self.imported)

    def start(self):
        self.server, self.port = start_server(
            [self.args.bin, "serve", "--data", self.data, "--editors", self.editors],
            self.server_log)
        self.epoch += 1
        return self.port is not None

    # The edits.

    def owned(self):
        """Each client's features from the import: every n-th of each layer, leaving out the
        ones rules and events refer to (deleting those is refused, which tests nothing here)."""
        referred = set()
        for feat in self.base["zones"].values():
            rule = feat["properties"].get("rule") or {}
            for k in ("of", "area", "by", "clip_to"):
                if isinstance(rule.get(k), str):
                    referred.add(rule[k])
            referred.update(rule.get("minus") or [])
        for feat in self.base["events"].values():
            if feat["properties"].get("location"):
                referred.add(feat["properties"]["location"])
        out = [{"features": {}, "next": 0} for _ in range(self.args.clients)]
        for layer in LAYERS:
            for i, (fid, feat) in enumerate(self.base[layer].items()):
                out[i % self.args.clients]["features"][(layer, fid)] = {
                    "base": feat, "exists": True,
                    "deletable": fid not in referred}
        return out

    def template(self, layer):
        return next(f for f in self.base[layer].values() if not is_rule_zone(f))

    def geometry(self, layer):
        """A small geometry inside Syria, as the loader stores it (counter-clockwise outer ring,
        7 decimals), so what was sent is what is stored."""
        lon, lat = self.rng.uniform(36.6, 40.4), self.rng.uniform(33.6, 36.4)
        if layer != "zones":
            return {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}
        d = self.rng.uniform(0.02, 0.2)
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
        ring = [[round(x, 7), round(y, 7)] for x, y in ring]
        return {"type": "MultiPolygon", "coordinates": [[ring]]}

    def next_edit(self, cid, mine):
        """The client's next edit: (kind, method, layer, id, body)."""
        seq = mine["next"]
        alive = [k for k, f in mine["features"].items() if f["exists"] is not False]
        kinds = ["create"] * 2 + ["patch geometry"] * 3 + ["patch properties"] * 3 + ["put"] * 2
        if any(mine["features"][k]["deletable"] for k in alive):
            kinds += ["delete"] * 2
        kind = self.rng.choice(kinds)
        if kind == "create" or not alive:
            layer = self.rng.choice(LAYERS)
            fid = f"crash_c{cid}_e{seq}"
            feat = copy.deepcopy(self.template(layer))
            feat["id"] = fid
            feat["properties"]["name"] = f"Crash test c{cid} e{seq}"
            feat["geometry"] = self.geometry(layer)
            mine["features"][(layer, fid)] = {"base": feat, "exists": None, "deletable": True}
            return "create", "POST", layer, fid, feat
        if kind == "delete":
            layer, fid = self.rng.choice([k for k in alive if mine["features"][k]["deletable"]])
            return kind, "DELETE", layer, fid, None
        if kind in ("patch geometry", "put"):
            drawn = [k for k in alive if not is_rule_zone(mine["features"][k]["base"])]
            layer, fid = self.rng.choice(drawn)
        else:
            layer, fid = self.rng.choice(alive)
        if kind == "patch geometry":
            return kind, "PATCH", layer, fid, {"geometry": self.geometry(layer)}
        if kind == "patch properties":
            props = {"description": f"Edited by the crash test, c{cid} e{seq}"}
            if self.rng.random() < 0.5:
                props["confidence"] = self.rng.choice(["high", "medium", "low"])
            return kind, "PATCH", layer, fid, {"properties": props}
        feat = copy.deepcopy(mine["features"][(layer, fid)]["base"])
        feat["properties"]["name"] = f"Replaced by the crash test, c{cid} e{seq}"
        feat["geometry"] = self.geometry(layer)
        return kind, "PUT", layer, fid, feat

    async def client(self, cid, mine, edits):
        http, epoch = None, None
        for _ in range(edits):
            await self.running.wait()
            if epoch != self.epoch:
                if http is not None:
                    await http.close()
                http, epoch = Http(self.port), self.epoch
            kind, method, layer, fid, body = self.next_edit(cid, mine)
            a = Attempt(cid, mine["next"], kind, method, layer, fid, body)
            mine["next"] += 1
            self.attempts.append(a)
            self.started += 1
            path = f"/collections/{layer}/items" + ("" if method == "POST" else f"/{fid}")
            ctype = "application/merge-patch+json" if method == "PATCH" else "application/geo+json"
            payload = None if body is None else json.dumps(body).encode()
            extra = [("Authorization", f"Bearer {self.token}"),
                     ("X-Zonetrack-Message", a.message)]
            self.in_flight += 1
            try:
                status, headers, answer = await asyncio.wait_for(
                    http.request(method, path, payload, ctype, extra), timeout=30)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                a.error = f"{type(e).__name__}"
                await http.close()
                status = None
                if self.running.is_set():
                    # No kill under way: the server failed on its own.
                    self.fail("an answer", f"{a.message} {method} {layer}/{fid}: {a.error} {e}")
            finally:
                self.in_flight -= 1
            state = mine["features"][(layer, fid)]
            a.status = status
            if a.refused:
                a.error = answer[:300].decode("utf-8", "replace")
            if status is None:
                # Cut off by a kill: applied or not, the log will tell.
                state["exists"] = None
                continue
            if a.acked:
                etag = headers.get("etag", "")
                if etag.startswith('"r') and etag.endswith('"'):
                    a.etag = int(etag[2:-1])
                elif method != "DELETE":
                    self.fail("an answer", f"{a.message} {method} {layer}/{fid}: "
                              f"{status} without an ETag")
                state["exists"] = method != "DELETE"
                if method in ("POST", "PUT"):
                    state["base"] = body
            elif status == 404 and state["exists"] is not True:
                state["exists"] = False  # an uncertain create that did not happen, or a delete that did
            elif status not in (404, 409, 422):
                self.fail("an answer", f"{a.message} {method} {layer}/{fid}: {status} "
                          f"{answer[:300]!r}")
            elif status == 404:
                self.fail("an answer", f"{a.message} {method} {layer}/{fid}: 404 for a "
                          "feature an acknowledged edit left in place")

    async def killer(self, edits):
        """Kills the server at `--kills` random points of the stream and restarts it."""
        marks = sorted(self.rng.sample(range(2, max(edits - 2, 3)), self.args.kills))
        for n, mark in enumerate(marks, 1):
            while self.started < mark:
                await asyncio.sleep(0.002)
            # Somewhere inside the requests then under way: before, during or after the commit.
            await asyncio.sleep(self.rng.uniform(0, 0.03))
            self.running.clear()
            t0 = time.monotonic()
            self.server.send_signal(signal.SIGKILL)
            self.server.wait()
            self.kills += 1
            while self.in_flight:
                await asyncio.sleep(0.01)
            self.check_crashed(f"after kill {n}")
            if n % 2:
                # Half the time `validate` repairs the folder first, half the time the server.
                self.validate(f"after kill {n}")
            if not self.start():
                self.fail(f"restart {n}", "the server did not start again")
                return False
            self.kill_latencies.append(time.monotonic() - t0)
            await self.check(f"after restart {n}", "after a restart")
            if TTY:
                done = sum(1 for a in self.attempts if a.acked)
                print(f"\r\033[Kkill {n}/{len(marks)}: {self.started} edits sent, {done} "
                      f"acknowledged, {len(self.failures)} failures", end="", flush=True)
            self.running.set()
        return True

    # The checks.

    def validate(self, when):
        out = self.zonetrack("validate", self.data)
        if out.returncode != 0:
            self.fail(when, f"zonetrack validate: {out.stderr.strip()[-600:]}")

    def check_crashed(self, when):
        """The folder as the kill left it: only the log's last line may be cut short."""
        try:
            revisions, torn = read_log(self.data)
        except json.JSONDecodeError as e:
            self.fail(when, f"a complete line of the log is not JSON: {e}")
            return
        if torn:
            self.torn_lines += 1
        self.check_log(when, revisions)
        self.fold(when, revisions)
        self.checks["after a kill"] += 1

    def fold(self, when, revisions):
        """The import with the log applied, checking each change's `before` on the way."""
        state = copy.deepcopy(self.base)
        for r in revisions:
            for c in r["changes"]:
                layer = state.setdefault(c["layer"], {})
                if layer.get(c["id"]) != c["before"]:
                    self.fail(when, f"revision {r['revision']} changes {c['layer']}/{c['id']} "
                              "from a state the log did not leave it in")
                if c["after"] is None:
                    layer.pop(c["id"], None)
                else:
                    layer[c["id"]] = c["after"]
        return state

    def check_log(self, when, revisions):
        """The log against the edits sent and their answers (see the module's docstring)."""
        numbers = [r["revision"] for r in revisions]
        if numbers != list(range(1, len(numbers) + 1)):
            self.fail(when, f"revision numbers with gaps or out of order: {numbers[:50]}")
        by_message = {}
        for r in revisions:
            if r["author"] != AUTHOR:
                self.fail(when, f"revision {r['revision']} by {r['author']!r}")
            if r["message"] in by_message:
                self.fail(when, f"{r['message']} written twice: revisions "
                          f"{by_message[r['message']]['revision']} and {r['revision']}")
            by_message[r["message"]] = r
        attempts = {a.message: a for a in self.attempts}
        last_seq = {}
        last_change = {}  # (layer, id) -> the attempt whose revision last changed it
        for r in revisions:
            a = attempts.get(r["message"])
            if a is None:
                self.fail(when, f"revision {r['revision']} ({r['message']!r}) is no edit sent")
                continue
            if a.refused:
                self.fail(when, f"{a.message} was refused ({a.status}) but is revision "
                          f"{r['revision']}")
            if a.seq <= last_seq.get(a.client, -1):
                self.fail(when, f"{a.message} logged after a later edit of its client")
            last_seq[a.client] = a.seq
            changed = [(c["layer"], c["id"]) for c in r["changes"]]
            if changed != [(a.layer, a.fid)]:
                self.fail(when, f"revision {r['revision']} ({a.message}) changes {changed}, "
                          f"not {a.layer}/{a.fid}")
            elif not a.matches(r["changes"][0]["after"]):
                self.fail(when, f"revision {r['revision']} ({a.message}) does not hold what "
                          f"the {a.method} set")
            last_change[(a.layer, a.fid)] = a
        last_acked = {}
        for a in self.attempts:
            if not a.acked:
                continue
            last_acked[(a.layer, a.fid)] = a
            r = by_message.get(a.message)
            if r is None:
                self.fail(when, f"acknowledged {a.message} ({a.method} {a.layer}/{a.fid}, "
                          f"{a.status}) is not in the log")
            elif a.etag is not None and a.etag != r["revision"]:
                self.fail(when, f"{a.message} was answered as r{a.etag} but is revision "
                          f"{r['revision']}")
        for key, a in last_acked.items():
            last = last_change.get(key)
            if last is None or last.seq < a.seq:
                self.fail(when, f"{key[0]}/{key[1]}: the last acknowledged edit {a.message} "
                          f"was overtaken by an older one ({last.message if last else 'none'})")

    async def served(self, http, layer):
        status, _, body = await http.request("GET", f"/collections/{layer}/items?limit=10000")
        if status != 200:
            raise RuntimeError(f"GET /collections/{layer}/items: {status}")
        return {f["properties"]["key"]: f for f in json.loads(body)["features"]}

    def compare(self, when, what, expected, got, served):
        for layer in LAYERS:
            want, have = expected[layer], got[layer]
            if served:
                # A date-aware rule (`remainder`) is served as one zone per period, named
                # `<id>_YYYY_MM_DD`, and written in the file once: compare the rest.
                whole = {k for k, f in want.items()
                         if isinstance((f.get("properties") or {}).get("rule"), dict)
                         and f["properties"]["rule"].get("op") == "remainder"}
                want = {k: f for k, f in want.items() if k not in whole}
                have = {k: f for k, f in have.items()
                        if not any(k.startswith(w + "_") for w in whole)}
            for fid in sorted(set(want) | set(have)):
                if fid not in have:
                    self.fail(when, f"{what}: {layer}/{fid} missing")
                elif fid not in want:
                    self.fail(when, f"{what}: {layer}/{fid} should not be there")
                elif served and comparable(want[fid], False) != comparable(have[fid], True):
                    self.fail(when, f"{what}: {layer}/{fid} differs from the log")
                elif not served and want[fid] != have[fid]:
                    self.fail(when, f"{what}: {layer}/{fid} differs from the log")

    async def check(self, when, tally, server_up=True):
        """The whole folder and, when it runs, the server (see the module's docstring)."""
        revisions, torn = read_log(self.data)
        if torn:
            self.fail(when, f"the log ends in a cut-off line after a restart: {torn[:80]!r}")
        self.check_log(when, revisions)
        state = self.fold(when, revisions)
        if server_up:
            http = Http(self.port)
            try:
                served = {layer: await self.served(http, layer) for layer in LAYERS}
                status, _, body = await http.request("GET", "/revisions?limit=1")
                latest = json.loads(body)["latest"] if status == 200 else None
            finally:
                await http.close()
            self.compare(when, "served", state, served, True)
            if latest != len(revisions):
                self.fail(when, f"/revisions says the latest is {latest}, the log "
                          f"{len(revisions)}")
        self.compare(when, "files", state, read_layers(self.data), False)
        self.checks[tally] += 1


async def run(args, r):
    if not r.start():
        return False
    r.running.set()
    owned = r.owned()
    per_client = [args.edits // args.clients + (i < args.edits % args.clients)
                  for i in range(args.clients)]
    t0 = time.monotonic()
    killer = asyncio.create_task(r.killer(args.edits))
    await asyncio.gather(*(r.client(i, owned[i], n) for i, n in enumerate(per_client)))
    if not await killer:
        return False
    if TTY:
        print()
    r.elapsed = time.monotonic() - t0
    # The files follow the log a moment after the last edit (the server's flush delay).
    await asyncio.sleep(1.0)
    await r.check("at the end, running", "at the end")
    r.server.send_signal(signal.SIGTERM)
    r.server.wait(timeout=30)
    await r.check("at the end, stopped", "at the end", server_up=False)
    r.validate("at the end")
    r.logged = {rev["message"] for rev in read_log(r.data)[0]}
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the zonetrack binary")
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--clients", type=int, default=3, choices=range(2, 5))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--report", help="also write the figures to this JSON file")
    args = ap.parse_args()
    if args.kills < 1 or args.edits < args.kills + 5:
        ap.error("--edits must be at least --kills + 5, and --kills at least 1")

    tmp = tempfile.mkdtemp(prefix="zonetrack-crash-")
    r = Run(args, tmp)
    try:
        r.setup()
        log(f"data in {r.data}, the import kept in {r.imported}")
        ok = asyncio.run(run(args, r))
    finally:
        if r.server is not None and r.server.poll() is None:
            r.server.kill()
            r.server.wait()
        server_log = open(r.server_log).read() if os.path.exists(r.server_log) else ""
        if args.keep:
            print(f"crash: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if not ok and not r.failures:
        print("crash: the server did not start; its log ends:\n"
              + "\n".join(server_log.splitlines()[-30:]), file=sys.stderr)
        return 2

    acked = [a for a in r.attempts if a.acked]
    cut = [a for a in r.attempts if a.status is None]
    revisions = len(r.logged)
    by_kind = {}
    for a in r.attempts:
        k = by_kind.setdefault(a.kind, {"sent": 0, "acknowledged": 0})
        k["sent"] += 1
        k["acknowledged"] += a.acked
    refused = {}
    for a in r.attempts:
        if a.refused:
            refused[str(a.status)] = refused.get(str(a.status), 0) + 1
    report = {
        "edits_sent": len(r.attempts),
        "acknowledged": len(acked),
        "refused": refused,
        "refused_examples": [f"{a.method} {a.layer}/{a.fid}: {a.status} {a.error}"
                             for a in r.attempts if a.refused][:10],
        "cut_off_by_a_kill": len(cut),
        "cut_off_and_applied": sum(1 for a in cut if a.message in r.logged),
        "revisions": revisions,
        "by_kind": by_kind,
        "clients": args.clients,
        "kills": r.kills,
        "torn_log_lines_seen": r.torn_lines,
        "restart_seconds_median": round(sorted(r.kill_latencies)[len(r.kill_latencies) // 2], 2)
        if r.kill_latencies else None,
        "checks": r.checks,
        "seconds": round(getattr(r, "elapsed", 0), 1),
        "failures": r.failures,
    }
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    print(f"crash: {len(r.attempts)} edits from {args.clients} clients in {report['seconds']} s, "
          f"{r.kills} kills (SIGKILL) and restarts")
    print("  by kind (acknowledged/sent): " + ", ".join(
        f"{k} {v['acknowledged']}/{v['sent']}" for k, v in sorted(by_kind.items())))
    print(f"  acknowledged {len(acked)}, refused {sum(refused.values())} {refused or ''}, "
          f"cut off by a kill {len(cut)} (of which in the log: "
          f"{report['cut_off_and_applied']}); {revisions} revisions; "
          f"{r.torn_lines} cut-short log lines seen")
    print("  checks run: " + ", ".join(f"{n} {k}" for k, n in r.checks.items())
          + " (log, acknowledged edits, fold = files = served, validate)")
    for f in r.failures[:30]:
        print(f"  FAIL {f}", file=sys.stderr)
    if r.failures:
        print(f"crash: FAILED ({len(r.failures)} failures)", file=sys.stderr)
        return 1
    print("crash: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
