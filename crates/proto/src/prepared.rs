//! [`Prepared`]: a signed request, ready to be stored and (re)sent verbatim.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::endpoint::Endpoint;
use crate::outcome::Expected;
use crate::values::{Amount, parse_uint};
use crate::xml::{RawXml, XmlError};

/// The storage format a [`Prepared`] is written in. A stored request
/// without a `format` (written before it existed) is format 1; one of a newer
/// format is refused with an error that says so, never guessed at.
///
/// Format 1 gained the optional `appid` and `amount` fields; a request
/// stored without them has them read off its body when it is checked
/// ([`Prepared::checked`]).
pub const PREPARED_FORMAT: u32 = 1;

/// A fully built and signed request: the exact body bytes, the endpoint, the
/// bill number, and the values a reply must echo (read once, off the signed
/// fields, when it was signed).
///
/// Made by [`build`](fn@crate::build) (and, in the client, `Client::prepare`);
/// sent (and resent, byte for byte) by the client. Serializable (serde) so it
/// can be written to a journal **before** the first send and resent after a
/// crash: resending it can never pay twice, because the bill number, nonce
/// and sign are unchanged.
///
/// A value read from storage is only a claim about its body until
/// [`checked`](Self::checked) reads the body back
/// ([`needs_check`](Self::needs_check)).
///
/// The body contains no secret (only the signature), but it does contain the
/// payee's openid and the amount: store it accordingly. `Debug` omits the body.
#[derive(Clone)]
pub struct Prepared {
    /// The storage format it was read in ([`PREPARED_FORMAT`] when built).
    format: u32,
    endpoint: Endpoint,
    /// Empty on the one endpoint without a bill number (`getsignkey`).
    bill: String,
    mch_id: String,
    appid: Option<String>,
    amount: Option<Amount>,
    payee: Option<String>,
    nonce: String,
    sign: String,
    /// The body, always UTF-8 (written from `&str` values, stored as a
    /// string); shared, not copied, by every attempt.
    body: Bytes,
    /// Read from storage and not checked against the body yet.
    unchecked: bool,
}

/// Why a stored request's body does not say what its stored values say.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyMismatch {
    /// The body cannot be read back.
    #[error("the body is not a valid request document: {0}")]
    Unreadable(#[source] XmlError),
    /// A field of the body differs from the stored value.
    #[error("the body's `{field}` does not match the prepared request")]
    Field {
        /// The field's wire name.
        field: &'static str,
    },
}

/// The values of a signed request, read off its fields: the one place they
/// are computed (when signing, and when a stored body is read back).
struct Values<'a> {
    bill: Option<&'a str>,
    mch_id: Option<&'a str>,
    appid: Option<&'a str>,
    amount: Option<Amount>,
    payee: Option<&'a str>,
    nonce: Option<&'a str>,
    sign: Option<&'a str>,
}

impl<'a> Values<'a> {
    /// `get` answers a field's non-empty value.
    fn of(endpoint: Endpoint, get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let spec = endpoint.spec();
        let field = |name: Option<&str>| name.and_then(&get);
        Values {
            bill: field(spec.bill_field),
            mch_id: field(Some(spec.mch_id_field)),
            appid: field(spec.appid_field),
            amount: field(spec.amount_field)
                .and_then(parse_uint)
                .map(Amount::from_fen),
            payee: field(spec.openid_field),
            nonce: field(Some("nonce_str")),
            sign: field(Some("sign")),
        }
    }
}

impl Prepared {
    /// The request whose signed fields (`sign` included) are `pairs`,
    /// written as `body`.
    pub(crate) fn signed(endpoint: Endpoint, pairs: &[(&str, &str)], body: Vec<u8>) -> Self {
        let values = Values::of(endpoint, |name| {
            pairs
                .iter()
                .find(|(n, v)| *n == name && !v.is_empty())
                .map(|(_, v)| *v)
        });
        Prepared::from_values(endpoint, &values, Bytes::from(body))
    }

    fn from_values(endpoint: Endpoint, values: &Values<'_>, body: Bytes) -> Self {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        Prepared {
            format: PREPARED_FORMAT,
            endpoint,
            bill: values.bill.unwrap_or_default().to_owned(),
            mch_id: values.mch_id.unwrap_or_default().to_owned(),
            appid: owned(values.appid),
            amount: values.amount,
            payee: owned(values.payee),
            nonce: values.nonce.unwrap_or_default().to_owned(),
            sign: values.sign.unwrap_or_default().to_owned(),
            body,
            unchecked: false,
        }
    }

    /// The endpoint it is sent to.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The merchant id it was signed for.
    pub fn mch_id(&self) -> &str {
        &self.mch_id
    }

    /// The bill number (`mch_billno` or `partner_trade_no`); empty only for
    /// the one endpoint without one (`getsignkey`).
    pub fn bill(&self) -> &str {
        &self.bill
    }

    /// The app id it carries (`wxappid` / `appid` / `mch_appid`), on
    /// endpoints that send one.
    pub fn appid(&self) -> Option<&str> {
        self.appid.as_deref()
    }

    /// The amount (`total_amount` / `amount`), on payouts.
    pub fn amount(&self) -> Option<Amount> {
        self.amount
    }

    /// The payee's openid (`re_openid` / `openid`), on payouts; used by rate
    /// limits.
    pub fn payee(&self) -> Option<&str> {
        self.payee.as_deref()
    }

    /// The `nonce_str` in the body.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The `sign` in the body.
    pub fn sign(&self) -> &str {
        &self.sign
    }

    /// The exact XML body that is sent.
    pub fn body(&self) -> &str {
        // Always UTF-8: written from `&str` values, or read from a `String`.
        std::str::from_utf8(&self.body).unwrap_or_default()
    }

    /// The body as shared bytes (sending it copies nothing).
    pub fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }

    /// The storage format it was read in ([`PREPARED_FORMAT`] when it was
    /// built by this process).
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Whether it was read from storage and not checked against its body
    /// yet: its values are then only a claim (see [`checked`](Self::checked)).
    pub fn needs_check(&self) -> bool {
        self.unchecked
    }

    /// What a reply to it must echo (and a query of its bill is checked
    /// against): bill number, merchant id, app id, amount and payee.
    pub fn expected(&self) -> Expected<'_> {
        Expected {
            bill: &self.bill,
            mch_id: Some(&self.mch_id),
            appid: self.appid.as_deref(),
            amount: self.amount,
            openid: self.payee.as_deref(),
            other_payee_reported: false,
        }
    }

    /// Reads the body back and checks that it carries the stored bill
    /// number, merchant id, nonce, sign and payee (and app id and amount,
    /// when stored); returns the request with every value read off the body,
    /// as when it was signed. A request built by this process is returned as
    /// it is.
    pub fn checked(&self) -> Result<Prepared, BodyMismatch> {
        if !self.unchecked {
            return Ok(self.clone());
        }
        let raw = RawXml::parse(&self.body).map_err(BodyMismatch::Unreadable)?;
        let spec = self.endpoint.spec();
        let exact = [
            (spec.bill_field, Some(self.bill.as_str())),
            (Some(spec.mch_id_field), Some(self.mch_id.as_str())),
            (Some("nonce_str"), Some(self.nonce.as_str())),
            (Some("sign"), Some(self.sign.as_str())),
        ];
        for (field, stored) in exact {
            if let Some(field) = field
                && raw.get(field) != stored
            {
                return Err(BodyMismatch::Field { field });
            }
        }
        let values = Values::of(self.endpoint, |name| raw.get_non_empty(name));
        if let Some(field) = spec.openid_field
            && values.payee != self.payee.as_deref()
        {
            return Err(BodyMismatch::Field { field });
        }
        if let (Some(field), Some(_)) = (spec.appid_field, &self.appid)
            && values.appid != self.appid.as_deref()
        {
            return Err(BodyMismatch::Field { field });
        }
        if let (Some(field), Some(_)) = (spec.amount_field, self.amount)
            && values.amount != self.amount
        {
            return Err(BodyMismatch::Field { field });
        }
        Ok(Prepared::from_values(
            self.endpoint,
            &values,
            self.body.clone(),
        ))
    }
}

/// Equal when they would send the same bytes (the storage format and
/// whether it was checked are not part of the value).
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
            .field("amount", &self.amount)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The stored form, as written.
#[derive(Serialize)]
struct StoredRef<'a> {
    format: u32,
    endpoint: &'static str,
    mch_id: &'a str,
    bill: &'a str,
    nonce: &'a str,
    sign: &'a str,
    payee: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<Amount>,
    body: &'a str,
}

/// The stored form, as read (every format up to [`PREPARED_FORMAT`]).
#[derive(Deserialize)]
struct Stored {
    #[serde(default = "format_1", deserialize_with = "de_format")]
    format: u32,
    #[serde(deserialize_with = "de_endpoint")]
    endpoint: Endpoint,
    mch_id: String,
    bill: String,
    nonce: String,
    sign: String,
    payee: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    amount: Option<Amount>,
    body: String,
}

impl Serialize for Prepared {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let body = std::str::from_utf8(&self.body)
            .map_err(|_| serde::ser::Error::custom("the body is not UTF-8"))?;
        StoredRef {
            format: PREPARED_FORMAT,
            endpoint: self.endpoint.name(),
            mch_id: &self.mch_id,
            bill: &self.bill,
            nonce: &self.nonce,
            sign: &self.sign,
            payee: self.payee.as_deref(),
            appid: self.appid.as_deref(),
            amount: self.amount,
            body,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Prepared {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(d)?;
        Ok(Prepared {
            format: stored.format,
            endpoint: stored.endpoint,
            bill: stored.bill,
            mch_id: stored.mch_id,
            appid: stored.appid,
            amount: stored.amount,
            payee: stored.payee,
            nonce: stored.nonce,
            sign: stored.sign,
            body: Bytes::from(stored.body),
            unchecked: true,
        })
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

    /// A request stored by the format-1 writer before `appid` and `amount`
    /// were written: checked, its echo values are read off the body.
    const FORMAT_1: &str = r#"{"format":1,"endpoint":"sendredpack","mch_id":"10000098","bill":"B1","nonce":"N1","sign":"S1","payee":"o1","body":"<xml>\n<nonce_str>N1</nonce_str>\n<mch_id>10000098</mch_id>\n<wxappid>wx8888888888888888</wxappid>\n<mch_billno>B1</mch_billno>\n<re_openid>o1</re_openid>\n<total_amount>1000</total_amount>\n<sign>S1</sign>\n</xml>\n"}"#;

    #[test]
    fn a_request_stored_without_a_format_still_reads() {
        let prepared: Prepared = serde_json::from_str(OLD).expect("reads");
        assert_eq!(prepared.format(), 1);
        assert!(prepared.needs_check());
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
        let says = format!("format {}", PREPARED_FORMAT + 1);
        assert!(err.contains(&says) && err.contains("upgrade"), "{err}");
    }

    #[test]
    fn a_format_1_request_without_echo_values_reads_them_off_its_body() {
        let stored: Prepared = serde_json::from_str(FORMAT_1).expect("reads");
        assert_eq!((stored.appid(), stored.amount()), (None, None));
        let checked = stored.checked().expect("the body says what was stored");
        assert!(!checked.needs_check());
        assert_eq!(checked, stored);
        assert_eq!(checked.appid(), Some("wx8888888888888888"));
        assert_eq!(checked.amount(), Some(Amount::from_fen(1000)));
        let expected = checked.expected();
        assert_eq!(expected.openid, Some("o1"));
        assert_eq!(expected.mch_id, Some("10000098"));
        // Written again, the echo values are stored, and checked on reading.
        let mut json = serde_json::to_value(&checked).expect("writes");
        assert_eq!(json["amount"], 1000);
        json["amount"] = 99999.into();
        let tampered: Prepared = serde_json::from_value(json).expect("reads");
        assert_eq!(
            tampered.checked(),
            Err(BodyMismatch::Field {
                field: "total_amount"
            })
        );
    }

    #[test]
    fn a_stored_body_that_says_otherwise_is_refused() {
        let mut json: serde_json::Value = serde_json::from_str(FORMAT_1).expect("json");
        json["payee"] = "o2".into();
        let stored: Prepared = serde_json::from_value(json).expect("reads");
        assert_eq!(
            stored.checked(),
            Err(BodyMismatch::Field { field: "re_openid" })
        );
        let mut json: serde_json::Value = serde_json::from_str(FORMAT_1).expect("json");
        json["body"] = "<xml>".into();
        let stored: Prepared = serde_json::from_value(json).expect("reads");
        assert!(matches!(stored.checked(), Err(BodyMismatch::Unreadable(_))));
    }
}
