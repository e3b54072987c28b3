"""The Python side of scripts/bench/join, run inside the venv the driver makes.

    join_side.py points POLYS N SEED OUT_PREFIX
        N seeded uniform random points in the polygons' bounding box, as OUT_PREFIX.csv
        (id,lon,lat) and OUT_PREFIX.parquet (GeoParquet 1.1: id, WKB geometry); the same
        doubles in both (the CSV text is what the Parquet holds, parsed).
    join_side.py run ENGINE FORMAT ZONES.parquet POINTS OUT
        one whole job, timed from reading the inputs to the written answer: ENGINE is
        sedonadb, duckdb or shapely; FORMAT csv or parquet; prints seconds=...
    join_side.py pairs ENGINE ZONES.parquet ANSWER OUT.npy
        the (point id, zone fid) pairs of an answer, sorted, as a .npy file; ENGINE zonetrack
        reads zonetrack's answer (zone keys, CSV or Parquet), the others their pairs.
    join_side.py compare A.npy B.npy
        same_pairs=yes|no and counts.
    join_side.py chart RESULTS.json OUT.png OUT.svg
        the README chart.
"""

import json
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def points(polys, n, seed, prefix):
    sys.path.insert(0, os.path.dirname(__file__))
    from shapely_side import read_polys
    import shapely

    geoms = read_polys(polys)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    rng = np.random.default_rng(int(seed))
    n = int(n)
    lon = rng.uniform(xmin, xmax, n)
    lat = rng.uniform(ymin, ymax, n)
    # Six decimals, and the doubles the text parses to, so both files hold the same points.
    slon = np.char.mod("%.6f", lon)
    slat = np.char.mod("%.6f", lat)
    lon, lat = slon.astype(float), slat.astype(float)
    ids = np.arange(n, dtype=np.int64)
    with open(prefix + ".csv", "w") as f:
        f.write("id,lon,lat\n")
        f.write("\n".join(f"{i},{a},{b}" for i, a, b in zip(ids.tolist(), slon.tolist(), slat.tolist())))
        f.write("\n")
    wkb = shapely.to_wkb(shapely.points(lon, lat))
    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"],
                                 "bbox": [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]}},
    }
    table = pa.table({"id": ids, "geometry": pa.array(wkb, pa.binary())})
    table = table.replace_schema_metadata({"geo": json.dumps(geo)})
    pq.write_table(table, prefix + ".parquet", compression="snappy")
    print(f"points={n}")


def duckdb_connect():
    import duckdb

    con = duckdb.connect()
    # The spatial extension comes from PyPI (duckdb-ext-spatial) into the venv, not a download.
    import importlib.util

    spec = importlib.util.find_spec("duckdb_ext")
    ext_dir = list(spec.submodule_search_locations)[0] if spec else None
    if ext_dir is None:
        sys.exit("duckdb-ext-spatial is not installed in the venv")
    con.execute(f"SET extension_directory = '{ext_dir}/extensions'")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("LOAD spatial")
    return con


def run(engine, fmt, zones, pts, out):
    if engine == "duckdb":
        con = duckdb_connect()
        t = time.perf_counter()
        # Materialised geometry columns first: on a view over the file, DuckDB plans a nested
        # loop join instead of its spatial join.
        con.execute(f"CREATE TABLE zones AS SELECT fid, geometry::GEOMETRY AS geom FROM read_parquet('{zones}')")
        if fmt == "csv":
            con.execute(f"CREATE TABLE pts AS SELECT id, ST_Point(lon, lat) AS geom FROM read_csv('{pts}')")
        else:
            con.execute(f"CREATE TABLE pts AS SELECT id, geometry::GEOMETRY AS geom FROM read_parquet('{pts}')")
        con.execute(f"COPY (SELECT p.id, z.fid FROM pts p JOIN zones z ON ST_Intersects(z.geom, p.geom)) "
                    f"TO '{out}' (FORMAT parquet)")
        elapsed = time.perf_counter() - t
    elif engine == "sedonadb":
        import sedonadb

        sd = sedonadb.connect()
        t = time.perf_counter()
        sd.read_parquet(zones).to_view("zones")
        if fmt == "csv":
            sd.read.csv(pts).to_view("raw")
            sd.sql("SELECT id, ST_SetSRID(ST_Point(lon, lat), 4326) AS geometry FROM raw").to_view("pts")
        else:
            sd.read_parquet(pts).to_view("pts")
        sd.sql("SELECT p.id, z.fid FROM pts p JOIN zones z ON ST_Intersects(z.geometry, p.geometry)").to_parquet(out)
        elapsed = time.perf_counter() - t
    elif engine == "shapely":
        import shapely

        t = time.perf_counter()
        z = pq.read_table(zones, columns=["fid", "geometry"])
        polys = shapely.from_wkb(z.column("geometry").to_numpy(zero_copy_only=False))
        fids = z.column("fid").to_numpy()
        if fmt == "csv":
            p = pacsv.read_csv(pts)
            geoms = shapely.points(p.column("lon").to_numpy(), p.column("lat").to_numpy())
        else:
            p = pq.read_table(pts)
            geoms = shapely.from_wkb(p.column("geometry").to_numpy(zero_copy_only=False))
        ids = p.column("id").to_numpy()
        hit = shapely.STRtree(polys).query(geoms, predicate="intersects")
        pq.write_table(pa.table({"id": ids[hit[0]], "fid": fids[hit[1]]}), out)
        elapsed = time.perf_counter() - t
    else:
        sys.exit(f"unknown engine {engine}")
    print(f"seconds={elapsed:.4f}")


def pairs(engine, zones, answer, out):
    if engine == "zonetrack":
        z = pq.read_table(zones, columns=["fid", "key"])
        fid = dict(zip(z.column("key").to_pylist(), z.column("fid").to_pylist()))
        if answer.endswith(".parquet"):
            t = pq.read_table(answer, columns=["id", "zones"])
            lengths = pc.list_value_length(t.column("zones")).fill_null(0).to_numpy()
            ids = np.repeat(t.column("id").to_numpy(), lengths)
            keys = pc.list_flatten(t.column("zones")).to_pylist()
        else:
            t = pacsv.read_csv(answer, convert_options=pacsv.ConvertOptions(
                column_types={"zones": pa.string()}, strings_can_be_null=False))
            split = pc.split_pattern(t.column("zones"), ";")
            lists = pc.if_else(pc.equal(t.column("zones"), ""), pa.scalar([], pa.list_(pa.string())), split)
            lengths = pc.list_value_length(lists).to_numpy()
            ids = np.repeat(t.column("id").to_numpy(), lengths)
            keys = pc.list_flatten(lists).to_pylist()
        fids = np.array([fid[k] for k in keys], dtype=np.int64)
    else:
        t = pq.read_table(answer)
        ids, fids = t.column("id").to_numpy(), t.column("fid").to_numpy()
    p = np.stack([np.asarray(ids, np.int64), np.asarray(fids, np.int64)], axis=1)
    p = p[np.lexsort((p[:, 1], p[:, 0]))]
    np.save(out, p)
    print(f"pairs={len(p)}")


def compare(a, b):
    x, y = np.load(a), np.load(b)
    same = x.shape == y.shape and bool((x == y).all())
    print(f"same_pairs={'yes' if same else 'no'}")
    if not same:
        sa, sb = set(map(tuple, x.tolist())), set(map(tuple, y.tolist()))
        print(f"only_first={len(sa - sb)} e.g. {sorted(sa - sb)[:3]}")
        print(f"only_second={len(sb - sa)} e.g. {sorted(sb - sa)[:3]}")


def chart(results, png, svg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = json.load(open(results))
    groups = r["groups"]
    engines = r["engines"]
    colours = {"zonetrack": "#1b7837", "zonetrack-cold": "#a6dba0", "sedonadb": "#2166ac",
               "duckdb": "#b2182b", "shapely": "#8c6bb1"}
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(engines)
    for k, engine in enumerate(engines):
        xs, ys = [], []
        for g, group in enumerate(groups):
            v = r["medians"].get(f"{group}|{engine}")
            if v is not None:
                xs.append(g + (k - (len(engines) - 1) / 2) * width)
                ys.append(v)
        labels = {"zonetrack": "zonetrack (load cache warm)", "zonetrack-cold": "zonetrack (cold: no cache)"}
        bars = ax.bar(xs, ys, width, label=labels.get(engine, engine), color=colours.get(engine))
        for x, y in zip(xs, ys):
            ax.text(x, y, f"{y:.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.replace("|", "\nfrom ") for g in groups])
    ax.set_ylabel("whole job, seconds (median)")
    ax.set_title(f"Point-in-polygon join, {r['points']:,} random points: load, parse, join, write")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(svg)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "points":
        points(*sys.argv[2:6])
    elif cmd == "run":
        run(*sys.argv[2:7])
    elif cmd == "pairs":
        pairs(*sys.argv[2:6])
    elif cmd == "compare":
        compare(*sys.argv[2:4])
    elif cmd == "chart":
        chart(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
