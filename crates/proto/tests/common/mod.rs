//! Shared helpers for the integration tests.
#![allow(dead_code)]

use hongbao_proto::*;
use hongbao_sign::{ApiKey, Signer, WorkwxSecret, WorkwxSigner};

pub const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
pub const WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";

pub fn signer() -> Signer {
    Signer::new(ApiKey::new(API_KEY).expect("test key"))
}

pub fn workwx() -> WorkwxSigner {
    WorkwxSigner::new(WorkwxSecret::new(WORKWX_SECRET).expect("test secret"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn example(name: &str) -> Vec<u8> {
    fixture(&format!("examples/{name}.xml"))
}

/// The example files: (number, endpoint name).
pub const EXAMPLES: &[(&str, Endpoint)] = &[
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

fn rebuild_as<R: Request>(raw: &RawXml) -> SignDebug {
    let (request, merchant) = R::from_wire(raw).unwrap_or_else(|v| panic!("from_wire: {v}"));
    let nonce = NonceStr::new(raw.get("nonce_str").expect("nonce_str")).expect("nonce");
    build_debug(&request, &merchant, &nonce, &signer(), Some(&workwx()))
        .unwrap_or_else(|e| panic!("build: {e}"))
}

/// Reads a request body back into its typed request and builds it again
/// with the same nonce.
pub fn rebuild(endpoint: Endpoint, raw: &RawXml) -> SignDebug {
    match endpoint {
        Endpoint::SendRedPacket => rebuild_as::<RedPacket>(raw),
        Endpoint::SendGroupRedPacket => rebuild_as::<GroupRedPacket>(raw),
        Endpoint::SendMiniProgramRedPacket => rebuild_as::<MiniProgramRedPacket>(raw),
        Endpoint::QueryRedPacket => rebuild_as::<RedPacketQuery>(raw),
        Endpoint::SendWorkwxRedPacket => rebuild_as::<WorkwxRedPacket>(raw),
        Endpoint::QueryWorkwxRedPacket => rebuild_as::<WorkwxRedPacketQuery>(raw),
        Endpoint::PayEmployee => rebuild_as::<PayEmployee>(raw),
        Endpoint::QueryPayEmployee => rebuild_as::<PayEmployeeQuery>(raw),
        Endpoint::Transfer => rebuild_as::<Transfer>(raw),
        Endpoint::QueryTransfer => rebuild_as::<TransferQuery>(raw),
        Endpoint::GetSignKey => rebuild_as::<SignKeyRequest>(raw),
        other => panic!("no example for {other}"),
    }
}

/// A valid sendredpack request (the spec's example).
pub fn red_packet() -> RedPacket {
    RedPacket {
        mch_billno: BillNo::new("10000098201411111234567890").expect("bill"),
        send_name: "天虹百货".into(),
        re_openid: OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid"),
        total_amount: Amount::from_fen(1000),
        wishing: "感谢您参加猜灯谜活动，祝您元宵节快乐！".into(),
        client_ip: "192.168.0.1".into(),
        act_name: "猜灯谜抢红包活动".into(),
        remark: "猜越多得越多，快来抢！".into(),
        scene_id: None,
        risk_info: None,
        sub_mch_id: None,
        msgappid: None,
        consume_mch_id: None,
    }
}

pub fn merchant() -> Merchant {
    Merchant::new("10000098", "wx8888888888888888")
}

pub fn nonce() -> NonceStr {
    NonceStr::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").expect("nonce")
}
