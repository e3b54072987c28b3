//! Reading a request body under a size limit and a minimum rate, so a client that announces a
//! large body and trickles it cannot hold a handler (and the slot it took) for long.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt as _;
use tokio::time::Instant;

use crate::error::ApiError;

/// How fast a request body must arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    /// Time allowed before the rate counts (a client's first round trips, a slow start).
    pub grace: Duration,
    /// Bytes per second the body must average after the grace period.
    pub min_bytes_per_sec: u64,
}

impl Default for BodyRate {
    /// 64 KiB/s after 5 s: a 16 MiB batch over a 1 Mbit/s link still passes.
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(5),
            min_bytes_per_sec: 64 * 1024,
        }
    }
}

/// Reads the whole body: at most `max` bytes (413 beyond), arriving no slower than `rate`
/// (408, and the connection closes).
pub async fn read(body: Body, max: usize, rate: BodyRate) -> Result<Bytes, ApiError> {
    let start = Instant::now();
    let mut body = body;
    let mut received: Vec<u8> = Vec::new();
    loop {
        // By now at least (elapsed - grace) * rate bytes must have come: the next frame is
        // due when the bytes so far stop covering that.
        let covered =
            Duration::from_secs_f64(received.len() as f64 / rate.min_bytes_per_sec.max(1) as f64);
        let due = start + rate.grace + covered;
        let frame = match tokio::time::timeout_at(due, body.frame()).await {
            Err(_) => return Err(too_slow(received.len(), start.elapsed(), rate)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                // The route's length limit ends the body with this error past the limit.
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                while let Some(c) = cause {
                    if c.is::<http_body_util::LengthLimitError>() {
                        return Err(over_limit(max));
                    }
                    cause = c.source();
                }
                return Err(ApiError::invalid(format!(
                    "the request body could not be read: {e}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if received.len() + data.len() > max {
                return Err(over_limit(max));
            }
            if received.is_empty() {
                received.reserve(data.len().max(64 * 1024).min(max));
            }
            received.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(received))
}

fn over_limit(max: usize) -> ApiError {
    ApiError::too_large(format!(
        "the request body is over the {} MiB limit; split the batch",
        max >> 20
    ))
}

fn too_slow(bytes: usize, elapsed: Duration, rate: BodyRate) -> ApiError {
    ApiError {
        status: StatusCode::REQUEST_TIMEOUT,
        code: "RequestTimeout",
        description: format!(
            "the request body arrived too slowly ({bytes} bytes in {:.1} s); send at least {} KiB/s",
            elapsed.as_secs_f64(),
            rate.min_bytes_per_sec / 1024
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trickle(chunks: Vec<(u64, &'static [u8])>) -> Body {
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(1);
        tokio::spawn(async move {
            for (wait_ms, bytes) in chunks {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                if tx.send_data(Bytes::from_static(bytes)).await.is_err() {
                    return;
                }
            }
        });
        Body::new(body)
    }

    const RATE: BodyRate = BodyRate {
        grace: Duration::from_millis(200),
        min_bytes_per_sec: 1000,
    };

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_up_is_read_whole() {
        let body = trickle(vec![(100, b"0123456789"), (5, b"abc")]);
        assert_eq!(read(body, 100, RATE).await.unwrap(), "0123456789abc");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_is_cut_off_with_a_408_after_the_grace_period() {
        let body = trickle(vec![(150, b"a"), (150, b"b"), (150, b"c"), (150, b"d")]);
        let started = Instant::now();
        let err = read(body, 100, RATE).await.unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_TIMEOUT);
        assert!(
            err.description.contains("too slowly"),
            "{}",
            err.description
        );
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_over_the_limit_is_a_413() {
        let body = trickle(vec![(0, b"0123456789"), (0, b"0123456789")]);
        let err = read(body, 15, RATE).await.unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
