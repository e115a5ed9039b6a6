//! hongbao-proto hot path on the shared fixture (`fixtures/fixture.json`).
//!
//! * `build_sendredpack`: validate + MD5 sign + XML body of the fixture's
//!   sendredpack request (goal ≤ 2 µs median);
//! * `parse_reply`: the fixture reply → `RawXml` → typed `RedPacketReply`
//!   (goal ≤ 2 µs);
//! * `parse_verify_reply`: `interpret` on the fixture reply: parse, verify
//!   its `sign`, echo check, classify (goal ≤ 3 µs);
//! * `parse_gethbinfo_20_entries`: a gethbinfo reply with 20 `hbinfo`
//!   records → typed `RedPacketQueryReply`.
//!
//! Run: `cargo bench -p hongbao-benches --bench proto`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hongbao_benches::Fixture;
use hongbao_proto::{
    Amount, BillNo, Endpoint, Merchant, NonceStr, OpenId, RawXml, Records, RedPacket,
    RedPacketQueryReply, RedPacketReply, Reply, SceneId, build, interpret, write_document,
};
use hongbao_sign::{ApiKey, Signer};

fn param<'a>(fixture: &'a Fixture, name: &str) -> &'a str {
    fixture
        .params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("fixture has no {name}"))
}

fn request(fixture: &Fixture) -> (RedPacket, Merchant, NonceStr) {
    let p = |name| param(fixture, name).to_owned();
    let packet = RedPacket::builder(
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
    .expect("valid");
    assert_eq!(param(fixture, "total_num"), "1");
    let merchant = Merchant::new(p("mch_id"), p("wxappid"));
    let nonce = NonceStr::new(p("nonce_str")).expect("nonce");
    (packet, merchant, nonce)
}

fn gethbinfo_reply(entries: usize) -> Vec<u8> {
    let openids: Vec<String> = (0..entries)
        .map(|i| format!("oxTWIuGaIt6gTKsQRLau2M0yL{i:03}"))
        .collect();
    let amounts: Vec<String> = (0..entries).map(|i| (100 + i).to_string()).collect();
    let records = Records::hblist(
        (0..entries)
            .map(|i| {
                vec![
                    ("openid", openids[i].as_str()),
                    ("amount", amounts[i].as_str()),
                    ("rcv_time", "2024-02-10 20:01:13"),
                ]
            })
            .collect(),
    );
    write_document(
        &[
            ("return_code", "SUCCESS"),
            ("return_msg", "OK"),
            ("result_code", "SUCCESS"),
            ("mch_billno", "0010010404201411170000046545"),
            ("mch_id", "10000097"),
            ("detail_id", "1000000000201503283103439304"),
            ("status", "RECEIVED"),
            ("send_type", "API"),
            ("hb_type", "GROUP"),
            ("total_num", "20"),
            ("total_amount", "2190"),
            ("send_time", "2024-02-10 20:00:00"),
            ("wishing", "新春快乐"),
            ("remark", "分享给好友"),
            ("act_name", "新春裂变"),
        ],
        Some(&records),
    )
}

fn bench_proto(c: &mut Criterion) {
    let fixture = Fixture::load().expect("fixture.json parses");
    let signer = Signer::new(ApiKey::new(fixture.api_key.as_str()).expect("key"));
    let (packet, merchant, nonce) = request(&fixture);
    let bill = param(&fixture, "mch_billno").to_owned();

    // The benches measure the right thing only if they reproduce the fixture.
    let signed = build(&packet, &merchant, &nonce, &signer, None).expect("valid request");
    assert_eq!(signed.sign(), fixture.expected.md5_sign);
    let reply = fixture.reply_xml.as_bytes();
    let raw = RawXml::parse(reply).expect("reply parses");
    assert_eq!(raw.get("sign"), Some(fixture.reply_sign.as_str()));
    let seen = interpret(Endpoint::SendRedPacket, &bill, 200, reply, &signer);
    assert!(seen.outcome.is_paid(), "{:?}", seen.outcome);
    let hb = gethbinfo_reply(20);
    let typed = RedPacketQueryReply::from_raw(&RawXml::parse(&hb).expect("parses")).expect("typed");
    assert_eq!(typed.hblist.len(), 20);

    let mut group = c.benchmark_group("proto");
    group.bench_function("build_sendredpack", |b| {
        b.iter(|| build(black_box(&packet), &merchant, &nonce, &signer, None))
    });
    group.bench_function("parse_reply", |b| {
        b.iter(|| {
            let raw = RawXml::parse(black_box(reply)).expect("parses");
            RedPacketReply::from_raw(&raw)
        })
    });
    group.bench_function("parse_verify_reply", |b| {
        b.iter(|| {
            interpret(
                Endpoint::SendRedPacket,
                &bill,
                200,
                black_box(reply),
                &signer,
            )
        })
    });
    group.bench_function("parse_gethbinfo_20_entries", |b| {
        b.iter(|| {
            let raw = RawXml::parse(black_box(&hb)).expect("parses");
            RedPacketQueryReply::from_raw(&raw)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_proto);
criterion_main!(benches);
