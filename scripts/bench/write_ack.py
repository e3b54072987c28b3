#!/usr/bin/env python3
"""How long a write takes to be acknowledged (run through scripts/bench/write-ack).

Serves a data folder with an editor and sends PATCHes one after another, each changing one
feature (the description of a zone, or a drawn zone's geometry), timing each from the request
sent to the answer read: the revision is in the log (fsync) and the snapshot swapped by then.
Two data sets: the default one (`zonetrack init`) and a synthetic one of --zones seeded star
polygons (the shape of zone_index::synthetic::clustered_stars: 8-64 vertices, radius 0.2-5.5
km, clustered round 300 centres over Syria's bounding box) with the default actors, locations,
events and reference layers.

Prints the median, p90 and max per data set; writes them to --report as JSON. Only the Python
standard library; only loopback.
"""

import argparse
import http.client
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from soak import log, start_server  # noqa: E402

SYRIA_BOX = (35.5, 32.3, 42.5, 37.4)


def star(rng, centre, radius, vertices):
    """A star-shaped ring around `centre`, counter-clockwise, 7 decimals: valid as stored."""
    steps = [rng.uniform(0.5, 1.5) for _ in range(vertices)]
    total = sum(steps)
    angle = rng.uniform(0, math.tau)
    ring = []
    for step in steps:
        r = radius * rng.uniform(0.5, 1.0)
        ring.append([round(centre[0] + r * math.cos(angle), 7),
                     round(centre[1] + r * math.sin(angle), 7)])
        angle += step / total * math.tau
    ring.append(ring[0])
    return ring


def synthetic_zones(n, seed, actor):
    rng = random.Random(seed)
    w, s, e, north = SYRIA_BOX
    centres = [(rng.uniform(w, e), rng.uniform(s, north)) for _ in range(300)]
    features = []
    for i in range(n):
        c = rng.choice(centres)
        centre = (min(max(c[0] + 0.25 * rng.gauss(0, 1), w), e),
                  min(max(c[1] + 0.25 * rng.gauss(0, 1), s), north))
        radius = math.exp(rng.uniform(math.log(0.002), math.log(0.05)))
        ring = star(rng, centre, radius, rng.randint(8, 64))
        features.append({
            "type": "Feature", "id": f"synthetic_{i}",
            "geometry": {"type": "MultiPolygon", "coordinates": [[ring]]},
            "properties": {
                "name": f"Synthetic zone {i}", "actor": actor, "kind": "presence",
                "confidence": "low", "method": "hand_drawn",
                "sources": [{"title": "scripts/bench/write_ack.py", "publisher": "zonetrack"}],
            },
        })
    return {"type": "FeatureCollection", "features": features}


def make_folder(bin_path, folder, zones, seed):
    """`zonetrack init`, then (zones > 0) its zones replaced by `zones` synthetic ones."""
    subprocess.run([bin_path, "init", folder], check=True, capture_output=True)
    if zones:
        with open(os.path.join(folder, "actors.json")) as f:
            actor = json.load(f)["actors"][0]["id"]
        with open(os.path.join(folder, "zones.geojson"), "w") as f:
            json.dump(synthetic_zones(zones, seed, actor), f)


def measure(args, label, zones, tmp):
    folder = os.path.join(tmp, label)
    make_folder(args.bin, folder, zones, args.seed)
    editors = os.path.join(tmp, f"{label}.editors")
    out = subprocess.run([args.bin, "editors", "add", "bench", "--file", editors],
                         check=True, capture_output=True, text=True)
    token = out.stdout.split()[-1]
    server_log = os.path.join(tmp, f"{label}.log")
    t0 = time.monotonic()
    server, port = start_server([args.bin, "serve", "--data", folder, "--editors", editors],
                                server_log, timeout=600)
    try:
        if port is None:
            sys.exit(f"write_ack: the server did not start; its log:\n{open(server_log).read()}")
        started = time.monotonic() - t0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/collections/zones/items?limit=10000")
        served = json.loads(conn.getresponse().read())["features"]
        drawn = [f["properties"]["key"] for f in served
                 if not isinstance(f["properties"].get("rule"), str)]
        # A new geometry goes to a presence zone: one actor's control zone moved onto another's
        # is (rightly) refused.
        movable = [f["properties"]["key"] for f in served
                   if not isinstance(f["properties"].get("rule"), str)
                   and f["properties"].get("kind") != "control"]
        rng = random.Random(args.seed)
        headers = {"Authorization": f"Bearer {token}",
                   "Content-Type": "application/merge-patch+json"}
        acks = {"properties": [], "geometry": []}
        for i in range(args.writes):
            kind = "geometry" if i % 5 == 4 else "properties"
            key = rng.choice(movable if kind == "geometry" else drawn)
            if kind == "geometry":
                lon, lat = rng.uniform(36.6, 40.4), rng.uniform(33.6, 36.4)
                body = {"geometry": {"type": "MultiPolygon",
                                     "coordinates": [[star(rng, (lon, lat), 0.02, 12)]]}}
            else:
                body = {"properties": {"description": f"write-ack bench, write {i}"}}
            payload = json.dumps(body).encode()
            t = time.perf_counter()
            conn.request("PATCH", f"/collections/zones/items/{key}", payload, headers)
            resp = conn.getresponse()
            answer = resp.read()
            took = time.perf_counter() - t
            if resp.status != 200:
                sys.exit(f"write_ack: PATCH {key}: {resp.status} {answer[:300]!r}")
            acks[kind].append(took * 1000)
            log(f"{label}: write {i + 1}/{args.writes}: {took * 1000:.1f} ms")
            time.sleep(args.pause)
        conn.close()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
    every = acks["properties"] + acks["geometry"]
    result = {"zones": len(served), "writes": len(every), "start_seconds": round(started, 1)}
    for name, values in (("all", every), *acks.items()):
        s = sorted(values)
        result[name] = {"n": len(s), "median_ms": round(statistics.median(s), 1),
                        "p90_ms": round(s[int(0.9 * (len(s) - 1))], 1),
                        "max_ms": round(s[-1], 1)}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the zonetrack binary")
    ap.add_argument("--pause", type=float, default=0.3,
                    help="seconds between writes, so the files' flush falls between them")
    ap.add_argument("--zones", type=int, default=10_000)
    ap.add_argument("--writes", type=int, default=50)
    ap.add_argument("--target-ms", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--report", help="also write the figures to this JSON file")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="zonetrack-write-ack-")
    try:
        results = {"default data set": measure(args, "default", 0, tmp),
                   f"{args.zones} synthetic zones": measure(args, "synthetic", args.zones, tmp)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(results, f, indent=2)
    print(f"write acknowledgement (PATCH of one zone, sequential, {args.pause} s apart), "
          f"{os.cpu_count()} cores (shared):")
    for label, r in results.items():
        a = r["all"]
        print(f"  {label} ({r['zones']} zones, server start {r['start_seconds']} s): "
              f"median {a['median_ms']} ms, p90 {a['p90_ms']} ms, max {a['max_ms']} ms over "
              f"{a['n']} writes (properties: median {r['properties']['median_ms']} ms; "
              f"geometry: median {r['geometry']['median_ms']} ms)")
    big = results[f"{args.zones} synthetic zones"]["all"]["median_ms"]
    verdict = "met" if big < args.target_ms else "NOT MET"
    print(f"  target: median under {args.target_ms:g} ms with {args.zones} zones: {big} ms, "
          f"{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
