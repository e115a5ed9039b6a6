//! Signing and verifying allocate nothing: a counting global allocator
//! (`allocation-counter`, which counts per thread) measures each call.

use hongbao_sign::{Algorithm, ApiKey, Signer, WorkwxKind, WorkwxSecret, WorkwxSigner};
use std::hint::black_box;

/// The sendredpack request of the bench fixture, with Chinese text.
const PARAMS: [(&str, &str); 13] = [
    ("mch_billno", "10000098201411111234567890"),
    ("mch_id", "10000098"),
    ("wxappid", "wx8888888888888888"),
    ("send_name", "天虹百货"),
    ("re_openid", "oxTWIuGaIt6gTKsQRLau2M0yL16E"),
    ("total_amount", "1000"),
    ("total_num", "1"),
    ("wishing", "感谢您参加猜灯谜活动，祝您元宵节快乐！"),
    ("client_ip", "192.168.0.1"),
    ("act_name", "猜灯谜抢红包活动"),
    ("remark", "猜越多得越多，快来抢！"),
    ("scene_id", "PRODUCT_2"),
    ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
];

const MD5_SIGN: &str = "004407BF2FAEBA79F19A877F83E306DA";
const HMAC_SIGN: &str = "7BC42BE099E4E92053C8DDEF6B2A3270851D409EC6559869D4499C907CA54016";

fn signer() -> Signer {
    Signer::new(ApiKey::new("192006250b4c09247ec02edce69f6a2d").expect("valid key"))
}

/// Runs `f` once to warm up (lazy statics, if any), then counts the heap
/// allocations of a second run.
fn allocations(mut f: impl FnMut()) -> u64 {
    f();
    allocation_counter::measure(f).count_total
}

#[test]
fn the_counter_counts() {
    // The measurement is only meaningful if an allocation is seen.
    let count = allocations(|| {
        black_box(vec![1u8; 16]);
    });
    assert_eq!(count, 1);
    let count = allocations(|| {
        black_box(signer().string_to_sign(PARAMS).expect("signable"));
    });
    assert!(count >= 1, "string_to_sign builds a String");
}

#[test]
fn sign_md5_allocates_nothing() {
    let signer = signer();
    let count = allocations(|| {
        let sign = signer.sign_md5(black_box(PARAMS)).expect("signable");
        assert_eq!(sign.as_str(), MD5_SIGN);
    });
    assert_eq!(count, 0);
    let count = allocations(|| {
        let sign = signer
            .sign(Algorithm::Md5, black_box(PARAMS))
            .expect("signable");
        assert_eq!(sign.as_str(), MD5_SIGN);
    });
    assert_eq!(count, 0);
}

#[test]
fn sign_hmac_sha256_allocates_nothing() {
    let signer = signer();
    let count = allocations(|| {
        let sign = signer
            .sign(Algorithm::HmacSha256, black_box(PARAMS))
            .expect("signable");
        assert_eq!(sign.as_str(), HMAC_SIGN);
    });
    assert_eq!(count, 0);
}

#[test]
fn workwx_sign_allocates_nothing() {
    let signer = WorkwxSigner::new(
        WorkwxSecret::new("Wk3cretForTestOnly0123456789abcd").expect("valid secret"),
    );
    for kind in [WorkwxKind::RedPacket, WorkwxKind::PayEmployee] {
        let count = allocations(|| {
            black_box(signer.sign(kind, black_box(PARAMS)).expect("signable"));
        });
        assert_eq!(count, 0, "{kind:?}");
    }
}

#[test]
fn verify_allocates_nothing() {
    let signer = signer();
    let count = allocations(|| {
        assert_eq!(signer.verify(black_box(PARAMS), MD5_SIGN), Ok(()));
        assert_eq!(signer.verify(black_box(PARAMS), HMAC_SIGN), Ok(()));
        assert!(signer.verify(black_box(PARAMS), &MD5_SIGN[1..]).is_err());
    });
    assert_eq!(count, 0);

    let reply: Vec<(&str, &str)> = PARAMS.iter().copied().chain([("sign", MD5_SIGN)]).collect();
    let count = allocations(|| {
        assert_eq!(
            signer.verify_reply(black_box(reply.iter().copied())),
            Ok(())
        );
    });
    assert_eq!(count, 0);
}

#[test]
fn long_values_allocate_nothing() {
    // Values longer than the internal staging buffer take the spilling path.
    let long = "长".repeat(400);
    let params = [("desc", long.as_str()), ("mch_id", "1"), ("nonce_str", "n")];
    let signer = signer();
    let count = allocations(|| {
        black_box(signer.sign_md5(black_box(params)).expect("signable"));
        black_box(
            signer
                .sign(Algorithm::HmacSha256, black_box(params))
                .expect("signable"),
        );
    });
    assert_eq!(count, 0);
}
