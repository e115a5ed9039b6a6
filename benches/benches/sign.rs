//! Signing throughput against the raw hash of the same bytes.
//!
//! `sign_*` sign the fixture request from its 13 borrowed pairs (collect,
//! sort, stream into the hasher, hex); `raw_*` hash the fixture's exact
//! string-to-sign with the md-5 / hmac crates alone (HMAC from a pre-keyed
//! state, cloned per message, as the signer does). The goal is
//! `sign_md5 / raw_md5 <= 1.3` and `sign_hmac_sha256 / raw_hmac_sha256 <= 1.3`.
//!
//! Run: `cargo bench -p hongbao-benches --bench sign` (or `cargo xtask bench --bench sign`).

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use hongbao_benches::Fixture;
use hongbao_sign::{Algorithm, ApiKey, Signer, WorkwxKind, WorkwxSecret, WorkwxSigner};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::hint::black_box;

/// A WeCom app secret for the `workwx_sign` bench (made up, test only).
const WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";

fn bench_sign(c: &mut Criterion) {
    let fixture = Fixture::load().expect("fixture.json parses");
    let pairs = fixture.pairs();
    let signer = Signer::new(ApiKey::new(fixture.api_key.as_str()).expect("fixture key is valid"));
    let workwx = WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("valid secret"));
    let message = fixture.expected.string_to_sign.as_bytes();
    assert_eq!(message.len(), fixture.expected.string_to_sign_bytes);

    // The bench measures the right thing only if it reproduces the fixture.
    let md5_sign = signer.sign_md5(pairs.iter().copied()).expect("signable");
    assert_eq!(md5_sign.as_str(), fixture.expected.md5_sign);
    let hmac_sign = signer
        .sign(Algorithm::HmacSha256, pairs.iter().copied())
        .expect("signable");
    assert_eq!(hmac_sign.as_str(), fixture.expected.hmac_sha256_sign);
    let masked_key = format!("&key={}", fixture.api_key);
    assert_eq!(
        signer
            .string_to_sign(pairs.iter().copied())
            .expect("signable"),
        fixture
            .expected
            .string_to_sign
            .replace(&masked_key, "&key=***")
    );
    let raw_md5_hex = hex_upper(&Md5::digest(message));
    assert_eq!(raw_md5_hex, fixture.expected.md5_sign);
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(fixture.api_key.as_bytes())
        .expect("HMAC takes any key length");
    let mut mac = keyed.clone();
    mac.update(message);
    assert_eq!(
        hex_upper(&mac.finalize().into_bytes()),
        fixture.expected.hmac_sha256_sign
    );

    let mut group = c.benchmark_group("sign");
    group.bench_function("raw_md5", |b| b.iter(|| Md5::digest(black_box(message))));
    group.bench_function("sign_md5", |b| {
        b.iter(|| signer.sign_md5(black_box(pairs.as_slice()).iter().copied()))
    });
    group.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(message));
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("sign_hmac_sha256", |b| {
        b.iter(|| {
            signer.sign(
                Algorithm::HmacSha256,
                black_box(pairs.as_slice()).iter().copied(),
            )
        })
    });
    group.bench_function("workwx_sign", |b| {
        b.iter(|| {
            workwx.sign(
                WorkwxKind::RedPacket,
                black_box(pairs.as_slice()).iter().copied(),
            )
        })
    });
    group.bench_function("verify_md5", |b| {
        b.iter(|| {
            signer.verify(
                black_box(pairs.as_slice()).iter().copied(),
                black_box(fixture.expected.md5_sign.as_str()),
            )
        })
    });
    group.finish();
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

criterion_group!(benches, bench_sign);
criterion_main!(benches);
