//! The listener: TLS (or plain HTTP), HTTP/1.1 with keep-alive, routing to
//! the WeChat endpoints and the admin API, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hongbao_proto::Endpoint;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::admin;
use crate::state::Shared;
use crate::wechat::{self, Answer, BodyProblem, ConnInfo};

/// How long a client may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The error that makes hyper close a connection without replying (the
/// `drop_after_commit` fault, or a body that never arrives).
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by the sandbox without a reply")
    }
}

impl std::error::Error for CloseConnection {}

type Reply = Response<Full<Bytes>>;

/// Accepts connections until `shutdown` turns true, then lets requests in
/// flight finish (at most [`DRAIN_TIMEOUT`]).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(connection(
                            stream,
                            tls.clone(),
                            Arc::clone(&shared),
                            shutdown.clone(),
                        ));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                // Reap finished connection tasks.
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        connections.abort_all();
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    match tls {
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                };
            let client_cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|certs| !certs.is_empty());
            let info = ConnInfo {
                tls: true,
                client_cert,
            };
            http(TokioIo::new(stream), info, shared, shutdown).await;
        }
        None => {
            let info = ConnInfo {
                tls: false,
                client_cert: false,
            };
            http(TokioIo::new(stream), info, shared, shutdown).await;
        }
    }
}

async fn http<I>(io: I, info: ConnInfo, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { route(&shared, info, req).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Reads a body up to `limit` bytes, within [`BODY_TIMEOUT`].
pub(crate) enum ReadBody {
    Complete(Bytes),
    TooLarge,
    Failed,
}

pub(crate) async fn read_body(body: Incoming, limit: usize) -> ReadBody {
    let limited = Limited::new(body, limit);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => ReadBody::Complete(collected.to_bytes()),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ReadBody::TooLarge
            } else {
                ReadBody::Failed
            }
        }
        Err(_) => ReadBody::Failed,
    }
}

pub(crate) fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

async fn route(
    shared: &Shared,
    info: ConnInfo,
    req: Request<Incoming>,
) -> Result<Reply, CloseConnection> {
    let path = req.uri().path().to_owned();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return Ok(admin::handle(shared, req).await);
    }
    let Some(endpoint) = Endpoint::from_path(&path) else {
        return Ok(response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found",
        ));
    };
    shared.count_request(endpoint);
    let is_post = req.method() == hyper::Method::POST;
    let limit = shared.settings.max_body_bytes;
    let body = if is_post {
        match read_body(req.into_body(), limit).await {
            ReadBody::Complete(bytes) => Ok(bytes),
            ReadBody::TooLarge => Err(BodyProblem::TooLarge { limit }),
            ReadBody::Failed => return Err(CloseConnection),
        }
    } else {
        Ok(Bytes::new())
    };
    let answer = wechat::handle(
        shared,
        endpoint,
        info,
        is_post,
        body.as_ref().map(|b| b.as_ref()).map_err(|e| *e),
    );
    match answer {
        Answer::Reply {
            status,
            body,
            delay,
        } => {
            tracing::debug!(
                endpoint = endpoint.name(),
                status,
                delayed_ms = delay.map(|d| d.as_millis()),
                "answered"
            );
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok(response(status, "text/xml; charset=utf-8", body))
        }
        Answer::Drop => {
            tracing::debug!(
                endpoint = endpoint.name(),
                "closing the connection without a reply"
            );
            Err(CloseConnection)
        }
    }
}
