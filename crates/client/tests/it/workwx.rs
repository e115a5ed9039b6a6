//! WeCom: `workwx_sign` (default and per-agent secrets) and reply signatures.
#![cfg(feature = "test-util")]
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;

use common::*;
use hongbao::mock::{MockTransport, RecordedRequest, RecordedRequestExt};
use hongbao::transport::HttpResponse;
use hongbao::{
    ApiKey, BillNo, Client, ClientError, ConfigError, Outcome, UnknownReason, WorkwxRedPacketQuery,
    WorkwxSecret,
};
use hongbao_sign::{WorkwxKind, WorkwxSigner};

fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

fn assert_signed(request: &RecordedRequest, kind: WorkwxKind, secret: &str) {
    let fields = request.fields().unwrap();
    let workwx = WorkwxSigner::new(WorkwxSecret::new(secret).unwrap())
        .sign(kind, pairs(&fields))
        .unwrap();
    assert_eq!(
        request.field("workwx_sign").as_deref(),
        Some(workwx.as_str()),
        "workwx_sign must be made with the expected secret"
    );
    // The main sign covers workwx_sign too.
    signer().verify_reply(pairs(&fields)).unwrap();
}

#[tokio::test]
async fn workwx_sign_uses_the_default_secret_without_agentid() {
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, true)));
    let outcome = single_shot(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path(), "/mmpaymkttransfers/sendworkwxredpack");
    assert_signed(&sent, WorkwxKind::RedPacket, WORKWX_SECRET);
}

#[tokio::test]
async fn workwx_sign_uses_the_agent_secret_when_configured() {
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, true)));
    let client = single_shot(&mock);
    client
        .send_workwx_red_packet(&workwx_red_packet(BILL, Some("1000002")))
        .await
        .unwrap();
    assert_signed(
        &mock.last_request().unwrap(),
        WorkwxKind::RedPacket,
        AGENT_SECRET,
    );

    // An agent without its own secret falls back to the default one.
    mock.push_fn(|r| Ok(send_success(r, true)));
    client
        .send_workwx_red_packet(&workwx_red_packet("B2", Some("1000009")))
        .await
        .unwrap();
    assert_signed(
        &mock.last_request().unwrap(),
        WorkwxKind::RedPacket,
        WORKWX_SECRET,
    );

    // Pay to employee has its own field list.
    mock.push_fn(|r| Ok(send_success(r, false)));
    let mut payment = pay_employee(TRADE_NO, OPENID);
    payment.agentid = Some("1000002".into());
    assert!(client.pay_employee(&payment).await.unwrap().is_paid());
    assert_signed(
        &mock.last_request().unwrap(),
        WorkwxKind::PayEmployee,
        AGENT_SECRET,
    );
}

#[tokio::test]
async fn missing_workwx_secret_is_a_config_error_and_nothing_is_sent() {
    let mock = MockTransport::new();
    let client = Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(ApiKey::new(API_KEY).unwrap())
        .transport(Arc::new(mock.clone()))
        .build()
        .unwrap();
    let err = client
        .send_workwx_red_packet(&workwx_red_packet(BILL, Some("1000002")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Config(ConfigError::MissingWorkwxSecret { agentid: Some(a) }) if a == "1000002"),
        "{err:?}"
    );
    let err = client
        .pay_employee(&pay_employee(TRADE_NO, OPENID))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Config(ConfigError::MissingWorkwxSecret { agentid: None })
        ),
        "{err:?}"
    );
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn reply_signature_good_bad_missing() {
    // Good: paid.
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, true)));
    let outcome = single_shot(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");

    // Bad: a success reply whose sign does not verify is unknown, not paid.
    let mock = MockTransport::new();
    mock.push_fn(|r| {
        let good = send_success(r, true);
        let text = String::from_utf8(good.body.to_vec()).unwrap();
        let forged = text.replace(
            "<total_amount>1000</total_amount>",
            "<total_amount>1000</total_amount><extra>x</extra>",
        );
        assert_ne!(text, forged);
        Ok(HttpResponse::new(200, forged))
    });
    let outcome = single_shot(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if matches!(u.reason, UnknownReason::BadSignature(_))),
        "{outcome:?}"
    );

    // Missing: this endpoint signs its replies, so an unsigned success is unknown.
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = single_shot(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if matches!(u.reason, UnknownReason::BadSignature(_))),
        "{outcome:?}"
    );

    // A reply signed with another key is unknown too.
    let mock = MockTransport::new();
    mock.push_fn(|r| {
        let fields = fields_of(r);
        let mut reply = vec![("return_code", "SUCCESS"), ("result_code", "SUCCESS")];
        let bill = field(&fields, "mch_billno").unwrap();
        reply.push(("mch_billno", &bill));
        let other =
            hongbao_sign::Signer::new(ApiKey::new("ffffffffffffffffffffffffffffffff").unwrap());
        let sign = other.sign_md5(reply.iter().copied()).unwrap();
        reply.push(("sign", sign.as_str()));
        Ok(HttpResponse::new(200, xml(&reply)))
    });
    let outcome = single_shot(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if matches!(u.reason, UnknownReason::BadSignature(_))),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn workwx_query_verifies_the_reply_and_returns_the_typed_reply() {
    let mock = MockTransport::new();
    mock.push_reply(200, query_status("mch_billno", BILL, "RECEIVED", true));
    mock.push_reply(200, query_status("mch_billno", BILL, "RECEIVED", false));
    let client = single_shot(&mock);
    let query = WorkwxRedPacketQuery::new(BillNo::new(BILL).unwrap());
    let reply = client.query_workwx_red_packet(&query).await.unwrap();
    assert!(reply.outcome.is_paid(), "{:?}", reply.outcome);
    let typed = reply.reply.unwrap();
    assert_eq!(
        typed.detail_id.as_deref(),
        Some("1000041701201411111234567890")
    );

    let reply = client.query_workwx_red_packet(&query).await.unwrap();
    assert!(
        matches!(&reply.outcome, Outcome::Unknown(u) if matches!(u.reason, UnknownReason::BadSignature(_))),
        "{:?}",
        reply.outcome
    );
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.path(), "/mmpaymkttransfers/queryworkwxredpack");
    assert_eq!(sent.field("workwx_sign"), None);
}
