//! Every example of endpoints.md: the request is read back, rebuilt with the
//! same nonce and must reproduce the published `sign` (and `workwx_sign`);
//! every reply is parsed, typed and interpreted (snapshots).

use crate::common;

use std::collections::BTreeMap;
use std::fmt::Write;

use common::*;
use hongbao_proto::*;

fn field_map(raw: &RawXml) -> BTreeMap<String, String> {
    raw.fields()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn every_example_request_reproduces_its_signature() {
    for (name, endpoint) in EXAMPLES {
        let body = example(&format!("{name}_request"));
        let published = RawXml::parse(&body).expect("example parses");
        let debug = rebuild(*endpoint, &published);
        assert_eq!(
            debug.signed.sign(),
            published.get("sign").expect("sign"),
            "{name}: sign"
        );
        // The rebuilt body carries exactly the published fields and values.
        let rebuilt = RawXml::parse(debug.signed.body().as_bytes()).expect("our body parses");
        assert_eq!(field_map(&rebuilt), field_map(&published), "{name}: fields");
        assert_eq!(debug.signed.endpoint(), *endpoint);
        assert_eq!(
            debug.signed.bill(),
            endpoint
                .spec()
                .bill_field
                .and_then(|f| published.get(f))
                .unwrap_or_default(),
            "{name}: bill"
        );
        assert!(rebuilt.get("sign_type").is_none());
    }
}

#[test]
fn request_snapshots() {
    for (name, endpoint) in EXAMPLES {
        let published = RawXml::parse(&example(&format!("{name}_request"))).expect("parses");
        let debug = rebuild(*endpoint, &published);
        let mut out = String::new();
        writeln!(out, "endpoint: {} ({})", endpoint, endpoint.path()).ok();
        if let Some(w) = &debug.workwx_string_to_sign {
            writeln!(out, "workwx_string_to_sign: {w}").ok();
        }
        writeln!(out, "string_to_sign: {}", debug.string_to_sign).ok();
        writeln!(out, "sign: {}", debug.signed.sign()).ok();
        writeln!(out, "body:").ok();
        out.push_str(debug.signed.body());
        insta::assert_snapshot!(format!("request_{name}"), out);
    }
}

fn reply_files() -> Vec<(String, Endpoint)> {
    let mut files = Vec::new();
    for (name, endpoint) in EXAMPLES {
        for n in 1..=3 {
            let file = format!("{name}_reply_{n}");
            let path = format!(
                "{}/tests/fixtures/examples/{file}.xml",
                env!("CARGO_MANIFEST_DIR")
            );
            if std::path::Path::new(&path).exists() {
                files.push((file, *endpoint));
            }
        }
    }
    files
}

/// What a reply snapshot records: the typed reply (or why it could not be
/// typed), the outcome the client reads from it and the error code.
#[derive(serde::Serialize)]
struct ReplySnapshot<'a> {
    typed: Result<AnyReply, String>,
    outcome: &'a Outcome,
    code: &'a Option<ErrorCode>,
}

#[test]
fn reply_snapshots() {
    let files = reply_files();
    assert_eq!(files.len(), 13, "every example reply of endpoints.md");
    for (file, endpoint) in files {
        let request_name = file.split("_reply_").next().expect("name");
        let published =
            RawXml::parse(&example(&format!("{request_name}_request"))).expect("parses");
        let signed = rebuild(endpoint, &published).signed;
        let body = example(&file);
        let seen = interpret_signed(&signed, 200, &body, &signer());
        let raw = seen.raw.as_ref().expect("example reply parses");
        let snapshot = ReplySnapshot {
            typed: AnyReply::from_raw(endpoint, raw).map_err(|e| e.to_string()),
            outcome: &seen.outcome,
            code: &seen.code,
        };
        insta::assert_yaml_snapshot!(format!("reply_{file}"), snapshot);
    }
}

#[test]
fn example_outcomes() {
    let expect = |file: &str, endpoint: Endpoint| {
        let request_name = file.split("_reply_").next().expect("name");
        let published =
            RawXml::parse(&example(&format!("{request_name}_request"))).expect("parses");
        let signed = rebuild(endpoint, &published).signed;
        interpret_signed(&signed, 200, &example(file), &signer()).outcome
    };
    let paid = |o: &Outcome| matches!(o, Outcome::Paid(_));
    assert!(paid(&expect(
        "01_sendredpack_reply_1",
        Endpoint::SendRedPacket
    )));
    assert!(matches!(
        expect("01_sendredpack_reply_2", Endpoint::SendRedPacket),
        Outcome::Unknown(Unknown {
            reason: UnknownReason::ErrorCode {
                code: ErrorCode::Processing,
                ..
            },
            ..
        })
    ));
    assert!(matches!(
        expect("02_sendgroupredpack_reply_1", Endpoint::SendGroupRedPacket),
        Outcome::NotPaid(NotPaid {
            code: ErrorCode::MoneyLimit,
            class: ErrorClass::Caller,
            bill_rule: BillRule::Query,
            ..
        })
    ));
    match expect(
        "03_sendminiprogramhb_reply_1",
        Endpoint::SendMiniProgramRedPacket,
    ) {
        Outcome::Paid(r) => assert!(r.package.is_some()),
        other => panic!("{other:?}"),
    }
    match expect("04_gethbinfo_reply_1", Endpoint::QueryRedPacket) {
        Outcome::Paid(r) => {
            assert_eq!(r.status, Some(PayoutStatus::Sent));
            assert_eq!(r.amount, Some(Amount::from_fen(3000)));
        }
        other => panic!("{other:?}"),
    }
    assert!(paid(&expect(
        "05_sendworkwxredpack_reply_1",
        Endpoint::SendWorkwxRedPacket
    )));
    assert!(
        expect(
            "05_sendworkwxredpack_reply_2",
            Endpoint::SendWorkwxRedPacket
        )
        .is_unknown()
    );
    match expect(
        "06_queryworkwxredpack_reply_1",
        Endpoint::QueryWorkwxRedPacket,
    ) {
        Outcome::Paid(r) => assert_eq!(r.status, Some(PayoutStatus::Received)),
        other => panic!("{other:?}"),
    }
    assert!(paid(&expect(
        "07_paywwsptrans2pocket_reply_1",
        Endpoint::PayEmployee
    )));
    assert!(paid(&expect(
        "08_querywwsptrans2pocket_reply_1",
        Endpoint::QueryPayEmployee
    )));
    assert!(paid(&expect("09_transfers_reply_1", Endpoint::Transfer)));
    assert!(matches!(
        expect("09_transfers_reply_2", Endpoint::Transfer),
        Outcome::NotPaid(NotPaid {
            code: ErrorCode::NameMismatch,
            ..
        })
    ));
    assert!(paid(&expect(
        "10_gettransferinfo_reply_1",
        Endpoint::QueryTransfer
    )));
}

#[test]
fn signed_example_replies_verify_and_tampering_is_caught() {
    for file in [
        "05_sendworkwxredpack_reply_1",
        "06_queryworkwxredpack_reply_1",
    ] {
        let body = example(file);
        let raw = RawXml::parse(&body).expect("parses");
        signer()
            .verify_reply(raw.fields())
            .expect("published reply sign verifies");
        let tampered = String::from_utf8(body).expect("utf8").replace(
            "<total_amount>1000</total_amount>",
            "<total_amount>1001</total_amount>",
        );
        let endpoint = if file.starts_with("05") {
            Endpoint::SendWorkwxRedPacket
        } else {
            Endpoint::QueryWorkwxRedPacket
        };
        let seen = interpret(
            endpoint,
            "10000098201411111234567890",
            200,
            tampered.as_bytes(),
            &signer(),
        );
        assert!(
            matches!(
                seen.outcome,
                Outcome::Unknown(Unknown {
                    reason: UnknownReason::BadSignature(_),
                    ..
                })
            ),
            "{file}: {:?}",
            seen.outcome
        );
        // Removing the sign from a signed endpoint's success reply is also refused.
        let unsigned = String::from_utf8(example(file)).expect("utf8");
        let start = unsigned.find("<sign>").expect("sign");
        let end = unsigned.find("</sign>").expect("sign end") + "</sign>".len();
        let unsigned = format!("{}{}", &unsigned[..start], &unsigned[end..]);
        let seen = interpret(
            endpoint,
            "10000098201411111234567890",
            200,
            unsigned.as_bytes(),
            &signer(),
        );
        assert!(matches!(
            seen.outcome,
            Outcome::Unknown(Unknown {
                reason: UnknownReason::BadSignature(_),
                ..
            })
        ));
    }
}

#[test]
fn unsigned_endpoints_are_not_failed_for_lacking_a_sign() {
    let seen = interpret(
        Endpoint::SendRedPacket,
        "10000098201411111234567890",
        200,
        &example("01_sendredpack_reply_1"),
        &signer(),
    );
    assert!(seen.outcome.is_paid());
}
