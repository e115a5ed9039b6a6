//! Shared helpers for the integration tests.
#![allow(dead_code)]

use hongbao_proto::*;
use hongbao_sign::{ApiKey, Signer, WorkwxSecret, WorkwxSigner};

pub(crate) const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
pub(crate) const WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";

pub(crate) fn signer() -> Signer {
    Signer::new(ApiKey::new(API_KEY).expect("test key"))
}

pub(crate) fn workwx() -> WorkwxSigner {
    WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("test secret"))
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn example(name: &str) -> Vec<u8> {
    fixture(&format!("examples/{name}.xml"))
}

/// The example files: (number, endpoint name).
pub(crate) const EXAMPLES: &[(&str, Endpoint)] = &[
    ("01_sendredpack", Endpoint::SendRedPacket),
    ("02_sendgroupredpack", Endpoint::SendGroupRedPacket),
    ("03_sendminiprogramhb", Endpoint::SendMiniProgramRedPacket),
    ("04_gethbinfo", Endpoint::QueryRedPacket),
    ("05_sendworkwxredpack", Endpoint::SendWorkwxRedPacket),
    ("06_queryworkwxredpack", Endpoint::QueryWorkwxRedPacket),
    ("07_paywwsptrans2pocket", Endpoint::PayEmployee),
    ("08_querywwsptrans2pocket", Endpoint::QueryPayEmployee),
    ("09_transfers", Endpoint::Transfer),
    ("10_gettransferinfo", Endpoint::QueryTransfer),
    ("11_getsignkey", Endpoint::GetSignKey),
];

/// Builds any request with the test keys, keeping the signed strings.
struct Rebuild<'a>(&'a Merchant, NonceStr);

impl RequestVisitor for Rebuild<'_> {
    type Output = SignDebug;
    fn visit<R: Request>(self, request: &R) -> SignDebug {
        build_debug(request, self.0, &self.1, &signer(), Some(&workwx()))
            .unwrap_or_else(|e| panic!("build: {e}"))
    }
}

/// Reads a request body back into its typed request and builds it again
/// with the same nonce.
pub(crate) fn rebuild(endpoint: Endpoint, raw: &RawXml) -> SignDebug {
    let (request, merchant) =
        AnyRequest::from_wire(endpoint, raw).unwrap_or_else(|v| panic!("from_wire: {v}"));
    assert_eq!(request.endpoint(), endpoint);
    let nonce = NonceStr::new(raw.get("nonce_str").expect("nonce_str")).expect("nonce");
    request.visit(Rebuild(&merchant, nonce))
}

/// A valid sendredpack request (the spec's example).
pub(crate) fn red_packet() -> RedPacket {
    RedPacket::builder(
        BillNo::new("10000098201411111234567890").expect("bill"),
        OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid"),
        Amount::from_fen(1000),
    )
    .send_name("天虹百货")
    .wishing("感谢您参加猜灯谜活动，祝您元宵节快乐！")
    .client_ip("192.168.0.1")
    .act_name("猜灯谜抢红包活动")
    .remark("猜越多得越多，快来抢！")
    .build()
    .expect("valid")
}

pub(crate) fn merchant() -> Merchant {
    Merchant::new("10000098", "wx8888888888888888")
}

pub(crate) fn nonce() -> NonceStr {
    NonceStr::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").expect("nonce")
}
