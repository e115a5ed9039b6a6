//! Automatic retries (identical body, ≥ 1 s apart), query after the budget,
//! resolve, and one request at a time per bill. Paused clock throughout.
#![cfg(feature = "test-util")]
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::transport::{
    ErrorKind, HttpRequest, HttpResponse, Transport, TransportError, async_trait,
};
use hongbao::{
    Amount, ClientError, Endpoint, ErrorCode, MIN_SPACING, NextStep, Outcome, RateLimits,
    RetryPolicy, UnknownReason,
};
use tokio::time::Instant;

fn maybe_sent() -> TransportError {
    TransportError::maybe_sent(ErrorKind::Io, "connection reset by peer")
}

#[tokio::test(start_paused = true)]
async fn maybe_sent_then_success_resends_the_identical_body() {
    let mock = MockTransport::new();
    let times = Times::default();
    let t = times.clone();
    mock.push_fn(move |_| {
        t.mark();
        Err(maybe_sent())
    });
    let t = times.clone();
    mock.push_fn(move |r| {
        t.mark();
        Ok(send_success(r, false))
    });
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "byte-identical resend");
    assert_eq!(requests[0].url, requests[1].url);
    let gap = times.gaps()[0];
    assert!(gap >= MIN_SPACING, "{gap:?}");
    assert!(
        gap <= Duration::from_millis(1500),
        "first backoff is 1 s + ≤50 % jitter: {gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_resends_then_query_settles_it() {
    let mock = MockTransport::new();
    let times = Times::default();
    for _ in 0..4 {
        let t = times.clone();
        mock.push_fn(move |_| {
            t.mark();
            Err(maybe_sent())
        });
    }
    let t = times.clone();
    mock.push_fn(move |_| {
        t.mark();
        Ok(HttpResponse::new(
            200,
            query_status("mch_billno", BILL, "RECEIVED", false),
        ))
    });
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Paid(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(receipt.bill, BILL);
    assert_eq!(receipt.status, Some(hongbao::proto::PayoutStatus::Received));

    let requests = mock.requests();
    assert_eq!(requests.len(), 5, "1 send + 3 resends + 1 query");
    for resend in &requests[1..4] {
        assert_eq!(resend.body, requests[0].body);
    }
    let query = &requests[4];
    assert_eq!(query.path(), "/mmpaymkttransfers/gethbinfo");
    assert_eq!(query.field("mch_billno").as_deref(), Some(BILL));
    assert_eq!(query.field("bill_type").as_deref(), Some("MCHT"));
    assert_eq!(query.field("appid").as_deref(), Some(APPID));

    // Backoff 1 s, 2 s, 4 s (each plus ≤ 50 % jitter), then the query ≥ 1 s later.
    let gaps = times.gaps();
    let floors = [1, 2, 4, 1];
    for (gap, floor) in gaps.iter().zip(floors) {
        let floor = Duration::from_secs(floor);
        assert!(*gap >= floor && *gap <= floor.mul_f64(1.5), "{gaps:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn still_unknown_after_queries_returns_unknown_with_the_same_bill() {
    let mock = MockTransport::new();
    for _ in 0..4 {
        mock.fail_after_send();
    }
    let not_found = xml(&[
        ("return_code", "SUCCESS"),
        ("result_code", "FAIL"),
        ("err_code", "NOT_FOUND"),
    ]);
    mock.push_reply(200, not_found.clone())
        .push_reply(200, not_found);
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Unknown(unknown) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(unknown.bill, BILL);
    assert_eq!(unknown.reason, UnknownReason::NotFound);
    assert_eq!(mock.calls(), 6, "4 sends + the policy's 2 queries");
    // Nothing but the original bill number was ever used.
    for request in mock.requests() {
        assert_eq!(request.field("mch_billno").as_deref(), Some(BILL));
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_query_keeps_the_send_reason() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("SYSTEMERROR"));
    mock.push_reply(500, "");
    let policy = RetryPolicy::default().with_max_resends(0).with_queries(1);
    let client = builder(&mock).retry(policy).build().unwrap();
    let outcome = client.send_red_packet(&red_packet(BILL)).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if matches!(u.reason, UnknownReason::ErrorCode { code: ErrorCode::SystemError, .. })),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn query_saying_failed_is_not_paid() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("SYSTEMERROR"));
    mock.push_reply(200, fail_reply("SYSTEMERROR"));
    mock.push_reply(200, fail_reply("SYSTEMERROR"));
    mock.push_reply(200, fail_reply("SYSTEMERROR"));
    mock.push_reply(200, query_status("mch_billno", BILL, "FAILED", true));
    let outcome = client(&mock)
        .send_workwx_red_packet(&workwx_red_packet(BILL, None))
        .await
        .unwrap();
    let Outcome::NotPaid(not_paid) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(not_paid.code, ErrorCode::SendFailed);
    assert_eq!(
        mock.requests()[4].path(),
        "/mmpaymkttransfers/queryworkwxredpack"
    );
}

#[tokio::test(start_paused = true)]
async fn processing_and_return_fail_go_straight_to_query() {
    for first in [
        fail_reply("PROCESSING"),
        xml(&[("return_code", "FAIL"), ("return_msg", "签名错误")]),
    ] {
        let mock = MockTransport::new();
        mock.push_reply(200, first);
        mock.push_reply(200, query_status("mch_billno", BILL, "SENT", false));
        let outcome = client(&mock)
            .send_red_packet(&red_packet(BILL))
            .await
            .unwrap();
        assert!(outcome.is_paid(), "{outcome:?}");
        let requests = mock.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].path(), "/mmpaymkttransfers/gethbinfo");
    }
}

#[tokio::test(start_paused = true)]
async fn not_sent_after_a_maybe_sent_attempt_stays_unknown() {
    // The first attempt may have paid: a later NotSent must not become an Err.
    let mock = MockTransport::new();
    mock.fail_after_send().fail_before_send();
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(mock.calls(), 3);

    let mock = MockTransport::new();
    mock.fail_after_send();
    for _ in 0..10 {
        mock.fail_before_send();
    }
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_limits_the_resends() {
    let mock = MockTransport::new();
    for _ in 0..3 {
        mock.fail_after_send();
    }
    mock.push_reply(200, query_status("mch_billno", BILL, "SENDING", false));
    let policy = RetryPolicy::default()
        .with_max_resends(10)
        .with_jitter(0.0)
        .with_max_elapsed(Duration::from_secs(4))
        .with_queries(1);
    let client = builder(&mock).retry(policy).build().unwrap();
    let outcome = client.send_red_packet(&red_packet(BILL)).await.unwrap();
    // Attempts at 0 s, 1 s, 3 s; the next (at 7 s) would exceed 4 s: query.
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if matches!(&u.reason, UnknownReason::InProgress { status } if status == "SENDING")),
        "{outcome:?}"
    );
    assert_eq!(mock.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn prepared_requests_can_be_executed_again_later() {
    let mock = MockTransport::new();
    let client = builder(&mock).retry(RetryPolicy::none()).build().unwrap();
    let prepared = client.prepare(&red_packet(BILL)).unwrap();
    assert_eq!(mock.calls(), 0, "prepare sends nothing");
    // A journal stores it…
    let stored = serde_json::to_string(&prepared).unwrap();
    mock.fail_after_send();
    assert!(client.execute(&prepared).await.unwrap().is_unknown());
    // …and after a restart the identical bytes go out again.
    let restored: hongbao::Prepared = serde_json::from_str(&stored).unwrap();
    assert_eq!(restored, prepared);
    mock.push_fn(|r| Ok(send_success(r, false)));
    let started = Instant::now();
    assert!(client.execute(&restored).await.unwrap().is_paid());
    assert!(
        started.elapsed() >= MIN_SPACING,
        "same bill, same client: ≥ 1 s apart"
    );
    let requests = mock.requests();
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[0].body_str(), Some(prepared.body()));
    assert_eq!(requests[0].field("sign").as_deref(), Some(prepared.sign()));
    assert_eq!(
        requests[0].field("nonce_str").as_deref(),
        Some(prepared.nonce())
    );
}

#[tokio::test]
async fn prepared_for_another_merchant_or_tampered_is_rejected() {
    let mock = MockTransport::new();
    let client = single_shot(&mock);
    let prepared = client.prepare(&red_packet(BILL)).unwrap();

    let other = builder(&mock).mch_id("10000099").build().unwrap();
    let err = other.execute(&prepared).await.unwrap_err();
    assert!(
        matches!(err, ClientError::PreparedMismatch { .. }),
        "{err:?}"
    );

    let mut json: serde_json::Value = serde_json::to_value(&prepared).unwrap();
    json["bill"] = serde_json::Value::String("10000098201411110000000000".into());
    let tampered: hongbao::Prepared = serde_json::from_value(json).unwrap();
    let err = client.execute(&tampered).await.unwrap_err();
    assert!(
        matches!(err, ClientError::PreparedMismatch { .. }),
        "{err:?}"
    );

    let mut json: serde_json::Value = serde_json::to_value(&prepared).unwrap();
    json["payee"] = serde_json::Value::String("oSomeoneElse000000000000000".into());
    let tampered: hongbao::Prepared = serde_json::from_value(json).unwrap();
    let err = client.execute(&tampered).await.unwrap_err();
    assert!(
        matches!(err, ClientError::PreparedMismatch { .. }),
        "{err:?}"
    );

    let mut json: serde_json::Value = serde_json::to_value(&prepared).unwrap();
    json["endpoint"] = serde_json::Value::String("nosuchendpoint".into());
    assert!(serde_json::from_value::<hongbao::Prepared>(json).is_err());

    // Queries cannot be prepared.
    let query = hongbao::RedPacketQuery::new(hongbao::BillNo::new(BILL).unwrap());
    assert!(matches!(
        client.prepare(&query),
        Err(ClientError::Unsupported { .. })
    ));
    assert_eq!(mock.calls(), 0);
}

/// A transport that takes 5 s per request and tracks concurrency.
#[derive(Debug, Default)]
struct Slow {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[async_trait]
impl Transport for Slow {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(send_success(&request, false))
    }
}

#[tokio::test(start_paused = true)]
async fn never_two_requests_in_flight_for_one_bill() {
    let slow = Arc::new(Slow::default());
    let client = hongbao::Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(hongbao::ApiKey::new(API_KEY).unwrap())
        .transport(slow.clone())
        .rate_limits(RateLimits::unlimited())
        .build()
        .unwrap();
    let prepared = client.prepare(&red_packet(BILL)).unwrap();
    let other = client.clone();
    let (a, b) = tokio::join!(client.execute(&prepared), other.execute(&prepared));
    assert!(a.unwrap().is_paid() && b.unwrap().is_paid());
    assert_eq!(slow.max_in_flight.load(Ordering::SeqCst), 1);

    // Different bills do run concurrently.
    let started = Instant::now();
    let (b1, b2) = (red_packet("B1"), red_packet("B2"));
    let (a, b) = tokio::join!(client.send_red_packet(&b1), client.send_red_packet(&b2));
    assert!(a.unwrap().is_paid() && b.unwrap().is_paid());
    assert_eq!(slow.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn resolve_queries_until_definite() {
    let mock = MockTransport::new();
    let times = Times::default();
    for status in ["SENDING", "SENDING", "RECEIVED"] {
        let t = times.clone();
        mock.push_fn(move |_| {
            t.mark();
            Ok(HttpResponse::new(
                200,
                query_status("mch_billno", BILL, status, false),
            ))
        });
    }
    let client = client(&mock);
    let deadline = Instant::now() + Duration::from_secs(60);
    // The send endpoint maps to its query endpoint.
    let outcome = client
        .resolve(Endpoint::SendRedPacket, BILL, deadline)
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(mock.requests()[0].path(), "/mmpaymkttransfers/gethbinfo");
    assert!(
        times.gaps().iter().all(|g| *g >= MIN_SPACING),
        "{:?}",
        times.gaps()
    );
}

#[tokio::test(start_paused = true)]
async fn resolve_stops_at_the_deadline_with_unknown() {
    let mock = MockTransport::from_fn(|_| {
        Ok(HttpResponse::new(
            200,
            query_status("partner_trade_no", TRADE_NO, "PROCESSING", false),
        ))
    });
    let client = client(&mock);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    let outcome = client
        .resolve(Endpoint::QueryTransfer, TRADE_NO, deadline)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Unknown(u) if u.bill == TRADE_NO && matches!(&u.reason, UnknownReason::InProgress { .. })),
        "{outcome:?}"
    );
    assert!(Instant::now() <= deadline);
    assert!(mock.calls() >= 2 && mock.calls() <= 4, "{}", mock.calls());
    assert_eq!(
        mock.requests()[0].path(),
        "/mmpaymkttransfers/gettransferinfo"
    );

    // A deadline in the past still makes one query.
    let outcome = client
        .resolve(Endpoint::Transfer, TRADE_NO, Instant::now())
        .await
        .unwrap();
    assert!(outcome.is_unknown());
}

#[tokio::test(start_paused = true)]
async fn resolve_rejects_bad_input_without_sending() {
    let mock = MockTransport::new();
    let client = client(&mock);
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = client
        .resolve(Endpoint::SendRedPacket, "bad bill!", deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Invalid(_)), "{err:?}");
    let err = client
        .resolve(Endpoint::GetSignKey, BILL, deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unsupported { .. }), "{err:?}");
    assert_eq!(mock.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn resolve_survives_transport_failures() {
    let mock = MockTransport::new();
    mock.fail_before_send().fail_after_send();
    mock.push_reply(
        200,
        query_status("partner_trade_no", TRADE_NO, "SUCCESS", false),
    );
    let client = client(&mock);
    let outcome = client
        .resolve(
            Endpoint::PayEmployee,
            TRADE_NO,
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    assert_eq!(
        mock.requests()[0].path(),
        "/mmpaymkttransfers/promotion/querywwsptrans2pocket"
    );
}

/// FATAL_ERROR says the bill is held by another payee: it goes to a query,
/// and a query that does not name the payee (an unopened red packet) settles
/// it as a conflict, never as paid.
#[tokio::test(start_paused = true)]
async fn fatal_error_goes_to_query_and_settles_as_conflict() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("FATAL_ERROR"));
    // An unopened packet: the query names no receiver.
    mock.push_reply(
        200,
        xml(&[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("mch_billno", BILL),
            ("mch_id", MCH_ID),
            ("status", "SENT"),
            ("total_amount", "1000"),
        ]),
    );
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Conflict(conflict) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(conflict.bill, BILL);
    assert_eq!(outcome.next_step(), NextStep::NewBill);
    assert_eq!(mock.requests()[1].path(), "/mmpaymkttransfers/gethbinfo");
}

/// A refusal of a resend (a daily limit, here) says nothing about an earlier
/// attempt that may have reached WeChat: the client queries instead of
/// reporting "not paid", and the query finds the payment.
#[tokio::test(start_paused = true)]
async fn a_refused_resend_after_a_maybe_sent_attempt_is_settled_by_query() {
    let mock = MockTransport::new();
    mock.push_error(maybe_sent());
    mock.push_reply(200, fail_reply("SENDNUM_LIMIT"));
    mock.push_reply(200, query_status("mch_billno", BILL, "SENT", false));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[2].url.ends_with("/gethbinfo"),
        "{}",
        requests[2].url
    );
}

/// The same refusal with a query that cannot find the bill (it may still
/// land) stays unknown, never "not paid".
#[tokio::test(start_paused = true)]
async fn a_refused_resend_after_a_maybe_sent_attempt_is_never_not_paid() {
    let mock = MockTransport::new();
    mock.push_error(maybe_sent());
    mock.push_reply(200, fail_reply("NOTENOUGH"));
    for _ in 0..4 {
        mock.push_reply(200, fail_reply("NOT_FOUND"));
    }
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert_eq!(outcome.bill(), BILL);
}

/// Without an earlier maybe-sent attempt, a refusal is definite for this
/// attempt and reported as such (with its bill rule).
#[tokio::test(start_paused = true)]
async fn a_refusal_of_the_first_attempt_is_not_paid() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("NOTENOUGH"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::NotPaid(_)), "{outcome:?}");
    assert_eq!(mock.requests().len(), 1);
}

/// Echo checks hold whether the request was built by this client or read
/// back from storage: a reply echoing another amount, payee or app id is
/// never taken as paid.
#[tokio::test(start_paused = true)]
async fn echo_checks_hold_for_built_and_restored_requests() {
    let mock = MockTransport::new();
    let client = builder(&mock).retry(RetryPolicy::none()).build().unwrap();
    let prepared = client.prepare(&red_packet(BILL)).unwrap();
    let restored: hongbao::Prepared =
        serde_json::from_str(&serde_json::to_string(&prepared).unwrap()).unwrap();
    for (field, other) in [
        ("total_amount", "99999"),
        ("re_openid", "oSomeoneElse000000000000000"),
        ("wxappid", "wx0000000000000000"),
    ] {
        for request in [&prepared, &restored] {
            mock.push_fn(move |r| {
                let reply = send_success(r, false);
                let text = String::from_utf8(reply.body.to_vec()).unwrap();
                let start = text.find(&format!("<{field}>")).unwrap();
                let end = text.find(&format!("</{field}>")).unwrap();
                let changed = format!("{}<{field}>{other}{}", &text[..start], &text[end..]);
                Ok(HttpResponse::new(200, changed))
            });
            let outcome = client.execute(request).await.unwrap();
            assert!(
                matches!(
                    &outcome,
                    Outcome::Unknown(u) if matches!(&u.reason, UnknownReason::EchoMismatch { field: f } if f == field)
                ),
                "{field}: {outcome:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Money safety at the edges (issue: every money decision in the client).
// ---------------------------------------------------------------------------

/// A `gethbinfo` reply for a packet of `amount_fen` received by `openid`.
fn received_by(openid: &str, amount_fen: &str) -> Vec<u8> {
    let mut body = String::from_utf8(xml(&[
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("mch_billno", BILL),
        ("mch_id", MCH_ID),
        ("detail_id", "1000041701201411111234567890"),
        ("status", "RECEIVED"),
        ("send_type", "API"),
        ("hb_type", "NORMAL"),
        ("total_num", "1"),
        ("total_amount", amount_fen),
        ("send_time", "2024-02-10 10:00:05"),
    ]))
    .unwrap();
    body = body.replace(
        "</xml>",
        &format!(
            "<hblist><hbinfo><openid>{openid}</openid><amount>{amount_fen}</amount><rcv_time>2024-02-10 10:01:00</rcv_time></hbinfo></hblist></xml>"
        ),
    );
    body.into_bytes()
}

/// Defect 1: a query answers for the bill number, not for the request. Bob
/// is sent a packet under a bill that already paid Alice: WeChat answers
/// FATAL_ERROR, the query shows Alice's packet, and the outcome is a bill
/// conflict (nothing paid to Bob), never "paid".
#[tokio::test(start_paused = true)]
async fn defect1_a_query_for_another_payees_bill_is_a_conflict() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("FATAL_ERROR"));
    mock.push_reply(200, received_by("oAlice000000000000000000000", "500"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Conflict(conflict) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        conflict.openid.as_deref(),
        Some("oAlice000000000000000000000")
    );
    assert_eq!(conflict.amount, Some(Amount::from_fen(500)));
    assert_eq!(outcome.next_step(), NextStep::NewBill);
    let text = outcome.to_string();
    assert!(
        text.contains("belongs to another payment") && text.contains("nothing was paid"),
        "{text}"
    );

    // The same through `status` and `resume` of a stored request: the query
    // alone settles it as a conflict, and nothing is resent.
    for resume in [false, true] {
        let mock = MockTransport::new();
        mock.push_reply(200, received_by("oAlice000000000000000000000", "1000"));
        let client = client(&mock);
        let stored: hongbao::Prepared = serde_json::from_str(
            &serde_json::to_string(&client.prepare(&red_packet(BILL)).unwrap()).unwrap(),
        )
        .unwrap();
        let outcome = if resume {
            client.resume(&stored).await.unwrap()
        } else {
            client.status(&stored).await.unwrap()
        };
        assert!(outcome.is_conflict(), "{outcome:?}");
        assert_eq!(mock.requests().len(), 1, "only the query");
    }
}

/// Defect 1: the amount-mismatch PARAM_ERROR of a resend with another
/// amount goes to a query, and a query showing another amount under the
/// bill is a conflict, never "not paid" with a new bill number.
#[tokio::test(start_paused = true)]
async fn defect1_param_error_is_settled_by_a_query_checked_against_the_amount() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("PARAM_ERROR"));
    mock.push_reply(200, received_by(OPENID, "500"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::Conflict(conflict) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(conflict.field, "amount");
    // With the query showing this very payment, it is paid.
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("PARAM_ERROR"));
    mock.push_reply(200, received_by(OPENID, "1000"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    // And a bill WeChat does not know, with nothing uncertain before, is
    // definitely not paid: a new number is allowed.
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("PARAM_ERROR"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    let Outcome::NotPaid(not_paid) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(not_paid.code, ErrorCode::ParamError);
    assert_eq!(not_paid.next, NextStep::NewBill);
}

/// Defect 4: attempt 1 may have been sent (the connection was cut after
/// the request was written); the resend is answered NO_AUTH (class F, rule
/// QUERY). Only a query may settle it: NOT_FOUND after an uncertain
/// attempt leaves it unknown, never "not paid, use a new bill number".
/// The same for transfers with V2_ACCOUNT_SIMPLE_BAN.
#[tokio::test(start_paused = true)]
async fn defect4_a_definite_code_after_a_maybe_sent_attempt_is_queried() {
    let mock = MockTransport::new();
    mock.push_error(maybe_sent());
    mock.push_reply(200, fail_reply("NO_AUTH"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert_eq!(outcome.next_step(), NextStep::Query);
    assert!(mock.requests()[2].url.ends_with("/gethbinfo"));

    let mock = MockTransport::new();
    mock.push_error(maybe_sent());
    mock.push_reply(200, fail_reply("V2_ACCOUNT_SIMPLE_BAN"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    let outcome = client(&mock).transfer(&transfer(TRADE_NO)).await.unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
    assert!(mock.requests()[2].url.ends_with("/gettransferinfo"));

    // A stored request resumed by another process: the earlier attempt may
    // have been sent, so the same refusal is never trusted without a query.
    let mock = MockTransport::new();
    let resumer = client(&mock);
    let stored = resumer.prepare(&red_packet(BILL)).unwrap();
    mock.push_reply(200, fail_reply("NOT_FOUND")); // resume: query first
    mock.push_reply(200, fail_reply("NO_AUTH")); // the resend
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    mock.push_reply(200, fail_reply("NOT_FOUND"));
    let outcome = resumer.resume(&stored).await.unwrap();
    assert!(outcome.is_unknown(), "{outcome:?}");
    // ...while a query answering FAILED settles it: a new bill is allowed.
    let mock = MockTransport::new();
    mock.push_error(maybe_sent());
    mock.push_reply(200, fail_reply("NO_AUTH"));
    mock.push_reply(200, query_status("mch_billno", BILL, "FAILED", false));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert_eq!(outcome.next_step(), NextStep::NewBill, "{outcome:?}");
}

/// Defect 3(a): a body stored after signing with a wrong key is refused
/// with SIGN_ERROR forever if resent byte for byte. The client signs the
/// same parameters again with its current key (new nonce and sign, same
/// bill number, payee, amount and texts) and sends that.
#[tokio::test(start_paused = true)]
async fn defect3_a_body_signed_with_a_wrong_key_is_resigned_under_the_same_bill() {
    let mock = MockTransport::new();
    let wrong = builder(&mock)
        .api_key(hongbao::ApiKey::new("0000000000wrongkey0000000000000x").unwrap())
        .build()
        .unwrap();
    let stored = wrong.prepare(&red_packet(BILL)).unwrap();
    let stored: hongbao::Prepared =
        serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
    let right = client(&mock);
    let fresh = right.refresh(&stored).unwrap().expect("signed again");
    assert_eq!(fresh.bill(), stored.bill());
    assert_ne!(fresh.sign(), stored.sign());
    // Only the nonce and the signature differ.
    let strip = |body: &str| {
        hongbao::proto::RawXml::parse(body.as_bytes())
            .unwrap()
            .fields()
            .filter(|(n, _)| !matches!(*n, "nonce_str" | "sign"))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(fresh.body()), strip(stored.body()));
    assert!(right.refresh(&fresh).unwrap().is_none(), "already current");

    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = right.execute(&stored).await.unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let sent = mock.last_request().unwrap();
    let raw = hongbao::proto::RawXml::parse(&sent.body).unwrap();
    signer()
        .verify_reply(raw.fields())
        .expect("signed with the right key");
    assert_eq!(raw.get("mch_billno"), Some(BILL));
}

/// A refusal with a keep-the-number code and nothing uncertain before it
/// needs no query: not paid yet, retry later under the same bill number.
#[tokio::test(start_paused = true)]
async fn a_keep_refusal_is_not_paid_yet_under_the_same_bill_without_a_query() {
    for (code, resign) in [("NOTENOUGH", false), ("SIGN_ERROR", true)] {
        let mock = MockTransport::new();
        mock.push_reply(200, fail_reply(code));
        let outcome = client(&mock)
            .send_red_packet(&red_packet(BILL))
            .await
            .unwrap();
        assert_eq!(
            outcome.next_step(),
            NextStep::RetrySameBill { resign },
            "{code}: {outcome:?}"
        );
        assert_eq!(mock.requests().len(), 1, "{code}: no query");
    }
}

/// Rate-limit refusals are retried by the retry policy with the identical
/// body, not by the caller.
#[tokio::test(start_paused = true)]
async fn rate_limit_refusals_are_resent_identically_by_the_policy() {
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("FREQ_LIMIT"));
    mock.push_reply(200, fail_reply("SECOND_OVER_LIMITED"));
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body, requests[2].body, "identical bytes");
}

/// A query that finds a packet of this amount but names no receiver (an
/// unopened cash red packet) does not settle the payment by itself: one
/// identical resend tells. WeChat repeats its success for this request, or
/// answers FATAL_ERROR when the bill is another payee's: a conflict.
#[tokio::test(start_paused = true)]
async fn a_query_naming_no_payee_is_settled_by_one_identical_resend() {
    let unopened = || {
        xml(&[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("mch_billno", BILL),
            ("mch_id", MCH_ID),
            ("status", "SENT"),
            ("total_amount", "1000"),
        ])
    };
    // Ours: PROCESSING, the query names nobody, the resend is answered as a repeat.
    let mock = MockTransport::new();
    mock.push_reply(200, fail_reply("PROCESSING"));
    mock.push_reply(200, unopened());
    mock.push_fn(|r| Ok(send_success(r, false)));
    let outcome = client(&mock)
        .send_red_packet(&red_packet(BILL))
        .await
        .unwrap();
    assert!(outcome.is_paid(), "{outcome:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body, requests[2].body, "identical resend");

    // Another payee's: the resend is refused with FATAL_ERROR.
    let mock = MockTransport::new();
    let client = client(&mock);
    let stored = client.prepare(&red_packet(BILL)).unwrap();
    mock.push_reply(200, unopened()); // resume: the query names nobody
    mock.push_reply(200, fail_reply("FATAL_ERROR")); // the resend
    mock.push_reply(200, unopened()); // the query after FATAL_ERROR
    let outcome = client.resume(&stored).await.unwrap();
    assert!(outcome.is_conflict(), "{outcome:?}");

    // `status` sends nothing but the query: it says the payee is not named.
    let mock = MockTransport::new();
    mock.push_reply(200, unopened());
    let outcome = client_with(&mock).status(&stored).await.unwrap();
    assert!(
        matches!(
            &outcome,
            Outcome::Unknown(u) if matches!(u.reason, UnknownReason::PayeeNotNamed { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

fn client_with(mock: &MockTransport) -> hongbao::Client {
    client(mock)
}
