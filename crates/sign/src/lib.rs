//! # hongbao-sign
//!
//! Pure signing for the WeChat Pay API v2 "marketing transfers" family (cash
//! red packets, WeCom red packets and pay-to-employee, transfers to change):
//!
//! * the main `sign`: every non-empty parameter but `sign`, sorted by the raw
//!   bytes of its name, joined as `k=v&…`, then `&key=<API key>`, hashed with
//!   MD5 or HMAC-SHA256 and written as uppercase hex ([`Signer`]);
//! * the WeCom `workwx_sign`: MD5 over the fixed field list of the endpoint
//!   plus `&secret=<app secret>` ([`WorkwxSigner`], [`WorkwxKind`]);
//! * constant-time verification of a reply's `sign` ([`Signer::verify_reply`]).
//!
//! Values are signed exactly as given: no trimming, no URL-encoding, no
//! Unicode normalisation. Parameters are borrowed `(&str, &str)` pairs,
//! sorted in a fixed array on the stack and streamed into the hasher, so a
//! signature costs **no heap allocation**. The crate does no I/O, reads no
//! clock and draws no random numbers: the nonce comes from the caller.
//!
//! ```
//! use hongbao_sign::{Algorithm, ApiKey, Signer};
//!
//! let signer = Signer::new(ApiKey::new("192006250b4c09247ec02edce69f6a2d")?);
//! let params = [
//!     ("appid", "wxd930ea5d5a258f4f"),
//!     ("mch_id", "10000100"),
//!     ("device_info", "1000"),
//!     ("body", "test"),
//!     ("nonce_str", "ibuaiVcKdpRxkhJA"),
//! ];
//! let sign = signer.sign(Algorithm::Md5, params)?;
//! assert_eq!(sign.as_str(), "9A0A8659F005D6984697E2CA0A9CF3B7");
//!
//! // For people chasing SIGN_ERROR: the canonical string, key masked.
//! assert_eq!(
//!     signer.string_to_sign(params)?,
//!     "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod digest;
mod params;
mod secret;
mod signature;

use core::fmt;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

pub use params::{MAX_PARAMS, SignError};
use params::{SignField, Sorted};
pub use secret::{ApiKey, SecretError, WorkwxSecret};
pub use signature::{Algorithm, Signature};

type HmacSha256 = Hmac<Sha256>;

/// Why a received signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The reply has no `sign` element (or an empty one).
    #[error("the reply carries no `sign`")]
    Missing,
    /// The received `sign` is neither 32 (MD5) nor 64 (HMAC-SHA256) characters long.
    #[error("the received `sign` has {len} characters; expected 32 (MD5) or 64 (HMAC-SHA256)")]
    BadLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The received `sign` does not match the one computed with our key.
    #[error("the received `sign` does not match the parameters and the API key")]
    Mismatch,
    /// The fields cannot be signed at all (bad or repeated names, too many).
    #[error("the reply's fields cannot be signed: {0}")]
    Fields(#[from] SignError),
}

/// Signs and verifies with the merchant API key.
///
/// Build it once and share it: the HMAC-SHA256 key schedule is computed in
/// [`Signer::new`] and cloned per message.
#[derive(Clone)]
pub struct Signer {
    key: ApiKey,
    hmac: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).finish()
    }
}

impl Signer {
    /// A signer for this API key.
    pub fn new(key: ApiKey) -> Self {
        // HMAC accepts keys of any length, so this cannot fail; the fallback
        // keeps the constructor total without a panic path.
        let hmac = <HmacSha256 as KeyInit>::new_from_slice(key.expose().as_bytes())
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        Signer { key, hmac }
    }

    /// The main `sign` of a request over `params` (all parameters to be sent
    /// except `sign`; empty values are skipped). Allocates nothing.
    pub fn sign<'a, I>(&self, algorithm: Algorithm, params: I) -> Result<Signature, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(params, SignField::Refuse, |_| true)?;
        Ok(self.sign_sorted(algorithm, &sorted))
    }

    /// MD5 `sign`, the method of the marketing transfers family.
    pub fn sign_md5<'a, I>(&self, params: I) -> Result<Signature, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.sign(Algorithm::Md5, params)
    }

    fn sign_sorted(&self, algorithm: Algorithm, sorted: &Sorted<'_>) -> Signature {
        let key = self.key.expose();
        match algorithm {
            Algorithm::Md5 => {
                let mut md5 = Md5::new();
                sorted.feed("key", key, |bytes| md5.update(bytes));
                Signature::from_digest(&md5.finalize())
            }
            Algorithm::HmacSha256 => {
                let mut mac = self.hmac.clone();
                sorted.feed("key", key, |bytes| mac.update(bytes));
                Signature::from_digest(&mac.finalize().into_bytes())
            }
        }
    }

    /// The canonical string that [`Signer::sign`] hashes, with the key shown
    /// as `***`: `a=1&b=2&key=***`. For diagnostics (SIGN_ERROR); allocates.
    pub fn string_to_sign<'a, I>(&self, params: I) -> Result<String, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(params, SignField::Refuse, |_| true)?;
        Ok(sorted.masked("key"))
    }

    /// Checks `received` against the signature of `params` (which must not
    /// contain `sign`). The method is chosen by the length of `received`
    /// (32: MD5, 64: HMAC-SHA256); the comparison is constant-time.
    pub fn verify<'a, I>(&self, params: I, received: &str) -> Result<(), VerifyError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(params, SignField::Refuse, |_| true)?;
        self.verify_sorted(&sorted, Some(received))
    }

    /// Verifies a reply given as all its fields, `sign` included: `sign` is
    /// taken out, every other non-empty field (known or not) is signed, and
    /// the result is compared in constant time.
    pub fn verify_reply<'a, I>(&self, fields: I) -> Result<(), VerifyError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(fields, SignField::Extract, |_| true)?;
        self.verify_sorted(&sorted, sorted.sign)
    }

    fn verify_sorted(
        &self,
        sorted: &Sorted<'_>,
        received: Option<&str>,
    ) -> Result<(), VerifyError> {
        let received = match received {
            Some(r) if !r.is_empty() => r,
            _ => return Err(VerifyError::Missing),
        };
        let algorithm = Algorithm::from_hex_len(received.len()).ok_or(VerifyError::BadLength {
            len: received.len(),
        })?;
        if self.sign_sorted(algorithm, sorted).matches(received) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}

/// Which WeCom endpoint a `workwx_sign` is for; each has a fixed field list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkwxKind {
    /// `sendworkwxredpack`: `act_name, mch_billno, mch_id, nonce_str,
    /// re_openid, total_amount, wxappid`.
    RedPacket,
    /// `paywwsptrans2pocket`: `amount, appid, desc, mch_id, nonce_str,
    /// openid, partner_trade_no, ww_msg_type`.
    PayEmployee,
}

impl WorkwxKind {
    /// The fields that enter `workwx_sign`, in signing order. No other field
    /// ever takes part, whatever else the request contains.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            WorkwxKind::RedPacket => &[
                "act_name",
                "mch_billno",
                "mch_id",
                "nonce_str",
                "re_openid",
                "total_amount",
                "wxappid",
            ],
            WorkwxKind::PayEmployee => &[
                "amount",
                "appid",
                "desc",
                "mch_id",
                "nonce_str",
                "openid",
                "partner_trade_no",
                "ww_msg_type",
            ],
        }
    }

    fn includes(self, name: &str) -> bool {
        self.fields().contains(&name)
    }
}

/// Computes the WeCom `workwx_sign` with an app secret.
#[derive(Clone)]
pub struct WorkwxSigner {
    secret: WorkwxSecret,
}

impl fmt::Debug for WorkwxSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkwxSigner")
            .field("secret", &self.secret)
            .finish()
    }
}

impl WorkwxSigner {
    /// A signer for this WeCom app secret.
    pub fn new(secret: WorkwxSecret) -> Self {
        WorkwxSigner { secret }
    }

    /// `workwx_sign` over the request's parameters: only the fields of
    /// `kind` are used (others, including `sign` and `workwx_sign`, are
    /// ignored), then `&secret=…` is appended and the result MD5-hashed.
    /// Allocates nothing.
    pub fn sign<'a, I>(&self, kind: WorkwxKind, params: I) -> Result<Signature, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(
            params.into_iter().filter(|(n, _)| *n != "sign"),
            SignField::Refuse,
            |name| kind.includes(name),
        )?;
        let mut md5 = Md5::new();
        sorted.feed("secret", self.secret.expose(), |bytes| md5.update(bytes));
        Ok(Signature::from_digest(&md5.finalize()))
    }

    /// The canonical string of [`WorkwxSigner::sign`] with the secret shown
    /// as `***`.
    pub fn string_to_sign<'a, I>(&self, kind: WorkwxKind, params: I) -> Result<String, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut sorted = Sorted::new();
        sorted.collect(
            params.into_iter().filter(|(n, _)| *n != "sign"),
            SignField::Refuse,
            |name| kind.includes(name),
        )?;
        Ok(sorted.masked("secret"))
    }
}
