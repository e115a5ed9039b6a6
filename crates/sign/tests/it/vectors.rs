//! Every vector of the protocol reference (`tests/fixtures/vectors.json`,
//! copied from the spec so that a clone is self-contained), checked at each
//! stage: the canonical string (key masked) and the signature.

use hongbao_sign::{
    Algorithm, ApiKey, Signer, VerifyError, WorkwxKind, WorkwxSecret, WorkwxSigner,
};
use serde::Deserialize;
use std::collections::BTreeMap;

const VECTORS: &str = include_str!("../fixtures/vectors.json");

#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    algorithm: String,
    params: BTreeMap<String, String>,
    key: String,
    key_kind: String,
    string_to_sign: String,
    expected: String,
    #[serde(default)]
    selected_fields: Option<Vec<String>>,
    #[serde(default)]
    official_expected: Option<String>,
    #[serde(default)]
    reproduces_official: Option<bool>,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(VECTORS).expect("vectors.json parses")
}

/// The vector's string-to-sign with the secret after the last `&key=` /
/// `&secret=` replaced by `***`, as `string_to_sign` prints it.
fn masked(v: &Vector, suffix_name: &str) -> String {
    let suffix = format!("&{suffix_name}={}", v.key);
    let prefix = v
        .string_to_sign
        .strip_suffix(&suffix)
        .unwrap_or_else(|| panic!("{}: string_to_sign does not end with {suffix}", v.name));
    format!("{prefix}&{suffix_name}=***")
}

fn kind_of(v: &Vector) -> WorkwxKind {
    let selected = v
        .selected_fields
        .as_ref()
        .unwrap_or_else(|| panic!("{}: WeCom vector without selected_fields", v.name));
    [WorkwxKind::RedPacket, WorkwxKind::PayEmployee]
        .into_iter()
        .find(|k| {
            k.fields()
                .iter()
                .copied()
                .eq(selected.iter().map(String::as_str))
        })
        .unwrap_or_else(|| panic!("{}: selected_fields match no WorkwxKind", v.name))
}

fn check_main(v: &Vector, algorithm: Algorithm) {
    assert_eq!(v.key_kind, "api_key", "{}", v.name);
    let signer = Signer::new(ApiKey::new(v.key.as_str()).expect("vector key is valid"));
    let received = v.params.get("sign").map(String::as_str);
    let pairs: Vec<(&str, &str)> = v
        .params
        .iter()
        .filter(|(k, _)| k.as_str() != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reversed: Vec<(&str, &str)> = pairs.iter().rev().copied().collect();

    for input in [&pairs, &reversed] {
        // Stage 1: the canonical string, key masked.
        assert_eq!(
            signer
                .string_to_sign(input.iter().copied())
                .expect("signable"),
            masked(v, "key"),
            "{}: string_to_sign",
            v.name
        );
        // Stage 2: the signature.
        let sign = signer
            .sign(algorithm, input.iter().copied())
            .expect("signable");
        assert_eq!(sign.as_str(), v.expected, "{}: sign", v.name);
        assert_eq!(sign.algorithm(), algorithm, "{}", v.name);
        assert_eq!(sign.as_str().len(), algorithm.hex_len(), "{}", v.name);
        if algorithm == Algorithm::Md5 {
            assert_eq!(
                signer.sign_md5(input.iter().copied()).expect("signable"),
                sign
            );
        }
        // Stage 3: verification of the expected value, and refusal of a
        // changed one.
        assert_eq!(
            signer.verify(input.iter().copied(), &v.expected),
            Ok(()),
            "{}",
            v.name
        );
        assert_eq!(
            signer.verify(input.iter().copied(), &v.expected.to_ascii_lowercase()),
            Ok(()),
            "{}: received hex is compared case-insensitively",
            v.name
        );
        let mut wrong = v.expected.clone().into_bytes();
        wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).expect("ascii");
        assert_eq!(
            signer.verify(input.iter().copied(), &wrong),
            Err(VerifyError::Mismatch),
            "{}",
            v.name
        );
    }

    // As a reply: all fields with `sign` in them.
    let sign_value = received.unwrap_or(v.expected.as_str());
    let with_sign: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .chain([("sign", sign_value)])
        .collect();
    assert_eq!(
        signer.verify_reply(with_sign.iter().copied()),
        Ok(()),
        "{}",
        v.name
    );
    if let Some(received) = received {
        assert_eq!(
            received, v.expected,
            "{}: the reply's sign is the expected one",
            v.name
        );
    }
}

fn check_workwx(v: &Vector) {
    assert_eq!(v.key_kind, "wecom_app_secret", "{}", v.name);
    let kind = kind_of(v);
    let signer =
        WorkwxSigner::new(WorkwxSecret::new(v.key.as_str()).expect("vector secret is valid"));
    let pairs: Vec<(&str, &str)> = v
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reversed: Vec<(&str, &str)> = pairs.iter().rev().copied().collect();
    for input in [&pairs, &reversed] {
        assert_eq!(
            signer
                .string_to_sign(kind, input.iter().copied())
                .expect("signable"),
            masked(v, "secret"),
            "{}: string_to_sign",
            v.name
        );
        let sign = signer.sign(kind, input.iter().copied()).expect("signable");
        assert_eq!(sign.as_str(), v.expected, "{}: workwx_sign", v.name);
        assert_eq!(sign.algorithm(), Algorithm::Md5);
    }
}

#[test]
fn every_vector_reproduces_at_every_stage() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 18,
        "expected the full vector set, got {}",
        vectors.len()
    );
    let mut seen = BTreeMap::<&str, usize>::new();
    for v in &vectors {
        match v.algorithm.as_str() {
            "MD5" => check_main(v, Algorithm::Md5),
            "HMAC-SHA256" => check_main(v, Algorithm::HmacSha256),
            "WORKWX-MD5" => check_workwx(v),
            other => panic!("{}: unknown algorithm {other}", v.name),
        }
        *seen.entry(v.algorithm.as_str()).or_default() += 1;
    }
    // All three kinds are exercised.
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        ["HMAC-SHA256", "MD5", "WORKWX-MD5"]
    );
}

#[test]
fn both_official_examples_reproduce() {
    let vectors = vectors();
    let official: Vec<&Vector> = vectors
        .iter()
        .filter(|v| v.reproduces_official == Some(true))
        .collect();
    let names: Vec<&str> = official.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["official_v2_md5", "official_v2_hmac_sha256"]);
    for v in official {
        let algorithm = match v.algorithm.as_str() {
            "MD5" => Algorithm::Md5,
            "HMAC-SHA256" => Algorithm::HmacSha256,
            other => panic!("{}: unexpected algorithm {other}", v.name),
        };
        let signer = Signer::new(ApiKey::new(v.key.as_str()).expect("valid key"));
        let sign = signer
            .sign(
                algorithm,
                v.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .expect("signable");
        assert_eq!(
            Some(sign.as_str()),
            v.official_expected.as_deref(),
            "{}",
            v.name
        );
    }
}

#[test]
fn workwx_sign_then_main_sign_chain() {
    // The two-step WeCom flow: workwx_sign over the fixed fields, put into
    // the request, then the main sign over everything including it.
    let vectors = vectors();
    let find = |name: &str| {
        vectors
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("vector {name} missing"))
    };
    for (workwx, main) in [
        (
            "workwx_sign_sendworkwxredpack",
            "sendworkwxredpack_main_sign_includes_workwx_sign",
        ),
        (
            "workwx_sign_paywwsptrans2pocket",
            "paywwsptrans2pocket_main_sign_includes_workwx_sign",
        ),
    ] {
        let workwx = find(workwx);
        let main = find(main);
        let workwx_signer =
            WorkwxSigner::new(WorkwxSecret::new(workwx.key.as_str()).expect("valid"));
        let signer = Signer::new(ApiKey::new(main.key.as_str()).expect("valid"));
        let request: Vec<(&str, &str)> = workwx
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let workwx_sign = workwx_signer
            .sign(kind_of(workwx), request.iter().copied())
            .expect("signable");
        let with_workwx: Vec<(&str, &str)> = request
            .iter()
            .copied()
            .chain([("workwx_sign", workwx_sign.as_str())])
            .collect();
        let sign = signer.sign_md5(with_workwx).expect("signable");
        assert_eq!(sign.as_str(), main.expected, "{}", main.name);
    }
}
