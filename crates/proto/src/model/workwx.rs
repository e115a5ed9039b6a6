//! WeCom red packets: sendworkwxredpack, queryworkwxredpack.

use super::declare::request;
use super::red_packet::scene_for_amount;
use super::reply;
use crate::endpoint::Endpoint;
use crate::validate::{Checker, Rule};
use crate::values::{Amount, BillNo, OpenId, RedPacketStatus, SceneId, SendType};

request! {
    /// `sendworkwxredpack`: a WeCom enterprise red packet, sent in a person's
    /// name (`sender_name`) **or** an app's name (`agentid`): at most one of the
    /// two. Needs `workwx_sign`, computed with the secret of the WeCom app.
    pub struct WorkwxRedPacket / WorkwxRedPacketBuilder {
        endpoint: Endpoint::SendWorkwxRedPacket,
        reply: WorkwxRedPacketReply,
        bill: mch_billno,
        builder(mch_billno: BillNo, re_openid: OpenId, total_amount: Amount),
        check: workwx_rules,
        agentid: agentid,
    }
    fields {
        /// Bill number.
        (workwx) mch_billno: BillNo => Typed;
        /// Send in this person's name (≤ 128 characters); exclusive with `agentid`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_name: Option<String> => Text(128);
        /// Send in the name of this WeCom app (unsigned integer); exclusive with `sender_name`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agentid: Option<String> => Digits(10);
        /// Sender avatar media id (≤ 128 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_header_media_id: Option<String> => Text(128);
        /// Receiver's openid under the corpid (≤ 32 characters).
        (workwx) re_openid: OpenId => MaxLen(32);
        /// Amount; 1–200 yuan unless `scene_id` is set (the range is set per merchant).
        (workwx) total_amount: Amount => Fen(1, u64::MAX);
        /// Blessing (≤ 128 characters).
        wishing: String => Text(128);
        /// Project name (≤ 32 characters).
        (workwx) act_name: String => Text(32);
        /// Remark (≤ 256 characters).
        remark: String => Text(256);
        /// Usage scene; required outside 1–200 yuan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene_id: Option<SceneId> => Scene;
    }
}

fn given(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty())
}

/// At most one of `sender_name` and `agentid`; `scene_id` outside 1–200 yuan.
fn workwx_rules(w: &WorkwxRedPacket, c: &mut Checker) {
    if given(&w.sender_name) && given(&w.agentid) {
        c.push(
            "sender_name",
            Rule::AtMostOneOf("sender_name", "agentid"),
            None,
        );
    }
    scene_for_amount(c, w.total_amount, w.scene_id.as_ref());
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

request! {
    /// `queryworkwxredpack`: query a WeCom red packet.
    pub struct WorkwxRedPacketQuery / WorkwxRedPacketQueryBuilder {
        endpoint: Endpoint::QueryWorkwxRedPacket,
        reply: WorkwxRedPacketQueryReply,
        bill: mch_billno,
        builder(mch_billno: BillNo),
    }
    fields {
        /// Bill number used when sending.
        mch_billno: BillNo => Typed;
    }
}

impl WorkwxRedPacketQuery {
    /// The query for `mch_billno` (always valid).
    pub fn new(mch_billno: BillNo) -> Self {
        WorkwxRedPacketQuery { mch_billno }
    }
}

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
