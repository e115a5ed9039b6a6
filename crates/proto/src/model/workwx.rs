//! WeCom red packets: sendworkwxredpack, queryworkwxredpack.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::red_packet::{check_greeting, check_openid, check_packet_amount, push_greeting, scene};
use super::{Merchant, Request, WireReader, finish_wire, num, push_opt, query_request, reply};
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule, Violations};
use crate::values::{Amount, BillNo, OpenId, RedPacketStatus, SceneId, SendType};
use crate::xml::RawXml;

/// `sendworkwxredpack`: a WeCom enterprise red packet, sent in a person's
/// name (`sender_name`) **or** an app's name (`agentid`): exactly one of the
/// two. Needs `workwx_sign`, computed with the secret of the WeCom app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkwxRedPacket {
    /// Bill number.
    pub mch_billno: BillNo,
    /// Send in this person's name (≤ 128 characters); exclusive with `agentid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// Send in the name of this WeCom app (unsigned integer); exclusive with `sender_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<String>,
    /// Sender avatar media id (≤ 128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_header_media_id: Option<String>,
    /// Receiver's openid under the corpid (≤ 32 characters).
    pub re_openid: OpenId,
    /// Amount; 1–200 yuan unless `scene_id` is set, never above 4999 yuan.
    pub total_amount: Amount,
    /// Blessing (≤ 128 characters).
    pub wishing: String,
    /// Project name (≤ 32 characters).
    pub act_name: String,
    /// Remark (≤ 256 characters).
    pub remark: String,
    /// Usage scene; required outside 1–200 yuan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<SceneId>,
}

fn given(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty())
}

impl Request for WorkwxRedPacket {
    const ENDPOINT: Endpoint = Endpoint::SendWorkwxRedPacket;
    type Reply = WorkwxRedPacketReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        let mut c = Checker::new();
        if given(&self.sender_name) == given(&self.agentid) {
            c.push(
                "sender_name",
                Rule::ExactlyOneOf("sender_name", "agentid"),
                None,
            );
        }
        c.opt_text("sender_name", self.sender_name.as_deref(), 128);
        c.opt_digits("agentid", self.agentid.as_deref(), 10);
        c.opt_text(
            "sender_header_media_id",
            self.sender_header_media_id.as_deref(),
            128,
        );
        check_openid(&mut c, "re_openid", &self.re_openid, 32);
        check_packet_amount(&mut c, self.total_amount, self.scene_id.as_ref());
        check_greeting(&mut c, &self.wishing, &self.act_name, &self.remark);
        c.finish()
    }

    fn bill(&self) -> Option<&str> {
        Some(self.mch_billno.as_str())
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        let mut f = Vec::with_capacity(12);
        f.push(("mch_billno", Cow::Borrowed(self.mch_billno.as_str())));
        push_opt(&mut f, "sender_name", self.sender_name.as_deref());
        push_opt(&mut f, "agentid", self.agentid.as_deref());
        push_opt(
            &mut f,
            "sender_header_media_id",
            self.sender_header_media_id.as_deref(),
        );
        f.push(("re_openid", Cow::Borrowed(self.re_openid.as_str())));
        f.push(("total_amount", num(self.total_amount.fen())));
        push_greeting(&mut f, &self.wishing, &self.act_name, &self.remark);
        push_opt(
            &mut f,
            "scene_id",
            self.scene_id.as_ref().map(SceneId::as_str),
        );
        f
    }

    fn agentid(&self) -> Option<&str> {
        self.agentid.as_deref().filter(|a| !a.is_empty())
    }
}

impl WorkwxRedPacket {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        let mut r = WireReader::new(raw, Self::ENDPOINT);
        let mch_billno = r.parsed("mch_billno", str::parse::<BillNo>);
        let sender_name = r.opt("sender_name");
        let agentid = r.opt("agentid");
        let sender_header_media_id = r.opt("sender_header_media_id");
        let re_openid = r.parsed("re_openid", str::parse::<OpenId>);
        let total_amount = r.amount("total_amount");
        let wishing = r.req("wishing");
        let act_name = r.req("act_name");
        let remark = r.req("remark");
        let scene_id = r.opt_parsed("scene_id", scene);
        let request = match (mch_billno, re_openid) {
            (Some(mch_billno), Some(re_openid)) => Some(WorkwxRedPacket {
                mch_billno,
                sender_name,
                agentid,
                sender_header_media_id,
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
    /// Reply of `sendworkwxredpack` (signed when `return_code=SUCCESS`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct WorkwxRedPacketReply {
        /// Echoed bill number.
        pub mch_billno: Option<String>,
        /// Echoed merchant id.
        pub mch_id: Option<String>,
        /// Echoed appid (corpid).
        pub wxappid: Option<String>,
        /// Echoed openid.
        pub re_openid: Option<String>,
        /// Echoed amount.
        pub total_amount: Option<Amount>,
        /// WeChat red packet order number.
        pub send_listid: Option<String>,
        /// Sender name, when used.
        pub sender_name: Option<String>,
        /// Sender avatar media id, when used.
        pub sender_header_media_id: Option<String>,
    }
}

/// `queryworkwxredpack`: query a WeCom red packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkwxRedPacketQuery {
    /// Bill number used when sending.
    pub mch_billno: BillNo,
}

query_request!(WorkwxRedPacketQuery: Endpoint::QueryWorkwxRedPacket => WorkwxRedPacketQueryReply, mch_billno: BillNo);

reply! {
    /// Reply of `queryworkwxredpack` (signed when `return_code=SUCCESS`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct WorkwxRedPacketQueryReply {
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
        /// Amount.
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
        /// Project name.
        pub act_name: Option<String>,
        /// Receiver.
        pub openid: Option<String>,
        /// Amount received.
        pub amount: Option<Amount>,
        /// Time received.
        pub rcv_time: Option<String>,
        /// Sender name.
        pub sender_name: Option<String>,
        /// Sender avatar media id.
        pub sender_header_media_id: Option<String>,
    }
}
