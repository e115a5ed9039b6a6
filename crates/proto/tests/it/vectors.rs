//! The signing vectors of signing.md (copied to tests/fixtures/vectors.json):
//! each request vector is written as a body, read back as a typed request and
//! rebuilt; the main sign (or `workwx_sign`) must equal the vector.

use crate::common;

use common::*;
use hongbao_proto::*;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    serde_json::from_slice(&fixture("vectors.json")).expect("vectors.json")
}

fn endpoint_of(name: &str) -> Option<Endpoint> {
    Some(match name {
        "sendredpack_chinese_md5"
        | "sendredpack_empty_values_skipped"
        | "special_chars_raw_md5"
        | "sendredpack_scene_and_risk_info_md5" => Endpoint::SendRedPacket,
        "workwx_sign_sendworkwxredpack" | "sendworkwxredpack_main_sign_includes_workwx_sign" => {
            Endpoint::SendWorkwxRedPacket
        }
        "workwx_sign_paywwsptrans2pocket"
        | "paywwsptrans2pocket_main_sign_includes_workwx_sign" => Endpoint::PayEmployee,
        "gethbinfo_md5" => Endpoint::QueryRedPacket,
        "transfers_md5_zero_is_not_empty" => Endpoint::Transfer,
        "gettransferinfo_md5" => Endpoint::QueryTransfer,
        "queryworkwxredpack_md5" => Endpoint::QueryWorkwxRedPacket,
        "sandbox_getsignkey_request_md5" => Endpoint::GetSignKey,
        _ => return None,
    })
}

/// The XML document of a vector's `params`, in their order.
fn params_document(vector: &Value) -> Vec<u8> {
    let pairs: Vec<(&str, &str)> = vector["params"]
        .as_object()
        .expect("params")
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().expect("string")))
        .collect();
    write_document(&pairs, None)
}

#[test]
fn request_vectors_reproduce() {
    let mut checked = 0;
    for v in vectors() {
        let name = v["name"].as_str().expect("name");
        let Some(endpoint) = endpoint_of(name) else {
            continue;
        };
        let raw = RawXml::parse(&params_document(&v)).expect("parses");
        let debug = rebuild(endpoint, &raw);
        let expected = v["expected"].as_str().expect("expected");
        let rebuilt = RawXml::parse(debug.signed.body().as_bytes()).expect("parses");
        if v["algorithm"] == "WORKWX-MD5" {
            assert_eq!(rebuilt.get("workwx_sign"), Some(expected), "{name}");
            let string = v["string_to_sign"].as_str().expect("string");
            let masked = string.replace(WORKWX_SECRET, "***");
            assert_eq!(
                debug.workwx_string_to_sign.as_deref(),
                Some(masked.as_str()),
                "{name}"
            );
        } else {
            assert_eq!(debug.signed.sign(), expected, "{name}");
            let masked = v["string_to_sign"]
                .as_str()
                .expect("string")
                .replace(API_KEY, "***");
            assert_eq!(debug.string_to_sign, masked, "{name}");
        }
        checked += 1;
    }
    assert_eq!(checked, 13);
}

#[test]
fn reply_vector_with_unknown_field_verifies_and_is_paid() {
    let v = vectors()
        .into_iter()
        .find(|v| v["name"] == "reply_verification_includes_unknown_fields")
        .expect("vector");
    let body = params_document(&v);
    let seen = interpret(
        Endpoint::SendWorkwxRedPacket,
        "10000098201411111234567890",
        200,
        &body,
        &signer(),
    );
    assert!(seen.outcome.is_paid(), "{:?}", seen.outcome);
    assert_eq!(seen.raw.expect("raw").get("future_field"), Some("new"));
}

#[test]
fn bench_fixture_reply_verifies() {
    let fixture: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../benches/fixtures/fixture.json"
        ))
        .expect("fixture"),
    )
    .expect("json");
    let reply = fixture["reply_xml"].as_str().expect("reply");
    let seen = interpret(
        Endpoint::SendRedPacket,
        "10000098201411111234567890",
        200,
        reply.as_bytes(),
        &signer(),
    );
    assert!(seen.outcome.is_paid(), "{:?}", seen.outcome);
}
