#!/usr/bin/env python3
"""Helpers for scripts/bench/http (standard library only, except `chart`, which needs matplotlib).

  points SEED N           N random points as CSV (lon,lat), the bench's distribution
  check ZT.csv PG.txt     compare zonetrack's and PostGIS's covering zones for those points
  nearcheck URL DAY POINTS.csv PG.txt
                          compare the 3 nearest zones and distances of GET /query/point with
                          PostGIS's (psql -At: index|key:km;key:km;key:km)
  pglat LOG...            p50 and p99 latency (us) from pgbench per-transaction logs
  edits URL TOKEN RATE SECONDS OUT.json
                          PATCHes a zone's description RATE times a second for SECONDS (one
                          connection; the next is due on the clock, not after the answer), and
                          writes their acknowledgement times
  summary RESULTS.tsv     medians, ratios and targets as a table; writes RESULTS.json
  chart RESULTS.json PNG [TITLE]  a bar chart of the medians
"""

import json
import os
import random
import statistics
import sys

# id -> (label, what it is)
CASES = {
    "zt_point": ("zonetrack /query/point", "covering zones + 3 nearest (the default answer)"),
    "pg_point_near": ("PostGIS covering + 3 nearest", "the default answer in SQL, geography"),
    "zt_point_edits": ("zonetrack /query/point, edits 10/s", "the same while a client PATCHes "
                       "a zone 10 times a second"),
    "zt_point0": ("zonetrack /query/point nearest=0", "covering zones only: the SQL's work"),
    "pg_point": ("PostGIS SELECT ST_Covers", "GiST index, -M prepared"),
    "zt_items": ("zonetrack items?limit=100", "/collections/zones/items?limit=100"),
    "zt_items_gz": ("zonetrack items, gzip", "the same with Accept-Encoding: gzip"),
    "zt_filter_100k": ("zonetrack items&filter, zones-100k",
                       "limit=100, S_INTERSECTS with a random 1-degree box, 100,000 zones"),
    "ref_404": ("ceiling: 404 answer", "tiny JSON error through the whole stack"),
    "ref_static": ("ceiling: static 147 KB file", "/static/vendor/leaflet/leaflet.js, no copy"),
}
# zonetrack case -> the PostGIS case that gives the same answer.
SAME_ANSWER = {"zt_point": "pg_point_near", "zt_point0": "pg_point"}
NCPU = os.cpu_count() or 1
POINT_RATIO = 4.0
POINT_P99_MS = 5.0
EDITS_P99_MS = 10.0  # issue 12: point queries while edits go on
ITEMS_RPS = 10_000.0
FILTER_P99_MS = 20.0


def points(seed, n):
    rng = random.Random(int(seed))
    print("lon,lat")
    for _ in range(int(n)):
        print(f"{rng.randint(357000, 424000) / 10000:.4f},{rng.randint(323000, 373000) / 10000:.4f}")


def check(zt_csv, pg_txt):
    """zonetrack's POST /query/points CSV answer (lon,lat,zones with ;-joined keys) against
    psql -At output (index|;-joined keys); prints agreeing/total and exits 1 below 99%."""
    with open(zt_csv) as f:
        rows = f.read().splitlines()[1:]
    zt = [frozenset(filter(None, r.split(",", 2)[2].split(";"))) for r in rows]
    pg = {}
    with open(pg_txt) as f:
        for line in f:
            i, _, keys = line.rstrip("\n").partition("|")
            pg[int(i)] = frozenset(filter(None, keys.split(";")))
    bad = [i for i, z in enumerate(zt, 1) if pg.get(i, frozenset()) != z]
    for i in bad[:10]:
        print(f"  point {i}: zonetrack {sorted(zt[i - 1])} PostGIS {sorted(pg.get(i, []))}",
              file=sys.stderr)
    covered = sum(1 for z in zt if z)
    print(f"{len(zt) - len(bad)} {len(zt)} {covered}")
    sys.exit(0 if len(zt) and len(bad) <= len(zt) // 100 else 1)


def nearcheck(url, day, points_csv, pg_txt):
    """Prints: points compared, points whose 3 nearest zones are the same set, the median and
    the largest distance difference in metres; exits 1 when under 95% of the sets agree.
    PostGIS's geography edges are great-circle arcs, zonetrack's follow the drawn lon/lat line
    (as GeoJSON consumers draw them): distances to long edges differ by up to some hundred m."""
    import urllib.request

    pg = {}
    with open(pg_txt) as f:
        for line in f:
            i, _, rest = line.rstrip("\n").partition("|")
            pg[int(i)] = {k: float(km) for k, _, km in
                          (item.rpartition(":") for item in filter(None, rest.split(";")))}
    with open(points_csv) as f:
        pts = [tuple(line.strip().split(",")[:2]) for line in f.read().splitlines()[1:]]
    same, diffs = 0, []
    for i, (lon, lat) in enumerate(pts, 1):
        if i not in pg:
            continue
        with urllib.request.urlopen(f"{url}/query/point?lon={lon}&lat={lat}&datetime={day}") as r:
            ours = {n["key"]: n["distance_km"] for n in json.load(r)["nearest"]}
        if set(ours) == set(pg[i]):
            same += 1
            diffs.extend(abs(ours[k] - pg[i][k]) * 1000 for k in ours)
        elif same < 3:
            print(f"  point {i} ({lon}, {lat}): zonetrack {ours} PostGIS {pg[i]}", file=sys.stderr)
    n = len([i for i in range(1, len(pts) + 1) if i in pg])
    print(f"{n} {same} {statistics.median(diffs) if diffs else 0:.1f} {max(diffs, default=0):.1f}")
    sys.exit(0 if n and same >= 0.95 * n else 1)


def pglat(*logs):
    """pgbench -l lines: client_id transaction_no time_us script_no time_epoch time_us."""
    lat = []
    for path in logs:
        with open(path) as f:
            lat.extend(int(line.split()[2]) for line in f if line.strip())
    lat.sort()
    if not lat:
        print("0 0")
        return
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(f"{pick(0.50)} {pick(0.99)}")


def load(tsv):
    runs = {}
    with open(tsv) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            case, _run, rps, p50, p99, cpu, req, err, non2xx, size, other, ccpu = line.split("\t")
            runs.setdefault(case, []).append(
                dict(rps=float(rps), p50=float(p50), p99=float(p99), cpu=float(cpu),
                     requests=int(req), errors=int(err), non2xx=int(non2xx),
                     bytes=int(size), other=float(other),
                     client=float(ccpu)))
    return runs


def summary(tsv):
    runs = load(tsv)
    med = {}
    for case, rs in runs.items():
        med[case] = dict(
            rps=statistics.median(r["rps"] for r in rs),
            p50_ms=statistics.median(r["p50"] for r in rs) / 1000,
            p99_ms=statistics.median(r["p99"] for r in rs) / 1000,
            cpu_us=statistics.median(r["cpu"] for r in rs),
            bytes=statistics.median(r["bytes"] for r in rs),
            other_pct=max(r["other"] for r in rs),
            client_us=statistics.median(r["client"] for r in rs),
            capacity=statistics.median(NCPU * 1e6 / (r["cpu"] + r["client"])
                                       if r["cpu"] + r["client"] > 0 else 0 for r in rs),
            runs=[r["rps"] for r in rs],
            errors=sum(r["errors"] for r in rs),
            non2xx=sum(r["non2xx"] for r in rs),
        )
    out = []
    w = 34
    out.append(f"{'':{w}} {'req/s':>8}  {'runs (req/s)':<23} {'p50 ms':>7} {'p99 ms':>7}"
               f" {'server CPU':>11} {'client CPU':>11} {'CPU-bound':>9} {'bytes':>8} {'others':>6}")
    out.append(f"{'':{w}} {'median':>8}  {'':<23} {'median':>7} {'median':>7} {'us/request':>11}"
               f" {'us/request':>11} {'req/s':>9} {'/answer':>8} {'max %':>6}")
    for case, (label, _what) in CASES.items():
        if case not in med:
            continue
        m = med[case]
        runs_s = " ".join(f"{r:.0f}" for r in m["runs"])
        flag = ""
        if m["errors"] or (m["non2xx"] and case != "ref_404"):
            flag = f"  ({m['errors']} socket errors, {m['non2xx']} non-2xx)"
        out.append(f"{label:{w}} {m['rps']:8.0f}  {runs_s:<23} {m['p50_ms']:7.2f} "
                   f"{m['p99_ms']:7.2f} {m['cpu_us']:11.0f} {m['client_us']:11.0f} {m['capacity']:9.0f} {m['bytes'] or '-':>8} {m['other_pct']:6.0f}{flag}")
    busy = max((m["other_pct"] for m in med.values()), default=0)
    out.append("server / client CPU: CPU time of the server (zonetrack, or PostgreSQL with its "
               "backends) / of wrk or pgbench, per request")
    out.append(f"CPU-bound req/s: {NCPU} cores / (server + client CPU per request), what the load "
               "would reach with the cores to itself (an upper bound: kernel time outside both is not counted)")
    out.append("others max %: the most CPU, in % of the machine, that processes outside the "
               "bench used during one run")
    if busy > 5:
        out.append(f"WARNING: other processes used up to {busy:.0f}% of the machine during a run:"
                   " these figures are low; run again on a quiet machine")
    out.append("")
    targets = []

    def verdict(ok):
        return "met" if ok else "NOT MET"

    # Each zonetrack answer is compared with the SQL that gives the same answer.
    for case, pgc in SAME_ANSWER.items():
        if case in med and pgc in med and med[pgc]["rps"]:
            pg = med[pgc]
            ratio = med[case]["rps"] / pg["rps"]
            med[case]["ratio"] = ratio
            targets.append((f"{CASES[case][0]} >= {POINT_RATIO:g}x {CASES[pgc][0]} req/s",
                            f"{ratio:.2f}x ({med[case]['rps']:.0f} / {pg['rps']:.0f})",
                            ratio >= POINT_RATIO))
            if med[case]["cpu_us"] > 0:
                med[case]["cpu_ratio"] = pg["cpu_us"] / med[case]["cpu_us"]
    for case in SAME_ANSWER:
        if case in med:
            p99 = med[case]["p99_ms"]
            targets.append((f"{CASES[case][0]} p99 < {POINT_P99_MS:g} ms", f"{p99:.2f} ms",
                            p99 < POINT_P99_MS))
    if "zt_point_edits" in med:
        p99 = med["zt_point_edits"]["p99_ms"]
        targets.append((f"{CASES['zt_point_edits'][0]} p99 < {EDITS_P99_MS:g} ms",
                        f"{p99:.2f} ms", p99 < EDITS_P99_MS))
    if "zt_items" in med:
        r = med["zt_items"]["rps"]
        targets.append((f"{CASES['zt_items'][0]} >= {ITEMS_RPS:,.0f} req/s", f"{r:,.0f} req/s",
                        r >= ITEMS_RPS))
    if "zt_filter_100k" in med:
        p99 = med["zt_filter_100k"]["p99_ms"]
        targets.append((f"{CASES['zt_filter_100k'][0]} p99 < {FILTER_P99_MS:g} ms (issue 16)",
                        f"{p99:.2f} ms", p99 < FILTER_P99_MS))
    out.append("targets (issue 4, 'Fast, measured'; each point case against the SQL with the same answer):")
    for name, value, ok in targets:
        out.append(f"  {name:66} {value:24} {verdict(ok)}")
    out.append("the same comparisons without the shared cores (client CPU out of the picture):")
    for case, pgc in SAME_ANSWER.items():
        if case in med and pgc in med and med[pgc]["capacity"]:
            r = med[case]["capacity"] / med[pgc]["capacity"]
            out.append(f"  CPU-bound req/s, {CASES[case][0]} / {CASES[pgc][0]}: {r:.2f}x "
                       f"({med[case]['capacity']:.0f} / {med[pgc]['capacity']:.0f})")
    for case, pgc in SAME_ANSWER.items():
        if "cpu_ratio" in med.get(case, {}):
            out.append(f"  server CPU per query, {CASES[pgc][0]} / {CASES[case][0]}: "
                       f"{med[case]['cpu_ratio']:.2f}x "
                       f"({med[pgc]['cpu_us']:.0f} / {med[case]['cpu_us']:.0f} us)")
    edits = edit_runs(os.path.dirname(tsv))
    if edits:
        acks = sorted(a for e in edits for a in e["ack_ms"])
        rate = statistics.median(e["sent"] / e["seconds"] for e in edits)
        out.append(f"edits during {CASES['zt_point_edits'][0]}: {len(acks)} PATCHes in "
                   f"{len(edits)} runs, {rate:.1f}/s achieved; acknowledged in "
                   f"{statistics.median(acks):.1f} ms (median), {acks[int(0.99 * (len(acks) - 1))]:.1f} ms"
                   f" (p99); {sum(e['failed'] for e in edits)} not 200")
    print("\n".join(out))
    with open(tsv.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(dict(medians=med, targets=[dict(name=n, value=v, met=ok)
                                             for n, v, ok in targets], edits=edits), f, indent=1)


def edit_runs(folder):
    """What `edits` wrote in each run (edits.RUN.json beside the results)."""
    runs = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("edits.") and name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                runs.append(json.load(f))
    return runs


def edits(url, token, rate, seconds, out):
    import http.client
    import time
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", "/collections/zones/items?limit=10000")
    # Drawn zones: a zone derived from a date-aware rule is one period of it, and a write to a
    # period is refused (409: written through its rule zone).
    keys = [f["properties"]["key"] for f in json.loads(conn.getresponse().read())["features"]
            if f["properties"].get("method") != "rule"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json",
               "X-Zonetrack-Message": "scripts/bench/http: edits under load"}
    period = 1 / float(rate)
    start = time.monotonic()
    end = start + float(seconds)
    acks, failed, i = [], 0, 0
    while time.monotonic() < end:
        body = json.dumps({"properties": {"description": f"bench edit {i}"}}).encode()
        t = time.perf_counter()
        conn.request("PATCH", f"/collections/zones/items/{keys[i % len(keys)]}", body, headers)
        resp = conn.getresponse()
        resp.read()
        acks.append((time.perf_counter() - t) * 1000)
        failed += resp.status != 200
        i += 1
        time.sleep(max(0.0, start + i * period - time.monotonic()))
    with open(out, "w") as f:
        json.dump(dict(sent=i, seconds=time.monotonic() - start, failed=failed,
                       ack_ms=[round(a, 2) for a in acks]), f)


def chart(js, png, title="zonetrack HTTP vs PostGIS, same random points"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    med = json.load(open(js))["medians"]
    order = [c for c in CASES if c in med]
    colours = dict(zt_point="#1f77b4", zt_point_edits="#17becf", zt_point0="#6baed6",
                   pg_point="#d62728",
                   pg_point_near="#ff9896",
                   zt_items="#2ca02c", zt_items_gz="#98df8a", zt_filter_100k="#9467bd",
                   ref_404="#bbbbbb",
                   ref_static="#bbbbbb")
    short = dict(zt_point="zonetrack\n/query/point",
                 zt_point_edits="zonetrack\n/query/point\n+10 edits/s", zt_point0="zonetrack\n/query/point\nnearest=0",
                 pg_point="PostGIS\nST_Covers\nSELECT",
                 pg_point_near="PostGIS\ncovering +\n3 nearest", zt_items="zonetrack\nitems\nlimit=100",
                 zt_items_gz="zonetrack\nitems\ngzip",
                 zt_filter_100k="zonetrack\nitems&filter\nzones-100k", ref_404="ceiling:\na 404",
                 ref_static="ceiling:\nstatic\n147 KB file")
    labels = [short[c] for c in order]
    values = [med[c]["rps"] for c in order]
    fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=100)
    bars = ax.bar(range(len(order)), values, color=[colours[c] for c in order])
    for b, v, c in zip(bars, values, order):
        txt = f"{v:,.0f}"
        if "p99_ms" in med[c] and not c.startswith("ref_"):
            txt += f"\np99 {med[c]['p99_ms']:.1f} ms"
        ax.text(b.get_x() + b.get_width() / 2, v, txt, ha="center", va="bottom", fontsize=8)
    # Target lines named in a legend: labels on the lines collide with the bars' figures.
    for pgc, what in (("pg_point_near", "/query/point"), ("pg_point", "nearest=0")):
        if pgc in med:
            t = POINT_RATIO * med[pgc]["rps"]
            ax.axhline(t, color=colours[pgc], ls="--", lw=1,
                       label=f"target {what}: {POINT_RATIO:g}x {CASES[pgc][0]}")
    ax.axhline(ITEMS_RPS, color="#2ca02c", ls=":", lw=1, label="target items: 10,000/s")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_xticks(range(len(order)), labels, fontsize=8)
    ax.set_ylabel("requests (queries) per second, median")
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    busy = max(med[c].get("other_pct", 0) for c in order)
    if busy > 5:
        ax.text(0.01, 0.98, f"other processes used up to {busy:.0f}% of the machine: figures low",
                transform=ax.transAxes, ha="left", va="top", fontsize=8, color="#aa0000")
    ax.set_ylim(0, max(values + [POINT_RATIO * med.get("pg_point", {"rps": 0})["rps"]]) * 1.4)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(png)


if __name__ == "__main__":
    cmds = dict(points=points, check=check, nearcheck=nearcheck, pglat=pglat, summary=summary,
                chart=chart, edits=edits)
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
