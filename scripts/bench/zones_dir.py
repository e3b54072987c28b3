#!/usr/bin/env python3
"""Turns a `.polys` file of `which_zone` (zone-index's bench example) into a zonetrack data
directory, so the server can serve the same polygons as zones.

  zones_dir.py POLYS OUT_DIR [--countries GEOJSON] [--no-control-overlaps]

Each polygon becomes a zone with seeded properties drawn like the real data's: one of five
actors, a kind, a confidence, a method, and a validity period of whole days in 2016-2019 (some
ends open). With `--countries GEOJSON` (the npm countries set the polygons were made from, in
the same order) each polygon is instead a country: its own actor named by its `A3` code, kind
control, valid from 2016-01-01 with an open end. Written: actors.json, zones.geojson, and empty
locations.geojson and events.geojson.

`--no-control-overlaps` makes the folder pass the loader's whole-set check that two actors do
not control the same ground on the same day: a control zone whose polygons overlap (with an area)
those of an earlier control zone of another actor on a shared day becomes a `presence` zone.
Geometries are kept exactly, so the folder answers the same (point, polygon) pairs as POLYS.
This step needs shapely (run the script with the bench venv's python). Without the flag (and
without `--countries`) every control zone is the first actor's instead (the others hold presence
and demanded-exclusion zones), which the loader also takes, with the standard library only.
"""

import argparse
import json
import random
import struct
import sys
from pathlib import Path

ACTORS = ["blue", "red", "green", "amber", "grey"]
KINDS = ["control", "presence", "demanded_exclusion"]
CONFIDENCES = ["low", "medium", "high"]
METHODS = ["hand_drawn", "natural_earth", "sourced_coordinate"]


def read_polys(path):
    data = Path(path).read_bytes()
    if data[:8] != b"ZTPOLY01":
        sys.exit(f"{path} is not a ZTPOLY01 file")
    items, parts, rings, coords = struct.unpack_from("<4Q", data, 8)
    off = 8 + 32
    item_parts = struct.unpack_from(f"<{items + 1}Q", data, off)
    off += 8 * (items + 1)
    part_rings = struct.unpack_from(f"<{parts + 1}Q", data, off)
    off += 8 * (parts + 1)
    ring_coords = struct.unpack_from(f"<{rings + 1}Q", data, off)
    off += 8 * (rings + 1)
    xy = struct.unpack_from(f"<{coords * 2}d", data, off)
    for i in range(items):
        polygons = []
        for p in range(item_parts[i], item_parts[i + 1]):
            polygon = []
            for r in range(part_rings[p], part_rings[p + 1]):
                a, b = ring_coords[r], ring_coords[r + 1]
                polygon.append([[xy[2 * k], xy[2 * k + 1]] for k in range(a, b)])
            polygons.append(polygon)
        yield polygons


def overlaps(a, b):
    """Whether two (from, to) periods share a day (ISO strings; None is open)."""
    return (a[0] is None or b[1] is None or a[0] <= b[1]) and (b[0] is None or a[1] is None or b[0] <= a[1])


def demote_control_overlaps(zones):
    """Turns a control zone that overlaps an earlier kept one of another actor on a shared day
    into a presence zone; returns how many were turned."""
    import shapely
    from shapely import STRtree

    control = [i for i, z in enumerate(zones) if z["properties"]["kind"] == "control"]
    geoms = [shapely.geometry.shape(zones[i]["geometry"]) for i in control]
    tree = STRtree(geoms)
    kept = [False] * len(control)
    turned = 0
    for k, i in enumerate(control):
        p = zones[i]["properties"]
        period = (p["valid_from"], p["valid_to"])
        clash = False
        for j in tree.query(geoms[k], predicate="intersects"):
            if j >= k or not kept[j]:
                continue
            q = zones[control[j]]["properties"]
            if q["actor"] == p["actor"] or not overlaps(period, (q["valid_from"], q["valid_to"])):
                continue
            if shapely.intersection(geoms[k], geoms[j]).area > 0:
                clash = True
                break
        if clash:
            p["kind"] = "presence"
            turned += 1
        else:
            kept[k] = True
    return turned


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("polys")
    ap.add_argument("out")
    ap.add_argument("--countries", metavar="GEOJSON")
    ap.add_argument("--no-control-overlaps", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(16)
    source = [{"title": "zones-100k bench set", "publisher": "zonetrack bench"}]
    zones = []
    if args.countries:
        codes = [f["properties"].get("A3", "") for f in json.load(open(args.countries))["features"]]
        source = [{"title": "countries-land-10km", "publisher": "geo-maps (npm)"}]
        actors, ids = [], set()
        for i, polygons in enumerate(read_polys(args.polys)):
            code = codes[i].lower() if i < len(codes) and codes[i] else ""
            aid = code if code and code not in ids else f"country_{i}"
            ids.add(aid)
            # Distinct colours: the loader refuses two actors with one colour.
            actors.append({"id": aid, "name": codes[i] or aid, "colour": "#%06x" % ((i * 0x9E3779) & 0xFFFFFF)})
            zones.append({
                "type": "Feature", "id": aid,
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                "properties": {
                    "name": codes[i] or aid, "actor": aid, "kind": "control",
                    "valid_from": "2016-01-01", "valid_to": None, "confidence": "high",
                    "method": "natural_earth", "sources": source,
                },
            })
        if len({a["colour"] for a in actors}) != len(actors):
            sys.exit("two actors got one colour")
    else:
        actors = [{"id": a, "name": f"{a.title()} force", "colour": "#%06x" % rng.randrange(1 << 24)}
                  for a in ACTORS]
        for i, polygons in enumerate(read_polys(args.polys)):
            start = rng.randrange(365 * 3)
            y, d = 2016 + start // 365, start % 365
            frm = f"{y}-{1 + d // 31 % 12:02d}-{1 + d % 28:02d}"
            end = f"{y + 1}-{1 + d // 31 % 12:02d}-{1 + d % 28:02d}" if rng.random() < 0.8 else None
            zones.append({
                "type": "Feature", "id": f"z{i}",
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                "properties": {
                    "name": f"Zone {i}", "actor": rng.choice(ACTORS), "kind": rng.choice(KINDS),
                    "valid_from": frm, "valid_to": end, "confidence": rng.choice(CONFIDENCES),
                    "method": rng.choice(METHODS), "sources": source,
                },
            })
    if args.no_control_overlaps:
        print(f"control zones turned into presence zones: {demote_control_overlaps(zones)}")
    elif not args.countries:
        for z in zones:
            if z["properties"]["kind"] == "control":
                z["properties"]["actor"] = ACTORS[0]
    (out / "actors.json").write_text(json.dumps({"actors": actors}))
    empty = json.dumps({"type": "FeatureCollection", "features": []})
    (out / "locations.geojson").write_text(empty)
    (out / "events.geojson").write_text(empty)
    with open(out / "zones.geojson", "w") as f:
        f.write('{"type": "FeatureCollection", "features": [\n')
        for i, feature in enumerate(zones):
            f.write(("," if i else "") + json.dumps(feature, separators=(",", ":")) + "\n")
        f.write("]}\n")


if __name__ == "__main__":
    main()
