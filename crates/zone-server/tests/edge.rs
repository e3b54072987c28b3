//! The connection layer over real sockets (issue 10): slow and idle clients cannot starve the
//! server, the connection cap holds, and shutdown does not wait on idle or unfinished
//! connections. Each test starts `zone_server::serve::serve` on a port of 127.0.0.1 with short
//! limits, and talks raw HTTP/1.1 to it. The TLS tests (issue 12) do the same through a rustls
//! client trusting a self-signed certificate.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use geodata::Dataset;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use zone_server::body::BodyRate;
use zone_server::serve::{ConnLimits, Tls, TlsError};
use zone_server::{AppState, Config, Snapshot, app};

static DATA: LazyLock<Dataset> = LazyLock::new(Dataset::embedded);

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Signals shutdown and returns how long `serve` took to return.
    async fn shut_down(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.done)
            .await
            .expect("serve returns")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

async fn start(config: Config, limits: ConnLimits) -> Running {
    start_with_tls(config, limits, None).await
}

async fn start_with_tls(config: Config, limits: ConnLimits, tls: Option<Tls>) -> Running {
    let state = AppState::new(Snapshot::new(DATA.clone()), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(zone_server::serve::serve_with_tls(
        listener,
        app(state),
        limits,
        tls,
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and
/// when the close came, if it did.
async fn read_until_closed(
    conn: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request on a fresh connection (`Connection: close`): status and how long it took.
async fn ask(addr: SocketAddr, target: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let (got, _) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    (status_of(&got), started.elapsed())
}

/// A connection that has sent these bytes.
async fn open_with(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    conn
}

fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Limits under which an unfinished request stays open for the whole test.
fn patient_limits() -> ConnLimits {
    ConnLimits {
        header_read_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    }
}

fn quick_limits() -> ConnLimits {
    ConnLimits {
        header_read_timeout: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(30),
        ..ConnLimits::default()
    }
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    // Regression (issue 10): without a timer, half a request stayed open forever.
    let server = start(Config::default(), quick_limits()).await;
    let mut conn = open_with(server.addr, b"GET /health HTTP/1.1\r\nHost: t\r\nX-A: ").await;
    // Trickle a byte now and then: activity must not keep an unfinished head alive.
    let started = Instant::now();
    let mut closed = None;
    for _ in 0..40 {
        if conn.write_all(b"a").await.is_err() {
            closed = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = Some(started.elapsed());
                break;
            }
            _ => {}
        }
    }
    let closed = closed.expect("the server closes an unfinished request head");
    assert!(closed < Duration::from_secs(4), "closed after {closed:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = start(Config::default(), quick_limits()).await;
    let mut conn = open_with(server.addr, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let (got, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert_eq!(status_of(&got), 200);
    let closed = closed.expect("an idle keep-alive connection is closed");
    assert!(
        closed >= Duration::from_millis(900),
        "closed after {closed:?}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_cut_off_and_frees_its_batch_slot() {
    let server = start(
        Config {
            max_concurrent_batches: 1,
            batch_wait: Duration::from_millis(200),
            ..Config::default()
        },
        ConnLimits {
            stall_timeout: Duration::from_secs(1),
            ..ConnLimits::default()
        },
    )
    .await;
    // A small receive buffer, so the answer stops flowing as soon as the client stops reading.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut conn = socket.connect(server.addr).await.unwrap();
    let body = "36.1,32.617\n".repeat(50_000);
    conn.write_all(
        format!(
            "POST /query/points HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Read a little, then stop: the answer (megabytes) stalls in the socket buffers.
    let mut head = [0u8; 1024];
    let n = conn.read(&mut head).await.unwrap();
    assert_eq!(status_of(&head[..n]), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The server gave up on it: the rest ends before the answer's last chunk.
    let (rest, closed) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "the server closed the connection");
    assert!(
        !rest.ends_with(b"0\r\n\r\n"),
        "a whole answer came ({} bytes): the stall was not noticed",
        rest.len()
    );
    // Its batch slot is free again.
    let mut next = open_with(server.addr, b"POST /query/points HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 10\r\nConnection: close\r\n\r\n36.1,32.6\n").await;
    let (got, _) = read_until_closed(&mut next, Duration::from_secs(5)).await;
    assert_eq!(status_of(&got), 200, "{}", String::from_utf8_lossy(&got));
    server.shut_down().await;
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_is_closed_at_once() {
    let server = start(
        Config::default(),
        ConnLimits {
            max_connections: 3,
            ..patient_limits()
        },
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(open_with(server.addr, b"GET /he").await);
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    let (got, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(closed.expect("closed") < Duration::from_secs(1));
    // One slot frees: the next connection is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ask(server.addr, "/health").await.0, 200);
    drop(held);
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_closes_idle_and_unfinished_connections_at_once() {
    // Regression (issue 10): half a request line kept the process alive 20 s after SIGTERM.
    let server = start(Config::default(), patient_limits()).await;
    let mut unfinished = open_with(server.addr, b"GET /hea").await;
    let mut idle = open_with(server.addr, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&buf[..n]), 200);
    let took = server.shut_down().await;
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    for conn in [&mut unfinished, &mut idle] {
        let (_, closed) = read_until_closed(conn, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "the connection is closed");
    }
}

#[tokio::test]
async fn a_request_in_flight_finishes_during_shutdown() {
    let server = start(Config::default(), ConnLimits::default()).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    // A batch whose body is still on its way when shutdown begins.
    conn.write_all(
        b"POST /query/points HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 12\r\n\r\n36.1,",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop = tokio::spawn(server.shut_down());
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(b"32.617\n").await.unwrap();
    let (got, _) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got);
    assert_eq!(status_of(&got), 200, "{text}");
    assert!(text.contains("36.1,32.617,"), "{text}");
    assert!(stop.await.unwrap() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_request_bodies_do_not_starve_health_and_point_queries() {
    // Regression (issue 10): trickling batch bodies held every slot of the concurrency cap
    // for the 30 s request timeout, and /health and /query/point got 503s.
    let server = start(
        Config {
            max_concurrent_requests: 16,
            // Room for 8 announced 1 MB bodies: the rest are refused before they are read.
            batch_body_budget: 8 << 20,
            body_rate: BodyRate {
                grace: Duration::from_secs(1),
                min_bytes_per_sec: 1024,
            },
            ..Config::default()
        },
        ConnLimits::default(),
    )
    .await;
    let addr = server.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
    let mut slow = Vec::new();
    for _ in 0..40 {
        let (stop, statuses) = (stop.clone(), statuses.clone());
        slow.push(tokio::spawn(async move {
            // Reconnect whenever the server lets go, as an attacker would.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut c) = TcpStream::connect(addr).await else {
                    continue;
                };
                let head = "POST /query/points HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 1000000\r\n\r\n36";
                if c.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let _ = c.write_all(b"1").await;
                    match tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                }
                statuses.lock().unwrap().push(status_of(&got));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..10 {
        let target = if i % 2 == 0 {
            "/health"
        } else {
            "/query/point?lon=36.1&lat=32.617&datetime=2018-02-15"
        };
        let (status, took) = ask(addr, target).await;
        assert_eq!(status, 200, "{target} during slow bodies");
        assert!(took < Duration::from_secs(1), "{target} took {took:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in slow {
        let _ = s.await;
    }
    // The trickling batches were turned away (503: over the body budget) or cut off (408: too
    // slow).
    let seen = statuses.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| [408, 503].contains(s)),
        "statuses of slow bodies: {seen:?}"
    );
    assert!(seen.contains(&503), "{seen:?}");
    server.shut_down().await;
}

/// A self-signed certificate for `localhost`, its PEM files in a fresh directory, removed on
/// drop.
struct SelfSigned {
    dir: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    der: rustls::pki_types::CertificateDer<'static>,
}

impl SelfSigned {
    fn new(name: &str) -> SelfSigned {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = std::env::temp_dir().join(format!("zonetrack-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        SelfSigned {
            dir,
            cert,
            key,
            der: made.cert.der().clone(),
        }
    }

    fn tls(&self) -> Tls {
        Tls::from_pem_files(&self.cert, &self.key).unwrap()
    }

    /// A TLS connection to `addr` that trusts only this certificate, offering these ALPN
    /// protocols.
    async fn connect(
        &self,
        addr: SocketAddr,
        alpn: &[&[u8]],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await
    }

    /// GET /health over HTTPS/1.1 on a fresh connection: the status.
    async fn health(&self, addr: SocketAddr) -> std::io::Result<u16> {
        let mut conn = self.connect(addr, &[b"http/1.1"]).await?;
        assert_eq!(conn.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let (got, _) = read_until_closed(&mut conn, Duration::from_secs(10)).await;
        Ok(status_of(&got))
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn https_serves_http1_and_h2_and_plain_http_to_the_tls_port_gets_no_answer() {
    let cert = SelfSigned::new("serve");
    let server = start_with_tls(Config::default(), quick_limits(), Some(cert.tls())).await;
    assert_eq!(cert.health(server.addr).await.unwrap(), 200);

    // h2 by ALPN: the server answers the connection preface with its SETTINGS frame.
    let mut h2 = cert.connect(server.addr, &[b"h2"]).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), h2.read_exact(&mut frame))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame[3], 0x04, "the first frame is SETTINGS: {frame:?}");
    drop(h2);

    let mut plain = open_with(
        server.addr,
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (got, closed) = read_until_closed(&mut plain, Duration::from_secs(5)).await;
    assert_ne!(status_of(&got), 200, "{}", String::from_utf8_lossy(&got));
    assert!(
        !got.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(closed.is_some(), "a plain HTTP client is let go");
    server.shut_down().await;
}

#[tokio::test]
async fn a_client_that_never_handshakes_is_closed_after_the_header_timeout_and_frees_its_slot() {
    let cert = SelfSigned::new("silent");
    let server = start_with_tls(
        Config::default(),
        ConnLimits {
            max_connections: 1,
            ..quick_limits()
        },
        Some(cert.tls()),
    )
    .await;
    // It takes the only connection slot and says nothing.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        cert.health(server.addr).await.is_err(),
        "past the cap, a new connection is closed before its handshake"
    );
    let (got, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(got.is_empty());
    let closed = closed.expect("the silent connection is closed");
    assert!(
        (Duration::from_millis(600)..Duration::from_secs(4)).contains(&closed),
        "closed after {closed:?}"
    );
    // Its slot is free again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cert.health(server.addr).await.unwrap(), 200);
    let took = server.shut_down().await;
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_handshake_that_never_comes() {
    let cert = SelfSigned::new("shutdown");
    let server = start_with_tls(Config::default(), patient_limits(), Some(cert.tls())).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = server.shut_down().await;
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(2)).await;
    assert!(closed.is_some(), "the connection is closed");
}

#[test]
fn tls_files_that_cannot_serve_are_named_with_what_is_wrong() {
    let one = SelfSigned::new("one");
    let other = SelfSigned::new("other");
    let missing = one.dir.join("missing.pem");
    let message = |e: TlsError| e.to_string();

    let err = Tls::from_pem_files(&missing, &one.key).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
    assert!(message(err).contains("missing.pem"));

    // The key file given as the certificate: it holds no certificate.
    let err = Tls::from_pem_files(&one.key, &one.key).unwrap_err();
    assert!(matches!(err, TlsError::Certificate { .. }), "{err:?}");
    assert!(message(err).contains(&one.key.display().to_string()));

    let err = Tls::from_pem_files(&one.cert, &one.cert).unwrap_err();
    assert!(matches!(err, TlsError::Key { .. }), "{err:?}");

    // Another certificate's key.
    let err = Tls::from_pem_files(&one.cert, &other.key).unwrap_err();
    assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
    let text = message(err);
    assert!(text.contains(&other.key.display().to_string()), "{text}");
}
