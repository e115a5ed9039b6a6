//! `ReqwestTransport` against local HTTPS servers requiring client certificates.
#![cfg(feature = "reqwest")]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Behavior, CLIENT_CN, MCH_ID, Pki, spawn_server, spawn_silent_tcp};
use hongbao_transport::{
    ClientIdentity, ErrorKind, HttpRequest, ReqwestTransport, ReqwestTransportBuilder, Transport,
    TransportError,
};
use p12_keystore::{EncryptionAlgorithm, MacAlgorithm};

const BODY: &str = "<xml><mch_billno><![CDATA[19000001092024010100001]]></mch_billno>\
<act_name><![CDATA[新年红包]]></act_name></xml>";

fn builder(pki: &Pki) -> ReqwestTransportBuilder {
    ReqwestTransport::builder()
        .add_root_certificate_pem(pki.ca_pem.clone())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
}

fn pem_identity(pki: &Pki) -> ClientIdentity {
    ClientIdentity::from_pem(
        pki.client.cert_pem.as_bytes(),
        pki.client.key_pem.as_bytes(),
    )
    .unwrap()
}

fn with_identity(pki: &Pki) -> ReqwestTransport {
    builder(pki).identity(pem_identity(pki)).build().unwrap()
}

fn request(url: String) -> HttpRequest {
    HttpRequest::new(url, BODY)
}

async fn assert_echo(transport: &dyn Transport, url: String) {
    let reply = transport.send(request(url)).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, BODY.as_bytes());
    let cn = reply.header("x-client-cn").unwrap();
    assert!(
        cn.contains(CLIENT_CN),
        "server saw client certificate {cn:?}"
    );
}

fn expect_err(result: Result<hongbao_transport::HttpResponse, TransportError>) -> TransportError {
    match result {
        Ok(reply) => panic!(
            "expected an error, got a reply with status {}",
            reply.status
        ),
        Err(e) => e,
    }
}

#[tokio::test]
async fn pem_identity_is_presented_and_default_headers_arrive() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = with_identity(&pki);
    assert!(transport.has_identity());

    let reply = transport
        .send(request(server.url("/mmpaymkttransfers/sendredpack")))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, BODY.as_bytes());
    assert!(reply.header("x-client-cn").unwrap().contains(CLIENT_CN));
    assert_eq!(reply.header("x-echo-method"), Some("POST"));
    assert_eq!(
        reply.header("x-echo-content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(
        reply.header("x-echo-accept"),
        Some("text/xml, text/plain, application/x-gzip")
    );
    assert_eq!(
        reply.header("x-echo-user-agent"),
        Some(format!("hongbao/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(reply.header("content-type"), Some("text/xml"));
}

#[tokio::test]
async fn request_headers_override_or_extend_defaults() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = with_identity(&pki);
    let reply = transport
        .send(
            request(server.url("/x"))
                .with_header("Accept", "text/xml")
                .with_header("X-Extra", "1"),
        )
        .await
        .unwrap();
    assert_eq!(reply.header("x-echo-accept"), Some("text/xml"));
    assert_eq!(reply.header("x-echo-extra"), Some("1"));
    assert_eq!(
        reply.header("x-echo-content-type"),
        Some("text/xml; charset=utf-8")
    );
}

#[tokio::test]
async fn pem_bundle_in_one_file_and_any_order() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    // Key first, then the CA, then the leaf: the leaf is found by its key.
    let bundle = format!(
        "{}{}{}",
        pki.client.key_pem, pki.ca_pem, pki.client.cert_pem
    );
    let dir = std::env::temp_dir().join(format!("hongbao-transport-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("apiclient.pem");
    std::fs::write(&path, &bundle).unwrap();
    let identity = ClientIdentity::from_pem_files(&path, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(identity.certificate_count(), 2);
    assert_eq!(identity.certificate_der(), pki.client.cert_der.as_ref());
    assert!(
        identity.subject().contains(CLIENT_CN),
        "{}",
        identity.subject()
    );
    let transport = builder(&pki).identity(identity).build().unwrap();
    assert_echo(&transport, server.url("/x")).await;
}

#[tokio::test]
async fn pkcs12_identity_modern_and_legacy_encryption() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    for (encryption, mac) in [
        (
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        ),
        // Legacy: what OpenSSL 1.x / older tools write (PBE-SHA1-RC2-40, PBE-SHA1-3DES, SHA-1 MAC).
        (
            EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc,
            MacAlgorithm::HmacSha1,
        ),
        (
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        ),
    ] {
        let p12 = pki.client_p12(MCH_ID, encryption, mac);
        let identity = ClientIdentity::from_pkcs12(&p12, MCH_ID).unwrap();
        assert!(identity.subject().contains(CLIENT_CN));
        assert_eq!(identity.certificate_der(), pki.client.cert_der.as_ref());
        let transport = builder(&pki).identity(identity).build().unwrap();
        assert_echo(
            &transport,
            server.url("/mmpaymkttransfers/promotion/transfers"),
        )
        .await;
    }
}

#[tokio::test]
async fn pkcs12_file_with_merchant_id_password() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let p12 = pki.client_p12(
        MCH_ID,
        EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        MacAlgorithm::HmacSha1,
    );
    let dir = std::env::temp_dir().join(format!("hongbao-transport-p12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("apiclient_cert.p12");
    std::fs::write(&path, &p12).unwrap();
    let identity = ClientIdentity::from_pkcs12_file(&path, MCH_ID);
    std::fs::remove_file(&path).unwrap();
    let transport = builder(&pki).identity(identity.unwrap()).build().unwrap();
    assert_echo(&transport, server.url("/x")).await;
}

/// A real OpenSSL-written legacy archive (RC2-40 certificates, 3DES key, SHA-1
/// MAC), as WeChat Pay's tool produces. Needs the `openssl` binary; the
/// p12-keystore-written legacy archives above cover the same algorithms.
#[tokio::test]
async fn pkcs12_written_by_openssl_legacy() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("hongbao-transport-ossl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = dir.join("apiclient_cert.p12");
    std::fs::write(&cert, &pki.client.cert_pem).unwrap();
    std::fs::write(&key, &pki.client.key_pem).unwrap();
    let mut attempts = vec![vec![
        "pkcs12",
        "-export",
        "-legacy",
        "-certpbe",
        "PBE-SHA1-RC2-40",
        "-keypbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
    ]];
    attempts.push(vec![
        "pkcs12",
        "-export",
        "-certpbe",
        "PBE-SHA1-3DES",
        "-keypbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
    ]);
    let mut produced = false;
    for args in attempts {
        let status = std::process::Command::new("openssl")
            .args(&args)
            .arg("-in")
            .arg(&cert)
            .arg("-inkey")
            .arg(&key)
            .arg("-out")
            .arg(&out)
            .arg("-passout")
            .arg(format!("pass:{MCH_ID}"))
            .stderr(std::process::Stdio::null())
            .status();
        if matches!(status, Ok(s) if s.success()) {
            produced = true;
            break;
        }
    }
    if !produced {
        eprintln!("note: no usable `openssl` binary; OpenSSL-written PKCS#12 sub-case skipped");
        return;
    }
    let p12 = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let identity = ClientIdentity::from_pkcs12(&p12, MCH_ID).unwrap();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = builder(&pki).identity(identity).build().unwrap();
    assert_echo(&transport, server.url("/x")).await;
}

#[test]
fn pkcs12_wrong_password_mentions_merchant_id_not_the_password() {
    let pki = Pki::new();
    let p12 = pki.client_p12(
        MCH_ID,
        EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        MacAlgorithm::HmacSha1,
    );
    let err = ClientIdentity::from_pkcs12(&p12, "wrong-pass-4242").unwrap_err();
    assert!(!err.may_have_been_sent());
    assert_eq!(err.kind(), ErrorKind::Certificate);
    let text = err.to_string();
    assert!(text.contains("wrong password"), "{text}");
    assert!(text.contains("merchant id"), "{text}");
    assert!(!text.contains("wrong-pass-4242"), "{text}");
    assert!(!format!("{err:?}").contains("wrong-pass-4242"));
}

#[test]
fn pkcs12_unsupported_algorithm_gives_the_openssl_command() {
    let pki = Pki::new();
    let mut p12 = pki.client_p12(
        MCH_ID,
        EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        MacAlgorithm::HmacSha256,
    );
    // Replace the MAC digest OID (SHA-256, 2.16.840.1.101.3.4.2.1) with an
    // algorithm the library does not implement (2.16.840.1.101.3.4.2.9).
    let sha256_oid = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    let at = p12
        .windows(sha256_oid.len())
        .rposition(|w| w == sha256_oid)
        .expect("MAC OID present");
    p12[at + sha256_oid.len() - 1] = 0x09;
    let err = ClientIdentity::from_pkcs12(&p12, MCH_ID).unwrap_err();
    assert!(!err.may_have_been_sent());
    assert_eq!(err.kind(), ErrorKind::Certificate);
    let text = err.to_string();
    assert!(text.contains("legacy"), "{text}");
    assert!(
        text.contains("openssl pkcs12 -legacy -in apiclient_cert.p12 -out apiclient.pem -nodes"),
        "{text}"
    );
    assert!(text.contains("from_pem_files"), "{text}");
}

#[test]
fn mismatched_key_and_certificate_are_rejected() {
    let pki = Pki::new();
    let err = ClientIdentity::from_pem(
        pki.client.cert_pem.as_bytes(),
        pki.other_client.key_pem.as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Certificate);
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn swapped_pem_arguments_get_a_hint() {
    let pki = Pki::new();
    let err = ClientIdentity::from_pem(
        pki.client.key_pem.as_bytes(),
        pki.client.cert_pem.as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("swapped"), "{err}");
}

#[test]
fn debug_never_shows_key_or_password() {
    let pki = Pki::new();
    let password = "p12-secret-pass-7391";
    let p12 = pki.client_p12(
        password,
        EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
        MacAlgorithm::HmacSha1,
    );
    let from_p12 = ClientIdentity::from_pkcs12(&p12, password).unwrap();
    let from_pem = pem_identity(&pki);
    let builder = builder(&pki).identity(from_p12.clone());
    let transport = builder.clone().build().unwrap();
    // A distinctive slice of the key's base64 body.
    let key_b64_line = pki.client.key_pem.lines().nth(1).unwrap().to_owned();
    for text in [
        format!("{from_p12:?}"),
        format!("{from_pem:?}"),
        format!("{builder:?}"),
        format!("{transport:?}"),
        format!("{transport:#?}"),
    ] {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains(&key_b64_line), "{text}");
        assert!(!text.contains(password), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
    assert!(format!("{from_pem:?}").contains(CLIENT_CN));
}

#[tokio::test]
async fn non_200_status_is_a_reply_not_an_error() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = with_identity(&pki);
    let reply = transport
        .send(request(server.url("/status/500")))
        .await
        .unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.body, BODY.as_bytes());
}

#[tokio::test]
async fn keep_alive_connection_is_reused() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = with_identity(&pki);
    for _ in 0..3 {
        assert_echo(&transport, server.url("/x")).await;
    }
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn usable_as_arc_dyn_transport() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport: Arc<dyn Transport> = Arc::new(with_identity(&pki));
    let cloned = Arc::clone(&transport);
    let handle = tokio::spawn({
        let url = server.url("/a");
        async move { cloned.send(request(url)).await.map(|r| r.status) }
    });
    assert_eq!(handle.await.unwrap().unwrap(), 200);
    assert_echo(&transport, server.url("/b")).await;
}

/// TLS 1.3: the client finishes its side of the handshake before the server has
/// checked the (missing) client certificate, writes the request, then receives
/// the server's `certificate_required` alert while waiting for the reply. The
/// transport cannot prove the server ignored the request, so: `MaybeSent`.
#[tokio::test]
async fn missing_client_certificate_tls13_is_refused_maybe_sent() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = builder(&pki).build().unwrap();
    assert!(!transport.has_identity());
    let err = expect_err(
        transport
            .send(request(server.url("/x")).with_client_cert_required(false))
            .await,
    );
    assert!(err.may_have_been_sent(), "{err}");
    // Normally the server's `certificate_required` alert (Tls); if the server's
    // close races ahead of the alert, a connection reset (Io).
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::Io),
        "{err}"
    );
}

/// TLS 1.2: the server rejects the missing client certificate inside the
/// handshake, before the client can write anything: `NotSent`.
#[tokio::test]
async fn missing_client_certificate_tls12_is_refused_not_sent() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, true), Behavior::Echo).await;
    let transport = builder(&pki).build().unwrap();
    let err = expect_err(
        transport
            .send(request(server.url("/x")).with_client_cert_required(false))
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::Connect),
        "{err}"
    );
}

#[tokio::test]
async fn tls12_with_client_certificate_works() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, true), Behavior::Echo).await;
    assert_echo(&with_identity(&pki), server.url("/x")).await;
}

#[tokio::test]
async fn server_certificate_from_unknown_ca_is_refused_not_sent() {
    let pki = Pki::new();
    let server = spawn_server(
        pki.server_config(&pki.foreign_server, false),
        Behavior::Echo,
    )
    .await;
    // Trusts the test CA and the built-in Mozilla roots, not the foreign CA.
    let err = expect_err(with_identity(&pki).send(request(server.url("/x"))).await);
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.report().contains("UnknownIssuer"), "{err}");

    // Without the extra CA, the test server is not trusted either.
    let plain = ReqwestTransport::builder()
        .identity(pem_identity(&pki))
        .build()
        .unwrap();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let err = expect_err(plain.send(request(server.url("/x"))).await);
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn server_certificate_for_another_host_is_refused_not_sent() {
    let pki = Pki::new();
    let server = spawn_server(
        pki.server_config(&pki.wrong_host_server, false),
        Behavior::Echo,
    )
    .await;
    let err = expect_err(with_identity(&pki).send(request(server.url("/x"))).await);
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn pinned_sandbox_ca_only() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = builder(&pki)
        .built_in_roots(false)
        .identity(pem_identity(&pki))
        .build()
        .unwrap();
    assert_echo(&transport, server.url("/x")).await;
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let pki = Pki::new();
    let err = expect_err(
        with_identity(&pki)
            .send(request(format!("https://127.0.0.1:{port}/x")))
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

#[tokio::test]
async fn dns_failure_is_not_sent() {
    let pki = Pki::new();
    let err = expect_err(
        with_identity(&pki)
            .send(request("https://does-not-exist.invalid/x".to_owned()))
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

/// The server accepts TCP but never speaks TLS: the connect timeout fires in
/// the connect phase, before any request byte: `NotSent` (`Timeout`).
#[tokio::test]
async fn connect_timeout_during_handshake_is_not_sent() {
    let (addr, accepted) = spawn_silent_tcp().await;
    let pki = Pki::new();
    let transport = builder(&pki)
        .identity(pem_identity(&pki))
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = expect_err(
        transport
            .send(request(format!("https://127.0.0.1:{}/x", addr.port())))
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_certificate_required_without_identity_never_touches_the_network() {
    let (addr, accepted) = spawn_silent_tcp().await;
    let pki = Pki::new();
    let transport = builder(&pki).build().unwrap();
    let err = expect_err(
        transport
            .send(request(format!(
                "https://127.0.0.1:{}/mmpaymkttransfers/sendredpack",
                addr.port()
            )))
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.report().contains("client certificate"), "{err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn plain_http_and_bad_urls_are_refused_locally() {
    let (addr, accepted) = spawn_silent_tcp().await;
    let pki = Pki::new();
    let transport = with_identity(&pki);
    for url in [
        format!("http://127.0.0.1:{}/x", addr.port()),
        "not a url".to_owned(),
        "ftp://127.0.0.1/x".to_owned(),
    ] {
        let err = expect_err(transport.send(request(url.clone())).await);
        assert!(!err.may_have_been_sent(), "{url}: {err}");
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
    }
    let err = expect_err(
        transport
            .send(
                request(format!("https://127.0.0.1:{}/x", addr.port()))
                    .with_header("bad header", "v"),
            )
            .await,
    );
    assert!(!err.may_have_been_sent(), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn server_never_answers_total_timeout_is_maybe_sent() {
    let pki = Pki::new();
    let mut server = spawn_server(
        pki.server_config(&pki.server, false),
        Behavior::HangAfterRequest,
    )
    .await;
    let transport = builder(&pki)
        .identity(pem_identity(&pki))
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = expect_err(transport.send(request(server.url("/x"))).await);
    assert!(err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The server did receive the whole request.
    let received = server.received.recv().await.unwrap();
    assert!(received.ends_with(BODY.as_bytes()));
}

#[tokio::test]
async fn connection_closed_after_request_is_maybe_sent() {
    let pki = Pki::new();
    let mut server = spawn_server(
        pki.server_config(&pki.server, false),
        Behavior::CloseAfterRequest,
    )
    .await;
    let err = expect_err(with_identity(&pki).send(request(server.url("/x"))).await);
    assert!(err.may_have_been_sent(), "{err}");
    assert!(
        server
            .received
            .recv()
            .await
            .unwrap()
            .ends_with(BODY.as_bytes())
    );
}

#[tokio::test]
async fn connection_closed_mid_reply_is_maybe_sent() {
    let pki = Pki::new();
    let mut server = spawn_server(
        pki.server_config(&pki.server, false),
        Behavior::CloseMidReply,
    )
    .await;
    let err = expect_err(with_identity(&pki).send(request(server.url("/x"))).await);
    assert!(err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
    assert!(
        server
            .received
            .recv()
            .await
            .unwrap()
            .ends_with(BODY.as_bytes())
    );
}

#[tokio::test]
async fn reply_over_the_size_limit_is_maybe_sent() {
    let pki = Pki::new();
    let server = spawn_server(pki.server_config(&pki.server, false), Behavior::Echo).await;
    let transport = builder(&pki)
        .identity(pem_identity(&pki))
        .max_response_bytes(16)
        .build()
        .unwrap();
    let err = expect_err(transport.send(request(server.url("/x"))).await);
    assert!(err.may_have_been_sent(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
}
