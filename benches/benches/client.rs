//! The `hongbao` facade end to end, over `MockTransport` (no network).
//!
//! * `client_send_mock`: one `Client::send_red_packet` of the fixture request
//!   (`fixtures/fixture.json`): validate, fill `nonce_str`, MD5 `sign`, XML
//!   body, bill-number lock, rate limiter (off), `MockTransport` exchange,
//!   then parse, verify the reply's `sign`, check the echoes and classify the
//!   fixture reply as `Paid` (goal ≤ 10 µs median).
//!
//! The client is built with `RetryPolicy::none()` and
//! `RateLimits::unlimited()`, on a current-thread tokio runtime, so the
//! bench measures the call and nothing that waits.
//!
//! Two properties of the client shape the loop (`iter_custom`):
//!
//! * A client spaces two requests for the **same bill number** by at least
//!   1 s (`hongbao::MIN_SPACING`), and the bench sends the fixture's bill
//!   every time. The runtime's clock is paused and advanced by
//!   `MIN_SPACING` between calls, outside the timed region, so the spacing
//!   never waits (what remains timed is the client's check of it).
//! * `MockTransport` records every request it answers. The client and its
//!   mock are rebuilt every [`CALLS_PER_CLIENT`] calls, outside the timed
//!   region, so the records stay small.
//!
//! Run: `cargo bench -p hongbao-benches --bench client`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::transport::HttpResponse;
use hongbao::{
    Amount, ApiKey, BillNo, Client, MIN_SPACING, OpenId, Outcome, RateLimits, RedPacket,
    RetryPolicy, SceneId,
};
use hongbao_benches::Fixture;

/// Calls made on one client (and its mock) before both are rebuilt.
const CALLS_PER_CLIENT: u64 = 1_024;

fn param<'a>(fixture: &'a Fixture, name: &str) -> &'a str {
    fixture
        .params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("fixture has no {name}"))
}

/// The fixture's sendredpack request (the client fills `mch_id`, `wxappid`,
/// `nonce_str` and `sign`).
fn request(fixture: &Fixture) -> RedPacket {
    let p = |name| param(fixture, name).to_owned();
    assert_eq!(param(fixture, "total_num"), "1");
    RedPacket::builder(
        BillNo::new(p("mch_billno")).expect("bill"),
        OpenId::new(p("re_openid")).expect("openid"),
        Amount::from_fen(p("total_amount").parse().expect("fen")),
    )
    .send_name(p("send_name"))
    .wishing(p("wishing"))
    .client_ip(p("client_ip"))
    .act_name(p("act_name"))
    .remark(p("remark"))
    .scene_id(SceneId::parse(param(fixture, "scene_id")))
    .build()
    .expect("valid")
}

/// A client for the fixture merchant whose mock answers every call with
/// `reply` (HTTP 200).
fn client(fixture: &Fixture, reply: &Bytes) -> (Client, MockTransport) {
    let reply = reply.clone();
    let mock = MockTransport::from_fn(move |_| Ok(HttpResponse::new(200, reply.clone())));
    let client = Client::builder()
        .mch_id(param(fixture, "mch_id"))
        .appid(param(fixture, "wxappid"))
        .api_key(ApiKey::new(fixture.api_key.as_str()).expect("fixture key is valid"))
        .transport(Arc::new(mock.clone()))
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::unlimited())
        .build()
        .expect("complete configuration");
    (client, mock)
}

fn bench_client(c: &mut Criterion) {
    let fixture = Fixture::load().expect("fixture.json parses");
    let packet = request(&fixture);
    let reply = Bytes::from(fixture.reply_xml.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("tokio runtime");

    // The bench measures the right thing only if the call succeeds: the
    // fixture request goes out with the fixture's fields, the fixture reply
    // is verified and classified as paid, in one attempt.
    let (check_client, check_mock) = client(&fixture, &reply);
    let outcome = rt
        .block_on(check_client.send_red_packet(&packet))
        .expect("nothing is wrong with the request");
    match &outcome {
        Outcome::Paid(receipt) => {
            assert_eq!(receipt.bill, param(&fixture, "mch_billno"));
            let send_listid = receipt.wechat_id.as_deref().expect("send_listid");
            assert!(
                fixture
                    .reply_xml
                    .contains(&format!("<send_listid><![CDATA[{send_listid}]]>"))
            );
            assert_eq!(receipt.amount, Some(packet.total_amount));
        }
        other => panic!("the fixture reply must classify as Paid, got {other:?}"),
    }
    assert_eq!(check_mock.calls(), 1);
    let sent = check_mock.last_request().expect("the request was recorded");
    assert!(sent.path().ends_with("/mmpaymkttransfers/sendredpack"));
    for (name, value) in &fixture.params {
        if name != "nonce_str" {
            assert_eq!(sent.field(name).as_deref(), Some(value.as_str()), "{name}");
        }
    }
    assert!(sent.field("nonce_str").is_some() && sent.field("sign").is_some());
    drop((check_client, check_mock));

    let mut group = c.benchmark_group("client");
    group.bench_function("client_send_mock", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let (client, _mock) = client(&fixture, &reply);
                    for _ in 0..CALLS_PER_CLIENT.min(iters - done) {
                        tokio::time::advance(MIN_SPACING).await;
                        let started = Instant::now();
                        let outcome = client.send_red_packet(black_box(&packet)).await;
                        timed += started.elapsed();
                        assert!(matches!(outcome, Ok(Outcome::Paid(_))));
                        done += 1;
                    }
                }
                timed
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_client);
criterion_main!(benches);
