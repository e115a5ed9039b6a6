//! [`ReqwestTransport`]: reqwest + rustls (ring), with the merchant client certificate.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls::client::ClientConfig;
use rustls::sign::SingleCertAndKey;

use crate::error::next_cause;
use crate::identity::parse_pem_certificates;
use crate::{
    ACCEPT_XML, CONTENT_TYPE_XML, ClientIdentity, ErrorKind, HttpRequest, HttpResponse, Transport,
    TransportError, USER_AGENT,
};

/// Default connect timeout (TCP connect + TLS handshake): 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default total timeout (connect, send, wait, read the whole reply): 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum number of idle keep-alive connections per host: 256.
///
/// At least the number of requests a caller keeps in flight: a connection
/// beyond the idle limit is closed after its request, and the next one pays
/// a new TLS handshake (measured: with 8 and 128 requests in flight,
/// handshakes took most of the CPU and payouts/s fell below the 8-in-flight
/// figure; with 64 idle, a ledger worker with 128 in flight made 826
/// payouts/s, with 256 idle 1,521/s under the same load). Idle connections
/// close after [`DEFAULT_POOL_IDLE_TIMEOUT`].
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 256;
/// Default idle keep-alive timeout: 30 s, below common server keep-alive
/// timeouts (60–75 s) so a pooled connection is rarely reused just as the
/// server closes it (which would turn into a `MaybeSent` error).
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on the response body size: 8 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The production transport: HTTPS `POST` with reqwest over rustls (ring
/// provider), TLS 1.2/1.3, HTTP/1.1, and the merchant client certificate.
///
/// * The server certificate is **always** verified, against the Mozilla roots
///   bundled by `webpki-roots` plus any extra CA given to the builder (for a
///   local sandbox). There is no way to turn verification off.
/// * Only `https://` URLs are accepted; redirects are not followed (a 3xx is
///   returned as a reply); system proxy environment variables are ignored (set
///   a proxy explicitly with [`ReqwestTransportBuilder::proxy`]); the transport
///   never retries a request by itself.
/// * Default headers: `Content-Type: text/xml; charset=utf-8`,
///   `Accept: text/xml, text/plain, application/x-gzip`, `User-Agent: hongbao/<version>`.
///   Response bodies are returned raw (no decompression).
///
/// # Error classification
///
/// | reqwest error | result |
/// |---|---|
/// | local checks: non-HTTPS/invalid URL, invalid header, client certificate required but none configured | `NotSent` (`Config`) |
/// | `is_builder()` (request could not be built) | `NotSent` (`Config`) |
/// | `is_connect()`: DNS failure, refused, unreachable, proxy failure, TLS handshake failure (e.g. unknown server CA), connect timeout | `NotSent` (`Connect`, `Tls` or `Timeout`) |
/// | total timeout (even if it fired while connecting) | `MaybeSent` (`Timeout`) |
/// | anything after the connection was established: reset, closed before or during the reply, a TLS alert after the handshake, body read error, body over the size limit | `MaybeSent` |
///
/// With TLS 1.3 the client considers the handshake complete before the server
/// has checked the client certificate, so a server that rejects the client
/// certificate is seen while waiting for the reply: `MaybeSent` (`Tls`), even
/// though the server did not process the request. With TLS 1.2 the rejection
/// happens inside the handshake: `NotSent` (`Tls`).
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    has_identity: bool,
    settings: Arc<Settings>,
}

/// What `Debug` shows (nothing secret).
#[derive(Debug)]
struct Settings {
    identity: Option<ClientIdentity>,
    connect_timeout: Duration,
    timeout: Duration,
    pool_max_idle_per_host: usize,
    pool_idle_timeout: Option<Duration>,
    proxy: Option<String>,
    extra_root_certificates: usize,
    built_in_roots: bool,
    max_response_bytes: usize,
    user_agent: String,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("ReqwestTransport")
            .field("identity", &s.identity)
            .field("connect_timeout", &s.connect_timeout)
            .field("timeout", &s.timeout)
            .field("pool_max_idle_per_host", &s.pool_max_idle_per_host)
            .field("pool_idle_timeout", &s.pool_idle_timeout)
            .field("proxy", &s.proxy)
            .field("extra_root_certificates", &s.extra_root_certificates)
            .field("built_in_roots", &s.built_in_roots)
            .field("max_response_bytes", &s.max_response_bytes)
            .field("user_agent", &s.user_agent)
            .finish()
    }
}

impl ReqwestTransport {
    /// A builder with the defaults (no client certificate yet).
    pub fn builder() -> ReqwestTransportBuilder {
        ReqwestTransportBuilder::default()
    }

    /// Whether a client certificate is configured.
    pub fn has_identity(&self) -> bool {
        self.has_identity
    }

    /// The configured client certificate, if any.
    pub fn identity(&self) -> Option<&ClientIdentity> {
        self.settings.identity.as_ref()
    }
}

/// Builder for [`ReqwestTransport`].
#[derive(Clone)]
pub struct ReqwestTransportBuilder {
    identity: Option<ClientIdentity>,
    extra_roots_pem: Vec<Vec<u8>>,
    built_in_roots: bool,
    connect_timeout: Duration,
    timeout: Duration,
    pool_max_idle_per_host: usize,
    pool_idle_timeout: Option<Duration>,
    proxy: Option<String>,
    max_response_bytes: usize,
    user_agent: String,
}

impl fmt::Debug for ReqwestTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransportBuilder")
            .field("identity", &self.identity)
            .field("extra_root_certificates_pem", &self.extra_roots_pem.len())
            .field("built_in_roots", &self.built_in_roots)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Default for ReqwestTransportBuilder {
    fn default() -> Self {
        ReqwestTransportBuilder {
            identity: None,
            extra_roots_pem: Vec::new(),
            built_in_roots: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            proxy: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: USER_AGENT.to_owned(),
        }
    }
}

impl ReqwestTransportBuilder {
    /// Sets the merchant API client certificate (required by every endpoint of
    /// the family except the sandbox key endpoint).
    #[must_use]
    pub fn identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Additionally trusts the CA certificate(s) in `pem` for the server
    /// certificate (e.g. a local sandbox's CA). May be called several times.
    /// Parsed by [`build`](Self::build).
    #[must_use]
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// Whether to trust the bundled Mozilla roots (`webpki-roots`). Default
    /// `true`. Setting `false` trusts only the CAs added with
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem) (useful to pin
    /// a sandbox); `build` fails if that leaves no root at all. Verification
    /// itself cannot be disabled.
    #[must_use]
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.built_in_roots = enabled;
        self
    }

    /// Timeout for TCP connect + TLS handshake. Default 5 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout for one request: connect, send, wait, and read the whole
    /// reply. Default 30 s. Expiry gives a `MaybeSent` error.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Maximum idle keep-alive connections kept per host. Default
    /// [`DEFAULT_POOL_MAX_IDLE_PER_HOST`]; keep it at least the number of
    /// requests in flight. `0` disables connection reuse.
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// How long an idle keep-alive connection is kept. Default 30 s; `None`
    /// keeps idle connections until the server closes them.
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Sends every request through this proxy (`http://host:port`,
    /// `https://…`, optionally with `user:password@`). HTTPS is tunnelled with
    /// `CONNECT`, so TLS (and the client certificate) stays end to end. Without
    /// this, no proxy is used (proxy environment variables are ignored).
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Maximum accepted response body size. Default 8 MiB. A larger reply
    /// fails with a `MaybeSent` (`Body`) error.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Overrides the `User-Agent` (default `hongbao/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the transport. Fails with a `NotSent` error (`Certificate` for an
    /// unreadable extra CA, `Config` otherwise) on invalid settings.
    pub fn build(self) -> Result<ReqwestTransport, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut roots = rustls::RootCertStore::empty();
        if self.built_in_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let mut extra_root_certificates = 0;
        for pem in &self.extra_roots_pem {
            let certs = parse_pem_certificates(pem, "extra root CA")?;
            if certs.is_empty() {
                return Err(TransportError::not_sent(
                    ErrorKind::Certificate,
                    "no CERTIFICATE section found in an extra root CA PEM",
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    TransportError::not_sent(
                        ErrorKind::Certificate,
                        "invalid extra root CA certificate",
                    )
                    .with_source(e)
                })?;
                extra_root_certificates += 1;
            }
        }
        if roots.is_empty() {
            return Err(config_error(
                "no trusted root certificate: built-in roots are disabled and no extra root CA was added",
            ));
        }

        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error("cannot configure TLS").with_source(e))?
            .with_root_certificates(roots);
        let mut tls = match &self.identity {
            Some(identity) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(
                identity.certified_key(),
            ))),
            None => builder.with_no_client_auth(),
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE_XML),
        );
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static(ACCEPT_XML),
        );

        let mut client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_idle_timeout(self.pool_idle_timeout)
            .user_agent(self.user_agent.as_str())
            .default_headers(headers);
        let mut proxy_display = None;
        client = match &self.proxy {
            Some(url) => {
                let proxy = reqwest::Proxy::all(url.as_str()).map_err(|_| {
                    config_error(format!("invalid proxy URL {}", redact_proxy(url)))
                })?;
                proxy_display = Some(redact_proxy(url));
                client.proxy(proxy)
            }
            None => client.no_proxy(),
        };
        let client = client
            .build()
            .map_err(|e| config_error("cannot build the HTTP client").with_source(e))?;

        let has_identity = self.identity.is_some();
        Ok(ReqwestTransport {
            client,
            has_identity,
            settings: Arc::new(Settings {
                identity: self.identity,
                connect_timeout: self.connect_timeout,
                timeout: self.timeout,
                pool_max_idle_per_host: self.pool_max_idle_per_host,
                pool_idle_timeout: self.pool_idle_timeout,
                proxy: proxy_display,
                extra_root_certificates,
                built_in_roots: self.built_in_roots,
                max_response_bytes: self.max_response_bytes,
                user_agent: self.user_agent,
            }),
        })
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let started = Instant::now();
        let HttpRequest {
            url,
            headers,
            body,
            client_cert_required,
        } = request;

        let url = reqwest::Url::parse(&url)
            .map_err(|e| config_error(format!("invalid URL {url:?}")).with_source(e))?;
        if url.scheme() != "https" {
            return Err(config_error(format!(
                "refusing to send to {url}: only https:// URLs are allowed"
            )));
        }
        let path = url.path().to_owned();
        if client_cert_required && !self.has_identity {
            let err = config_error(format!(
                "{path} requires the merchant API client certificate (mutual TLS) but this \
                 transport has none; configure ReqwestTransportBuilder::identity"
            ));
            tracing::debug!(path = %path, error = %err, "request refused before sending");
            return Err(err);
        }
        let header_map = build_headers(headers)?;
        let request_bytes = body.len();

        let result = self
            .client
            .post(url)
            .headers(header_map)
            .body(body)
            .send()
            .await;
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                let err = classify(e, false);
                tracing::debug!(
                    path = %path,
                    latency_ms = elapsed_ms(started),
                    request_bytes,
                    may_have_been_sent = err.may_have_been_sent(),
                    kind = %err.kind(),
                    error = %err.message(),
                    "request failed"
                );
                return Err(err);
            }
        };

        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();

        let limit = self.settings.max_response_bytes;
        let body = match read_body(&mut response, limit).await {
            Ok(body) => body,
            Err(err) => {
                tracing::debug!(
                    path = %path,
                    status,
                    latency_ms = elapsed_ms(started),
                    request_bytes,
                    kind = %err.kind(),
                    error = %err.message(),
                    "reply body unreadable"
                );
                return Err(err);
            }
        };
        tracing::debug!(
            path = %path,
            status,
            latency_ms = elapsed_ms(started),
            request_bytes,
            response_bytes = body.len(),
            "reply received"
        );
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, TransportError> {
    let too_large = || {
        TransportError::maybe_sent(
            ErrorKind::Body,
            format!("the reply body exceeds the {limit}-byte limit"),
        )
    };
    if response
        .content_length()
        .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > limit))
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if chunk.len() > limit.saturating_sub(body.len()) {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            // The reply had started: whatever happened, the request was sent.
            Err(e) => return Err(classify(e, true)),
        }
    }
}

fn build_headers(headers: Vec<(String, String)>) -> Result<HeaderMap, TransportError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| config_error(format!("invalid request header name {name:?}")))?;
        let header_value = HeaderValue::from_str(&value)
            .map_err(|_| config_error(format!("invalid value for request header {name:?}")))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

fn config_error(message: impl Into<String>) -> TransportError {
    TransportError::not_sent(ErrorKind::Config, message)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `scheme://host:port` of a proxy URL, without credentials or path.
fn redact_proxy(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", u.scheme()),
            (Some(host), None) => format!("{}://{host}", u.scheme()),
            _ => "<unparsable proxy URL>".to_owned(),
        },
        Err(_) => "<unparsable proxy URL>".to_owned(),
    }
}

/// Maps a reqwest error to a [`TransportError`].
///
/// `NotSent` only when reqwest says the failure happened while building the
/// request or while establishing the connection (`is_builder`, `is_connect`:
/// DNS, TCP connect, proxy tunnel, TLS handshake, connect timeout — hyper has
/// not written any request byte then) and no reply had started. Everything else
/// is `MaybeSent`.
fn classify(err: reqwest::Error, response_started: bool) -> TransportError {
    // The causes are the source chain (see `TransportError::report`), not
    // the message: a report prints each once.
    let message = if !response_started && (err.is_builder() || err.is_connect()) {
        "the request could not be sent"
    } else {
        "the HTTP exchange failed"
    };
    let tls = chain_has_tls_error(&err);
    let io = chain_has_io_error(&err);
    let builder = err.is_builder();
    let connect = err.is_connect();
    let kind = if builder {
        ErrorKind::Config
    } else if err.is_timeout() {
        ErrorKind::Timeout
    } else if tls {
        ErrorKind::Tls
    } else if connect {
        ErrorKind::Connect
    } else if err.is_body() || err.is_decode() {
        ErrorKind::Body
    } else if io {
        ErrorKind::Io
    } else {
        ErrorKind::Other
    };
    let base = if !response_started && (builder || connect) {
        TransportError::not_sent(kind, message)
    } else {
        TransportError::maybe_sent(kind, message)
    };
    base.with_source(err)
}

fn any_in_chain(
    err: &(dyn StdError + 'static),
    f: impl Fn(&(dyn StdError + 'static)) -> bool,
) -> bool {
    let mut current = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        if f(e) {
            return true;
        }
        depth += 1;
        current = if depth < 32 { next_cause(e) } else { None };
    }
    false
}

fn chain_has_tls_error(err: &(dyn StdError + 'static)) -> bool {
    any_in_chain(err, |e| e.is::<rustls::Error>())
}

fn chain_has_io_error(err: &(dyn StdError + 'static)) -> bool {
    any_in_chain(err, |e| e.is::<std::io::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::error_chain;

    #[test]
    fn proxy_credentials_are_redacted() {
        assert_eq!(
            redact_proxy("http://user:hunter2@proxy.example:3128/x"),
            "http://proxy.example:3128"
        );
        assert_eq!(
            redact_proxy("http://proxy.example"),
            "http://proxy.example:80"
        );
        assert_eq!(redact_proxy("::"), "<unparsable proxy URL>");
    }

    #[test]
    fn header_validation() {
        assert!(build_headers(vec![("X-Ok".into(), "v".into())]).is_ok());
        let e = build_headers(vec![("bad name".into(), "v".into())]).err();
        assert!(e.is_some_and(|e| !e.may_have_been_sent() && e.kind() == ErrorKind::Config));
        let e = build_headers(vec![("x".into(), "a\nb".into())]).err();
        assert!(e.is_some_and(|e| !e.may_have_been_sent()));
    }

    #[test]
    fn error_chain_skips_duplicates() {
        let inner = std::io::Error::other("boom");
        let text = error_chain(&inner);
        assert_eq!(text, "boom");
    }

    #[test]
    fn tls_error_found_inside_nested_io_errors() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        assert!(chain_has_tls_error(&io));
        assert!(chain_has_io_error(&io));
        // hyper-rustls wraps the rustls error in two io::Errors.
        let outer = std::io::Error::other(io);
        assert!(chain_has_tls_error(&outer));
        assert_eq!(
            error_chain(&outer),
            "received fatal alert: CertificateRequired"
        );
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!chain_has_tls_error(&plain));
    }

    #[test]
    fn builder_proxy_and_roots_validation() {
        let e = ReqwestTransport::builder()
            .built_in_roots(false)
            .build()
            .err();
        assert!(e.is_some_and(|e| e.kind() == ErrorKind::Config));
        let e = ReqwestTransport::builder()
            .add_root_certificate_pem("not pem")
            .build()
            .err();
        assert!(e.is_some_and(|e| e.kind() == ErrorKind::Certificate));
        let e = ReqwestTransport::builder()
            .proxy("http://user:hunter2@[::1")
            .build()
            .err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(!e.contains("hunter2"), "{e}");
        let t = ReqwestTransport::builder()
            .proxy("http://user:hunter2@127.0.0.1:3128")
            .build();
        let t = t.map(|t| format!("{t:?}")).unwrap_or_default();
        assert!(t.contains("http://127.0.0.1:3128"), "{t}");
        assert!(!t.contains("hunter2"), "{t}");
    }
}
