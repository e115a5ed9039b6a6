//! Neither secret ever appears in `Debug`, `Display` or error output.

use hongbao_sign::{
    Algorithm, ApiKey, SecretError, Signer, VerifyError, WorkwxKind, WorkwxSecret, WorkwxSigner,
};

const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";

/// Fails if `text` contains either secret, or a long piece of one (a
/// truncated or partly masked secret is still a leak).
fn assert_no_secret(what: &str, text: &str) {
    for secret in [API_KEY, WORKWX_SECRET] {
        for window in secret.as_bytes().windows(12) {
            let piece = std::str::from_utf8(window).expect("ascii");
            assert!(!text.contains(piece), "{what} leaks a secret: {text}");
        }
    }
}

fn debug_and_display_of_errors() -> Vec<(String, String)> {
    let signer = Signer::new(ApiKey::new(API_KEY).expect("valid"));
    let workwx = WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("valid"));
    let mut errors: Vec<Box<dyn std::error::Error>> = Vec::new();
    // Every variant of every error type, produced by the real calls.
    errors.push(Box::new(
        signer.sign_md5([("sign", "x")]).expect_err("refused"),
    ));
    errors.push(Box::new(
        signer
            .sign_md5([("a", "1"), ("a", "2")])
            .expect_err("refused"),
    ));
    errors.push(Box::new(
        signer.sign_md5([("Bad", "1")]).expect_err("refused"),
    ));
    let names: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    errors.push(Box::new(
        signer
            .sign_md5(names.iter().map(|n| (n.as_str(), "1")))
            .expect_err("refused"),
    ));
    errors.push(Box::new(
        workwx
            .sign(WorkwxKind::PayEmployee, [("amount", "1"), ("amount", "2")])
            .expect_err("refused"),
    ));
    errors.push(Box::new(
        signer.verify_reply([("a", "1")]).expect_err("refused"),
    ));
    errors.push(Box::new(
        signer
            .verify_reply([("a", "1"), ("sign", "ABC")])
            .expect_err("refused"),
    ));
    errors.push(Box::new(
        signer
            .verify([("a", "1")], "00000000000000000000000000000000")
            .expect_err("refused"),
    ));
    errors.push(Box::new(
        signer.verify([("Bad", "1")], "00").expect_err("refused"),
    ));
    errors.push(Box::new(ApiKey::new("").expect_err("refused")));
    errors.push(Box::new(
        ApiKey::new(format!("{API_KEY}\n")).expect_err("refused"),
    ));
    errors.push(Box::new(
        WorkwxSecret::new(format!(" {WORKWX_SECRET}")).expect_err("refused"),
    ));
    errors.push(Box::new(WorkwxSecret::new("").expect_err("refused")));
    errors
        .iter()
        .map(|e| (format!("{e:?}"), e.to_string()))
        .collect()
}

#[test]
fn secrets_debug_redacted() {
    let key = ApiKey::new(API_KEY).expect("valid");
    let secret = WorkwxSecret::new(WORKWX_SECRET).expect("valid");
    assert_eq!(format!("{key:?}"), "ApiKey(***)");
    assert_eq!(format!("{secret:?}"), "WorkwxSecret(***)");
    assert_eq!(format!("{:#?}", key.clone()), "ApiKey(***)");
    // The value is still there for hashing.
    assert_eq!(key.expose(), API_KEY);
    assert_eq!(secret.expose(), WORKWX_SECRET);
}

#[test]
fn signers_debug_redacted() {
    let signer = Signer::new(ApiKey::new(API_KEY).expect("valid"));
    let workwx = WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("valid"));
    for (what, text) in [
        ("Signer {:?}", format!("{signer:?}")),
        ("Signer {:#?}", format!("{signer:#?}")),
        ("WorkwxSigner {:?}", format!("{workwx:?}")),
        ("WorkwxSigner {:#?}", format!("{workwx:#?}")),
        ("Signer clone", format!("{:?}", signer.clone())),
    ] {
        assert!(text.contains("***"), "{what}: {text}");
        assert_no_secret(what, &text);
    }
}

#[test]
fn errors_never_carry_a_secret() {
    let errors = debug_and_display_of_errors();
    assert!(errors.len() >= 13);
    for (debug, display) in errors {
        assert_no_secret("error Debug", &debug);
        assert_no_secret("error Display", &display);
    }
    // Errors name what went wrong, not the value.
    assert_eq!(
        ApiKey::new(format!("{API_KEY}\n")).expect_err("refused"),
        SecretError::Whitespace { what: "API key" }
    );
}

#[test]
fn string_to_sign_masks_the_secret() {
    let signer = Signer::new(ApiKey::new(API_KEY).expect("valid"));
    let workwx = WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("valid"));
    let params = [("act_name", "x"), ("mch_id", "1"), ("nonce_str", "n")];
    let main = signer.string_to_sign(params).expect("signable");
    assert_eq!(main, "act_name=x&mch_id=1&nonce_str=n&key=***");
    assert_no_secret("string_to_sign", &main);
    let wecom = workwx
        .string_to_sign(WorkwxKind::RedPacket, params)
        .expect("signable");
    assert_eq!(wecom, "act_name=x&mch_id=1&nonce_str=n&secret=***");
    assert_no_secret("workwx string_to_sign", &wecom);
}

#[test]
fn signatures_and_their_errors_do_not_echo_secrets() {
    // A signature is a hash, never the key; its Debug/Display is the hex.
    let signer = Signer::new(ApiKey::new(API_KEY).expect("valid"));
    for algorithm in [Algorithm::Md5, Algorithm::HmacSha256] {
        let sign = signer.sign(algorithm, [("a", API_KEY)]).expect("signable");
        assert_eq!(format!("{sign}"), sign.as_str());
        assert_eq!(format!("{sign:?}"), format!("Signature({sign})"));
        assert_no_secret("Signature", &format!("{sign:?}"));
    }
    // A mismatch does not report the expected value (which would let a
    // caller forge a reply) nor the key.
    let mismatch = signer
        .verify([("a", "1")], "00000000000000000000000000000000")
        .expect_err("refused");
    assert_eq!(mismatch, VerifyError::Mismatch);
    let expected = signer.sign_md5([("a", "1")]).expect("signable");
    assert!(!mismatch.to_string().contains(expected.as_str()));
    assert!(!format!("{mismatch:?}").contains(expected.as_str()));
}
