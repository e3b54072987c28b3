#!/usr/bin/env python3
"""Cut the Natural Earth geometry of the default data set's reference layers.

The files under geodata/ are the data set's source of truth, edited by people (see
geodata/README.md). This script is the one part that is derived: the geometry of the reference
features that come straight from Natural Earth, which the rule zones are computed from (clip to
`syria`, buffers of the Golan lines, the split along the Euphrates, ...). Rerun it to check that
provenance (with the same inputs, `git diff geodata/` stays empty) or to re-cut the layers from
other Natural Earth files.

Usage (from anywhere; Python 3 standard library only):

    python3 scripts/data/cut_natural_earth.py [REFERENCE_DIR] [--no-format]

REFERENCE_DIR (default: ../shared/reference next to the repository) holds the Natural Earth
copies described in its NOTICE.md:

    syria_admin0_naturalearth_10m.geojson      1:10m admin-0 v5.1.1, Syria
    syria_admin1_naturalearth.geojson          1:10m admin-1, Syria: 14 governorates + "UNDOF"
    euphrates_naturalearth_50m_subset.geojson  1:50m rivers + lake centrelines, "Al Furat"
    neighbours_naturalearth_10m.geojson        1:10m admin-0 v5.1.1, Israel, Lebanon, Jordan,
                                               Iraq, Turkey (and Palestine, not used)

What it writes: only the "geometry" member of these features, in the files that already hold
them (a missing file or feature is an error: names, descriptions and sources are data, written
by people):

    reference/syria.geojson                syria          admin-0 polygon
    reference/governorates.geojson         14 ids         admin-1 polygons (GOVERNORATES below)
    reference/undof_aos.geojson            undof_aos      admin-1 unit "UNDOF"
    reference/golan_lines.geojson          golan_line_a   west edge of "UNDOF" (shared with Israel)
                                           golan_line_b   east edge of "UNDOF" (shared with Syria)
    reference/rivers.geojson               euphrates      the "Al Furat" parts joined downstream
    reference/deconfliction_lines.geojson  euphrates_deconfliction_line   the same river line
    reference/neighbours.geojson           israel, lebanon, jordan, iraq, turkey   admin-0 polygons
    reference/israeli_held_golan.geojson   israeli_held_golan   Natural Earth's Israel east of a
                                           drawn approximation of the 1923 line (GOLAN_WEST_EDGE)

It never touches properties, a layer's title/description/style, actors, zones, locations or
events; hand edits of those survive. A hand edit of the geometry above is replaced (that
geometry is Natural Earth's, not drawn). The zone `undof_area_of_separation` holds a copy of
the "UNDOF" polygon: after re-cutting from other inputs, update it by hand.

The script emits plain GeoJSON, then has geodata put the files in its own form (rounding to 7
decimals, ring orientation, layout) by running, from the repository root,

    ZONETRACK_BLESS=1 cargo test -p geodata --test source_form

(skipped with --no-format; run it yourself then). Check the result with
`cargo run -p zonetrack -- validate geodata` and `git diff geodata/`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "geodata"

# sha256 of the inputs the data in geodata/ was cut from (NOTICE.md gives the first two).
INPUTS = {
    "syria_admin0_naturalearth_10m.geojson":
        "734225e613a80e02d3ca9e49594cc42f5586b6c937bb8cc149438bf39834338e",
    "syria_admin1_naturalearth.geojson":
        "2c3c4096216fc7fb23000383fddc978b9ad9ec95a411a1a2a0d04b163c6e7787",
    "euphrates_naturalearth_50m_subset.geojson":
        "6487f332d8d61bbfc7a7b83ecfd5f803dc613f0233b0a8424f501ae701deebf1",
    "neighbours_naturalearth_10m.geojson":
        "4f89aa4173a7a68fa3e95d45c7cb77c36a2d848da079baaef9f1b2e440c81e76",
}

# Natural Earth admin-0 NAME -> feature id in reference/neighbours.geojson.
NEIGHBOURS = {"Israel": "israel", "Lebanon": "lebanon", "Jordan": "jordan", "Iraq": "iraq",
              "Turkey": "turkey"}

# The Israeli-held Golan is the part of Natural Earth's Israel east of the 1923 (and 4 June 1967)
# line, which no open data set we hold draws. It is cut from Israel's ring between the vertex
# nearest GOLAN_SOUTH (by Hamat Gader, on the Yarmouk) and the one nearest GOLAN_NORTH (by Ghajar,
# on the Lebanese line), going east, north along Line A and back west along the Lebanese line;
# GOLAN_WEST_EDGE closes it, north to south: Banias / Dan, the Jordan by the Benot Ya'akov
# bridge, the north-east and east shores of Lake Tiberias. Drawn from those anchors, +-1-2 km.
GOLAN_SOUTH, GOLAN_NORTH = (35.636, 32.679), (35.618, 33.256)
GOLAN_WEST_EDGE = [(35.66, 33.24), (35.645, 33.20), (35.63, 33.10), (35.625, 33.02),
                   (35.63, 32.90), (35.64, 32.87), (35.65, 32.83), (35.64, 32.78),
                   (35.63, 32.72)]

# Natural Earth admin-1 name -> feature id in reference/governorates.geojson.
GOVERNORATES = {
    "Damascus": "damascus", "Rif Dimashq": "rif_dimashq", "Aleppo": "aleppo",
    "Homs (Hims)": "homs", "Hamah": "hama", "Lattakia": "latakia", "Tartus": "tartus",
    "Idlib": "idlib", "Ar Raqqah": "raqqa", "Dayr Az Zawr": "deir_ez_zor",
    "Hasaka (Al Haksa)": "hasakah", "Dar`a": "daraa", "As Suwayda'": "suwayda",
    "Quneitra": "quneitra",
}

# The Golan lines keep 5 decimals (about 1 m) and the river 4 (about 10 m), as first cut.
LINE_DECIMALS = {"golan": 5, "river": 4}
RIVER_MIN_KM = 0.3  # a river vertex closer than this to the previous kept one is dropped


def load(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def km(a, b) -> float:
    """Planar distance in km, local equirectangular (fine for dropping near-duplicates)."""
    kx = 111.320 * math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot((a[0] - b[0]) * kx, (a[1] - b[1]) * 110.574)


def rounded(line, decimals: int) -> list:
    return [[round(x, decimals), round(y, decimals)] for x, y in line]


def golan_lines(undof_ring, governorates) -> tuple[list, list]:
    """Line A and Line B, south to north: the "UNDOF" ring split where it stops sharing
    vertices (4-decimal match) with the governorates. The shared run is Line B (Syrian side);
    the rest, with the two vertices where the runs meet, is Line A (Israeli side)."""
    def key(p):
        return (round(p[0], 4), round(p[1], 4))

    shared_keys = {key(p) for g in governorates for ring in g for p in ring}
    ring = undof_ring[:-1] if undof_ring[0] == undof_ring[-1] else undof_ring
    n = len(ring)
    shared = [key(p) in shared_keys for p in ring]
    # Begin at the first shared vertex after an unshared one: Line B is then one unbroken run.
    start = next(i for i in range(n) if not shared[i] and shared[(i + 1) % n])
    order = [ring[(start + 1 + k) % n] for k in range(n)]
    flags = [shared[(start + 1 + k) % n] for k in range(n)]
    b_len = flags.index(False)
    if any(flags[b_len:]):
        sys.exit("the UNDOF ring does not split into one shared and one unshared run")
    line_b = order[:b_len]
    line_a = [order[b_len - 1]] + order[b_len:] + [order[0]]

    def south_to_north(line):
        return line if line[0][1] < line[-1][1] else line[::-1]

    return south_to_north(line_a), south_to_north(line_b)


def euphrates(subset) -> list:
    """Downstream: the River part from Jarabulus to the head of Lake Assad, the Lake Assad
    centreline (drawn upstream, so reversed), the River part from the Tabqa dam to the Iraqi
    border; vertices closer than RIVER_MIN_KM to the previous kept one dropped."""
    lake = [f for f in subset["features"] if f["properties"]["featurecla"] == "Lake Centerline"]
    river = [f for f in subset["features"] if f["properties"]["featurecla"] == "River"]
    assert len(lake) == 1 and len(river) == 1, "expected one River and one Lake Centerline"
    lake_line = lake[0]["geometry"]["coordinates"][0][::-1]
    parts = river[0]["geometry"]["coordinates"]
    upper = next(p for p in parts if p[-1] == lake_line[0])  # ends where the lake begins
    lower = next(p for p in parts if p is not upper)
    out: list = []
    for p in upper + lake_line[1:] + lower:
        if not out or km(out[-1], p) >= RIVER_MIN_KM:
            out.append(p)
    assert out[0][1] > out[-1][1], "must run downstream, Jarabulus to Abu Kamal"
    return out


def golan(israel_ring) -> list:
    """The Israeli-held Golan's ring, counter-clockwise: see GOLAN_WEST_EDGE."""
    def nearest(p):
        return min(range(len(israel_ring)), key=lambda i: km(israel_ring[i], p))
    south, north = nearest(GOLAN_SOUTH), nearest(GOLAN_NORTH)
    assert south < north, "Israel's ring runs south to north along Line A"
    ring = israel_ring[south:north + 1] + [list(p) for p in GOLAN_WEST_EDGE]
    return ring + [ring[0]]


def cut(ref: Path) -> dict[tuple[str, str], dict]:
    """(layer, feature id) -> GeoJSON geometry."""
    for name, digest in INPUTS.items():
        if hashlib.sha256((ref / name).read_bytes()).hexdigest() != digest:
            print(f"note: {name} is not the file the data was cut from (sha256 differs)")
    admin0 = load(ref / "syria_admin0_naturalearth_10m.geojson")["features"]
    assert len(admin0) == 1 and admin0[0]["properties"]["ADM0_A3"] == "SYR"
    admin1 = {f["properties"]["name"]: f["geometry"]
              for f in load(ref / "syria_admin1_naturalearth.geojson")["features"]}
    assert set(admin1) == set(GOVERNORATES) | {"UNDOF"}, sorted(admin1)

    def polygon(g):
        return {"type": "Polygon", "coordinates": g["coordinates"]}

    out = {("syria", "syria"): polygon(admin0[0]["geometry"]),
           ("undof_aos", "undof_aos"): polygon(admin1["UNDOF"])}
    for ne_name, gid in GOVERNORATES.items():
        out[("governorates", gid)] = polygon(admin1[ne_name])
    line_a, line_b = golan_lines(admin1["UNDOF"]["coordinates"][0],
                                 [admin1[n]["coordinates"] for n in GOVERNORATES])
    for fid, line in (("golan_line_a", line_a), ("golan_line_b", line_b)):
        out[("golan_lines", fid)] = {"type": "LineString",
                                     "coordinates": rounded(line, LINE_DECIMALS["golan"])}
    river = {"type": "LineString",
             "coordinates": rounded(euphrates(load(ref / "euphrates_naturalearth_50m_subset.geojson")),
                                    LINE_DECIMALS["river"])}
    out[("rivers", "euphrates")] = river
    out[("deconfliction_lines", "euphrates_deconfliction_line")] = river
    countries = {f["properties"]["NAME"]: f["geometry"]
                 for f in load(ref / "neighbours_naturalearth_10m.geojson")["features"]}
    for ne_name, fid in NEIGHBOURS.items():
        out[("neighbours", fid)] = countries[ne_name]
    israel = countries["Israel"]
    assert israel["type"] == "Polygon", "Natural Earth's Israel is one polygon"
    out[("israeli_held_golan", "israeli_held_golan")] = {
        "type": "Polygon", "coordinates": [golan(israel["coordinates"][0])]}
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    ref = Path(args[0]) if args else REPO.parent / "shared" / "reference"
    geometry = cut(ref)

    for layer in sorted({layer for layer, _ in geometry}):
        path = DATA / "reference" / f"{layer}.geojson"
        fc = load(path)
        ids = {f.get("id") for f in fc["features"]}
        missing = [fid for (lay, fid) in geometry if lay == layer and fid not in ids]
        if missing:
            sys.exit(f"{path}: no feature {missing}; add it (with its properties) first")
        for f in fc["features"]:
            if (layer, f["id"]) in geometry:
                f["geometry"] = geometry[(layer, f["id"])]
        path.write_text(json.dumps(fc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"cut {path.relative_to(REPO)}")

    if "--no-format" in argv:
        print("not formatted: run ZONETRACK_BLESS=1 cargo test -p geodata --test source_form")
        return 0
    env = dict(os.environ, ZONETRACK_BLESS="1")
    done = subprocess.run(["cargo", "test", "-q", "-p", "geodata", "--test", "source_form"],
                          cwd=REPO, env=env)
    if done.returncode != 0:
        print("not formatted (see above): the geometry is cut but the files are not yet in "
              "geodata's form; fix what cargo reports, then run "
              "ZONETRACK_BLESS=1 cargo test -p geodata --test source_form")
        return done.returncode
    print("formatted by geodata; now check `git diff geodata/`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
