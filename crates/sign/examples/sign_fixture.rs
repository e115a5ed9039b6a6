//! Signs the benchmark fixture request (a `sendredpack` with Chinese text)
//! and checks the result against the fixture's expected values.
//!
//! Run: `cargo run -p hongbao-sign --example sign_fixture`
//!
//! Prints the canonical string-to-sign with the API key masked, then the MD5
//! and HMAC-SHA256 signatures; exits non-zero if anything differs from the
//! fixture.

use hongbao_sign::{Algorithm, ApiKey, Signer};
use serde::Deserialize;
use std::process::ExitCode;

/// The fixture shared with the benchmarks (a published example key, not a
/// real one).
const FIXTURE: &str = include_str!("../../../benches/fixtures/fixture.json");

#[derive(Deserialize)]
struct Fixture {
    api: String,
    api_key: String,
    params: serde_json::Map<String, serde_json::Value>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    string_to_sign: String,
    md5_sign: String,
    hmac_sha256_sign: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Whether everything matched.
fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let fixture: Fixture = serde_json::from_str(FIXTURE)?;
    let params = fixture
        .params
        .iter()
        .map(|(name, value)| {
            value
                .as_str()
                .map(|value| (name.as_str(), value))
                .ok_or_else(|| format!("fixture parameter {name} is not a string"))
        })
        .collect::<Result<Vec<(&str, &str)>, _>>()?;
    let signer = Signer::new(ApiKey::new(fixture.api_key.as_str())?);

    let string_to_sign = signer.string_to_sign(params.iter().copied())?;
    let md5 = signer.sign(Algorithm::Md5, params.iter().copied())?;
    let hmac = signer.sign(Algorithm::HmacSha256, params.iter().copied())?;

    println!(
        "request:        {} ({} parameters)",
        fixture.api,
        params.len()
    );
    println!("string-to-sign: {string_to_sign}");
    println!("MD5 sign:       {md5}");
    println!("HMAC-SHA256:    {hmac}");

    // The fixture's string ends in the real key; compare with it masked.
    let key_suffix = format!("&key={}", fixture.api_key);
    let expected_masked = fixture
        .expected
        .string_to_sign
        .strip_suffix(&key_suffix)
        .map(|prefix| format!("{prefix}&key=***"))
        .ok_or("the fixture's string_to_sign does not end with &key=<api_key>")?;

    let checks = [
        ("string-to-sign", string_to_sign == expected_masked),
        ("MD5 sign", md5 == fixture.expected.md5_sign.as_str()),
        (
            "HMAC-SHA256 sign",
            hmac == fixture.expected.hmac_sha256_sign.as_str(),
        ),
        (
            "MD5 verify",
            signer
                .verify(params.iter().copied(), &fixture.expected.md5_sign)
                .is_ok(),
        ),
    ];
    let mut all_ok = true;
    for (what, ok) in checks {
        if !ok {
            eprintln!("MISMATCH: {what} differs from benches/fixtures/fixture.json");
            all_ok = false;
        }
    }
    if all_ok {
        println!("ok: matches the fixture's expected string and signatures");
    }
    Ok(all_ok)
}
