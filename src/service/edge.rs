//! The service's edge toward anonymous clients: how connections are taken,
//! kept and let go, and what every response carries, so that a handful of
//! idle, slow or hostile clients cannot take the service from everybody.
//!
//! `axum::serve` keeps a connection for as long as its client likes: no
//! limit on their number, no timeout on a request's headers, none on an idle
//! keep-alive connection. [`serve`] accepts instead under a cap held below
//! the process's file-descriptor limit, gives each connection a header-read
//! timeout that also closes it once idle (hyper restarts that timer between
//! requests), and ends a connection after a number of requests or an age,
//! between requests. Beside it, [`security_headers`] and [`json_errors`] are
//! the layers every response passes through.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use super::error::ApiError;

/// How the service treats connections; `[edge]` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// The most connections open at once. Held below the descriptor limit
    /// ([`EdgeLimits::within_descriptors`]), so the ledger's database and
    /// the files a draw reads always find a descriptor.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long
    /// a keep-alive connection may sit idle before the next request.
    pub header_read_timeout: Duration,
    /// Requests served on one connection before it is closed after the
    /// last response (`Connection: close`): a client reconnects and so
    /// takes its turn with the others.
    pub max_requests_per_connection: u32,
    /// The age after which a connection is closed between requests.
    pub max_connection_age: Duration,
    /// How long a closing connection (by age, or at shutdown) may take to
    /// finish the response under way, as for a client that stopped reading.
    pub closing_grace: Duration,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            max_requests_per_connection: 1000,
            max_connection_age: Duration::from_secs(600),
            closing_grace: Duration::from_secs(30),
        }
    }
}

/// Descriptors kept back from connections: the database pool, pool and
/// bundle files, the log.
const RESERVED_DESCRIPTORS: u64 = 256;

impl EdgeLimits {
    /// The limits with `max_connections` lowered, if need be, below a
    /// descriptor limit of `descriptors`.
    pub fn within_descriptors(self, descriptors: u64) -> EdgeLimits {
        let room = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(16);
        EdgeLimits {
            max_connections: self.max_connections.min(usize::try_from(room).unwrap_or(usize::MAX)),
            ..self
        }
    }
}

/// Raises the process's soft descriptor limit to its hard limit, as servers
/// do, and returns the soft limit now in force (`None` if unknown).
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard {
            let raised = rustix::process::Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(hard);
            }
        }
    }
    limit.current
}

/// What a connection over the cap is told before it is closed: a plain
/// answer written without waiting, so it holds no descriptor any longer.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: 73\r\n\r\n{\"error\":\"busy\",\"message\":\"too many connections; try again in a moment\"}";

/// Serves `app` on `listener` under `limits` until `stopped` turns true;
/// then stops accepting, closes every connection between requests, and
/// returns once each has finished (or its grace ran out).
pub async fn serve(listener: TcpListener, app: Router, limits: EdgeLimits, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused_logged = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, most likely: waiting lets connections
                // close instead of spinning on the same error.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !refused_logged {
                tracing::warn!(
                    max = limits.max_connections,
                    "connection cap reached; refusing new connections"
                );
                refused_logged = true;
            }
            let _ = stream.try_write(BUSY);
            continue;
        };
        refused_logged = false;
        let (app, stopped) = (app.clone(), stopped.clone());
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stopped).await;
            drop(slot);
        });
    }
    // Every slot back means every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// One connection, from its first byte to its close.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: EdgeLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let served = Arc::new(AtomicU32::new(0));
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let served = served.clone();
        async move {
            let count = served.fetch_add(1, Ordering::Relaxed) + 1;
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let mut response = app
                .oneshot(request)
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if count >= limits.max_requests_per_connection {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout)
        .max_concurrent_streams(32);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let age = tokio::time::sleep(limits.max_connection_age);
    tokio::pin!(age);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = &mut age => {}
        _ = stopped.wait_for(|stop| *stop) => {}
    }
    // Closed between requests: the response under way still goes out.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.closing_grace, connection).await;
}

/// The headers every response carries: pages may load only the site's own
/// scripts and the one stylesheet they inline (named by its hash), may not
/// be framed, and are never sniffed as another type.
pub fn security_headers(inline_style: &str) -> [(HeaderName, HeaderValue); 5] {
    let style = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(inline_style.as_bytes()));
    let policy = format!(
        "default-src 'self'; style-src 'self' 'sha256-{style}'; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy).expect("the policy is ASCII"),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// Adds [`security_headers`] to a response that does not set them itself.
pub async fn with_security_headers(
    headers: Arc<[(HeaderName, HeaderValue); 5]>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in headers.iter() {
        if !response.headers().contains_key(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// The largest plain-text error body read back to be re-sent as JSON;
/// rejections are a line or two.
const PLAIN_ERROR_LIMIT: usize = 16 * 1024;

/// Makes every error the service answers the JSON `{error, message}` with a
/// stable code. Handlers answer so already; what does not are the layers
/// and extractors around them: a query, path or body rejected by axum, a
/// method not allowed, a body too large, a request timed out. Pages, which
/// answer errors as HTML for people, keep them.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, PLAIN_ERROR_LIMIT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (code, fallback) = plain_code(status);
    let message = if text.is_empty() { fallback.to_owned() } else { text };
    let mut json = ApiError::new(status, code, message).into_response();
    // Headers the layer set (Allow on a 405, Retry-After) stay.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// The stable code, and a message for an empty body, of an error status
/// answered outside the handlers.
fn plain_code(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is not well formed"),
        StatusCode::NOT_FOUND => ("not_found", "no such page or endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this address does not take that method"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was stopped"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send the body as application/json"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_body", "the request body does not have the expected fields"),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "too many requests; try again in a moment"),
        s if s.is_server_error() => ("internal", "an internal error occurred; it has been logged"),
        _ => ("bad_request", "the request was refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limits = EdgeLimits::default();
        assert_eq!(limits.within_descriptors(1024).max_connections, 768);
        assert_eq!(limits.within_descriptors(1 << 20).max_connections, 4096);
        // Never nothing at all, even on a tiny limit.
        assert_eq!(limits.within_descriptors(100).max_connections, 16);
    }

    #[test]
    fn the_policy_names_the_inline_style_by_its_hash() {
        let headers = security_headers("body{margin:0}");
        let policy = headers[0].1.to_str().unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"body{margin:0}"));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe"));
    }
}
