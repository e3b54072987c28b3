#!/usr/bin/env python3
"""Turns a `.polys` file of `which_zone` (zone-index's bench example) into a zonetrack data
directory, so the server can serve the same polygons as zones (standard library only).

  zones_dir.py POLYS OUT_DIR

Each polygon becomes a zone with seeded properties drawn like the real data's: one of five
actors, a kind, a confidence, a method, and a validity period of whole days in 2016-2019 (some
ends open). The polygons overlap at random, and the loader refuses two actors' control zones on
the same ground on the same day, so every control zone is the first actor's (the others hold
presence and demanded-exclusion zones). Written: actors.json, zones.geojson, and empty locations.geojson and events.geojson.
"""

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


def main():
    polys, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(16)
    actors = [{"id": a, "name": f"{a.title()} force", "colour": "#%06x" % rng.randrange(1 << 24)}
              for a in ACTORS]
    (out / "actors.json").write_text(json.dumps({"actors": actors}))
    empty = json.dumps({"type": "FeatureCollection", "features": []})
    (out / "locations.geojson").write_text(empty)
    (out / "events.geojson").write_text(empty)
    with open(out / "zones.geojson", "w") as f:
        f.write('{"type": "FeatureCollection", "features": [\n')
        for i, polygons in enumerate(read_polys(polys)):
            start = rng.randrange(365 * 3)
            y, d = 2016 + start // 365, start % 365
            frm = f"{y}-{1 + d // 31 % 12:02d}-{1 + d % 28:02d}"
            end = f"{y + 1}-{1 + d // 31 % 12:02d}-{1 + d % 28:02d}" if rng.random() < 0.8 else None
            feature = {
                "type": "Feature", "id": f"z{i}",
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                "properties": {
                    "name": f"Zone {i}", "actor": rng.choice(ACTORS), "kind": rng.choice(KINDS),
                    "valid_from": frm, "valid_to": end, "confidence": rng.choice(CONFIDENCES),
                    "method": rng.choice(METHODS),
                    "sources": [{"title": "zones-100k bench set", "publisher": "zonetrack bench"}],
                },
            }
            if feature["properties"]["kind"] == "control":
                feature["properties"]["actor"] = ACTORS[0]
            f.write(("," if i else "") + json.dumps(feature, separators=(",", ":")) + "\n")
        f.write("]}\n")


if __name__ == "__main__":
    main()
