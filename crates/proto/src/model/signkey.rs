//! The sandbox signing-key call.

use std::borrow::Cow;
use std::fmt;

use hongbao_sign::ApiKey;
use serde::{Deserialize, Serialize};

use super::{
    Merchant, Reply, ReplyError, Request, WireRead, WireReader, opt, read_wire, return_code,
};
use crate::endpoint::Endpoint;
use crate::validate::Violations;
use crate::values::ResultCode;
use crate::xml::RawXml;

/// `sandboxnew/pay/getsignkey`: ask for the sandbox signing key (only
/// `mch_id`, `nonce_str` and `sign`, signed with the production key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // the request has no field of its own
pub struct SignKeyRequest;

impl Request for SignKeyRequest {
    const ENDPOINT: Endpoint = Endpoint::GetSignKey;
    type Reply = SignKeyReply;

    fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::from_wire(raw)
    }

    fn validate(&self) -> Result<(), Violations> {
        Ok(())
    }

    fn bill(&self) -> Option<&str> {
        None
    }

    fn fields(&self) -> Vec<(&'static str, Cow<'_, str>)> {
        Vec::new()
    }
}

impl SignKeyRequest {
    /// Reads a request body back: every violation at once.
    pub fn from_wire(raw: &RawXml) -> Result<(Self, Merchant), Violations> {
        Self::read_wire(raw).into_result()
    }

    /// Reads a request body back with every violation (see [`WireRead`]).
    pub fn read_wire(raw: &RawXml) -> WireRead<Self> {
        let reader = WireReader::new(raw, Self::ENDPOINT);
        read_wire(reader, Some(SignKeyRequest))
    }
}

/// Reply of the sandbox key call. The key is held as an [`ApiKey`] (redacted
/// in `Debug`); this type's `Debug` never shows it.
#[derive(Clone)]
#[non_exhaustive]
pub struct SignKeyReply {
    /// `return_code`.
    pub return_code: ResultCode,
    /// `return_msg`.
    pub return_msg: Option<String>,
    /// `mch_id` (sometimes missing in practice).
    pub mch_id: Option<String>,
    /// The sandbox signing key, if present and usable as a key.
    pub sandbox_signkey: Option<ApiKey>,
}

/// Serialized (serde) as its `Debug` shows it: the key, if any, as `"***"`.
impl Serialize for SignKeyReply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SignKeyReply", 4)?;
        st.serialize_field("return_code", &self.return_code)?;
        st.serialize_field("return_msg", &self.return_msg)?;
        st.serialize_field("mch_id", &self.mch_id)?;
        st.serialize_field(
            "sandbox_signkey",
            &self.sandbox_signkey.as_ref().map(|_| "***"),
        )?;
        st.end()
    }
}

impl fmt::Debug for SignKeyReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignKeyReply")
            .field("return_code", &self.return_code)
            .field("return_msg", &self.return_msg)
            .field("mch_id", &self.mch_id)
            .field("sandbox_signkey", &self.sandbox_signkey)
            .finish()
    }
}

impl Reply for SignKeyReply {
    fn from_raw(raw: &RawXml) -> Result<Self, ReplyError> {
        Ok(SignKeyReply {
            return_code: return_code(raw)?,
            return_msg: opt(raw, "return_msg"),
            mch_id: opt(raw, "mch_id"),
            sandbox_signkey: raw
                .get_non_empty("sandbox_signkey")
                .and_then(|k| ApiKey::new(k).ok()),
        })
    }
}
