//! Harness for the end-to-end tests: builds and finds the `zonetrack` binary, starts it on a
//! free port and waits for `/health`, runs external tools (GDAL's `ogrinfo`, `ogr2ogr`), and
//! fetches URLs over plain HTTP/1.1 so the tests need no HTTP client crate.

pub mod pg;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// The `zonetrack` binary of this build profile, built once per test run.
///
/// Cargo builds another package's binary only when asked, so the harness asks: an incremental
/// `cargo build -p zonetrack` is a no-op when it is up to date.
pub fn zonetrack() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test knows its own path");
        // target/<profile>/deps/e2e-xxxx -> target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binaries live in target/<profile>/deps");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "zonetrack"])
            .current_dir(repo_root());
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p zonetrack failed");
        profile_dir.join(format!("zonetrack{}", std::env::consts::EXE_SUFFIX))
    })
}

/// The release build of `zonetrack`, built once per test run: for the tests whose figures
/// (latency, throughput) only mean something optimised. `scripts/ogctests` builds the same
/// binary, so a full run builds it once.
pub fn zonetrack_release() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "--release", "--locked", "-p", "zonetrack"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cargo build --release -p zonetrack failed"
        );
        repo_root()
            .join("target")
            .join("release")
            .join(format!("zonetrack{}", std::env::consts::EXE_SUFFIX))
    })
}

/// Runs `zonetrack` with arguments and returns its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(zonetrack())
        .args(args)
        .current_dir(repo_root())
        .env("ZONETRACK_CACHE_DIR", cache_dir())
        .output()
        .expect("zonetrack runs")
}

/// The load cache of the binaries the tests start (`target/e2e-cache`): a large test folder's
/// entry goes there, not into the user's own cache.
pub fn cache_dir() -> PathBuf {
    repo_root().join("target").join("e2e-cache")
}

/// Path of an external tool, or a failure that says how to install it. Tests that need a tool
/// never pass without it: on CI (`CI=true`) and locally alike, a missing tool fails the test.
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "{name} is not installed; this test needs it (apt-get install -y {package}), \
             or run scripts/test, which installs it"
        ),
    }
}

/// A running `zonetrack serve`, stopped on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the server on a free loopback port and waits until `/health` answers 200.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_binary(zonetrack(), extra)
    }

    /// [`Server::start`] with another binary (see [`zonetrack_release`]).
    pub fn start_binary(binary: &Path, extra: &[&str]) -> Server {
        Server::start_env(binary, extra, &[])
    }

    /// [`Server::start_binary`] with these environment variables set.
    pub fn start_env(binary: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("valid address");
        let bind = addr.to_string();
        let mut args = vec!["serve", "--bind", bind.as_str()];
        args.extend_from_slice(extra);
        let child = Command::new(binary)
            .args(&args)
            .env("RUST_LOG", "warn")
            .env("ZONETRACK_CACHE_DIR", cache_dir())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("zonetrack serve starts");
        let server = Server {
            child,
            url: format!("http://{addr}"),
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _, _)) = server.try_get("/health") {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "zonetrack serve did not become ready in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_get(&self, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
        let r = self.try_send("GET", path, &[("Accept", "application/json")], b"")?;
        Ok((r.status, r.head, r.body))
    }

    /// Sends one request with these headers (besides Host, Content-Length and
    /// `Connection: close`) and body.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("Connection: close\r\n\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no header end"))?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        Ok(Reply { status, head, body })
    }

    /// Sends any request (a write, OPTIONS) with these headers and body, as a client library
    /// would put it on the wire.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.try_send(method, path, headers, body)
            .expect("the server answers")
    }

    /// The server's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GETs a path; returns status, raw headers and body.
    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.try_get(path).expect("the server answers")
    }

    /// GETs a path that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, _, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("JSON body")
    }
}

/// One HTTP answer.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Reply {
    /// Every value of a header, in order (names compare case-insensitively).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text, for failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a directory tree, leaving out files named in `skip`.
pub fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("the target directory can be created");
    for entry in std::fs::read_dir(from).expect("the source directory is readable") {
        let entry = entry.expect("the source directory is readable");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target, skip);
        } else if !skip.iter().any(|s| entry.file_name() == *s) {
            std::fs::copy(entry.path(), target).expect("the file copies");
        }
    }
}

/// A fresh temporary directory for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `target/e2e-tmp/<name>-<pid>`.
    pub fn new(name: &str) -> TempDir {
        let dir = repo_root()
            .join("target")
            .join("e2e-tmp")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty folder `<system temp>/<prefix>-<pid>-<n>`, another one at every call, so
/// that the tests of one process never share one. The caller removes it.
pub fn fresh_temp_dir(prefix: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// Runs a command and returns stdout, failing with its stderr when it fails.
pub fn check_output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ogrinfo -so` summary per layer: (name, geometry, feature count).
pub fn ogr_summary(text: &str) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            cur = Some((n.trim().to_owned(), String::new()));
        } else if let Some(g) = line.strip_prefix("Geometry: ") {
            if let Some(c) = cur.as_mut() {
                c.1 = g.trim().to_owned();
            }
        } else if let Some(n) = line.strip_prefix("Feature Count: ")
            && let Some((name, geom)) = cur.take()
        {
            out.push((name, geom, n.trim().parse().unwrap_or(u64::MAX)));
        }
    }
    out
}

/// Runs a property test on a thread with a large stack: in a debug build, generating values from
/// deeply nested strategies overflows the test harness's 2 MiB threads (the code under test does
/// not need it).
pub fn on_big_stack(property: fn()) {
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(property)
        .expect("spawn a test thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

/// How many cases each property of a fuzz test runs: `ZONETRACK_FUZZ_CASES`, or `default`
/// (bounded for CI; set the variable for a longer local run).
pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("ZONETRACK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The string `field` of each item of a JSON array (items without it are passed over).
pub fn strs<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item[field].as_str())
        .collect()
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
