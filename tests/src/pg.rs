//! A throwaway PostgreSQL 15 + PostGIS cluster for the tests that need the PostgreSQL store:
//! `initdb` in a temporary folder, `postgres` on a free loopback port (as the `postgres` user
//! when the tests run as root: PostgreSQL refuses to run as root), removed when the cluster is
//! dropped or the test process ends, whichever comes first.
//!
//! PostgreSQL is never optional: without it (and `CI=true` or not) the test fails and says what
//! to install; `scripts/test` installs it.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Where PostgreSQL's programs are: `PG_BIN`, else the newest `/usr/lib/postgresql/N/bin`.
pub fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed; the PostgreSQL store's tests need PostgreSQL 15 and PostGIS 3 \
             (apt-get install -y postgresql-15 postgresql-15-postgis-3), or run scripts/test, which installs them"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command as the user the cluster runs as.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A running cluster.
pub struct Cluster {
    dir: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    bin: PathBuf,
    /// Stops the cluster and removes its folder when its standard input closes (this process
    /// ends): a test that panics or is killed leaves nothing running.
    watchdog: Option<(Child, ChildStdin)>,
}

impl Cluster {
    /// Makes and starts a cluster; panics, saying why, when it cannot.
    pub fn start() -> Cluster {
        let bin = pg_bin();
        let postgis = bin.parent().and_then(|v| v.file_name()).map(|v| {
            format!(
                "/usr/share/postgresql/{}/extension/postgis.control",
                v.to_string_lossy()
            )
        });
        if let Some(control) = &postgis {
            assert!(
                Path::new(control).is_file(),
                "PostGIS is not installed for this PostgreSQL ({control} is missing): \
                 apt-get install -y postgresql-15-postgis-3, or run scripts/test"
            );
        }
        let dir = crate::fresh_temp_dir("zt-pg");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot give {} to the postgres user", dir.display());
        }
        let out = as_owner(&bin.join("initdb"))
            .args(["-D"])
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cluster = Cluster {
            dir,
            port,
            bin,
            watchdog: None,
        };
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster.start_server();
        cluster
    }

    fn pg_ctl(&self) -> Command {
        let mut c = as_owner(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(self.dir.join("data"));
        c
    }

    fn spawn_watchdog(&self) -> (Child, ChildStdin) {
        let stop = format!(
            "{}pg_ctl -D '{}' stop -m immediate >/dev/null 2>&1",
            if is_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.dir.join("data").display()
        );
        let script = format!(
            "cat >/dev/null; PATH='{}':$PATH; {stop}; rm -rf '{}'",
            self.bin.display(),
            self.dir.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs");
        let stdin = child.stdin.take().expect("piped");
        (child, stdin)
    }

    /// Starts (or starts again) the server and waits until it takes connections.
    pub fn start_server(&self) {
        let opts = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=on",
            self.port,
            self.dir.display()
        );
        let status = self
            .pg_ctl()
            .args(["start", "-w", "-t", "60", "-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &opts])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        if !status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            panic!("PostgreSQL did not start:\n{log}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.psql("postgres", "SELECT 1").status.success() {
            assert!(Instant::now() < deadline, "PostgreSQL takes no connections");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server the way a crash does (`pg_ctl stop -m immediate`: no checkpoint, every
    /// connection dropped; the next start recovers from the WAL).
    pub fn kill(&self) {
        let status = self
            .pg_ctl()
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl stop failed");
    }

    /// Runs SQL with `psql` on a database; the output.
    pub fn psql(&self, db: &str, sql: &str) -> std::process::Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .expect("psql runs")
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        self.database_from(name, None)
    }

    /// A new database copied from `template` (another database of this cluster); its URL.
    pub fn database_from(&self, name: &str, template: Option<&str>) -> String {
        let sql = match template {
            Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        let out = self.psql("postgres", &sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    /// The URL of a database of this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.flush();
            drop(stdin);
            let _ = child.wait();
        }
    }
}
