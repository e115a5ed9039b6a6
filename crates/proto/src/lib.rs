//! # hongbao-proto
//!
//! The WeChat Pay API v2 "marketing transfers" family (`/mmpaymkttransfers/`:
//! cash red packets, WeCom red packets and pay-to-employee, transfers to
//! change) as pure data: typed requests and replies, validation that reports
//! every problem at once, signed XML bodies that a strict server reads back
//! byte for byte, a safe and tolerant reply parser, every documented error
//! code, and the decision that matters most — what a reply means for the
//! money ([`Outcome`]: paid, not paid, or unknown). No I/O, no clock, no
//! randomness.
//!
//! ```
//! use hongbao_proto::{
//!     build, interpret, Amount, BillNo, Merchant, NonceStr, OpenId, Outcome, RedPacket,
//! };
//! use hongbao_sign::{ApiKey, Signer};
//!
//! let signer = Signer::new(ApiKey::new("192006250b4c09247ec02edce69f6a2d")?);
//! let merchant = Merchant::new("10000098", "wx8888888888888888");
//! let packet = RedPacket::builder(
//!     BillNo::new("10000098201411111234567890")?,
//!     OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E")?,
//!     Amount::parse_yuan("10.00")?,
//! )
//! .send_name("天虹百货")
//! .wishing("感谢您参加猜灯谜活动，祝您元宵节快乐！")
//! .client_ip("192.168.0.1")
//! .act_name("猜灯谜抢红包活动")
//! .remark("猜越多得越多，快来抢！")
//! .build()?; // every broken rule at once
//! let nonce = NonceStr::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS")?;
//! let signed = build(&packet, &merchant, &nonce, &signer, None)?;
//! assert_eq!(signed.sign(), "A6BA94628F22472191B0BE15AE6F2C87");
//!
//! // ... POST signed.body(), then decide what the reply means:
//! let reply = "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
//!              <mch_billno>10000098201411111234567890</mch_billno>\
//!              <send_listid>1000041701201411111234567890</send_listid></xml>";
//! let seen = interpret(signed.endpoint(), "10000098201411111234567890", 200, reply.as_bytes(), &signer);
//! assert!(matches!(seen.outcome, Outcome::Paid(_)));
//!
//! // A reply nobody can read is never a failure: keep the bill number.
//! let seen = interpret(signed.endpoint(), "10000098201411111234567890", 502, b"", &signer);
//! assert!(seen.outcome.is_unknown());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`endpoint`] (the one table), [`values`], [`validate`], [`xml`],
//! [`model`], [`code`], [`outcome`], [`mod@build`], [`prepared`]. Everything is re-exported at
//! the crate root.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod build;
pub mod code;
pub mod endpoint;
pub mod model;
pub mod outcome;
pub mod prepared;
pub mod validate;
pub mod values;
pub mod xml;

pub use build::{BuildError, SignDebug, build, build_debug, resign, signed_with};
pub use code::{BillRule, ErrorClass, ErrorCode};
pub use endpoint::{Endpoint, EndpointSpec, Family, GET_SIGN_KEY_ALT_PATH, ProductState};
pub use model::{
    AnyReply, AnyRequest, BuilderField, Envelope, FieldSpec, GroupRedPacket, GroupRedPacketBuilder,
    HbInfo, Merchant, MiniProgramRedPacket, MiniProgramRedPacketBuilder, PayEmployee,
    PayEmployeeBuilder, PayEmployeeQuery, PayEmployeeQueryBuilder, PayEmployeeQueryReply,
    PayEmployeeReply, RedPacket, RedPacketBuilder, RedPacketQuery, RedPacketQueryBuilder,
    RedPacketQueryReply, RedPacketReply, Reply, ReplyError, Request, RequestVisitor, SignKeyReply,
    SignKeyRequest, Transfer, TransferBuilder, TransferQuery, TransferQueryBuilder,
    TransferQueryReply, TransferReply, WorkwxRedPacket, WorkwxRedPacketBuilder,
    WorkwxRedPacketQuery, WorkwxRedPacketQueryBuilder, WorkwxRedPacketQueryReply,
    WorkwxRedPacketReply,
};
pub use outcome::{
    Conflict, Expected, Interpretation, NextStep, NotPaid, Outcome, PayoutStatus, Receipt, Refund,
    Unknown, UnknownReason, classify, interpret, interpret_expecting, interpret_signed,
};
pub use prepared::{BodyMismatch, PREPARED_FORMAT, Prepared};
pub use validate::{Rule, Violation, Violations, is_xml_char};
pub use values::{
    Amount, AmountError, AmtType, BillNo, CheckName, Date, HbType, MIN_RANDOM_CHARS, MsgType,
    NonceStr, OpenId, RedPacketStatus, ResultCode, SceneId, SendType, TradeNo, TransferStatus,
};
pub use xml::{MAX_BODY_BYTES, MAX_DEPTH, RawXml, Records, XmlError, write_document};
