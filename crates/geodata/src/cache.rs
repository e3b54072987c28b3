//! The load cache: a data folder's data set, once loaded and found valid, kept as compact binary
//! (postcard) so that the next command on the same files skips parsing and validating them.
//!
//! Loading 100,000 zones from GeoJSON (reading, parsing, proving every ring valid, deriving
//! rule zones) takes over a second on two cores; hashing the files and reading the same data
//! set back from its binary form, a fifth of that. A command that reads a folder once and exits
//! (`zonetrack query`, `export`, `areas`) paid the whole load every time.
//!
//! An entry is taken only when it was made from exactly the same files by exactly the same
//! program: its key is a 128-bit hash (XXH3) of every data file's name and bytes, and of the
//! running executable's version, size and modification time. The files are hashed on every
//! load (read a block at a time, about 50 ms for 170 MB), so an edit is never missed, however
//! it was made and however soon after the entry was written: no modification times are
//! trusted. A folder with a problem is never cached: its problems are found again by a full
//! load. An entry that cannot be read (cut short, damaged, of another layout) is a miss, and is
//! written again.
//!
//! An entry made from other files (the folder was edited since) is still of use: it holds the
//! digest of each zone feature's text, so it is the load's memo ([`crate::LoadMemo`], as a
//! server keeps between reloads). Only the zones whose text changed are parsed and checked
//! again, and the whole-set checks look only at pairs involving them.
//!
//! Entries are one file per folder (named by a hash of the folder's canonical path) in the
//! cache folder; writing one replaces the folder's last one, through a temporary file and a
//! rename, so readers see a whole entry or none.
//!
//! Beside its entry a folder may have side files ([`LoadCache::write_side`]): what a caller
//! derives from the data set and would rather not make again, keyed by the caller (the CLI keeps
//! the zones' polygon index there, keyed by a hash of their geometry). A side file is checked
//! against its checksum as it is read, replaced as an entry is, and pruned with the entries.
//! A side file may also be kept by the key of the files a load read ([`LoadCache::files_key`])
//! and read back with no load at all ([`LoadCache::read_side_of_files`], which hashes the files
//! while it reads): the CLI keeps a CSV batch's index so, as the data set's decoding was most of
//! what such a batch spent before answering.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use xxhash_rust::xxh3::Xxh3;

use crate::{DataFile, Dataset, GeodataError, GeodataResult, LoadMemo, MemoKeys, Problems};

/// The first bytes of an entry: what it is and the layout of what follows (bump the number
/// when the layout of the header changes; the program's identity in the key covers the rest).
const MAGIC: &[u8; 8] = b"ZTCACHE2";

/// The first bytes of a side file ([`LoadCache::write_side`]), then its key (16 bytes) and the
/// XXH3-64 of the bytes kept (8 bytes).
const SIDE_MAGIC: &[u8; 8] = b"ZTSIDE01";

/// Zones per independently decoded part of an entry: the parts are decoded in parallel.
const ZONES_PER_PART: usize = 8192;

/// Entries not written for this long are removed when another is written: a folder loaded once
/// and forgotten (a download, a test run) does not keep its entry for ever. An entry in use is
/// only written again after it was removed, at the cost of one full load.
const KEEP_FOR: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Folders whose data files hold fewer bytes than this load in milliseconds from GeoJSON (the
/// 220 countries, 1.2 MB: 27 ms): not worth an entry.
pub const DEFAULT_MIN_BYTES: u64 = 4 << 20;

/// Where loaded data sets are kept (see the module documentation).
#[derive(Debug, Clone)]
pub struct LoadCache {
    dir: PathBuf,
    min_bytes: u64,
}

/// What the cache did for one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// The data set came from the cache.
    Hit,
    /// Loaded from the files and written to the cache.
    Written,
    /// Loaded from the files with the folder's older entry as a memo (only zones whose text
    /// changed since were read and checked again), and written to the cache.
    Updated,
    /// Loaded from the files; not cached (too small, invalid, unreadable files, or the cache
    /// could not be written).
    Skipped,
}

impl LoadCache {
    /// A cache in `dir` (created when first written), for folders of at least `min_bytes` of
    /// data files.
    pub fn new(dir: impl Into<PathBuf>, min_bytes: u64) -> LoadCache {
        LoadCache {
            dir: dir.into(),
            min_bytes,
        }
    }

    /// The user's cache, as the environment says: none when `ZONETRACK_CACHE` is `off` (or
    /// `0`, `false`, `no`); else in `ZONETRACK_CACHE_DIR`, `$XDG_CACHE_HOME/zonetrack` or
    /// `$HOME/.cache/zonetrack`, the first that is set; none when none is.
    pub fn from_env() -> Option<LoadCache> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(v) = var("ZONETRACK_CACHE")
            && matches!(
                v.to_string_lossy().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        {
            return None;
        }
        let dir = var("ZONETRACK_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("zonetrack")))
            .or_else(|| var("HOME").map(|d| PathBuf::from(d).join(".cache").join("zonetrack")))?;
        Some(LoadCache::new(dir, DEFAULT_MIN_BYTES))
    }

    /// The folder entries are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data set of `folder`, whose files `read` reads: from the cache when it holds one
    /// made from the same files by this program; else `load` makes it from them (given the
    /// folder's older entry as a memo when there is one, see [`LoadMemo`]; it returns the keys
    /// of the memo of what it loaded), and it is cached when valid and large enough. Problems
    /// come from `load` alone: the cache only ever holds valid data.
    pub fn load(
        &self,
        folder: &Path,
        read: impl FnOnce() -> GeodataResult<Vec<DataFile>>,
        load: impl FnOnce(Vec<DataFile>, Option<&LoadMemo>) -> (Result<Dataset, Problems>, MemoKeys),
    ) -> (GeodataResult<Dataset>, CacheUse) {
        let (data, _, used) = self.load_keyed(folder, read, load, false);
        (data, used)
    }

    /// [`LoadCache::load`], also giving the keys of the data set's [`LoadMemo`] (what a server
    /// keeps for its reloads): from the entry on a hit, from `load` otherwise. Without
    /// `want_keys` a hit gives none (they are not decoded).
    pub fn load_keyed(
        &self,
        folder: &Path,
        read: impl FnOnce() -> GeodataResult<Vec<DataFile>>,
        load: impl FnOnce(Vec<DataFile>, Option<&LoadMemo>) -> (Result<Dataset, Problems>, MemoKeys),
        want_keys: bool,
    ) -> (GeodataResult<Dataset>, MemoKeys, CacheUse) {
        let Some(entry) = self.entry(folder) else {
            let (data, keys) = match read() {
                Ok(files) => load(files, None),
                Err(e) => return (Err(e), MemoKeys::default(), CacheUse::Skipped),
            };
            return (data.map_err(GeodataError::Invalid), keys, CacheUse::Skipped);
        };
        // With an entry, the files are only hashed, a block at a time: reading 170 MB of
        // GeoJSON into memory (zeroing and copying fresh pages) cost more than decoding the
        // entry, and a hit does not need the text. The entry is read and decoded (on every
        // core) meanwhile: on a hit that halves the time; on a miss the decoding is wasted,
        // next to a full load.
        let had_entry = entry.exists();
        // On a miss the older entry is the memo of the load: after an edit of one zone of
        // 100,000, only that zone is read and checked again.
        let mut memo = None;
        if let Some(made_from) = entry_key(&entry) {
            let (hash, old) = rayon::join(|| hash_folder(folder), || read_entry(&entry, made_from));
            match old {
                Some((data, keys)) if hash == Some(made_from) => {
                    loaded(&entry, made_from);
                    let keys = want_keys
                        .then(|| postcard::from_bytes(&keys).ok().map(MemoKeys))
                        .flatten()
                        .unwrap_or_default();
                    return (Ok(data), keys, CacheUse::Hit);
                }
                Some((data, keys)) => {
                    memo = postcard::from_bytes(&keys)
                        .ok()
                        .map(|k| LoadMemo::new(std::sync::Arc::new(data), MemoKeys(k)));
                }
                None => {}
            }
        }
        let files = match read() {
            Ok(files) => files,
            Err(e) => return (Err(e), MemoKeys::default(), CacheUse::Skipped),
        };
        let size: u64 = files
            .iter()
            .map(|f| f.text.as_ref().map_or(0, |t| t.len() as u64))
            .sum();
        let key = (size >= self.min_bytes).then(|| key(&files)).flatten();
        let had_memo = memo.is_some();
        let (result, keys) = load(files, memo.as_ref());
        drop(memo);
        let used = match (&result, key) {
            (Ok(data), Some(key)) if write_entry(&self.dir, &entry, key, data, &keys).is_ok() => {
                loaded(&entry, key);
                prune(&self.dir, KEEP_FOR);
                if had_memo {
                    CacheUse::Updated
                } else {
                    CacheUse::Written
                }
            }
            _ => {
                // An entry that was not taken and is not replaced (the folder is invalid or
                // small now) would be read and decoded for nothing at every load.
                if had_entry {
                    let _ = std::fs::remove_file(&entry);
                }
                CacheUse::Skipped
            }
        };
        (result.map_err(GeodataError::Invalid), keys, used)
    }

    /// What was kept beside `folder`'s entry under `name` ([`LoadCache::write_side`]) with
    /// `key`: something derived from its data set that is slow to make again, such as its zone
    /// index. `None` when nothing was, or something else was (another key, another program).
    /// The bytes are checked against their checksum as they are read: a damaged file makes the
    /// reader fail at its end rather than report the end.
    pub fn open_side(&self, folder: &Path, name: &str, key: u128) -> Option<SideFile> {
        let (kept_with, side) = self.side_file(folder, name)?;
        (kept_with == side_key(name, key)?).then_some(side)
    }

    /// The side file `name` of `folder` opened after its header, and the key it was kept with.
    fn side_file(&self, folder: &Path, name: &str) -> Option<(u128, SideFile)> {
        let mut file = std::fs::File::open(self.side(folder, name)?).ok()?;
        let mut header = [0u8; SIDE_MAGIC.len() + 16 + 8];
        file.read_exact(&mut header).ok()?;
        if header[..SIDE_MAGIC.len()] != SIDE_MAGIC[..] {
            return None;
        }
        let kept_with = u128::from_le_bytes(header[SIDE_MAGIC.len()..][..16].try_into().ok()?);
        let len = file
            .metadata()
            .ok()?
            .len()
            .checked_sub(header.len() as u64)?;
        let checksum = u64::from_le_bytes(header[SIDE_MAGIC.len() + 16..].try_into().ok()?);
        let side = SideFile {
            file,
            len,
            hash: Xxh3::new(),
            checksum,
        };
        Some((kept_with, side))
    }

    /// The key of the files this process last loaded from `folder` through this cache, when
    /// they loaded valid and were cached (from the entry or into it): the key to keep, with
    /// [`LoadCache::write_side`], what was derived from that load and must match the files
    /// themselves, to be read back by [`LoadCache::read_side_of_files`]. Taken from the load
    /// itself, not from the files again: files edited since the load do not get its side file.
    pub fn files_key(&self, folder: &Path) -> Option<u128> {
        let entry = self.entry(folder)?;
        LOADED
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|(path, _)| *path == entry)
            .map(|&(_, key)| key)
    }

    /// What `read` reads of the side file `name` of `folder`, when that was kept with the key of
    /// the folder's files as they are now ([`LoadCache::files_key`]): the files are hashed
    /// while `read` reads, and its result is given only when the two agree. So a command that
    /// needs only what was derived from the data set gets it without loading the data set, and
    /// never from other files than those. `None` when there is no such side file, the files
    /// changed since it was kept, a file cannot be read, or `read` gives none.
    pub fn read_side_of_files<T: Send>(
        &self,
        folder: &Path,
        name: &str,
        read: impl FnOnce(SideFile) -> Option<T> + Send,
    ) -> Option<T> {
        let (kept_with, side) = self.side_file(folder, name)?;
        let (files, value) = rayon::join(|| hash_folder(folder), || read(side));
        (side_key(name, files?)? == kept_with)
            .then_some(value)
            .flatten()
    }

    /// Keeps what `write` writes beside `folder`'s entry under `name` (lowercase letters), to be
    /// read back by [`LoadCache::open_side`] with the same `key`; it replaces what was kept there
    /// before. Written whole or not at all, like an entry, and pruned with the entries.
    pub fn write_side(
        &self,
        folder: &Path,
        name: &str,
        key: u128,
        write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::{Seek as _, SeekFrom};
        let (Some(path), Some(side_key)) = (self.side(folder, name), side_key(name, key)) else {
            return Err(std::io::Error::other(
                "no side file for this folder or name",
            ));
        };
        write_whole(&self.dir, &path, |file| {
            let mut out = Hashing {
                out: std::io::BufWriter::with_capacity(1 << 20, file),
                hash: Xxh3::new(),
            };
            out.out.write_all(SIDE_MAGIC)?;
            out.out.write_all(&side_key.to_le_bytes())?;
            // The checksum, once the bytes are all written.
            out.out.write_all(&[0; 8])?;
            write(&mut out)?;
            let checksum = out.hash.digest();
            let file = out.out.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start((SIDE_MAGIC.len() + 16) as u64))?;
            file.write_all(&checksum.to_le_bytes())
        })
    }

    /// The side file `name` of `folder`: its entry's name with `name` as the extension.
    fn side(&self, folder: &Path, name: &str) -> Option<PathBuf> {
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_lowercase())
            || name == "bin"
            || name == "tmp"
        {
            return None;
        }
        Some(self.entry(folder)?.with_extension(name))
    }

    /// The entry of `folder`: a name from its canonical path, so `./data` and `data` share one.
    fn entry(&self, folder: &Path) -> Option<PathBuf> {
        let path = folder.canonicalize().ok()?;
        let hash = xxhash_rust::xxh3::xxh3_64(path.as_os_str().as_encoded_bytes());
        Some(self.dir.join(format!("folder-{hash:016x}.bin")))
    }
}

/// A side file being read ([`LoadCache::open_side`]): its bytes after the header, checked
/// against the checksum when the end is reached.
pub struct SideFile {
    file: std::fs::File,
    len: u64,
    hash: Xxh3,
    checksum: u64,
}

impl std::fmt::Debug for SideFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideFile")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SideFile {
    /// How many bytes the side file holds (after its header).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::io::Read for SideFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hash.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && self.hash.digest() != self.checksum {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the cached file does not match its checksum",
            ));
        }
        Ok(n)
    }
}

/// A writer that hashes what it writes.
struct Hashing<W> {
    out: W,
    hash: Xxh3,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The entries this process loaded a folder from or wrote, with the key of the files they
/// were made from ([`LoadCache::files_key`]); the last is the latest. A process loads a handful
/// of folders at most.
static LOADED: std::sync::Mutex<Vec<(PathBuf, u128)>> = std::sync::Mutex::new(Vec::new());

/// Records that the files of `entry`'s folder with key `key` were just loaded.
fn loaded(entry: &Path, key: u128) {
    if let Ok(mut loaded) = LOADED.lock() {
        loaded.retain(|(path, _)| path != entry);
        loaded.push((entry.to_owned(), key));
    }
}

/// The key of a set of files: their names and texts, and the running program. `None` when a
/// file could not be read (its problem is the load's to report) or the program is unknown.
fn key(files: &[DataFile]) -> Option<u128> {
    let hashes: Option<Vec<(&str, u128)>> = files
        .iter()
        .map(|f| {
            let text = f.text.as_ref().ok()?;
            Some((
                f.name.as_str(),
                xxhash_rust::xxh3::xxh3_128(text.as_bytes()),
            ))
        })
        .collect();
    key_of(&hashes?)
}

/// [`key`] of the files of `folder`, read a block at a time.
fn hash_folder(folder: &Path) -> Option<u128> {
    let files = crate::load::dir_files(folder, crate::load::hash_data_file).ok()?;
    let hashes: Option<Vec<(&str, u128)>> = files
        .iter()
        .map(|(name, hash)| Some((name.as_str(), *hash.as_ref().ok()?)))
        .collect();
    key_of(&hashes?)
}

/// The key of files given by name and the hash of their bytes.
fn key_of(files: &[(&str, u128)]) -> Option<u128> {
    let mut h = Xxh3::new();
    h.update(MAGIC);
    h.update(program()?);
    h.update(&(files.len() as u64).to_le_bytes());
    for (name, hash) in files {
        // The name's length first, so that no two different lists hash the same bytes.
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(&hash.to_le_bytes());
    }
    Some(h.digest128())
}

/// The key a side file is written with: the caller's key, the side's name and the running
/// program (whose layout of the bytes may differ from an older build's).
fn side_key(name: &str, key: u128) -> Option<u128> {
    let mut h = Xxh3::new();
    h.update(SIDE_MAGIC);
    h.update(program()?);
    h.update(&(name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update(&key.to_le_bytes());
    Some(h.digest128())
}

/// What identifies the running program: its version and its executable's size and modification
/// time, so that a rebuilt program (whose data model may differ) never reads an older one's
/// entries.
fn program() -> Option<&'static [u8]> {
    static PROGRAM: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            let exe = std::env::current_exe().ok()?;
            let meta = std::fs::metadata(&exe).ok()?;
            let modified = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            let mut id = env!("CARGO_PKG_VERSION").as_bytes().to_vec();
            id.extend_from_slice(&meta.len().to_le_bytes());
            id.extend_from_slice(&modified.as_nanos().to_le_bytes());
            id.extend_from_slice(exe.as_os_str().as_encoded_bytes());
            Some(id)
        })
        .as_deref()
}

/// The key an entry was made with; `None` when there is no entry or it is not one.
fn entry_key(path: &Path) -> Option<u128> {
    let mut header = [0u8; 24];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    if &header[..8] != MAGIC {
        return None;
    }
    Some(u128::from_le_bytes(header[8..].try_into().ok()?))
}

/// Removes the entries, side files and temporary files left by a crash in `dir` last written
/// more than `age` ago. Only this cache's own files: `folder-*.bin`, `folder-*.tmp` and side
/// files `folder-*.NAME` (lowercase letters).
fn prune(dir: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.strip_prefix("folder-").is_some_and(|rest| {
            rest.rsplit_once('.').is_some_and(|(_, ext)| {
                !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_lowercase())
            })
        });
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
        if ours && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An entry: [`MAGIC`], the key (16 bytes), the number of parts (8 bytes) and each part's
/// length (8 bytes each), then the parts, each postcard on its own: first the data set without
/// its zones, then its zones, [`ZONES_PER_PART`] at a time (postcard reads one value from
/// start to end, so one value would be decoded on one core), last the load's [`MemoKeys`]
/// (decoded only when the files changed, to make the entry the next load's memo).
#[derive(serde::Serialize, serde::Deserialize)]
struct Rest {
    actors: Vec<crate::Actor>,
    locations: Vec<crate::Location>,
    events: Vec<crate::Event>,
    reference: Vec<crate::ReferenceLayer>,
}

/// The data set of an entry made with `key`, and its memo keys as stored; `None` when it was
/// not, or cannot be read whole (cut short, damaged, written by a program whose model differs).
fn read_entry(path: &Path, key: u128) -> Option<(Dataset, Vec<u8>)> {
    use rayon::prelude::*;
    let bytes = std::fs::read(path).ok()?;
    let word = |at: usize| -> Option<usize> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(b)).ok()
    };
    if bytes.get(..8)? != MAGIC || bytes.get(8..24)? != key.to_le_bytes() {
        return None;
    }
    let parts = word(24)?;
    let mut at = 32usize.checked_add(parts.checked_mul(8)?)?;
    let mut spans = Vec::with_capacity(parts.min(bytes.len() / 8));
    for i in 0..parts {
        let len = word(32 + 8 * i)?;
        let end = at.checked_add(len)?;
        spans.push(bytes.get(at..end)?);
        at = end;
    }
    let (rest, spans) = spans.split_first()?;
    let (keys, zones) = spans.split_last()?;
    let rest: Rest = postcard::from_bytes(rest).ok()?;
    let zones: Vec<Vec<crate::Zone>> = zones
        .par_iter()
        .map(|part| postcard::from_bytes(part).ok())
        .collect::<Option<_>>()?;
    let data = Dataset {
        actors: rest.actors,
        zones: zones.into_iter().flatten().collect(),
        locations: rest.locations,
        events: rest.events,
        reference: rest.reference,
    };
    Some((data, keys.to_vec()))
}

/// Writes an entry whole, or leaves the one before.
fn write_entry(
    dir: &Path,
    path: &Path,
    key: u128,
    data: &Dataset,
    keys: &MemoKeys,
) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct RestRef<'a> {
        actors: &'a [crate::Actor],
        locations: &'a [crate::Location],
        events: &'a [crate::Event],
        reference: &'a [crate::ReferenceLayer],
    }
    let rest = RestRef {
        actors: &data.actors,
        locations: &data.locations,
        events: &data.events,
        reference: &data.reference,
    };
    let mut parts = vec![postcard::to_allocvec(&rest).map_err(std::io::Error::other)?];
    // Encoded on every core, as they are decoded.
    let zones: Vec<Vec<u8>> = {
        use rayon::prelude::*;
        data.zones
            .par_chunks(ZONES_PER_PART)
            .map(|zones| postcard::to_allocvec(zones).map_err(std::io::Error::other))
            .collect::<std::io::Result<_>>()?
    };
    parts.extend(zones);
    parts.push(postcard::to_allocvec(&keys.0).map_err(std::io::Error::other)?);
    write_whole(dir, path, |f| {
        let mut f = std::io::BufWriter::new(f);
        f.write_all(MAGIC)?;
        f.write_all(&key.to_le_bytes())?;
        f.write_all(&(parts.len() as u64).to_le_bytes())?;
        for part in &parts {
            f.write_all(&(part.len() as u64).to_le_bytes())?;
        }
        for part in &parts {
            f.write_all(part)?;
        }
        f.into_inner().map(drop).map_err(|e| e.into_error())
    })
}

/// Writes `path` (in the cache folder `dir`) whole or not at all: `write` fills a temporary
/// file beside it, which is renamed into place when `write` succeeds and removed when it fails,
/// so a reader sees the old file or the new one, never part of one. No fsync: a cache lost to
/// a crash is only a slower next load.
fn write_whole(
    dir: &Path,
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| write(&mut f))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/good-minimal")
    }

    /// Loads `dir` through `cache`.
    fn load(cache: &LoadCache, dir: &Path) -> (GeodataResult<Dataset>, CacheUse) {
        cache.load(
            dir,
            || crate::load::read_dir_files(dir),
            |files, memo| crate::load::load_files_memo("", files, memo),
        )
    }

    /// A scratch folder (removed at the end of the test) holding a copy of the fixture folder
    /// to change, `data`, and room for a cache, `cache`.
    fn scratch(name: &str) -> (e2e::TempDir, PathBuf, PathBuf) {
        let tmp = e2e::TempDir::new(&format!("cache-{name}"));
        let data = tmp.0.join("data");
        e2e::copy_dir(&fixture(), &data, &[]);
        let cache = tmp.0.join("cache");
        (tmp, data, cache)
    }

    #[test]
    fn a_second_load_of_the_same_files_comes_from_the_cache_and_equals_the_first() {
        let (_tmp, data, cache) = scratch("hit");
        let cache = LoadCache::new(cache, 0);
        let (first, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Written);
        let (second, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Hit);
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.zones, second.zones);
        assert_eq!(first.actors, second.actors);
        assert_eq!(first.locations, second.locations);
        assert_eq!(first.events, second.events);
        assert_eq!(first.reference, second.reference);
        assert!(!second.zones.is_empty());
    }

    #[test]
    fn an_entry_gives_back_the_whole_data_set_over_several_parts() {
        // Rule zones, derived periods, reference layers with styles: everything the model
        // holds; and zones enough for three parts, in order.
        let mut data = Dataset::embedded();
        let one = data.zones.clone();
        while data.zones.len() <= 2 * ZONES_PER_PART {
            data.zones.extend(one.iter().cloned());
        }
        let (_tmp, _, dir) = scratch("parts");
        let path = dir.join("entry.bin");
        let keys = MemoKeys(vec![(42, data.zones[0].meta.id.clone())]);
        write_entry(&dir, &path, 7, &data, &keys).unwrap();
        assert!(read_entry(&path, 8).is_none(), "another key");
        let (back, stored) = read_entry(&path, 7).expect("the entry reads");
        let stored: Vec<(u128, crate::FeatureId)> = postcard::from_bytes(&stored).unwrap();
        assert_eq!(stored, keys.0);
        assert_eq!(back.zones, data.zones);
        assert!(back.zones.iter().any(|z| z.rule.is_some()));
        assert!(back.zones.iter().any(|z| z.derived_from.is_some()));
        assert_eq!(back.reference, data.reference);
        assert_eq!(back.events, data.events);
        assert_eq!(back.locations, data.locations);
        assert_eq!(back.actors, data.actors);
        // Every cut of the file is refused, never half a data set.
        let whole = std::fs::read(&path).unwrap();
        for cut in [whole.len() - 1, whole.len() / 2, 40, 24, 3] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(read_entry(&path, 7).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn an_edit_of_the_same_size_and_time_is_not_missed() {
        let (_tmp, data, cache) = scratch("edit");
        let cache = LoadCache::new(cache, 0);
        let zones = data.join("zones.geojson");
        let (before, _) = load(&cache, &data);
        let before = before.unwrap();
        // The same bytes but one digit, and the old modification time put back: a stamp-based
        // cache would serve the old zones.
        let text = std::fs::read_to_string(&zones).unwrap();
        let time = std::fs::metadata(&zones).unwrap().modified().unwrap();
        let at = text.find("\"name\": \"").expect("a name") + 9;
        let mut changed = text.clone().into_bytes();
        changed[at] = if changed[at] == b'X' { b'Y' } else { b'X' };
        std::fs::write(&zones, &changed).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&zones)
            .unwrap()
            .set_modified(time)
            .unwrap();
        let (after, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Updated);
        let after = after.unwrap();
        assert_ne!(
            before
                .zones
                .iter()
                .map(|z| &z.meta.name)
                .collect::<Vec<_>>(),
            after.zones.iter().map(|z| &z.meta.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_edited_folder_loaded_with_its_older_entry_as_memo_is_as_a_full_load() {
        let (_tmp, data, cache) = scratch("memo");
        let cache = LoadCache::new(cache, 0);
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        let zones = data.join("zones.geojson");
        let text = std::fs::read_to_string(&zones).unwrap();
        let full = || {
            crate::load_files("", crate::load::read_dir_files(&data).unwrap())
                .map_err(GeodataError::Invalid)
        };
        // A name, then an actor the actors file does not list: the memo's zones are taken only
        // where their text is the same, and the problems are a full load's.
        let renamed = text.replacen("\"name\": \"", "\"name\": \"Renamed ", 1);
        std::fs::write(&zones, &renamed).unwrap();
        let (after, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Updated);
        let after = after.unwrap();
        assert_eq!(after, full().unwrap());
        assert!(
            after
                .zones
                .iter()
                .any(|z| z.meta.name.starts_with("Renamed "))
        );
        // The updated entry is a hit next time.
        let (again, used) = load(&cache, &data);
        assert_eq!((again.unwrap(), used), (after, CacheUse::Hit));
        std::fs::write(
            &zones,
            renamed.replacen("\"actor\": \"blue\"", "\"actor\": \"nobody\"", 1),
        )
        .unwrap();
        let (bad, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Skipped);
        let problems = |e: GeodataError| match e {
            GeodataError::Invalid(p) => format!("{p:?}"),
            other => panic!("{other}"),
        };
        let (bad, expected) = (problems(bad.unwrap_err()), problems(full().unwrap_err()));
        assert!(bad.contains("nobody"), "{bad}");
        assert_eq!(bad, expected);
        // Fixed again, and the actors file changed too: no memo is left (the invalid folder's
        // entry was removed), and the load is whole.
        std::fs::write(&zones, &text).unwrap();
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        let actors = data.join("actors.json");
        let a = std::fs::read_to_string(&actors).unwrap();
        std::fs::write(&actors, a.replacen("\"name\": \"", "\"name\": \"The ", 1)).unwrap();
        let (after, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Updated);
        assert_eq!(after.unwrap(), full().unwrap());
    }

    #[test]
    fn a_hit_gives_the_memo_keys_of_the_load_that_wrote_it_when_asked() {
        let (_tmp, data, cache) = scratch("keys");
        let cache = LoadCache::new(cache, 0);
        let keyed = |want| {
            cache.load_keyed(
                &data,
                || crate::load::read_dir_files(&data),
                |files, memo| crate::load::load_files_memo("", files, memo),
                want,
            )
        };
        let (first, written, used) = keyed(true);
        assert_eq!(used, CacheUse::Written);
        assert!(!written.0.is_empty());
        let (second, kept, used) = keyed(true);
        assert_eq!(used, CacheUse::Hit);
        assert_eq!(kept.0, written.0);
        assert_eq!(second.unwrap(), first.unwrap());
        // Not asked for: not decoded.
        let (_, none, used) = keyed(false);
        assert_eq!((none.0.len(), used), (0, CacheUse::Hit));
    }

    #[test]
    fn an_invalid_folder_is_not_cached_and_keeps_its_problems() {
        let (_tmp, data, cache) = scratch("bad");
        let cache = LoadCache::new(cache, 0);
        // Valid first: an entry is made, then dropped when the folder breaks.
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        assert!(cache.entry(&data).unwrap().exists());
        std::fs::write(
            data.join("zones.geojson"),
            "{\"type\": \"FeatureCollection\"",
        )
        .unwrap();
        for _ in 0..2 {
            let (result, used) = load(&cache, &data);
            assert_eq!(used, CacheUse::Skipped);
            let Err(GeodataError::Invalid(problems)) = result else {
                panic!("a broken file is a problem");
            };
            assert!(problems.to_string().contains("zones.geojson"), "{problems}");
            assert!(!cache.entry(&data).unwrap().exists());
        }
    }

    #[test]
    fn a_damaged_or_foreign_entry_is_a_miss_and_is_written_again() {
        let (_tmp, data, cache) = scratch("damaged");
        let cache = LoadCache::new(cache, 0);
        let (good, _) = load(&cache, &data);
        let entry = cache.entry(&data).unwrap();
        let whole = std::fs::read(&entry).unwrap();
        // Cut short, the right header with garbage after it, and another program's magic.
        let mut garbage = whole[..24].to_vec();
        garbage.extend_from_slice(&[0xff; 64]);
        let mut foreign = whole.clone();
        foreign[..8].copy_from_slice(b"ZTCACHE1");
        for broken in [whole[..whole.len() / 2].to_vec(), garbage, foreign] {
            std::fs::write(&entry, broken).unwrap();
            let (again, used) = load(&cache, &data);
            assert_eq!(used, CacheUse::Written);
            assert_eq!(again.unwrap().zones, good.as_ref().unwrap().zones);
            assert_eq!(std::fs::read(&entry).unwrap(), whole);
        }
    }

    #[test]
    fn entries_not_written_for_a_month_are_removed_and_nothing_else() {
        let (_tmp, data, dir) = scratch("prune");
        let cache = LoadCache::new(&dir, 0);
        std::fs::create_dir_all(&dir).unwrap();
        let month_ago =
            std::time::SystemTime::now() - KEEP_FOR - std::time::Duration::from_secs(60);
        let file = |name: &str, when: std::time::SystemTime| {
            let path = dir.join(name);
            std::fs::write(&path, b"x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
            path
        };
        let old_entry = file("folder-0000000000000001.bin", month_ago);
        let old_tmp = file("folder-0000000000000002.123.tmp", month_ago);
        let old_side = file("folder-0000000000000004.index", month_ago);
        let recent = file("folder-0000000000000003.bin", std::time::SystemTime::now());
        let not_ours = file("notes.txt", month_ago);
        let not_ours_either = file("folder-notes.TXT", month_ago);
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        assert!(!old_entry.exists() && !old_tmp.exists() && !old_side.exists());
        assert!(recent.exists() && not_ours.exists() && not_ours_either.exists());
        assert!(cache.entry(&data).unwrap().exists());
    }

    #[test]
    fn a_side_file_comes_back_only_with_its_key_and_whole() {
        let (_tmp, data, dir) = scratch("side");
        let cache = LoadCache::new(&dir, 0);
        let write =
            |key: u128, bytes: &[u8]| cache.write_side(&data, "index", key, |w| w.write_all(bytes));
        let read = |name: &str, key: u128| -> Option<std::io::Result<Vec<u8>>> {
            let mut side = cache.open_side(&data, name, key)?;
            let mut bytes = Vec::new();
            Some(side.read_to_end(&mut bytes).map(|n| {
                assert_eq!(n as u64, side.len());
                bytes
            }))
        };
        let bytes: Vec<u8> = (0..1_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
        assert!(read("index", 7).is_none());
        write(7, &bytes).unwrap();
        assert_eq!(read("index", 7).unwrap().unwrap(), bytes);
        assert!(read("index", 8).is_none(), "another key");
        assert!(read("other", 7).is_none(), "another name");
        // Replaced by the next write; a damaged or cut file fails at its end.
        write(8, b"newer").unwrap();
        assert!(read("index", 7).is_none());
        assert_eq!(read("index", 8).unwrap().unwrap(), b"newer");
        let path = cache.side(&data, "index").unwrap();
        let mut file = std::fs::read(&path).unwrap();
        let last = file.len() - 1;
        file[last] ^= 1;
        std::fs::write(&path, &file).unwrap();
        let damaged = read("index", 8).unwrap().unwrap_err();
        assert_eq!(damaged.kind(), std::io::ErrorKind::InvalidData);
        std::fs::write(&path, &file[..file.len() - 2]).unwrap();
        assert!(read("index", 8).unwrap().is_err(), "cut");
        std::fs::write(&path, &file[..20]).unwrap();
        assert!(read("index", 8).is_none(), "cut in its header");
        // Names that would clash with entries, or escape the folder's, are refused.
        for name in ["bin", "tmp", "", "../x", "Index"] {
            assert!(
                cache.write_side(&data, name, 1, |_| Ok(())).is_err(),
                "{name:?}"
            );
        }
        // A failed write leaves what was there.
        write(9, b"kept").unwrap();
        let failed = cache.write_side(&data, "index", 10, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("the writer failed"))
        });
        assert!(failed.is_err());
        assert_eq!(read("index", 9).unwrap().unwrap(), b"kept");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        // The folder's own entry is untouched by its side files.
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        write(11, b"x").unwrap();
        assert_eq!(load(&cache, &data).1, CacheUse::Hit);
    }

    #[test]
    fn a_side_file_kept_by_the_files_key_is_read_only_while_the_files_are_those() {
        let (_tmp, data, dir) = scratch("files-key");
        let cache = LoadCache::new(&dir, 0);
        let read = || {
            cache.read_side_of_files(&data, "batch", |mut side| {
                let mut bytes = Vec::new();
                side.read_to_end(&mut bytes).ok().map(|_| bytes)
            })
        };
        // Nothing loaded yet: no key, nothing kept.
        assert_eq!(cache.files_key(&data), None);
        assert_eq!(read(), None);
        assert_eq!(load(&cache, &data).1, CacheUse::Written);
        let key = cache.files_key(&data).expect("the load's key");
        assert_eq!(
            Some(key),
            hash_folder(&data),
            "the key of the files as they are"
        );
        cache
            .write_side(&data, "batch", key, |w| w.write_all(b"derived"))
            .unwrap();
        assert_eq!(read().as_deref(), Some(&b"derived"[..]));
        // A hit gives the same key.
        assert_eq!(load(&cache, &data).1, CacheUse::Hit);
        assert_eq!(cache.files_key(&data), Some(key));
        // An edit of any file, even one byte of the same length, and the side file is not
        // taken; its own key (not the files') is not enough either.
        let zones = data.join("zones.geojson");
        let text = std::fs::read_to_string(&zones).unwrap();
        let at = text.find("\"name\"").expect("a name");
        let mut edited = text.clone().into_bytes();
        edited[at + 1] = b'N';
        std::fs::write(&zones, &edited).unwrap();
        assert_eq!(read(), None);
        cache
            .write_side(&data, "batch", 12345, |w| w.write_all(b"other"))
            .unwrap();
        assert_eq!(read(), None);
        // Back to the same bytes: the side kept by their key is taken again; damaged, it is not.
        std::fs::write(&zones, &text).unwrap();
        cache
            .write_side(&data, "batch", key, |w| w.write_all(b"derived"))
            .unwrap();
        assert_eq!(read().as_deref(), Some(&b"derived"[..]));
        let path = cache.side(&data, "batch").unwrap();
        let mut file = std::fs::read(&path).unwrap();
        let last = file.len() - 1;
        file[last] ^= 1;
        std::fs::write(&path, &file).unwrap();
        assert_eq!(read(), None);
    }

    #[test]
    fn small_folders_are_not_cached() {
        let (_tmp, data, cache) = scratch("small");
        let cache = LoadCache::new(cache, DEFAULT_MIN_BYTES);
        let (_, used) = load(&cache, &data);
        assert_eq!(used, CacheUse::Skipped);
        assert!(!cache.dir().exists());
    }
}
