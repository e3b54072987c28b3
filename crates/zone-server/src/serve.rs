//! The connection layer: accepts TCP connections and serves the router over HTTP/1.1 and h2c
//! with the limits `axum::serve` lacks, so slow or idle clients cannot starve the server:
//!
//! - a cap on open connections (beyond it a new connection is accepted and closed at once, so
//!   descriptors never run out and `accept` never fails for good);
//! - a header-read timeout: a connection with no request open (an idle keep-alive one, or one
//!   still sending its request head) is closed after it, however the bytes trickle in;
//! - a stall timeout: a connection on which no byte moves either way for that long while no
//!   handler is working for it (a client that stopped reading a large answer, or trickles a body
//!   nobody asked for) is closed;
//! - graceful shutdown that closes idle connections and connections with an unfinished request at
//!   once, lets requests in flight finish, and gives up on them after a grace period.
//!
//! With [`Tls`] ([`serve_with_tls`]), each connection is a TLS one (rustls; HTTP/1.1 or h2 by
//! ALPN) under the same limits: the handshake must finish within the header-read timeout, so a
//! client that connects and never handshakes holds a connection slot no longer than one that
//! never finishes its request head.
//!
//! A request body is read by the handler that wants it, under its own rate limit (see
//! [`crate::body`]); the request timeout and concurrency cap stay in the router.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower::ServiceExt as _;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Connections open at once; more are closed as soon as they are accepted. Lowered to fit
    /// the process's descriptor limit when that is smaller.
    pub max_connections: usize,
    /// The longest a connection may go with no request open: the time allowed to send a whole
    /// request head, and the longest a keep-alive connection waits for its next request.
    pub header_read_timeout: Duration,
    /// A connection on which nothing moves for this long while a response is on its way (and
    /// no handler works for it) is closed: a client that stopped reading.
    pub stall_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Descriptors kept free beyond the connection cap: data files, the watcher, the listener,
/// log output.
const RESERVED_DESCRIPTORS: u64 = 64;

/// Raises the soft descriptor limit to the hard one, and returns the connection cap that fits
/// under it.
fn fit_connection_cap(wanted: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fits = limit.saturating_sub(RESERVED_DESCRIPTORS).max(16);
    let cap = wanted
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .max(1);
    if cap < wanted {
        tracing::warn!(
            wanted,
            cap,
            descriptor_limit = limit,
            "the descriptor limit allows fewer connections than asked for"
        );
    }
    cap
}

/// Connections the kernel may hold before `accept` takes them (the kernel caps it at
/// `net.core.somaxconn`). Under a flood of connections (a client reconnecting hundreds of
/// times a second) the default of 1,024 filled up, and a normal client's connection attempt
/// was dropped and retried a second later.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, so a restart does
/// not wait for old connections to time out).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A server certificate chain and its private key, ready to accept TLS connections.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

/// Why a certificate or key cannot be served with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {}", path.display())]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate, or a broken one.
    #[error("{} is not a PEM certificate chain (`-----BEGIN CERTIFICATE-----` blocks, the server's first)", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// The cause, when a block was broken rather than missing.
        #[source]
        source: Option<rustls::pki_types::pem::Error>,
    },
    /// The key file holds no PEM private key.
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1: `-----BEGIN PRIVATE KEY-----` and the like)", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair: most often a key that is not the certificate's.
    #[error("cannot serve the certificate {} with the key {}", cert.display(), key.display())]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// The cause.
        #[source]
        source: rustls::Error,
    },
}

impl Tls {
    /// Reads a PEM certificate chain (the server's certificate first, then intermediates) and
    /// its PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let read = |path: &Path, what| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read(cert, "certificate")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TlsError::Certificate {
                path: cert.to_owned(),
                source: Some(source),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Certificate {
                path: cert.to_owned(),
                source: None,
            });
        }
        let key_der =
            PrivateKeyDer::from_pem_slice(&read(key, "key")?).map_err(|source| TlsError::Key {
                path: key.to_owned(),
                source,
            })?;
        // The provider is named rather than taken from the process default: the default panics
        // when no provider, or more than one, is compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
            .map_err(|source| TlsError::Rejected {
                cert: cert.to_owned(),
                key: key.to_owned(),
                source,
            })?;
        // hyper's auto builder serves whichever the client chose, by the bytes it sends.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then closes idle connections, waits
/// up to the grace period for requests in flight, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with_tls(listener, app, limits, None, shutdown).await
}

/// As [`serve`], over TLS when `tls` is given (plain HTTP when `None`).
pub async fn serve_with_tls(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let cap = fit_connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The connection's watchdog bounds the head's time: hyper's own timeout arms a timer for
        // every request, which cost about 10% of the cheapest requests' throughput.
        .header_read_timeout(None::<Duration>)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let limits = Arc::new(limits);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): back off rather
                    // than spin; the cap makes this rare.
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "connection cap reached; closing a new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, builder, limits, mut stop, tls) = (
            app.clone(),
            builder.clone(),
            limits.clone(),
            stop_rx.clone(),
            tls.as_ref().map(|t| t.acceptor.clone()),
        );
        tokio::spawn(async move {
            let activity = Arc::new(Activity::new());
            // Under TLS the raw bytes are counted: the watchdog asks whether the client moves.
            let tracked = Tracked {
                inner: stream,
                activity: activity.clone(),
            };
            let conn = Conn {
                remote,
                app,
                builder: &builder,
                limits: &limits,
            };
            match tls {
                None => connection(TokioIo::new(tracked), conn, stop, activity).await,
                Some(acceptor) => {
                    if let Some(tls) =
                        handshake(&acceptor, tracked, remote, &limits, &mut stop).await
                    {
                        connection(TokioIo::new(tls), conn, stop, activity).await;
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = tokio::time::timeout(
        limits.shutdown_grace + Duration::from_millis(200),
        slots.acquire_many(u32::try_from(cap).unwrap_or(u32::MAX)),
    )
    .await;
    if grace.is_err() {
        tracing::warn!("shutdown: requests still in flight after the grace period; stopping them");
    }
    Ok(())
}

/// What one connection is doing, shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
struct Activity {
    /// When a byte last moved either way, in milliseconds since `epoch`.
    last_progress_ms: AtomicU64,
    /// When the last open request ended (or the connection began), in milliseconds since
    /// `epoch`.
    idle_since_ms: AtomicU64,
    /// Handlers running (a request received, its response head not yet sent).
    handling: AtomicUsize,
    /// Requests received whose response body is not yet finished or dropped.
    open: AtomicUsize,
    epoch: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            last_progress_ms: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn progressed(&self) {
        self.last_progress_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    fn since(&self, mark: &AtomicU64) -> Duration {
        self.epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(mark.load(Ordering::Relaxed)))
    }

    fn since_progress(&self) -> Duration {
        self.since(&self.last_progress_ms)
    }

    fn since_idle(&self) -> Duration {
        self.since(&self.idle_since_ms)
    }
}

/// The TLS handshake of a new connection, or `None` when it fails, takes too long or shutdown
/// begins first.
///
/// It counts against the header-read timeout, whose clock started with the connection: the
/// handshake and the first request head share it.
async fn handshake(
    acceptor: &TlsAcceptor,
    tracked: Tracked,
    remote: SocketAddr,
    limits: &ConnLimits,
    stop: &mut watch::Receiver<bool>,
) -> Option<tokio_rustls::server::TlsStream<Tracked>> {
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tracked));
    tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                // Plain HTTP to this port, an old client, a certificate the client refused.
                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%remote, "closing a connection whose TLS handshake did not finish in time");
                None
            }
        },
        // Nothing asked yet: nothing to finish.
        _ = stop.changed() => None,
    }
}

/// What serving one connection needs besides its stream and its activity.
struct Conn<'a> {
    remote: SocketAddr,
    app: Router,
    builder: &'a auto::Builder<TokioExecutor>,
    limits: &'a ConnLimits,
}

/// Serves HTTP on one connection (plain or TLS) under the watchdog.
async fn connection<I>(
    io: TokioIo<I>,
    Conn {
        remote,
        app,
        builder,
        limits,
    }: Conn<'_>,
    mut stop: watch::Receiver<bool>,
    activity: Arc<Activity>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (app, activity) = (app.clone(), activity.clone());
            async move {
                let open = OpenRequest::new(activity.clone());
                activity.handling.fetch_add(1, Ordering::Relaxed);
                let resp = app.oneshot(req.map(Body::new)).await;
                activity.handling.fetch_sub(1, Ordering::Relaxed);
                resp.map(|r| {
                    r.map(|b| {
                        Body::new(Tracking {
                            inner: b,
                            _open: open,
                        })
                    })
                })
            }
        })
    };
    let conn = builder.serve_connection_with_upgrades(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    let mut shutdown_deadline = std::pin::pin!(tokio::time::sleep(Duration::MAX / 4));
    loop {
        // Which deadline applies: the header timeout while no request is open, the stall
        // timeout while a response is on its way; while a handler works, none (the request
        // timeout bounds it).
        let open = activity.open.load(Ordering::Relaxed);
        let handling = activity.handling.load(Ordering::Relaxed);
        let wait = if open == 0 {
            limits
                .header_read_timeout
                .saturating_sub(activity.since_idle())
        } else if handling == 0 {
            limits
                .stall_timeout
                .saturating_sub(activity.since_progress())
        } else {
            Duration::from_secs(1)
        };
        // At least once a second: a request opening or a response starting changes which
        // deadline applies, and nothing tells this loop (one timer a second per connection is
        // cheaper than telling it).
        let watchdog =
            tokio::time::sleep(wait.clamp(Duration::from_millis(50), Duration::from_secs(1)));
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = watchdog => {
                let open = activity.open.load(Ordering::Relaxed);
                let handling = activity.handling.load(Ordering::Relaxed);
                if open == 0 && activity.since_idle() >= limits.header_read_timeout {
                    tracing::debug!(%remote, "closing an idle connection, or one whose request head never came whole");
                    return;
                }
                if open > 0 && handling == 0 && activity.since_progress() >= limits.stall_timeout {
                    tracing::debug!(%remote, "closing a stalled connection");
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || activity.open.load(Ordering::Relaxed) == 0 {
                    // Idle, or still sending its request head: nothing to finish.
                    return;
                }
                conn.as_mut().graceful_shutdown();
                shutdown_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + limits.shutdown_grace);
            }
            () = &mut shutdown_deadline => return,
        }
    }
}

/// Counts a request as open from when it is received until its response body is finished or
/// dropped.
struct OpenRequest(Arc<Activity>);

impl OpenRequest {
    fn new(activity: Arc<Activity>) -> Self {
        activity.open.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0
                .idle_since_ms
                .store(self.0.now_ms(), Ordering::Relaxed);
        }
    }
}

/// A response body that keeps its request counted as open while it lives.
struct Tracking {
    inner: Body,
    _open: OpenRequest,
}

impl http_body::Body for Tracking {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A TCP stream that records when bytes move, for the stall watchdog.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.progressed();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.progressed();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.progressed();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
