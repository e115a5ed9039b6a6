//! [`Prepared`]: a signed request, ready to be stored and (re)sent verbatim.

use std::fmt;

use hongbao_proto::{Amount, Endpoint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    #[serde(serialize_with = "ser_endpoint", deserialize_with = "de_endpoint")]
    pub(crate) endpoint: Endpoint,
    pub(crate) mch_id: String,
    pub(crate) bill: String,
    pub(crate) nonce: String,
    pub(crate) sign: String,
    pub(crate) payee: Option<String>,
    pub(crate) body: String,
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
        &self.body
    }
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
