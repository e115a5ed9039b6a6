//! Shared fixtures: a client on a `MockTransport`, requests, replies.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::proto::{CheckName, MsgType, write_document};
use hongbao::transport::{HttpRequest, HttpResponse};
use hongbao::{
    Amount, ApiKey, BillNo, Client, ClientBuilder, OpenId, PayEmployee, RateLimits, RedPacket,
    RetryPolicy, TradeNo, Transfer, WorkwxRedPacket, WorkwxSecret,
};
use hongbao_sign::Signer;

pub(crate) const MCH_ID: &str = "10000098";
pub(crate) const APPID: &str = "wx8888888888888888";
pub(crate) const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
pub(crate) const WORKWX_SECRET: &str = "Wk3cretForTestOnly0123456789abcd";
pub(crate) const AGENT_SECRET: &str = "AgentSecret1000002xxxxxxxxxxxxxx";
pub(crate) const BILL: &str = "10000098201411111234567890";
pub(crate) const TRADE_NO: &str = "100000982014111112345678";
pub(crate) const OPENID: &str = "oxTWIuGaIt6gTKsQRLau2M0yL16E";

pub(crate) fn builder(mock: &MockTransport) -> ClientBuilder {
    Client::builder()
        .mch_id(MCH_ID)
        .appid(APPID)
        .api_key(ApiKey::new(API_KEY).unwrap())
        .workwx_secret(WorkwxSecret::new(WORKWX_SECRET).unwrap())
        .workwx_secret_for_agent("1000002", WorkwxSecret::new(AGENT_SECRET).unwrap())
        .transport(mock.clone())
}

/// A client with the default retry policy and rate limits.
pub(crate) fn client(mock: &MockTransport) -> Client {
    builder(mock).build().unwrap()
}

/// A client that never retries nor queries automatically, without rate limits:
/// shows how one reply is classified.
pub(crate) fn single_shot(mock: &MockTransport) -> Client {
    builder(mock)
        .retry(RetryPolicy::none())
        .rate_limits(RateLimits::unlimited())
        .build()
        .unwrap()
}

pub(crate) fn signer() -> Signer {
    Signer::new(ApiKey::new(API_KEY).unwrap())
}

pub(crate) fn red_packet(bill: &str) -> RedPacket {
    RedPacket::builder(
        BillNo::new(bill).unwrap(),
        OpenId::new(OPENID).unwrap(),
        Amount::from_fen(1000),
    )
    .send_name("天虹百货")
    .wishing("感谢您参加猜灯谜活动，祝您元宵节快乐！")
    .client_ip("192.168.0.1")
    .act_name("猜灯谜抢红包活动")
    .remark("猜越多得越多，快来抢！")
    .build()
    .unwrap()
}

pub(crate) fn workwx_red_packet(bill: &str, agentid: Option<&str>) -> WorkwxRedPacket {
    let builder = WorkwxRedPacket::builder(
        BillNo::new(bill).unwrap(),
        OpenId::new(OPENID).unwrap(),
        Amount::from_fen(1000),
    )
    .wishing("元宵节快乐")
    .act_name("猜灯谜抢红包活动")
    .remark("快来抢！");
    match agentid {
        Some(agentid) => builder.agentid(agentid),
        None => builder.sender_name("张三"),
    }
    .build()
    .unwrap()
}

pub(crate) fn pay_employee(trade_no: &str, openid: &str) -> PayEmployee {
    PayEmployee::builder(
        TradeNo::new(trade_no).unwrap(),
        OpenId::new(openid).unwrap(),
        Amount::from_fen(10_000),
    )
    .check_name(CheckName::NoCheck)
    .desc("报销")
    .spbill_create_ip("10.0.0.1")
    .ww_msg_type(MsgType::NormalMsg)
    .act_name("差旅报销")
    .build()
    .unwrap()
}

pub(crate) fn transfer(trade_no: &str) -> Transfer {
    Transfer::builder(
        TradeNo::new(trade_no).unwrap(),
        OpenId::new(OPENID).unwrap(),
        Amount::from_fen(10_000),
    )
    .check_name(CheckName::NoCheck)
    .desc("理赔")
    .spbill_create_ip("10.0.0.1")
    .build()
    .unwrap()
}

/// An XML reply with these fields.
pub(crate) fn xml(fields: &[(&str, &str)]) -> Vec<u8> {
    write_document(fields, None)
}

/// An XML reply with these fields and a `sign` made with the test API key.
pub(crate) fn signed_xml(fields: &[(&str, &str)]) -> Vec<u8> {
    let sign = signer().sign_md5(fields.iter().copied()).unwrap();
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("sign", sign.as_str()));
    write_document(&all, None)
}

/// The fields of a request body.
pub(crate) fn fields_of(request: &HttpRequest) -> Vec<(String, String)> {
    request.fields().unwrap()
}

pub(crate) fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// A success reply to a send that echoes the request's fields.
pub(crate) fn send_success(request: &HttpRequest, sign: bool) -> HttpResponse {
    let fields = fields_of(request);
    let mut reply: Vec<(String, String)> = vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "ok".into()),
        ("result_code".into(), "SUCCESS".into()),
    ];
    for name in [
        "mch_billno",
        "partner_trade_no",
        "mch_id",
        "mchid",
        "wxappid",
        "appid",
        "mch_appid",
        "re_openid",
        "total_amount",
    ] {
        if let Some(value) = field(&fields, name) {
            reply.push((name.into(), value));
        }
    }
    reply.push(("send_listid".into(), "1000041701201411111234567890".into()));
    reply.push(("payment_no".into(), "1000018301201505190181489473".into()));
    let pairs: Vec<(&str, &str)> = reply
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let body = if sign {
        signed_xml(&pairs)
    } else {
        xml(&pairs)
    };
    HttpResponse::new(200, body)
}

/// A `result_code=FAIL` reply with this `err_code`.
pub(crate) fn fail_reply(code: &str) -> Vec<u8> {
    xml(&[
        ("return_code", "SUCCESS"),
        ("return_msg", "fail"),
        ("result_code", "FAIL"),
        ("err_code", code),
        ("err_code_des", "描述"),
    ])
}

/// A successful query reply with this `status` for `bill`.
pub(crate) fn query_status(bill_field: &str, bill: &str, status: &str, sign: bool) -> Vec<u8> {
    let fields = [
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("result_code", "SUCCESS"),
        (bill_field, bill),
        ("mch_id", MCH_ID),
        ("detail_id", "1000041701201411111234567890"),
        ("status", status),
        ("send_type", "API"),
        ("total_amount", "1000"),
        ("payment_amount", "10000"),
        // The payee: every query names it (a cash red packet in its
        // receiver list; an unopened one names nobody: see the tests of
        // `PayeeNotNamed`).
        ("openid", OPENID),
        ("send_time", "2024-02-10 10:00:05"),
    ];
    if sign {
        signed_xml(&fields)
    } else {
        xml(&fields)
    }
}

/// Shared list of instants at which the mock saw requests (paused-clock tests).
#[derive(Clone, Default)]
pub(crate) struct Times(pub Arc<Mutex<Vec<tokio::time::Instant>>>);

impl Times {
    pub(crate) fn mark(&self) {
        self.0.lock().unwrap().push(tokio::time::Instant::now());
    }
    pub(crate) fn gaps(&self) -> Vec<std::time::Duration> {
        let times = self.0.lock().unwrap();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}
