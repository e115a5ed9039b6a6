//! How each kind of reply becomes an outcome (one attempt, no automatic retry).
#![cfg(feature = "test-util")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::proto::{BillRule, PayoutStatus};
use hongbao::transport::{ErrorKind, HttpResponse, TransportError};
use hongbao::{ClientError, ErrorClass, ErrorCode, Outcome, UnknownReason, Violations};

fn unknown_reason(outcome: Outcome) -> UnknownReason {
    match outcome {
        Outcome::Unknown(unknown) => {
            assert_eq!(unknown.bill, BILL);
            unknown.reason
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[tokio::test]
async fn success_is_paid_with_the_receipt() {
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = single_shot(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Paid(receipt) = outcome else {
        panic!("not paid: {outcome:?}")
    };
    assert_eq!(receipt.bill, BILL);
    assert_eq!(
        receipt.wechat_id.as_deref(),
        Some("1000041701201411111234567890")
    );
    assert_eq!(receipt.amount.map(|a| a.fen()), Some(1000));
    assert_eq!(receipt.status, Some(PayoutStatus::Sent));

    let sent = mock.last_request().unwrap();
    assert_eq!(
        sent.url,
        "https://api.mch.weixin.qq.com/mmpaymkttransfers/sendredpack"
    );
    assert!(sent.client_cert_required);
    assert_eq!(sent.field("mch_billno").as_deref(), Some(BILL));
    assert_eq!(sent.field("mch_id").as_deref(), Some(MCH_ID));
    assert_eq!(sent.field("wxappid").as_deref(), Some(APPID));
    let nonce = sent.field("nonce_str").unwrap();
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(sent.field("sign_type"), None);
    // The main sign verifies with the API key.
    let fields = sent.fields().unwrap();
    signer()
        .verify_reply(fields.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap();
}

#[tokio::test]
async fn every_request_gets_a_fresh_nonce() {
    let mock = MockTransport::from_fn(|r| Ok(send_success(r, false)));
    let client = single_shot(&mock);
    client.send_red_packet(&red_packet(BILL)).await.unwrap();
    client.send_red_packet(&red_packet("B2")).await.unwrap();
    let requests = mock.requests();
    assert_ne!(
        requests[0].field("nonce_str"),
        requests[1].field("nonce_str")
    );
}

#[tokio::test]
async fn documented_failure_is_not_paid() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("NOTENOUGH"));
    let outcome = single_shot(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::NotPaid(not_paid) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(not_paid.bill, BILL);
    assert_eq!(not_paid.code, ErrorCode::parse("NOTENOUGH"));
    assert_eq!(not_paid.class, ErrorClass::Account);
    assert_eq!(not_paid.message.as_deref(), Some("描述"));

    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("SEND_FAILED"));
    let outcome = single_shot(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::NotPaid(not_paid) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(not_paid.code, ErrorCode::SendFailed);
    assert_eq!(not_paid.bill_rule, BillRule::New);
    // Definite outcomes are never retried.
    assert_eq!(mock.calls(), 1);
}

/// Whether an unknown reason is the expected one.
type ReasonCheck = fn(&UnknownReason) -> bool;

#[tokio::test]
async fn unknown_outcomes_carry_their_reason() {
    let cases: Vec<(HttpResponse, ReasonCheck)> = vec![
        (HttpResponse::new(502, "bad gateway"), |r| {
            matches!(r, UnknownReason::HttpStatus(502))
        }),
        (HttpResponse::new(200, "<html>oops</html>"), |r| {
            matches!(r, UnknownReason::Unparseable(_))
        }),
        (HttpResponse::new(200, ""), |r| {
            matches!(r, UnknownReason::Unparseable(_))
        }),
        (
            HttpResponse::new(
                200,
                xml(&[("return_code", "FAIL"), ("return_msg", "系统繁忙")]),
            ),
            |r| matches!(r, UnknownReason::ReturnFail { .. }),
        ),
        (HttpResponse::new(200, fail_reply("SYSTEMERROR")), |r| {
            matches!(
                r,
                UnknownReason::ErrorCode {
                    code: ErrorCode::SystemError,
                    ..
                }
            )
        }),
        (
            HttpResponse::new(200, fail_reply("BRAND_NEW_CODE_2031")),
            |r| matches!(r, UnknownReason::ErrorCode { code: ErrorCode::Unknown(c), .. } if c == "BRAND_NEW_CODE_2031"),
        ),
        (HttpResponse::new(200, fail_reply("PROCESSING")), |r| {
            matches!(
                r,
                UnknownReason::ErrorCode {
                    code: ErrorCode::Processing,
                    ..
                }
            )
        }),
        (HttpResponse::new(200, fail_reply("FATAL_ERROR")), |r| {
            matches!(
                r,
                UnknownReason::ErrorCode {
                    code: ErrorCode::FatalError,
                    ..
                }
            )
        }),
        (
            HttpResponse::new(
                200,
                xml(&[("return_code", "SUCCESS"), ("result_code", "FAIL")]),
            ),
            |r| matches!(r, UnknownReason::FailWithoutCode { .. }),
        ),
        (
            HttpResponse::new(200, xml(&[("return_code", "SUCCESS")])),
            |r| matches!(r, UnknownReason::NoResult),
        ),
        (
            HttpResponse::new(
                200,
                xml(&[
                    ("return_code", "SUCCESS"),
                    ("result_code", "SUCCESS"),
                    ("mch_billno", "10000098201411119999999999"),
                ]),
            ),
            |r| matches!(r, UnknownReason::EchoMismatch { field } if field == "mch_billno"),
        ),
        (
            HttpResponse::new(
                200,
                xml(&[
                    ("return_code", "SUCCESS"),
                    ("result_code", "SUCCESS"),
                    ("mch_billno", BILL),
                    ("total_amount", "99999"),
                ]),
            ),
            |r| matches!(r, UnknownReason::EchoMismatch { field } if field == "total_amount"),
        ),
    ];
    for (response, check) in cases {
        let mock = MockTransport::new();
        let body = String::from_utf8_lossy(&response.body).into_owned();
        mock.push_response(response);
        let reason = unknown_reason(
            single_shot(&mock)
                .send_red_packet(&red_packet(BILL))
                .await
                .unwrap(),
        );
        assert!(check(&reason), "reply {body:?} gave {reason:?}");
    }
}

#[tokio::test]
async fn maybe_sent_and_timeouts_are_unknown() {
    let mock = MockTransport::new();
    mock.fail_after_send();
    let reason = unknown_reason(
        single_shot(&mock)
            .send_red_packet(&red_packet(BILL))
            .await
            .unwrap(),
    );
    assert!(matches!(reason, UnknownReason::Transport(_)), "{reason:?}");

    let mock = MockTransport::new();
    mock.push_error(TransportError::maybe_sent(
        ErrorKind::Timeout,
        "read timed out",
    ));
    let reason = unknown_reason(
        single_shot(&mock)
            .transfer(&transfer(TRADE_NO))
            .await
            .map(|o| {
                // Transfers use partner_trade_no; make the helper's bill check pass.
                match o {
                    Outcome::Unknown(mut u) => {
                        assert_eq!(u.bill, TRADE_NO);
                        u.bill = BILL.into();
                        Outcome::Unknown(u)
                    }
                    other => other,
                }
            })
            .unwrap(),
    );
    assert!(matches!(reason, UnknownReason::Transport(m) if m.contains("read timed out")));
}

#[tokio::test(start_paused = true)]
async fn a_transport_that_never_answers_times_out_as_unknown() {
    let mock = MockTransport::new();
    mock.hang();
    let client = builder(&mock)
        .retry(hongbao::RetryPolicy::none())
        .timeouts(
            hongbao::Timeouts::default()
                .with_connect(std::time::Duration::from_secs(1))
                .with_request(std::time::Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let reason = unknown_reason(client.send_red_packet(&red_packet(BILL)).await.unwrap());
    assert!(
        matches!(&reason, UnknownReason::Transport(m) if m.contains("no reply")),
        "{reason:?}"
    );
    // request timeout + 1 s grace for the transport's own timeout.
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn not_sent_is_an_error_and_nothing_was_recorded() {
    let mock = MockTransport::new();
    mock.fail_before_send();
    let err = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap_err();
    let ClientError::NotSent { endpoint, source } = err else {
        panic!("{err:?}")
    };
    assert_eq!(endpoint, "sendredpack");
    assert!(!source.may_have_been_sent());
    assert_eq!(mock.calls(), 1, "NotSent is not retried");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn invalid_request_is_an_error_and_nothing_is_sent() {
    let mock = MockTransport::new();
    let mut packet = red_packet(BILL);
    packet.client_ip = "not-an-ip".into();
    packet.act_name = "x".repeat(33);
    let err = client(&mock).send_red_packet(&packet).await.unwrap_err();
    let ClientError::Invalid(violations) = err else {
        panic!("{err:?}")
    };
    let violations: Violations = violations;
    assert!(violations.has_field("client_ip"), "{violations}");
    assert!(violations.has_field("act_name"), "{violations}");
    assert_eq!(mock.calls(), 0);
}

#[tokio::test]
async fn pay_to_employee_fail_is_always_unknown() {
    // NOTENOUGH is a definite failure for red packets, but every FAIL on
    // pay-to-employee must be confirmed by a query.
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("NOTENOUGH"));
    let outcome = single_shot(&mock)
        .pay_employee(&pay_employee(TRADE_NO, OPENID))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if u.bill == TRADE_NO),
        "{outcome:?}"
    );
    let sent = mock.last_request().unwrap();
    assert!(
        sent.url
            .ends_with("/mmpaymkttransfers/promotion/paywwsptrans2pocket")
    );
    assert!(sent.field("workwx_sign").is_some());
}

#[tokio::test]
async fn transfer_success_is_paid() {
    let mock = MockTransport::new();
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = single_shot(&mock)
        .transfer(&transfer(TRADE_NO))
        .await
        .unwrap();
    let Outcome::Paid(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(receipt.bill, TRADE_NO);
    assert_eq!(
        receipt.wechat_id.as_deref(),
        Some("1000018301201505190181489473")
    );
    let sent = mock.last_request().unwrap();
    assert_eq!(sent.field("mchid").as_deref(), Some(MCH_ID));
    assert_eq!(sent.field("mch_appid").as_deref(), Some(APPID));
}
