"""The shapely side of scripts/bench/which-zone, run inside the venv the driver makes.

    shapely_side.py countries GEOJSON OUT.polys      repair and convert the npm countries set
    shapely_side.py query POLYS POINTS RUST_PAIRS REPEAT
        time STRtree.query(points, predicate="intersects") and compare its (point, polygon)
        pairs with the Rust index's; prints key=value lines.

File formats are described in crates/zone-index/examples/which_zone.rs.
"""

import json
import statistics
import sys
import time

import numpy as np
import shapely
from shapely import STRtree


def read_polys(path):
    b = open(path, "rb").read()
    assert b[:8] == b"ZTPOLY01", f"{path} is not a ZTPOLY01 file"
    items, parts, rings, coords = map(int, np.frombuffer(b, "<u8", 4, 8))
    off = 40
    ip = np.frombuffer(b, "<u8", items + 1, off).astype(np.int64)
    off += 8 * (items + 1)
    pr = np.frombuffer(b, "<u8", parts + 1, off).astype(np.int64)
    off += 8 * (parts + 1)
    rc = np.frombuffer(b, "<u8", rings + 1, off).astype(np.int64)
    off += 8 * (rings + 1)
    c = np.frombuffer(b, "<f8", coords * 2, off).reshape(-1, 2)
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, c, (rc, pr, ip))


def write_polys(path, geoms):
    geom_type, coords, (rc, pr, ip) = shapely.to_ragged_array(geoms)
    assert geom_type == shapely.GeometryType.MULTIPOLYGON
    with open(path, "wb") as f:
        f.write(b"ZTPOLY01")
        f.write(np.array([len(ip) - 1, len(pr) - 1, len(rc) - 1, len(coords)], "<u8").tobytes())
        for a in (ip, pr, rc):
            f.write(np.asarray(a, "<u8").tobytes())
        f.write(np.ascontiguousarray(coords, "<f8").tobytes())


def read_points(path):
    b = open(path, "rb").read()
    assert b[:8] == b"ZTPNTS01", f"{path} is not a ZTPNTS01 file"
    n = int(np.frombuffer(b, "<u8", 1, 8)[0])
    return np.frombuffer(b, "<f8", 2 * n, 16).reshape(-1, 2)


def read_pairs(path):
    b = open(path, "rb").read()
    assert b[:8] == b"ZTPAIR01", f"{path} is not a ZTPAIR01 file"
    n = int(np.frombuffer(b, "<u8", 1, 8)[0])
    return np.frombuffer(b, "<u4", 2 * n, 16).reshape(-1, 2).astype(np.int64)


def polygons_only(g):
    """The polygonal part of a geometry as a MultiPolygon (make_valid may add lines or points)."""
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "MultiPolygon":
        return g
    if g.geom_type == "GeometryCollection":
        polys = []
        for part in g.geoms:
            if part.geom_type == "Polygon":
                polys.append(part)
            elif part.geom_type == "MultiPolygon":
                polys.extend(part.geoms)
        return shapely.MultiPolygon(polys)
    return shapely.MultiPolygon()


def countries(src, out):
    features = json.load(open(src))["features"]
    geoms, repaired = [], []
    for f in features:
        g = shapely.geometry.shape(f["geometry"])
        if not g.is_valid:
            repaired.append(f["properties"].get("A3", "?"))
            g = shapely.make_valid(g)
        # Orient as RFC 7946 asks (exterior counter-clockwise); the index does not care.
        geoms.append(shapely.orient_polygons(polygons_only(g)))
    write_polys(out, np.array(geoms, dtype=object))
    print(f"features={len(features)}")
    print(f"repaired={','.join(repaired)}")
    print(f"vertices={int(shapely.get_num_coordinates(np.array(geoms, dtype=object)).sum())}")


def query(polys, points, rust_pairs, repeat):
    geoms = read_polys(polys)
    pts = shapely.points(read_points(points))
    tree = STRtree(geoms)
    times, result = [], None
    for i in range(repeat):
        t = time.perf_counter()
        result = tree.query(pts, predicate="intersects")
        times.append(time.perf_counter() - t)
        # A run over ten seconds is stable enough; don't spend minutes on repeats.
        if times[-1] > 10:
            break
    ours = read_pairs(rust_pairs)
    theirs = np.stack([result[0], result[1]], axis=1).astype(np.int64)
    theirs = theirs[np.lexsort((theirs[:, 1], theirs[:, 0]))]
    same = ours.shape == theirs.shape and bool((ours == theirs).all())
    print(f"shapely_runs={len(times)}")
    print(f"shapely_qps={len(pts) / statistics.median(times):.0f}")
    print(f"shapely_pairs={len(theirs)}")
    print(f"same_pairs={'yes' if same else 'no'}")
    if not same:
        a = {tuple(p) for p in ours.tolist()}
        b = {tuple(p) for p in theirs.tolist()}
        print(f"only_ours={len(a - b)} e.g. {sorted(a - b)[:5]}")
        print(f"only_shapely={len(b - a)} e.g. {sorted(b - a)[:5]}")


if __name__ == "__main__":
    if sys.argv[1] == "countries":
        countries(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "query":
        query(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(__doc__)
