//! The Rust side of `scripts/bench/which-zone`: makes the benchmark sets, runs the index over
//! them, and writes the (point, polygon) pairs it finds so the script can check them against
//! shapely's.
//!
//! ```text
//! which_zone stars   --n 100000 --seed 1 --out zones-100k.polys
//! which_zone default --out default.polys
//! which_zone points  --polygons P --n 1000000 --seed 2 --out P.points
//! which_zone run     --polygons P --points Q --pairs OUT [--repeat 3]
//! which_zone memory  --polygons P
//! ```
//!
//! Files are little-endian. Polygons (`ZTPOLY01`): counts of items, parts, rings, coordinates
//! (u64 each), then the offsets shapely's `from_ragged_array` takes (items -> parts, parts ->
//! rings, rings -> coordinates, u64 each) and the coordinates (f64 lon, lat). Points
//! (`ZTPNTS01`): a u64 count, then f64 lon, lat pairs. Pairs (`ZTPAIR01`): a u64 count, then u32
//! point, u32 polygon pairs sorted by point then polygon.
//!
//! `run` prints `key=value` lines: build seconds, queries per second (medians of `--repeat`
//! runs) for single `covering` calls in the given (random) point order, and for the batch path
//! on one and two threads.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use zone_index::PolygonIndex;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("which_zone: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Args(Vec<String>);

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        let flag = format!("--{name}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }
    fn path(&self, name: &str) -> Res<PathBuf> {
        Ok(PathBuf::from(
            self.get(name).ok_or(format!("--{name} is required"))?,
        ))
    }
    fn num(&self, name: &str, default: u64) -> Res<u64> {
        Ok(match self.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name} {v}: not a number"))?,
            None => default,
        })
    }
}

fn real_main() -> Res<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let cmd = raw.first().cloned().unwrap_or_default();
    let args = Args(raw);
    match cmd.as_str() {
        "stars" => {
            let items = zone_index::synthetic::clustered_stars(
                usize::try_from(args.num("n", 100_000)?)?,
                zone_index::synthetic::SYRIA_BOX,
                args.num("seed", 1)?,
            );
            write_polys(&args.path("out")?, &items)
        }
        "default" => {
            let data = geodata::Dataset::embedded();
            let items: Vec<MultiPolygon<f64>> = data
                .zones
                .into_iter()
                .map(|z| (*z.geometry).clone())
                .collect();
            write_polys(&args.path("out")?, &items)
        }
        "points" => {
            let flat = read_polys(&args.path("polygons")?)?;
            let bbox = flat.bbox();
            let pts = zone_index::synthetic::uniform_points(
                usize::try_from(args.num("n", 1_000_000)?)?,
                bbox,
                args.num("seed", 2)?,
            );
            write_points(&args.path("out")?, &pts)
        }
        "run" => run(&args),
        "memory" => memory(&args),
        _ => Err(
            "usage: which_zone stars|default|points|run|memory [options] (see the file's docs)"
                .into(),
        ),
    }
}

fn spinner(msg: &'static str) -> indicatif::ProgressBar {
    // indicatif draws nothing when stderr is not a terminal, so pipes and logs stay clean.
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run(args: &Args) -> Res<()> {
    let repeat = args.num("repeat", 3)?.max(1);
    let flat = read_polys(&args.path("polygons")?)?;
    let points = read_points(&args.path("points")?)?;
    let items = flat.to_multipolygons();
    let vertices = zone_index::vertex_count(&items);
    let pb = spinner("building the index");
    let mut builds = Vec::new();
    let mut builds_cpu = Vec::new();
    let mut index = None;
    for _ in 0..repeat {
        let input = items.clone();
        let (t, c) = (Instant::now(), thread_cpu_s());
        let built = PolygonIndex::new(input);
        builds.push(t.elapsed().as_secs_f64());
        builds_cpu.push(thread_cpu_s() - c);
        index = Some(built);
    }
    let index = index.ok_or("no build ran")?;
    drop(items);
    pb.set_message("single queries, input order");
    let mut single = Vec::new();
    let mut single_cpu = Vec::new();
    let mut total_hits = 0usize;
    for _ in 0..repeat {
        let (t, c) = (Instant::now(), thread_cpu_s());
        let mut hits = 0usize;
        for &(lon, lat) in &points {
            hits += std::hint::black_box(index.covering(lon, lat)).len();
        }
        single.push(points.len() as f64 / t.elapsed().as_secs_f64());
        single_cpu.push(points.len() as f64 / (thread_cpu_s() - c).max(0.01));
        total_hits = hits;
    }
    let batch = |threads: usize, msg: &'static str| {
        pb.set_message(msg);
        let mut qps = Vec::new();
        let mut qps_cpu = Vec::new();
        let mut last = None;
        for _ in 0..repeat {
            let (t, c) = (Instant::now(), thread_cpu_s());
            let r = index.covering_many(&points, threads);
            qps.push(points.len() as f64 / t.elapsed().as_secs_f64());
            qps_cpu.push(points.len() as f64 / (thread_cpu_s() - c).max(0.01));
            last = Some(r);
        }
        (median(qps), median(qps_cpu), last)
    };
    let (batch1, batch1_cpu, _) = batch(1, "batch, one thread");
    let (batch2, _, result) = batch(2, "batch, two threads");
    pb.finish_and_clear();
    let result = result.ok_or("no batch ran")?;
    if result.pairs().count() != total_hits {
        return Err("the batch path and single queries found different numbers of pairs".into());
    }
    // Untimed: the single-call answers, pair by pair, must be the batch's (which the script
    // then checks against shapely's).
    let single_pairs = points.iter().enumerate().flat_map(|(i, &(lon, lat))| {
        index
            .covering(lon, lat)
            .into_iter()
            .map(move |(z, b)| (i, z, b))
    });
    if !single_pairs.eq(result.pairs()) {
        return Err("the batch path and single queries found different pairs".into());
    }
    write_pairs(&args.path("pairs")?, result.pairs().map(|(p, z, _)| (p, z)))?;
    let out = std::io::stdout();
    let mut o = out.lock();
    writeln!(o, "items={}", index.len())?;
    writeln!(o, "vertices={vertices}")?;
    writeln!(o, "points={}", points.len())?;
    writeln!(o, "pairs={total_hits}")?;
    writeln!(o, "repeat={repeat}")?;
    writeln!(o, "build_s={:.4}", median(builds))?;
    writeln!(o, "build_cpu_s={:.4}", median(builds_cpu))?;
    writeln!(o, "heap_bytes={}", index.heap_bytes())?;
    writeln!(o, "raw_coord_bytes={}", vertices * 16)?;
    writeln!(o, "single_qps={:.0}", median(single))?;
    writeln!(o, "single_cpu_qps={:.0}", median(single_cpu))?;
    writeln!(o, "batch1_qps={batch1:.0}")?;
    writeln!(o, "batch1_cpu_qps={batch1_cpu:.0}")?;
    writeln!(o, "batch2_qps={batch2:.0}")?;
    Ok(())
}

/// CPU seconds this thread has used (user + system), from /proc; 0 where there is none. The
/// machine this runs on is often shared, so CPU time says what a query costs when wall-clock
/// time cannot.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// Resident set size of this process, in bytes, from /proc (0 where there is none).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resident memory of the index alone: built straight from the file's flat arrays one item at
/// a time (so no second copy of every polygon exists), the file's arrays then freed.
fn memory(args: &Args) -> Res<()> {
    let before = rss_bytes();
    let flat = read_polys(&args.path("polygons")?)?;
    let raw = flat.coords.len() * 8;
    let index = PolygonIndex::from_items((0..flat.items()).map(|i| flat.item(i)));
    drop(flat);
    let after = rss_bytes();
    println!("raw_coord_bytes={raw}");
    println!("index_rss_bytes={}", after.saturating_sub(before));
    println!("heap_bytes={}", index.heap_bytes());
    Ok(())
}

/// Polygons as flat arrays, the layout of the file and of shapely's ragged arrays.
struct Flat {
    item_parts: Vec<u64>,
    part_rings: Vec<u64>,
    ring_coords: Vec<u64>,
    coords: Vec<f64>,
}

impl Flat {
    fn items(&self) -> usize {
        self.item_parts.len().saturating_sub(1)
    }

    fn item(&self, i: usize) -> MultiPolygon<f64> {
        let ring = |r: usize| {
            let (s, e) = (
                self.ring_coords[r] as usize,
                self.ring_coords[r + 1] as usize,
            );
            LineString::new(
                (s..e)
                    .map(|c| Coord {
                        x: self.coords[2 * c],
                        y: self.coords[2 * c + 1],
                    })
                    .collect(),
            )
        };
        let parts = (self.item_parts[i] as usize..self.item_parts[i + 1] as usize).map(|p| {
            let (s, e) = (self.part_rings[p] as usize, self.part_rings[p + 1] as usize);
            Polygon::new(ring(s), (s + 1..e).map(ring).collect())
        });
        MultiPolygon(parts.collect())
    }

    fn to_multipolygons(&self) -> Vec<MultiPolygon<f64>> {
        (0..self.items()).map(|i| self.item(i)).collect()
    }

    fn bbox(&self) -> [f64; 4] {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for c in self.coords.chunks_exact(2) {
            b = [
                b[0].min(c[0]),
                b[1].min(c[1]),
                b[2].max(c[0]),
                b[3].max(c[1]),
            ];
        }
        b
    }
}

fn put_u64s(out: &mut Vec<u8>, v: impl IntoIterator<Item = u64>) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn write_polys(path: &Path, items: &[MultiPolygon<f64>]) -> Res<()> {
    let (mut item_parts, mut part_rings, mut ring_coords, mut coords) =
        (vec![0u64], vec![0u64], vec![0u64], Vec::new());
    for mp in items {
        for p in &mp.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for c in &r.0 {
                    coords.push(c.x);
                    coords.push(c.y);
                }
                ring_coords.push((coords.len() / 2) as u64);
            }
            part_rings.push((ring_coords.len() - 1) as u64);
        }
        item_parts.push((part_rings.len() - 1) as u64);
    }
    let mut out = b"ZTPOLY01".to_vec();
    put_u64s(
        &mut out,
        [
            items.len() as u64,
            (part_rings.len() - 1) as u64,
            (ring_coords.len() - 1) as u64,
            (coords.len() / 2) as u64,
        ],
    );
    put_u64s(&mut out, item_parts);
    put_u64s(&mut out, part_rings);
    put_u64s(&mut out, ring_coords);
    for c in coords {
        out.extend_from_slice(&c.to_le_bytes());
    }
    std::fs::write(path, out)?;
    Ok(())
}

struct Reader(std::io::BufReader<std::fs::File>);

impl Reader {
    fn open(path: &Path, magic: &[u8; 8]) -> Res<Reader> {
        let mut r = Reader(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ));
        let mut m = [0u8; 8];
        r.0.read_exact(&mut m)?;
        if &m != magic {
            return Err(format!(
                "{} is not a {} file",
                path.display(),
                String::from_utf8_lossy(magic)
            )
            .into());
        }
        Ok(r)
    }
    fn u64(&mut self) -> Res<u64> {
        let mut b = [0u8; 8];
        self.0.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn u64s(&mut self, n: u64) -> Res<Vec<u64>> {
        (0..n).map(|_| self.u64()).collect()
    }
    fn f64s(&mut self, n: u64) -> Res<Vec<f64>> {
        let mut bytes = vec![0u8; usize::try_from(n)? * 8];
        self.0.read_exact(&mut bytes)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }
}

fn read_polys(path: &Path) -> Res<Flat> {
    let mut r = Reader::open(path, b"ZTPOLY01")?;
    let (items, parts, rings, coords) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    Ok(Flat {
        item_parts: r.u64s(items + 1)?,
        part_rings: r.u64s(parts + 1)?,
        ring_coords: r.u64s(rings + 1)?,
        coords: r.f64s(coords * 2)?,
    })
}

fn write_points(path: &Path, pts: &[(f64, f64)]) -> Res<()> {
    let mut out = b"ZTPNTS01".to_vec();
    put_u64s(&mut out, [pts.len() as u64]);
    for &(x, y) in pts {
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn read_points(path: &Path) -> Res<Vec<(f64, f64)>> {
    let mut r = Reader::open(path, b"ZTPNTS01")?;
    let n = r.u64()?;
    let v = r.f64s(n * 2)?;
    Ok(v.chunks_exact(2).map(|c| (c[0], c[1])).collect())
}

fn write_pairs(path: &Path, pairs: impl Iterator<Item = (usize, usize)>) -> Res<()> {
    let mut body = Vec::new();
    let mut n = 0u64;
    for (p, z) in pairs {
        body.extend_from_slice(&u32::try_from(p)?.to_le_bytes());
        body.extend_from_slice(&u32::try_from(z)?.to_le_bytes());
        n += 1;
    }
    let mut out = b"ZTPAIR01".to_vec();
    put_u64s(&mut out, [n]);
    out.extend_from_slice(&body);
    std::fs::write(path, out)?;
    Ok(())
}
