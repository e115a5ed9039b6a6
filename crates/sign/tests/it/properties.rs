//! Property tests: the signer against a naive reference implementation
//! (build the canonical `String`, hash it with md-5 / hmac directly), input
//! order, empty values, and the typed errors.

use hmac::{Hmac, KeyInit, Mac};
use hongbao_sign::{
    Algorithm, ApiKey, MAX_PARAMS, SignError, Signer, VerifyError, WorkwxKind, WorkwxSecret,
    WorkwxSigner,
};
use md5::{Digest, Md5};
use proptest::prelude::*;
use sha2::Sha256;
use std::collections::BTreeMap;

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn signer() -> Signer {
    Signer::new(ApiKey::new(KEY).expect("valid key"))
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The reference: a `BTreeMap` orders `String`s by their bytes.
fn naive_string(params: &BTreeMap<String, String>, suffix: &str, secret: &str) -> String {
    let mut s = String::new();
    for (name, value) in params {
        if !value.is_empty() {
            s.push_str(name);
            s.push('=');
            s.push_str(value);
            s.push('&');
        }
    }
    s.push_str(suffix);
    s.push('=');
    s.push_str(secret);
    s
}

fn naive_md5(params: &BTreeMap<String, String>) -> String {
    hex_upper(&Md5::digest(naive_string(params, "key", KEY).as_bytes()))
}

fn naive_hmac(params: &BTreeMap<String, String>) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).expect("any length");
    mac.update(naive_string(params, "key", KEY).as_bytes());
    hex_upper(&mac.finalize().into_bytes())
}

/// Valid names, from a small alphabet with long shared prefixes so that
/// names often share their first bytes (the signer's tie-breaking path).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]{1,24}",
        "(sender_|approval_|total_|re_)?[a-z_]{1,12}",
        "(abcdefg|abcdefgh|abcdefghi)[a-c_]{0,3}",
        Just("mch_billno".to_owned()),
        Just("mch_id".to_owned()),
        Just("re_openid".to_owned()),
        Just("remark".to_owned()),
    ]
    .prop_filter("`sign` is not an input", |n| n != "sign")
}

/// Values with the characters that trip naive signers: Chinese text, emoji,
/// `&`, `=`, spaces, `]]>`, `<`, `%`, full-width punctuation; sometimes empty.
fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ -~]{0,12}",
        Just("天虹百货".to_owned()),
        Just("感谢您参加猜灯谜活动，祝您元宵节快乐！".to_owned()),
        Just("🧧🎉".to_owned()),
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just(" ".to_owned()),
        Just("]]>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("a=1&b=2".to_owned()),
        Just("%3d%26".to_owned()),
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat())
}

fn params() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name(), value(), 0..24)
}

fn pairs(params: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn md5_and_hmac_agree_with_the_naive_reference(params in params()) {
        let signer = signer();
        let md5 = signer.sign_md5(pairs(&params)).expect("signable");
        prop_assert_eq!(md5.as_str(), naive_md5(&params));
        let hmac = signer.sign(Algorithm::HmacSha256, pairs(&params)).expect("signable");
        prop_assert_eq!(hmac.as_str(), naive_hmac(&params));
        prop_assert_eq!(
            signer.string_to_sign(pairs(&params)).expect("signable"),
            naive_string(&params, "key", "***")
        );
        prop_assert_eq!(signer.verify(pairs(&params), md5.as_str()), Ok(()));
        prop_assert_eq!(signer.verify(pairs(&params), hmac.as_str()), Ok(()));
    }

    #[test]
    fn input_order_never_changes_the_signature(
        params in params(),
        order in any::<u64>(),
    ) {
        let signer = signer();
        let sorted = pairs(&params);
        let mut shuffled = sorted.clone();
        // A deterministic shuffle from the generated seed.
        let mut state = order | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let reversed: Vec<_> = sorted.iter().rev().copied().collect();
        for algorithm in [Algorithm::Md5, Algorithm::HmacSha256] {
            let expected = signer.sign(algorithm, sorted.iter().copied()).expect("signable");
            prop_assert_eq!(signer.sign(algorithm, shuffled.iter().copied()).expect("signable"), expected);
            prop_assert_eq!(signer.sign(algorithm, reversed.iter().copied()).expect("signable"), expected);
        }
        prop_assert_eq!(
            signer.string_to_sign(shuffled.iter().copied()).expect("signable"),
            signer.string_to_sign(sorted.iter().copied()).expect("signable")
        );
    }

    #[test]
    fn an_empty_value_equals_an_absent_one(params in params(), extra in name()) {
        prop_assume!(!params.contains_key(&extra));
        let signer = signer();
        let without = pairs(&params);
        let mut with_empty = without.clone();
        with_empty.insert(with_empty.len() / 2, (extra.as_str(), ""));
        for algorithm in [Algorithm::Md5, Algorithm::HmacSha256] {
            prop_assert_eq!(
                signer.sign(algorithm, with_empty.iter().copied()).expect("signable"),
                signer.sign(algorithm, without.iter().copied()).expect("signable")
            );
        }
        let absent: BTreeMap<String, String> =
            params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(
            signer.sign_md5(pairs(&absent)).expect("signable"),
            signer.sign_md5(with_empty.iter().copied()).expect("signable")
        );
    }

    #[test]
    fn workwx_sign_agrees_with_the_naive_reference(params in params(), secret in "[A-Za-z0-9]{1,40}") {
        let signer = WorkwxSigner::new(WorkwxSecret::new(secret.clone()).expect("valid secret"));
        for kind in [WorkwxKind::RedPacket, WorkwxKind::PayEmployee] {
            let selected: BTreeMap<String, String> = params
                .iter()
                .filter(|(k, _)| kind.fields().contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let expected = hex_upper(&Md5::digest(naive_string(&selected, "secret", &secret).as_bytes()));
            let sign = signer.sign(kind, pairs(&params)).expect("signable");
            prop_assert_eq!(sign.as_str(), expected);
            prop_assert_eq!(
                signer.string_to_sign(kind, pairs(&params)).expect("signable"),
                naive_string(&selected, "secret", "***")
            );
        }
    }

    #[test]
    fn a_repeated_name_is_a_typed_error(params in params(), value in value()) {
        prop_assume!(!params.is_empty());
        let (first, _) = params.iter().next().expect("non-empty");
        let mut input = pairs(&params);
        // The repeat is refused whether its value is empty or not, wherever it is.
        input.insert(input.len() / 2, (first.as_str(), value.as_str()));
        let error = SignError::DuplicateName { name: first.clone() };
        let signer = signer();
        prop_assert_eq!(signer.sign_md5(input.iter().copied()), Err(error.clone()));
        prop_assert_eq!(signer.sign(Algorithm::HmacSha256, input.iter().copied()), Err(error.clone()));
        prop_assert_eq!(signer.string_to_sign(input.iter().copied()), Err(error.clone()));
        prop_assert_eq!(
            signer.verify(input.iter().copied(), "00000000000000000000000000000000"),
            Err(VerifyError::Fields(SignError::DuplicateName { name: first.clone() }))
        );
    }

    #[test]
    fn names_are_checked_byte_for_byte(name in "[a-z0-9_]{0,9}[ -~é中🧧\u{80}]?[a-z0-9_]{0,9}") {
        let valid = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let result = signer().sign_md5([("mch_id", "10000098"), (name.as_str(), "1")]);
        if name == "sign" {
            prop_assert_eq!(result, Err(SignError::SignParameter));
        } else if name == "mch_id" {
            prop_assert_eq!(result, Err(SignError::DuplicateName { name: name.clone() }));
        } else if valid {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result, Err(SignError::InvalidName { name: name.clone() }));
        }
    }

    #[test]
    fn a_changed_signature_is_refused(params in params(), position in 0usize..32) {
        let signer = signer();
        let sign = signer.sign_md5(pairs(&params)).expect("signable");
        let mut bytes = sign.as_str().as_bytes().to_vec();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).expect("ascii");
        prop_assert_eq!(signer.verify(pairs(&params), &changed), Err(VerifyError::Mismatch));
    }
}

#[test]
fn every_single_byte_name_is_checked() {
    // Exhaustive over one-byte and eight-byte names made of one ASCII byte:
    // the short-name and word-at-a-time paths of the name check.
    let signer = signer();
    for byte in 0u8..=127 {
        let allowed = byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_';
        for len in [1, 2, 3, 4, 7, 8, 9, 15, 16, 17] {
            let name: String = std::iter::repeat_n(char::from(byte), len).collect();
            for position in [0, len / 2, len - 1] {
                // The odd byte at one position inside an otherwise valid name.
                let mut mixed: Vec<u8> = vec![b'a'; len];
                mixed[position] = byte;
                let mixed = String::from_utf8(mixed).expect("ascii");
                let result = signer.sign_md5([(mixed.as_str(), "v")]);
                assert_eq!(result.is_ok(), allowed, "name {mixed:?}");
            }
            let result = signer.sign_md5([(name.as_str(), "v")]);
            if allowed {
                assert!(result.is_ok(), "name {name:?}");
            } else {
                assert_eq!(result, Err(SignError::InvalidName { name: name.clone() }));
            }
        }
    }
}

#[test]
fn typed_errors_for_unsignable_input() {
    let signer = signer();
    assert_eq!(
        signer.sign_md5([("mch_id", "1"), ("sign", "ABC")]),
        Err(SignError::SignParameter)
    );
    assert_eq!(
        signer.sign_md5([("mch_id", "1"), ("sign", "")]),
        Err(SignError::SignParameter),
        "even an empty `sign` is refused"
    );
    assert_eq!(
        signer.sign_md5([("mch_id", "1"), ("mch_id", "1")]),
        Err(SignError::DuplicateName {
            name: "mch_id".into()
        })
    );
    assert_eq!(
        signer.sign_md5([("mch_id", ""), ("mch_id", "1")]),
        Err(SignError::DuplicateName {
            name: "mch_id".into()
        }),
        "a repeat with an empty value is still a repeat"
    );
    assert_eq!(
        signer.sign_md5([("approval_number", "1"), ("approval_number", "2")]),
        Err(SignError::DuplicateName {
            name: "approval_number".into()
        })
    );
    for bad in [
        "", "Mch_id", "mch-id", "mch id", "mch_id ", "名字", "a=b", "a&b", "A",
    ] {
        assert_eq!(
            signer.sign_md5([(bad, "1")]),
            Err(SignError::InvalidName { name: bad.into() }),
            "{bad:?}"
        );
        assert_eq!(
            signer.sign_md5([(bad, "")]),
            Err(SignError::InvalidName { name: bad.into() }),
            "a bad name with an empty value is still refused: {bad:?}"
        );
    }
    let names: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}")).collect();
    let too_many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    assert_eq!(
        signer.sign_md5(too_many.iter().copied()),
        Err(SignError::TooMany { max: MAX_PARAMS })
    );
    assert!(
        signer
            .sign_md5(too_many[..MAX_PARAMS].iter().copied())
            .is_ok()
    );

    // Replies: `sign` is taken out, not refused; twice is an error.
    assert_eq!(
        signer.verify_reply([("a", "1"), ("sign", "X"), ("sign", "Y")]),
        Err(VerifyError::Fields(SignError::DuplicateName {
            name: "sign".into()
        }))
    );
    assert_eq!(signer.verify_reply([("a", "1")]), Err(VerifyError::Missing));
    assert_eq!(
        signer.verify_reply([("a", "1"), ("sign", "")]),
        Err(VerifyError::Missing)
    );
    assert_eq!(
        signer.verify_reply([("a", "1"), ("sign", "ABC")]),
        Err(VerifyError::BadLength { len: 3 })
    );

    // WeCom: names are checked even for fields that do not take part.
    let workwx = WorkwxSigner::new(WorkwxSecret::new("secret").expect("valid"));
    assert_eq!(
        workwx.sign(WorkwxKind::RedPacket, [("act_name", "x"), ("Bad", "1")]),
        Err(SignError::InvalidName { name: "Bad".into() })
    );
    assert_eq!(
        workwx.sign(
            WorkwxKind::RedPacket,
            [("act_name", "x"), ("act_name", "y")]
        ),
        Err(SignError::DuplicateName {
            name: "act_name".into()
        })
    );
}

#[test]
fn names_sharing_long_prefixes_sort_by_bytes() {
    // Names that agree on their first 7+ bytes, in every input order.
    let names = [
        "approval_type",
        "approval_number",
        "approval_",
        "approval",
        "approva",
        "sender_name",
        "sender_header_media_id",
        "err_code",
        "err_code_des",
        "abcdefg",
        "abcdefgh",
        "abcdefg_",
        "abcdefg0",
    ];
    let params: BTreeMap<String, String> = names
        .iter()
        .map(|n| ((*n).to_owned(), format!("v_{n}")))
        .collect();
    let signer = signer();
    let expected = naive_string(&params, "key", "***");
    let mut input: Vec<(&str, &str)> = pairs(&params);
    for rotation in 0..input.len() {
        input.rotate_left(1);
        let mut reversed = input.clone();
        reversed.reverse();
        for order in [&input, &reversed] {
            assert_eq!(
                signer
                    .string_to_sign(order.iter().copied())
                    .expect("signable"),
                expected,
                "rotation {rotation}"
            );
            assert_eq!(
                signer
                    .sign_md5(order.iter().copied())
                    .expect("signable")
                    .as_str(),
                naive_md5(&params)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn long_values_agree_with_the_naive_reference(
        params in prop::collection::btree_map(name(), "[ -~长🧧]{0,700}", 1..6)
    ) {
        // Values longer than the signer's staging buffer.
        let signer = signer();
        let md5 = signer.sign_md5(pairs(&params)).expect("signable");
        prop_assert_eq!(md5.as_str(), naive_md5(&params));
        let hmac = signer.sign(Algorithm::HmacSha256, pairs(&params)).expect("signable");
        prop_assert_eq!(hmac.as_str(), naive_hmac(&params));
    }
}
