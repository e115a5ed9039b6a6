//! Test PKI (made with rcgen at test time) and local HTTPS servers (hyper 1 +
//! tokio-rustls, client certificates required and verified).
// Test support code: unwrapping is the assertion.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

pub(crate) const MCH_ID: &str = "1900000109";
pub(crate) const CLIENT_CN: &str = "hongbao-test-client-1900000109";

/// A certificate and its PKCS#8 private key.
pub(crate) struct CertAndKey {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_der: Vec<u8>,
    pub key_pem: String,
}

impl CertAndKey {
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

pub(crate) struct Pki {
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    /// Server certificate for `localhost` and `127.0.0.1`, issued by the CA.
    pub server: CertAndKey,
    /// Server certificate for `example.invalid` only, issued by the CA.
    pub wrong_host_server: CertAndKey,
    /// Server certificate for `127.0.0.1`, issued by a CA the client does not know.
    pub foreign_server: CertAndKey,
    /// The merchant client certificate, issued by the CA.
    pub client: CertAndKey,
    /// Another client certificate (a different key), issued by the CA.
    pub other_client: CertAndKey,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, CertificateDer<'static>, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().clone();
    let pem = cert.pem();
    (Issuer::new(params, key), der, pem)
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    sans: &[&str],
    cn: &str,
    eku: ExtendedKeyUsagePurpose,
) -> CertAndKey {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![eku];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, issuer).unwrap();
    CertAndKey {
        cert_der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    }
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let (issuer, ca_der, ca_pem) = ca("hongbao test CA");
        let (foreign_issuer, _, _) = ca("some other CA");
        let server = leaf(
            &issuer,
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let wrong_host_server = leaf(
            &issuer,
            &["example.invalid"],
            "example.invalid",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let foreign_server = leaf(
            &foreign_issuer,
            &["localhost", "127.0.0.1"],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(&issuer, &[], CLIENT_CN, ExtendedKeyUsagePurpose::ClientAuth);
        let other_client = leaf(
            &issuer,
            &[],
            "someone-else",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Pki {
            ca_pem,
            ca_der,
            server,
            wrong_host_server,
            foreign_server,
            client,
            other_client,
        }
    }

    /// A server config presenting `server` and requiring a client certificate
    /// issued by the test CA. `tls12_only` restricts to TLS 1.2.
    pub(crate) fn server_config(&self, server: &CertAndKey, tls12_only: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let builder = ServerConfig::builder_with_provider(provider);
        let builder = if tls12_only {
            builder
                .with_protocol_versions(&[&rustls::version::TLS12])
                .unwrap()
        } else {
            builder.with_safe_default_protocol_versions().unwrap()
        };
        let mut config = builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server.cert_der.clone()], server.key())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// A PKCS#12 archive of the client certificate and key.
    pub(crate) fn client_p12(
        &self,
        password: &str,
        encryption: p12_keystore::EncryptionAlgorithm,
        mac: p12_keystore::MacAlgorithm,
    ) -> Vec<u8> {
        let key = p12_keystore::PrivateKey::from_der(&self.client.key_der).unwrap();
        let cert = p12_keystore::Certificate::from_der(self.client.cert_der.as_ref()).unwrap();
        let ca = p12_keystore::Certificate::from_der(self.ca_der.as_ref()).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(b"client-key-1".as_slice(), key, [cert, ca]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "apiclient",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        store
            .writer(password)
            .encryption_algorithm(encryption)
            .mac_algorithm(mac)
            .encryption_iterations(2048)
            .mac_iterations(2048)
            .write()
            .unwrap()
    }
}

/// What the test server does with a connection once TLS is established.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Behavior {
    /// hyper HTTP/1.1: echo the body; report the client certificate CN and the
    /// received headers in `x-client-cn`, `x-echo-*`. A path ending in
    /// `/status/500` answers 500.
    Echo,
    /// Read the request, report it, then never answer (keep the connection open).
    HangAfterRequest,
    /// Read the request, report it, then close the TCP connection without a reply.
    CloseAfterRequest,
    /// Read the request, report it, send the status line, headers and half of
    /// the announced body, then close the TLS session.
    CloseMidReply,
}

pub(crate) struct Server {
    pub addr: SocketAddr,
    /// TCP connections accepted.
    pub accepted: Arc<AtomicUsize>,
    /// One message per request the server read (non-echo behaviours).
    pub received: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub(crate) async fn spawn_server(config: Arc<ServerConfig>, behavior: Behavior) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, received) = mpsc::unbounded_channel();
    let acceptor = TlsAcceptor::from(config);
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                handle(tls, behavior, tx).await;
            });
        }
    });
    Server {
        addr,
        accepted,
        received,
    }
}

async fn read_request(tls: &mut tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn handle(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    behavior: Behavior,
    tx: mpsc::UnboundedSender<Vec<u8>>,
) {
    match behavior {
        Behavior::Echo => {
            let cn = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|c| p12_keystore::Certificate::from_der(c.as_ref()).ok())
                .map(|c| c.subject().to_owned())
                .unwrap_or_default();
            let service = service_fn(move |req: Request<Incoming>| {
                let cn = cn.clone();
                async move {
                    let status = if req.uri().path().ends_with("/status/500") {
                        500
                    } else {
                        200
                    };
                    let method = req.method().to_string();
                    let headers = req.headers().clone();
                    let body = req.into_body().collect().await?.to_bytes();
                    let mut builder = Response::builder()
                        .status(status)
                        .header("content-type", "text/xml")
                        .header("x-client-cn", cn)
                        .header("x-echo-method", method);
                    for (name, echo) in [
                        ("content-type", "x-echo-content-type"),
                        ("accept", "x-echo-accept"),
                        ("user-agent", "x-echo-user-agent"),
                        ("x-extra", "x-echo-extra"),
                    ] {
                        if let Some(v) = headers.get(name) {
                            builder = builder.header(echo, v.clone());
                        }
                    }
                    Ok::<_, hyper::Error>(builder.body(Full::new(body)).unwrap())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        }
        Behavior::HangAfterRequest => {
            let req = read_request(&mut tls).await;
            let _ = tx.send(req);
            std::future::pending::<()>().await;
        }
        Behavior::CloseAfterRequest => {
            let req = read_request(&mut tls).await;
            let _ = tx.send(req);
            drop(tls);
        }
        Behavior::CloseMidReply => {
            let req = read_request(&mut tls).await;
            let _ = tx.send(req);
            let _ = tls
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: 100\r\n\r\n<xml><return_code>SUCC",
                )
                .await;
            let _ = tls.flush().await;
            let _ = tls.shutdown().await;
        }
    }
}

/// A TCP listener that accepts connections and never speaks (counts accepts).
pub(crate) async fn spawn_silent_tcp() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (addr, accepted)
}
