//! [`Prepared`]: a signed request, ready to be stored and (re)sent verbatim.

use std::fmt;

use bytes::Bytes;
use hongbao_proto::{Amount, Endpoint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The storage format a [`Prepared`] is written in. A stored request
/// without a `format` (written before it existed) is format 1; one of a newer
/// format is refused with an error that says so, never guessed at.
pub const PREPARED_FORMAT: u32 = 1;

/// A fully built and signed money-moving request: the exact body bytes, the
/// endpoint, the bill number, and what the rate limiter needs.
///
/// Made by `Client::prepare`; sent (and resent, byte for byte) by
/// `Client::execute`. Serializable (serde) so it can be written to a journal
/// **before** the first send and resent after a crash: resending it can never
/// pay twice, because the bill number, nonce and sign are unchanged.
///
/// The body contains no secret (only the signature), but it does contain the
/// payee's openid and the amount: store it accordingly. `Debug` omits the body.
#[derive(Clone, Serialize, Deserialize)]
pub struct Prepared {
    /// The storage format ([`PREPARED_FORMAT`]).
    #[serde(default = "format_1", deserialize_with = "de_format")]
    pub(crate) format: u32,
    #[serde(serialize_with = "ser_endpoint", deserialize_with = "de_endpoint")]
    pub(crate) endpoint: Endpoint,
    pub(crate) mch_id: String,
    pub(crate) bill: String,
    pub(crate) nonce: String,
    pub(crate) sign: String,
    pub(crate) payee: Option<String>,
    /// The body, always UTF-8 (made from a `String`, stored as a string);
    /// shared, not copied, by every attempt.
    #[serde(serialize_with = "ser_body", deserialize_with = "de_body")]
    pub(crate) body: Bytes,
    /// What the reply must echo, known only when the request was built by
    /// this process (then the body need not be read back before sending).
    /// Never serialized: a `Prepared` read from storage is checked against
    /// its body instead.
    #[serde(skip)]
    pub(crate) echoes: Option<Echoes>,
}

/// The values a reply echoes, as they were signed into the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Echoes {
    /// The app id field's value, if the endpoint has one.
    pub(crate) appid: Option<String>,
    /// The amount, if the endpoint has one.
    pub(crate) amount: Option<Amount>,
}

/// Equal when they would send the same bytes (the in-memory echo cache is
/// not part of the value).
impl PartialEq for Prepared {
    fn eq(&self, other: &Self) -> bool {
        self.endpoint == other.endpoint
            && self.mch_id == other.mch_id
            && self.bill == other.bill
            && self.nonce == other.nonce
            && self.sign == other.sign
            && self.payee == other.payee
            && self.body == other.body
    }
}

impl Eq for Prepared {}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("endpoint", &self.endpoint)
            .field("mch_id", &self.mch_id)
            .field("bill", &self.bill)
            .field("nonce", &self.nonce)
            .field("sign", &self.sign)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The echo values, when this process built the request.
    pub(crate) fn echoes(&self) -> Option<&Echoes> {
        self.echoes.as_ref()
    }

    /// The endpoint it is sent to.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The merchant id it was signed for.
    pub fn mch_id(&self) -> &str {
        &self.mch_id
    }

    /// The bill number (`mch_billno` or `partner_trade_no`).
    pub fn bill(&self) -> &str {
        &self.bill
    }

    /// The `nonce_str` in the body.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The `sign` in the body.
    pub fn sign(&self) -> &str {
        &self.sign
    }

    /// The payee's openid (`re_openid` / `openid`), used by rate limits.
    pub fn payee(&self) -> Option<&str> {
        self.payee.as_deref()
    }

    /// The exact XML body that is sent.
    pub fn body(&self) -> &str {
        // Always UTF-8: made from a `String` (see `ser_body`/`de_body`).
        std::str::from_utf8(&self.body).unwrap_or_default()
    }

    /// The body as shared bytes (sending it copies nothing).
    pub fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }
}

fn format_1() -> u32 {
    1
}

fn de_format<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let format = u32::deserialize(d)?;
    if format == 0 || format > PREPARED_FORMAT {
        return Err(serde::de::Error::custom(format!(
            "stored request of format {format}: this version of hongbao reads formats 1 to {PREPARED_FORMAT}; upgrade it to send this request"
        )));
    }
    Ok(format)
}

fn ser_body<S: Serializer>(body: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => s.serialize_str(text),
        Err(_) => Err(serde::ser::Error::custom("the body is not UTF-8")),
    }
}

fn de_body<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    Ok(Bytes::from(String::deserialize(d)?))
}

fn ser_endpoint<S: Serializer>(endpoint: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(endpoint.name())
}

fn de_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
    let name = String::deserialize(d)?;
    Endpoint::ALL
        .iter()
        .copied()
        .find(|e| e.name() == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown endpoint {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request stored before `format` existed (the fields `Prepared` has
    /// always written).
    const OLD: &str = r#"{"endpoint":"sendredpack","mch_id":"10000098","bill":"B1","nonce":"N1","sign":"S1","payee":"o1","body":"<xml><mch_billno>B1</mch_billno></xml>"}"#;

    #[test]
    fn a_request_stored_without_a_format_still_reads() {
        let prepared: Prepared = serde_json::from_str(OLD).expect("reads");
        assert_eq!(prepared.format, 1);
        assert_eq!(prepared.endpoint(), Endpoint::SendRedPacket);
        assert_eq!(prepared.bill(), "B1");
        assert_eq!(prepared.payee(), Some("o1"));
        assert_eq!(prepared.body(), "<xml><mch_billno>B1</mch_billno></xml>");
        assert_eq!(&prepared.body_bytes()[..], prepared.body().as_bytes());
        let written = serde_json::to_value(&prepared).expect("writes");
        assert_eq!(written["format"], PREPARED_FORMAT);
        let again: Prepared = serde_json::from_value(written).expect("reads back");
        assert_eq!(again, prepared);
    }

    #[test]
    fn a_request_of_a_newer_format_is_refused_clearly() {
        let mut json: serde_json::Value = serde_json::from_str(OLD).expect("json");
        json["format"] = (PREPARED_FORMAT + 1).into();
        let err = serde_json::from_value::<Prepared>(json)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("format 2") && err.contains("upgrade"), "{err}");
    }
}
