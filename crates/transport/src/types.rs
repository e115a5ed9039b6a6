//! Plain-data request and response types.

use bytes::Bytes;

/// `Content-Type` sent with every request (as the official WeChat Pay PHP SDK does).
pub const CONTENT_TYPE_XML: &str = "text/xml; charset=utf-8";

/// `Accept` sent with every request (as the official WeChat Pay PHP SDK does).
pub const ACCEPT_XML: &str = "text/xml, text/plain, application/x-gzip";

/// `User-Agent` sent by `ReqwestTransport` unless overridden:
/// `hongbao/<crate version>`.
pub const USER_AGENT: &str = concat!("hongbao/", env!("CARGO_PKG_VERSION"));

/// An HTTPS `POST` to send. Plain data: no HTTP library type appears here.
///
/// Every API of the family is `POST` with an XML body, so there is no method
/// field: transports always send `POST`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// Absolute URL, e.g. `https://api.mch.weixin.qq.com/mmpaymkttransfers/sendredpack`.
    pub url: String,
    /// Extra request headers, in order; names are case-insensitive. A header
    /// given here replaces the transport's default header of the same name
    /// (`Content-Type`, `Accept`, `User-Agent`). Usually empty.
    pub headers: Vec<(String, String)>,
    /// The request body (the XML document), sent verbatim.
    pub body: Bytes,
    /// Whether the endpoint requires the merchant API client certificate
    /// (mutual TLS). A transport that has no client certificate must fail such
    /// a request with a [`NotSent`](crate::TransportError::NotSent)
    /// [`Config`](crate::ErrorKind::Config) error without touching the network.
    pub client_cert_required: bool,
}

impl HttpRequest {
    /// A request to `url` with `body`, no extra headers, and
    /// `client_cert_required = true` (every endpoint of the family except the
    /// sandbox key endpoint needs the client certificate).
    pub fn new(url: impl Into<String>, body: impl Into<Bytes>) -> Self {
        HttpRequest {
            url: url.into(),
            headers: Vec::new(),
            body: body.into(),
            client_cert_required: true,
        }
    }

    /// Sets [`client_cert_required`](HttpRequest::client_cert_required).
    #[must_use]
    pub fn with_client_cert_required(mut self, required: bool) -> Self {
        self.client_cert_required = required;
        self
    }

    /// Appends a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The server's reply: any HTTP status is a reply (the transport does not judge
/// the status; a non-200 reply is returned as `Ok`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in received order (names lowercase when produced by
    /// `ReqwestTransport`; values that are not
    /// UTF-8 are converted lossily).
    pub headers: Vec<(String, String)>,
    /// The raw response body (not decompressed, not decoded).
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, `body` and no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Appends a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_builder_and_header_lookup() {
        let req = HttpRequest::new("https://example.invalid/x", "<xml/>")
            .with_header("X-Trace", "a")
            .with_header("x-trace", "b");
        assert!(req.client_cert_required);
        assert_eq!(req.header("X-TRACE"), Some("a"));
        assert_eq!(req.header("missing"), None);
        assert_eq!(&req.body[..], b"<xml/>");
        let req = req.with_client_cert_required(false);
        assert!(!req.client_cert_required);
    }

    #[test]
    fn response_builder_and_header_lookup() {
        let resp = HttpResponse::new(200, "ok").with_header("Content-Type", "text/plain");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("text/plain"));
    }
}
