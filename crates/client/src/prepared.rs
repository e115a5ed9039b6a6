//! [`Prepared`]: a signed request, ready to be stored and (re)sent verbatim.

use std::fmt;

use hongbao_proto::Endpoint;
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    #[serde(serialize_with = "ser_endpoint", deserialize_with = "de_endpoint")]
    endpoint: Endpoint,
    mch_id: String,
    bill: String,
    nonce: String,
    sign: String,
    payee: Option<String>,
    body: String,
}

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
    pub(crate) fn new(
        endpoint: Endpoint,
        mch_id: String,
        bill: String,
        nonce: String,
        sign: String,
        payee: Option<String>,
        body: String,
    ) -> Self {
        Prepared {
            endpoint,
            mch_id,
            bill,
            nonce,
            sign,
            payee,
            body,
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
