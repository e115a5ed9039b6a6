//! Cash red packets: sendredpack, sendgroupredpack, sendminiprogramhb, gethbinfo.

use serde::Serialize;

#[cfg(doc)]
use super::Request;
use super::declare::request;
use super::{ReplyError, reply};
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violation};
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
/// The field required outside the default range.
pub(crate) const SCENE_FIELD: &str = "scene_id";

/// Cross-field rule of sendredpack, sendminiprogramhb and sendworkwxredpack
/// (the 0.01–4999 yuan range is the field rule of `total_amount`): outside
/// 1–200 yuan `scene_id` is required.
pub(crate) fn scene_for_amount(c: &mut Checker, amount: Amount, scene_id: Option<&SceneId>) {
    let fen = amount.fen();
    if scene_id.is_none() && fen >= 1 && !(DEFAULT_MIN_FEN..=DEFAULT_MAX_FEN).contains(&fen) {
        c.push(
            SCENE_FIELD,
            Rule::RequiredWhen("total_amount is outside 1.00–200.00 yuan"),
            None,
        );
    }
}

/// Reads `scene_id`: a documented scene, or a violation.
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

request! {
    /// `sendredpack`: one cash red packet of a fixed amount to one user
    /// (`total_num` is always 1 and is added by [`Request::fields`]).
    pub struct RedPacket / RedPacketBuilder {
        endpoint: Endpoint::SendRedPacket,
        reply: RedPacketReply,
        bill: mch_billno,
        builder(mch_billno: BillNo, re_openid: OpenId, total_amount: Amount),
        check: red_packet_rules,
    }
    fields {
        /// Bill number (`mch_billno`).
        mch_billno: BillNo => Typed;
        /// Sender name shown to the user (≤ 32 characters).
        send_name: String => Text(32);
        /// Receiving user's openid under `wxappid` (≤ 32 characters).
        re_openid: OpenId => MaxLen(32);
        /// Amount; 1–200 yuan unless `scene_id` is set, never above 4999 yuan.
        total_amount: Amount => Fen(1, CEILING_FEN), then "total_num" = "1";
        /// Blessing text (≤ 128 characters).
        wishing: String => Text(128);
        /// IPv4 address of the calling machine.
        client_ip: String => Ipv4;
        /// Activity name (≤ 32 characters).
        act_name: String => Text(32);
        /// Remark (≤ 256 characters).
        remark: String => Text(256);
        /// Usage scene; required outside 1–200 yuan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene_id: Option<SceneId> => Scene;
        /// Risk info, already URL-encoded by the caller (≤ 128 characters); signed as given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        risk_info: Option<String> => Text(128);
        /// Service-provider mode: sub-merchant id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub_mch_id: Option<String> => Id;
        /// Service-provider mode: appid used to reach the user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msgappid: Option<String> => Text(32);
        /// Service-provider mode: merchant whose funds are used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consume_mch_id: Option<String> => Id;
    }
}

fn red_packet_rules(r: &RedPacket, c: &mut Checker) {
    scene_for_amount(c, r.total_amount, r.scene_id.as_ref());
}

request! {
    /// `sendgroupredpack`: a group ("fission") red packet. **Offline since
    /// 2024-06-05**; kept for existing integrations and emulators.
    pub struct GroupRedPacket / GroupRedPacketBuilder {
        endpoint: Endpoint::SendGroupRedPacket,
        reply: RedPacketReply,
        bill: mch_billno,
        builder(mch_billno: BillNo, re_openid: OpenId, total_amount: Amount, total_num: u32),
        check: group_rules,
    }
    fields {
        /// Bill number.
        mch_billno: BillNo => Typed;
        /// Service-provider mode: sub-merchant id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub_mch_id: Option<String> => Id;
        /// Sender name (≤ 32 characters).
        send_name: String => Text(32);
        /// Seed user's openid (≤ 32 characters).
        re_openid: OpenId => MaxLen(32);
        /// Total of the whole group; the average per packet must be 1–200 yuan.
        total_amount: Amount => Typed;
        /// Number of packets, 3–20.
        total_num: u32 => Range(3, 20);
        /// How the total is split (`ALL_RAND`, the builder's default).
        amt_type: AmtType => Typed;
        /// Blessing (≤ 128 characters).
        wishing: String => Text(128);
        /// Activity name (≤ 32 characters).
        act_name: String => Text(32);
        /// Remark (≤ 256 characters).
        remark: String => Text(256);
        /// Usage scene.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene_id: Option<SceneId> => Scene;
        /// Risk info, URL-encoded by the caller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        risk_info: Option<String> => Text(128);
        /// Service-provider mode: merchant whose funds are used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consume_mch_id: Option<String> => Id;
    }
}

/// The average per packet must be 1–200 yuan (checked when `total_num` is in range).
fn group_rules(g: &GroupRedPacket, c: &mut Checker) {
    if (3..=20).contains(&g.total_num) {
        let n = u64::from(g.total_num);
        let fen = g.total_amount.fen();
        if fen < DEFAULT_MIN_FEN * n || fen > DEFAULT_MAX_FEN * n {
            c.violations.push(Violation::new(
                "total_amount",
                Rule::AverageAmountRange {
                    min: Amount::from_fen(DEFAULT_MIN_FEN),
                    max: Amount::from_fen(DEFAULT_MAX_FEN),
                },
                Some(g.total_amount.to_string()),
            ));
        }
    }
}

request! {
    /// `sendminiprogramhb`: a red packet the mini program opens with
    /// `wx.sendBizRedPacket` (pass the reply's `package`). `total_num=1` and
    /// `notify_way=MINI_PROGRAM_JSAPI` are added by [`Request::fields`].
    pub struct MiniProgramRedPacket / MiniProgramRedPacketBuilder {
        endpoint: Endpoint::SendMiniProgramRedPacket,
        reply: RedPacketReply,
        bill: mch_billno,
        builder(mch_billno: BillNo, re_openid: OpenId, total_amount: Amount),
        check: mini_program_rules,
    }
    fields {
        /// Bill number.
        mch_billno: BillNo => Typed;
        /// Sender name (≤ 32 characters).
        send_name: String => Text(32);
        /// User's openid under the mini program (≤ 32 characters).
        re_openid: OpenId => MaxLen(32);
        /// Amount; 1–200 yuan unless `scene_id` is set, never above 4999 yuan.
        total_amount: Amount => Fen(1, CEILING_FEN), then "total_num" = "1";
        /// Blessing (≤ 128 characters).
        wishing: String => Text(128);
        /// Activity name (≤ 32 characters).
        act_name: String => Text(32);
        /// Remark (≤ 256 characters).
        remark: String => Text(256), then "notify_way" = "MINI_PROGRAM_JSAPI";
        /// Usage scene; required outside 1–200 yuan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene_id: Option<SceneId> => Scene;
    }
}

fn mini_program_rules(r: &MiniProgramRedPacket, c: &mut Checker) {
    scene_for_amount(c, r.total_amount, r.scene_id.as_ref());
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

request! {
    /// `gethbinfo`: query a normal, group or mini-program red packet
    /// (`bill_type=MCHT` is added by [`Request::fields`]).
    pub struct RedPacketQuery / RedPacketQueryBuilder {
        endpoint: Endpoint::QueryRedPacket,
        reply: RedPacketQueryReply,
        bill: mch_billno,
        builder(mch_billno: BillNo),
    }
    fields {
        /// Bill number used when sending.
        mch_billno: BillNo => Typed, then "bill_type" = "MCHT";
    }
}

impl RedPacketQuery {
    /// The query for `mch_billno` (always valid).
    pub fn new(mch_billno: BillNo) -> Self {
        RedPacketQuery { mch_billno }
    }
}

/// One receiver of a red packet (`hblist/hbinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
