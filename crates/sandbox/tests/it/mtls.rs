//! The sandbox over mutual TLS: every endpoint's success path, the client
//! certificate check, PKCS#12, and the certificate directory.

use crate::common;

use std::sync::Arc;

use common::*;
use hongbao_sandbox::{ManualClock, Sandbox};
use hongbao_transport::{ClientIdentity, HttpRequest, ReqwestTransport, Transport};

#[tokio::test]
async fn every_endpoint_succeeds_over_mutual_tls() -> TestResult {
    let clock = ManualClock::at_default_start();
    let sandbox = Sandbox::builder()
        .clock(Arc::new(clock.clone()))
        .limits(relaxed_limits())
        .start()
        .await?;
    assert!(sandbox.url().starts_with("https://127.0.0.1:"));
    let client = http_client(&sandbox, true);

    let sends = [
        (
            red_packet("10000098202402100000000001", OPENID, 1_000),
            query_red_packet("10000098202402100000000001"),
            "send_listid",
        ),
        (
            group_red_packet("10000098202402100000000002", OPENID, 3_000, 3),
            query_red_packet("10000098202402100000000002"),
            "send_listid",
        ),
        (
            mini_program_red_packet("10000098202402100000000003", OPENID, 500),
            query_red_packet("10000098202402100000000003"),
            "send_listid",
        ),
        (
            workwx_red_packet("10000098202402100000000004", OPENID, 1_000),
            query_workwx_red_packet("10000098202402100000000004"),
            "send_listid",
        ),
        (
            pay_employee("10000098202402100000000005", OPENID, 10_099),
            query_pay_employee("10000098202402100000000005"),
            "payment_no",
        ),
        (
            transfer("10000098202402100000000006", OPENID, 100),
            query_transfer("10000098202402100000000006"),
            "payment_no",
        ),
    ];
    let mut spent = 0;
    for (send, query, id_field) in &sends {
        let reply = call(&client, &sandbox, send).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.code(), "SUCCESS", "{}: {reply:?}", send.path);
        let id = reply.get(id_field).unwrap_or_default().to_owned();
        assert!(id.len() >= 28, "{}: {id}", send.path);
        let signed = send.path.ends_with("sendworkwxredpack");
        assert_eq!(reply.get("sign").is_some(), signed, "{}", send.path);
        if signed {
            assert!(reply.sign_verifies());
        }
        if send.path.contains("promotion") {
            assert_eq!(reply.get("payment_time"), Some("2024-02-10 10:00:00"));
            assert_eq!(reply.get("nonce_str").map(str::len), Some(32));
        } else {
            assert_eq!(reply.get("re_openid"), Some(OPENID));
        }
        if send.path.ends_with("sendminiprogramhb") {
            assert!(reply.get("package").is_some());
        }
        spent += send
            .fields
            .iter()
            .find(|(n, _)| n == "total_amount" || n == "amount")
            .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
            .unwrap_or(0);

        let reply = call(&client, &sandbox, query).await;
        assert_eq!(reply.code(), "SUCCESS", "{}: {reply:?}", query.path);
        let status = reply.get("status").unwrap_or_default();
        assert!(
            ["SENT", "SUCCESS"].contains(&status),
            "{}: {status}",
            query.path
        );
        assert!(reply.get("detail_id").is_some());
        assert_eq!(
            reply.get("sign").is_some(),
            query.path.ends_with("queryworkwxredpack")
        );
        if reply.get("sign").is_some() {
            assert!(reply.sign_verifies());
        }
    }
    // The transfer query reports what was paid.
    let reply = call(
        &client,
        &sandbox,
        &query_transfer("10000098202402100000000006"),
    )
    .await;
    assert_eq!(reply.get("payment_amount"), Some("100"));
    assert_eq!(reply.get("transfer_name"), Some("张三"));
    assert_eq!(reply.get("openid"), Some(OPENID));
    assert_eq!(reply.get("transfer_time"), Some("2024-02-10 10:00:00"));

    // The sandbox key call: a key of its own, accepted for signing, and used
    // to sign the replies of requests signed with it.
    let reply = call(&client, &sandbox, &sign_key()).await;
    assert_eq!(reply.get("return_code"), Some("SUCCESS"));
    assert_eq!(reply.get("mch_id"), Some("10000098"));
    let sandbox_key = reply.get("sandbox_signkey").unwrap_or_default().to_owned();
    assert_eq!(sandbox_key.len(), 32);
    assert!(
        sandbox_key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_ne!(sandbox_key, hongbao_sandbox::DEFAULT_API_KEY);
    assert_eq!(sandbox.sandbox_signkey().expose(), sandbox_key);
    let req = query_workwx_red_packet("10000098202402100000000004");
    let reply = post_raw(
        &client,
        &sandbox,
        req.path,
        req.body_with(&sandbox_key, "x"),
    )
    .await;
    assert_eq!(reply.code(), "SUCCESS");
    assert!(!reply.sign_verifies());
    let signer = hongbao_sign::Signer::new(hongbao_sign::ApiKey::new(sandbox_key.as_str())?);
    assert!(
        signer
            .verify_reply(reply.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .is_ok()
    );

    let ledger = sandbox.ledger();
    assert_eq!(ledger.payments.len(), 6);
    assert_eq!(ledger.balance_fen, 10_000_000 - spent);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_client_certificate_is_checked() -> TestResult {
    let sandbox = Sandbox::builder().start().await?;
    let anonymous = http_client(&sandbox, false);
    // No certificate: CA_ERROR on the payment endpoints...
    let reply = call(&anonymous, &sandbox, &red_packet("B1", OPENID, 1_000)).await;
    assert_eq!(reply.get("return_code"), Some("FAIL"));
    assert_eq!(reply.code(), "CA_ERROR");
    assert!(sandbox.ledger().payments.is_empty());
    // ...but the sandbox key call and the admin API need none.
    assert_eq!(
        call(&anonymous, &sandbox, &sign_key())
            .await
            .get("return_code"),
        Some("SUCCESS")
    );
    let (status, _) = admin(&anonymous, &sandbox, reqwest::Method::GET, "health", None).await;
    assert_eq!(status, 200);

    // A certificate from another CA fails the handshake.
    let other = Sandbox::builder().start().await?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::pem::PemObject::from_pem_slice(
        sandbox.ca_cert_pem().as_bytes(),
    )?)?;
    let cert =
        rustls_pki_types::pem::PemObject::from_pem_slice(other.client_cert_pem().as_bytes())?;
    let key = rustls_pki_types::pem::PemObject::from_pem_slice(other.client_key_pem().as_bytes())?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(vec![cert], key)?;
    let stranger = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?;
    let result = stranger
        .post(format!("{}/mmpaymkttransfers/sendredpack", sandbox.url()))
        .body(red_packet("B2", OPENID, 1_000).body())
        .send()
        .await;
    assert!(result.is_err());
    assert!(sandbox.ledger().payments.is_empty());
    other.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_transport_crate_pays_with_the_pkcs12() -> TestResult {
    let sandbox = Sandbox::builder().limits(relaxed_limits()).start().await?;
    let (p12, password) = sandbox.client_p12();
    assert_eq!(password, "10000098");
    let transport = ReqwestTransport::builder()
        .identity(ClientIdentity::from_pkcs12(p12, password)?)
        .add_root_certificate_pem(sandbox.ca_cert_pem().as_bytes().to_vec())
        .built_in_roots(false)
        .build()?;
    let req = transfer("10000098202402100000000001", OPENID, 100);
    let url = format!("{}{}", sandbox.url(), req.path);
    let response = transport
        .send(HttpRequest::new(url.clone(), req.body()))
        .await?;
    let reply = parse_reply(response.status, &response.body);
    assert_eq!(reply.code(), "SUCCESS");
    // Keep-alive: a second request on the same transport.
    let response = transport.send(HttpRequest::new(url, req.body())).await?;
    assert_eq!(
        parse_reply(response.status, &response.body).code(),
        "SUCCESS"
    );
    assert_eq!(sandbox.ledger().payments[0].times_requested, 2);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_certificate_directory_keeps_the_same_ca() -> TestResult {
    let dir = std::env::temp_dir().join(format!("hongbao-sandbox-mtls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = Sandbox::builder().cert_dir(&dir).start().await?;
    let paths = first.cert_paths().cloned().ok_or("no paths")?;
    for path in [
        &paths.ca_cert,
        &paths.client_cert,
        &paths.client_key,
        &paths.client_p12,
    ] {
        assert!(path.is_file(), "{}", path.display());
    }
    assert_eq!(
        std::fs::read_to_string(&paths.ca_cert)?,
        first.ca_cert_pem()
    );
    let ca = first.ca_cert_pem().to_owned();
    first.shutdown().await;
    let second = Sandbox::builder().cert_dir(&dir).start().await?;
    assert_eq!(second.ca_cert_pem(), ca);
    // A client configured from the files of the first run works with the second.
    let client = http_client(&second, true);
    assert_eq!(
        call(&client, &second, &sign_key()).await.get("return_code"),
        Some("SUCCESS")
    );
    second.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Rebuilds `req` with hongbao-proto's own builder (typed parsing, validation,
/// signing), sends it over mutual TLS and interprets the reply the way the
/// client does, echo checks included.
async fn send_typed(
    client: &reqwest::Client,
    sandbox: &hongbao_sandbox::SandboxHandle,
    req: &Req,
) -> Result<hongbao_proto::Outcome, Box<dyn std::error::Error>> {
    use hongbao_proto::{AnyRequest, Endpoint, NonceStr, RawXml, interpret_signed};
    let raw = RawXml::parse(&req.body())?;
    let signer =
        hongbao_sign::Signer::new(hongbao_sign::ApiKey::new(hongbao_sandbox::DEFAULT_API_KEY)?);
    let workwx = hongbao_sign::WorkwxSigner::new(hongbao_sign::WorkwxSecret::new(
        hongbao_sandbox::DEFAULT_WORKWX_SECRET,
    )?);
    let nonce = NonceStr::new("Typed0Nonce0123")?;
    let endpoint = Endpoint::from_path(req.path).ok_or("unknown path")?;
    if !endpoint.spec().moves_money {
        return Err(format!("not a send: {endpoint:?}").into());
    }
    let (typed, merchant) = AnyRequest::from_wire(endpoint, &raw).map_err(|v| v.to_string())?;
    let signed = typed.build(&merchant, &nonce, &signer, Some(&workwx))?;
    let response = client
        .post(format!("{}{}", sandbox.url(), req.path))
        .body(signed.body_bytes())
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok(interpret_signed(&signed, status, &body, &signer).outcome)
}

#[tokio::test]
async fn replies_mean_the_right_outcome_to_the_client() -> TestResult {
    use hongbao_sandbox::{FaultConfig, FaultKind};
    let sandbox = Sandbox::builder()
        .limits(hongbao_sandbox::Limits::unlimited())
        .failing_openid("oBlocked")
        .start()
        .await?;
    let client = http_client(&sandbox, true);
    // Every send: Paid, with every echo matching the request.
    let sends = [
        red_packet("10000098202402100000000001", OPENID, 1_000),
        group_red_packet("10000098202402100000000002", OPENID, 3_000, 3),
        mini_program_red_packet("10000098202402100000000003", OPENID, 500),
        workwx_red_packet("10000098202402100000000004", OPENID, 1_000),
        pay_employee("10000098202402100000000005", OPENID, 10_099),
        transfer("10000098202402100000000006", OPENID, 100),
    ];
    for req in &sends {
        let outcome = send_typed(&client, &sandbox, req).await?;
        assert!(outcome.is_paid(), "{}: {outcome:?}", req.path);
    }
    // A definite failure is NotPaid for red packets; pay-to-employee FAILs
    // are always Unknown (confirm by query).
    let outcome = send_typed(&client, &sandbox, &red_packet("B1", "oBlocked", 1_000)).await?;
    assert!(outcome.is_not_paid(), "{outcome:?}");
    let outcome = send_typed(&client, &sandbox, &pay_employee("B2", "oBlocked", 1_000)).await?;
    assert!(outcome.is_unknown(), "{outcome:?}");

    // Each fault that answers is Unknown, except extra fields (still Paid).
    let cases = [
        (FaultKind::SystemerrorBeforeCommit, false),
        (FaultKind::SystemerrorAfterCommit, false),
        (FaultKind::ProcessingAfterCommit, false),
        (FaultKind::MalformedReply, false),
        (FaultKind::UnknownErrorCode, false),
        (FaultKind::UnknownFields, true),
    ];
    for (i, (kind, paid)) in cases.into_iter().enumerate() {
        sandbox.set_faults(FaultConfig::always(kind))?;
        for (j, req) in [
            workwx_red_packet(&format!("FW{i}"), OPENID, 1_000),
            transfer(&format!("FT{i}"), OPENID, 100),
        ]
        .iter()
        .enumerate()
        {
            let outcome = send_typed(&client, &sandbox, req).await?;
            assert_eq!(outcome.is_paid(), paid, "{kind} #{j}: {outcome:?}");
            assert_eq!(outcome.is_unknown(), !paid, "{kind} #{j}: {outcome:?}");
        }
    }
    sandbox.shutdown().await;
    Ok(())
}
