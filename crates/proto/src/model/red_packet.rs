//! Cash red packets: sendredpack, sendgroupredpack, sendminiprogramhb, gethbinfo.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{
    Merchant, ReplyError, Request, WireReader, finish_wire, num, push_opt, query_request, reply,
};
use crate::endpoint::Endpoint;
use crate::validate::{ALNUM, Checker, Rule, Violation, Violations, alnum};
use crate::values::{
    Amount, AmtType, BillNo, HbType, OpenId, RedPacketStatus, SceneId, SendType, parse_uint,
};
use crate::xml::RawXml;

/// Smallest packet without `scene_id` (1 yuan).
pub(crate) const DEFAULT_MIN_FEN: u64 = 100;
/// Largest packet without `scene_id` (200 yuan).
pub(crate) const DEFAULT_MAX_FEN: u64 = 20_000;
/// Hard ceiling per packet even with a raised limit (4999 yuan).
pub(crate) const CEILING_FEN: u64 = 499_900;

/// The red packet amount rules shared by sendredpack, sendminiprogramhb and
/// sendworkwxredpack: 0.01–4999 yuan; outside 1–200 yuan `scene_id` is required.
pub(crate) fn check_packet_amount(c: &mut Checker, amount: Amount, scene_id: Option<&SceneId>) {
    c.amount("total_amount", amount, 1, CEILING_FEN);
    let fen = amount.fen();
    if scene_id.is_none()
        && (1..=CEILING_FEN).contains(&fen)
        && !(DEFAULT_MIN_FEN..=DEFAULT_MAX_FEN).contains(&fen)
    {
        c.push(
            "scene_id",
            Rule::RequiredWhen("total_amount is outside 1.00–200.00 yuan"),
            None,
        );
    }
    check_scene(c, scene_id);
}

/// Checks the sender name (≤ 32 characters) and the receiver's openid (≤ 32).
fn check_sender(c: &mut Checker, send_name: &str, re_openid: &OpenId) {
    c.text("send_name", send_name, 32);
    check_openid(c, "re_openid", re_openid, 32);
}

/// Checks the texts a red packet shows, in this order: blessing (≤ 128
/// characters), activity name (≤ 32), remark (≤ 256).
pub(crate) fn check_greeting(c: &mut Checker, wishing: &str, act_name: &str, remark: &str) {
    c.text("wishing", wishing, 128);
    c.text("act_name", act_name, 32);
    c.text("remark", remark, 256);
}

/// Pushes `wishing`, `act_name` and `remark`, in this order.
pub(crate) fn push_greeting<'a>(
    f: &mut Vec<(&'static str, Cow<'a, str>)>,
    wishing: &'a str,
    act_name: &'a str,
    remark: &'a str,
) {
    f.push(("wishing", Cow::Borrowed(wishing)));
    f.push(("act_name", Cow::Borrowed(act_name)));
    f.push(("remark", Cow::Borrowed(remark)));
}

/// Pushes what a one-packet send (sendredpack, sendminiprogramhb) starts
/// with: `mch_billno`, `send_name`, `re_openid`, `total_amount` and
/// `total_num=1`.
fn push_single_head<'a>(
    f: &mut Vec<(&'static str, Cow<'a, str>)>,
    mch_billno: &'a BillNo,
    send_name: &'a str,
    re_openid: &'a OpenId,
    total_amount: Amount,
) {
    f.push(("mch_billno", Cow::Borrowed(mch_billno.as_str())));
    f.push(("send_name", Cow::Borrowed(send_name)));
    f.push(("re_openid", Cow::Borrowed(re_openid.as_str())));
    f.push(("total_amount", num(total_amount.fen())));
    f.push(("total_num", Cow::Borrowed("1")));
}

/// Reads back what [`push_single_head`] writes: the bill number, sender
/// name, openid and amount (`total_num` must be 1).
fn read_single_head(r: &mut WireReader<'_>) -> (Option<BillNo>, String, Option<OpenId>, Amount) {
    let mch_billno = r.parsed("mch_billno", str::parse::<BillNo>);
    let send_name = r.req("send_name");
    let re_openid = r.parsed("re_openid", str::parse::<OpenId>);
    let total_amount = r.amount("total_amount");
    r.fixed("total_num", "1");
    (mch_billno, send_name, re_openid, total_amount)
}

pub(crate) fn check_scene(c: &mut Checker, scene_id: Option<&SceneId>) {
    if let Some(SceneId::Unknown(s)) = scene_id {
        c.push("scene_id", Rule::OneOf(SceneId::WIRE), Some(s));
    }
}

pub(crate) fn check_openid(c: &mut Checker, field: &'static str, openid: &OpenId, max: usize) {
    if openid.as_str().len() > max {
        c.push(field, Rule::MaxChars(max), Some(openid.as_str()));
    }
}

pub(crate) fn check_opt_id(c: &mut Checker, field: &'static str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        c.ascii(field, v, 32, alnum, ALNUM);
    }
}

pub(crate) fn scene(s: &str) -> Result<SceneId, Violation> {
    match SceneId::parse(s) {
        SceneId::Unknown(s) => Err(Violation::new(
            "scene_id",
            Rule::OneOf(SceneId::WIRE),
            Some(s),
        )),
        known => Ok(known),
    }
}

/// `sendredpack`: one cash red packet of a fixed amount to one user
/// (`total_num` is always 1 and is added by [`Request::fields`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedPacket {
    /// Bill number (`mch_billno`).
    pub mch_billno: BillNo,
    /// Sender name shown to the user (≤ 32 characters).
    pub send_name: String,
    /// Receiving user's openid under `wxappid` (≤ 32 characters).
    pub re_openid: OpenId,
    /// Amount; 1–200 yuan unless `scene_id` is set, never above 4999 yuan.
    pub total_amount: Amount,
    /// Blessing text (≤ 128 characters).
    pub wishing: String,
    /// IPv4 address of the calling machine.
    pub client_ip: String,
    /// Activity name (≤ 32 characters).
    pub act_name: String,
    /// Remark (≤ 256 characters).
    pub remark: String,
    /// Usage scene; required outside 1–200 yuan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<SceneId>,
    /// Risk info, already URL-encoded by the caller (≤ 128 characters); signed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_info: Option<String>,
    /// Service-provider mode: sub-merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mch_id: Option<String>,
    /// Service-provider mode: appid used to reach the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgappid: Option<String>,
    /// Service-provider mode: merchant whose funds are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_mch_id: Option<String>,
}

impl Request for RedPacket {
    const ENDPOINT: Endpoint = Endpoint::SendRedPacket;
    type Reply = RedPacketReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        let mut c = Checker::new();
        check_sender(&mut c, &self.send_name, &self.re_openid);
        check_packet_amount(&mut c, self.total_amount, self.scene_id.as_ref());
        c.text("wishing", &self.wishing, 128);
        c.ipv4("client_ip", &self.client_ip);
        c.text("act_name", &self.act_name, 32);
        c.text("remark", &self.remark, 256);
        c.opt_text("risk_info", self.risk_info.as_deref(), 128);
        check_opt_id(&mut c, "sub_mch_id", self.sub_mch_id.as_deref());
        c.opt_text("msgappid", self.msgappid.as_deref(), 32);
        check_opt_id(&mut c, "consume_mch_id", self.consume_mch_id.as_deref());
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.mch_billno.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = Vec::with_capacity(16);
        push_single_head(
            &mut f,
            &self.mch_billno,
            &self.send_name,
            &self.re_openid,
            self.total_amount,
        );
        f.push(("wishing", Cow::Borrowed(self.wishing.as_str())));
        f.push(("client_ip", Cow::Borrowed(self.client_ip.as_str())));
        f.push(("act_name", Cow::Borrowed(self.act_name.as_str())));
        f.push(("remark", Cow::Borrowed(self.remark.as_str())));
        push_opt(
            &mut f,
            "scene_id",
            self.scene_id.as_ref().map(SceneId::as_str),
        );
        push_opt(&mut f, "risk_info", self.risk_info.as_deref());
        push_opt(&mut f, "sub_mch_id", self.sub_mch_id.as_deref());
        push_opt(&mut f, "msgappid", self.msgappid.as_deref());
        push_opt(&mut f, "consume_mch_id", self.consume_mch_id.as_deref());
        f
    }
}

impl RedPacket {
    /// Reads a request body back (emulators, sign debugger): every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let (mch_billno, send_name, re_openid, total_amount) = read_single_head(&mut r);
        let wishing = r.req("wishing");
        let client_ip = r.req("client_ip");
        let act_name = r.req("act_name");
        let remark = r.req("remark");
        let scene_id = r.opt_parsed("scene_id", scene);
        let risk_info = r.opt("risk_info");
        let sub_mch_id = r.opt("sub_mch_id");
        let msgappid = r.opt("msgappid");
        let consume_mch_id = r.opt("consume_mch_id");
        let request = match (mch_billno, re_openid) {
            (Some(mch_billno), Some(re_openid)) => Some(RedPacket {
                mch_billno,
                send_name,
                re_openid,
                total_amount,
                wishing,
                client_ip,
                act_name,
                remark,
                scene_id,
                risk_info,
                sub_mch_id,
                msgappid,
                consume_mch_id,
            }),
            _ => None,
        };
        finish_wire(r, request)
    }
}

/// `sendgroupredpack`: a group ("fission") red packet. **Offline since
/// 2024-06-05**; kept for existing integrations and emulators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRedPacket {
    /// Bill number.
    pub mch_billno: BillNo,
    /// Sender name (≤ 32 characters).
    pub send_name: String,
    /// Seed user's openid (≤ 32 characters).
    pub re_openid: OpenId,
    /// Total of the whole group; the average per packet must be 1–200 yuan.
    pub total_amount: Amount,
    /// Number of packets, 3–20.
    pub total_num: u32,
    /// How the total is split (`ALL_RAND`).
    pub amt_type: AmtType,
    /// Blessing (≤ 128 characters).
    pub wishing: String,
    /// Activity name (≤ 32 characters).
    pub act_name: String,
    /// Remark (≤ 256 characters).
    pub remark: String,
    /// Usage scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<SceneId>,
    /// Risk info, URL-encoded by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_info: Option<String>,
    /// Service-provider mode: sub-merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mch_id: Option<String>,
    /// Service-provider mode: merchant whose funds are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_mch_id: Option<String>,
}

impl Request for GroupRedPacket {
    const ENDPOINT: Endpoint = Endpoint::SendGroupRedPacket;
    type Reply = RedPacketReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        let mut c = Checker::new();
        check_sender(&mut c, &self.send_name, &self.re_openid);
        if !(3..=20).contains(&self.total_num) {
            c.push(
                "total_num",
                Rule::Range { min: 3, max: 20 },
                Some(&self.total_num.to_string()),
            );
        } else {
            let n = u64::from(self.total_num);
            let fen = self.total_amount.fen();
            if fen < DEFAULT_MIN_FEN * n || fen > DEFAULT_MAX_FEN * n {
                c.violations.push(Violation::new(
                    "total_amount",
                    Rule::AverageAmountRange {
                        min: Amount::from_fen(DEFAULT_MIN_FEN),
                        max: Amount::from_fen(DEFAULT_MAX_FEN),
                    },
                    Some(self.total_amount.to_string()),
                ));
            }
        }
        check_greeting(&mut c, &self.wishing, &self.act_name, &self.remark);
        check_scene(&mut c, self.scene_id.as_ref());
        c.opt_text("risk_info", self.risk_info.as_deref(), 128);
        check_opt_id(&mut c, "sub_mch_id", self.sub_mch_id.as_deref());
        check_opt_id(&mut c, "consume_mch_id", self.consume_mch_id.as_deref());
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.mch_billno.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = Vec::with_capacity(16);
        f.push(("mch_billno", Cow::Borrowed(self.mch_billno.as_str())));
        push_opt(&mut f, "sub_mch_id", self.sub_mch_id.as_deref());
        f.push(("send_name", Cow::Borrowed(self.send_name.as_str())));
        f.push(("re_openid", Cow::Borrowed(self.re_openid.as_str())));
        f.push(("total_amount", num(self.total_amount.fen())));
        f.push(("total_num", num(u64::from(self.total_num))));
        f.push(("amt_type", Cow::Borrowed(self.amt_type.as_str())));
        push_greeting(&mut f, &self.wishing, &self.act_name, &self.remark);
        push_opt(
            &mut f,
            "scene_id",
            self.scene_id.as_ref().map(SceneId::as_str),
        );
        push_opt(&mut f, "risk_info", self.risk_info.as_deref());
        push_opt(&mut f, "consume_mch_id", self.consume_mch_id.as_deref());
        f
    }
}

impl GroupRedPacket {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let mch_billno = r.parsed("mch_billno", str::parse::<BillNo>);
        let sub_mch_id = r.opt("sub_mch_id");
        let send_name = r.req("send_name");
        let re_openid = r.parsed("re_openid", str::parse::<OpenId>);
        let total_amount = r.amount("total_amount");
        let total_num = r.uint("total_num");
        let amt_type = r.parsed("amt_type", str::parse::<AmtType>);
        let wishing = r.req("wishing");
        let act_name = r.req("act_name");
        let remark = r.req("remark");
        let scene_id = r.opt_parsed("scene_id", scene);
        let risk_info = r.opt("risk_info");
        let consume_mch_id = r.opt("consume_mch_id");
        let total_num = total_num.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let request = match (mch_billno, re_openid, total_num, amt_type) {
            (Some(mch_billno), Some(re_openid), Some(total_num), Some(amt_type)) => {
                Some(GroupRedPacket {
                    mch_billno,
                    send_name,
                    re_openid,
                    total_amount,
                    total_num,
                    amt_type,
                    wishing,
                    act_name,
                    remark,
                    scene_id,
                    risk_info,
                    sub_mch_id,
                    consume_mch_id,
                })
            }
            _ => None,
        };
        finish_wire(r, request)
    }
}

/// `sendminiprogramhb`: a red packet the mini program opens with
/// `wx.sendBizRedPacket` (pass the reply's `package`). `total_num=1` and
/// `notify_way=MINI_PROGRAM_JSAPI` are added by [`Request::fields`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniProgramRedPacket {
    /// Bill number.
    pub mch_billno: BillNo,
    /// Sender name (≤ 32 characters).
    pub send_name: String,
    /// User's openid under the mini program (≤ 32 characters).
    pub re_openid: OpenId,
    /// Amount; 1–200 yuan unless `scene_id` is set, never above 4999 yuan.
    pub total_amount: Amount,
    /// Blessing (≤ 128 characters).
    pub wishing: String,
    /// Activity name (≤ 32 characters).
    pub act_name: String,
    /// Remark (≤ 256 characters).
    pub remark: String,
    /// Usage scene; required outside 1–200 yuan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<SceneId>,
}

impl Request for MiniProgramRedPacket {
    const ENDPOINT: Endpoint = Endpoint::SendMiniProgramRedPacket;
    type Reply = RedPacketReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        let mut c = Checker::new();
        check_sender(&mut c, &self.send_name, &self.re_openid);
        check_packet_amount(&mut c, self.total_amount, self.scene_id.as_ref());
        check_greeting(&mut c, &self.wishing, &self.act_name, &self.remark);
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.mch_billno.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = Vec::with_capacity(12);
        push_single_head(
            &mut f,
            &self.mch_billno,
            &self.send_name,
            &self.re_openid,
            self.total_amount,
        );
        push_greeting(&mut f, &self.wishing, &self.act_name, &self.remark);
        f.push(("notify_way", Cow::Borrowed("MINI_PROGRAM_JSAPI")));
        push_opt(
            &mut f,
            "scene_id",
            self.scene_id.as_ref().map(SceneId::as_str),
        );
        f
    }
}

impl MiniProgramRedPacket {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let (mch_billno, send_name, re_openid, total_amount) = read_single_head(&mut r);
        let wishing = r.req("wishing");
        let act_name = r.req("act_name");
        let remark = r.req("remark");
        r.fixed("notify_way", "MINI_PROGRAM_JSAPI");
        let scene_id = r.opt_parsed("scene_id", scene);
        let request = match (mch_billno, re_openid) {
            (Some(mch_billno), Some(re_openid)) => Some(MiniProgramRedPacket {
                mch_billno,
                send_name,
                re_openid,
                total_amount,
                wishing,
                act_name,
                remark,
                scene_id,
            }),
            _ => None,
        };
        finish_wire(r, request)
    }
}

reply! {
    /// Reply of sendredpack, sendgroupredpack and sendminiprogramhb.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct RedPacketReply {
        /// Echoed bill number.
        pub mch_billno: Option<String>,
        /// Echoed merchant id.
        pub mch_id: Option<String>,
        /// Echoed appid.
        pub wxappid: Option<String>,
        /// Echoed openid.
        pub re_openid: Option<String>,
        /// Echoed amount (group: the group total).
        pub total_amount: Option<Amount>,
        /// WeChat red packet order number.
        pub send_listid: Option<String>,
        /// Send time (undocumented, seen in real replies).
        pub send_time: Option<String>,
        /// Mini program only: the value to pass to `wx.sendBizRedPacket`.
        pub package: Option<String>,
    }
}

/// `gethbinfo`: query a normal, group or mini-program red packet
/// (`bill_type=MCHT` is added by [`Request::fields`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedPacketQuery {
    /// Bill number used when sending.
    pub mch_billno: BillNo,
}

query_request!(RedPacketQuery: Endpoint::QueryRedPacket => RedPacketQueryReply, mch_billno: BillNo, "bill_type" = "MCHT");

/// One receiver of a red packet (`hblist/hbinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HbInfo {
    /// Receiver.
    pub openid: Option<String>,
    /// Amount received.
    pub amount: Option<Amount>,
    /// Time received (sometimes missing even when received).
    pub rcv_time: Option<String>,
    /// Status (seen only in the official sample).
    pub status: Option<RedPacketStatus>,
}

impl HbInfo {
    /// Every receiver of a reply (`hblist/hbinfo`), empty when absent.
    fn list(raw: &RawXml) -> Result<Vec<HbInfo>, ReplyError> {
        raw.records()
            .iter()
            .map(|r| HbInfo::from_record(r))
            .collect()
    }

    fn from_record(record: &[(String, String)]) -> Result<HbInfo, ReplyError> {
        let get = |name: &str| {
            record
                .iter()
                .find(|(n, v)| n == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let amount = match get("amount") {
            None => None,
            Some(v) => Some(Amount::from_fen(parse_uint(v).ok_or_else(|| {
                ReplyError::Number {
                    field: "hblist/hbinfo/amount".into(),
                    value: v.into(),
                }
            })?)),
        };
        Ok(HbInfo {
            openid: get("openid").map(str::to_owned),
            amount,
            rcv_time: get("rcv_time").map(str::to_owned),
            status: get("status").map(RedPacketStatus::parse),
        })
    }
}

reply! {
    /// Reply of `gethbinfo`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct RedPacketQueryReply {
        /// Echoed bill number.
        pub mch_billno: Option<String>,
        /// Merchant id.
        pub mch_id: Option<String>,
        /// Red packet order id.
        pub detail_id: Option<String>,
        /// Status.
        pub status: Option<RedPacketStatus>,
        /// How it was sent.
        pub send_type: Option<SendType>,
        /// Normal or group.
        pub hb_type: Option<HbType>,
        /// Number of packets.
        pub total_num: Option<u64>,
        /// Total amount.
        pub total_amount: Option<Amount>,
        /// Failure reason (human text).
        pub reason: Option<String>,
        /// Send time.
        pub send_time: Option<String>,
        /// When unclaimed money was refunded.
        pub refund_time: Option<String>,
        /// Refunded amount.
        pub refund_amount: Option<Amount>,
        /// Blessing.
        pub wishing: Option<String>,
        /// Remark.
        pub remark: Option<String>,
        /// Activity name.
        pub act_name: Option<String>,
    }
    /// Receivers (`hblist/hbinfo`), always a list (empty when absent).
    extra hblist: Vec<HbInfo> = HbInfo::list;
}
