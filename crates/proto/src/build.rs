//! Building a signed request body: validate, `workwx_sign`, main `sign`, XML.

use std::borrow::Cow;

use hongbao_sign::{SignError, Signer, WorkwxSigner};

use crate::endpoint::Endpoint;
use crate::model::{Merchant, Request};
use crate::prepared::Prepared;
use crate::validate::Violations;
use crate::values::NonceStr;
use crate::xml::{RawXml, write_document};

/// Why a request could not be built. Nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The request (or the merchant identity) breaks validation rules.
    #[error(transparent)]
    Invalid(Violations),
    /// The endpoint needs `workwx_sign` but no WeCom app secret was given.
    #[error("this endpoint needs a WeCom app secret for workwx_sign, and none was configured")]
    MissingWorkwxSecret,
    /// The fields could not be signed (should not happen after validation).
    #[error("the request cannot be signed: {0}")]
    Sign(#[from] SignError),
}

/// The canonical strings that were hashed, secrets shown as `***`: for
/// people chasing a `SIGN_ERROR`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignDebug {
    /// The `workwx_sign` input (`…&secret=***`), on WeCom send endpoints.
    pub workwx_string_to_sign: Option<String>,
    /// The main `sign` input (`…&key=***`), `workwx_sign` included.
    pub string_to_sign: String,
    /// The request that results.
    pub signed: Prepared,
}

fn validate_all<R: Request>(req: &R, merchant: &Merchant) -> Result<(), BuildError> {
    let mut violations = Violations::new();
    if let Err(v) = req.validate() {
        violations.extend(v);
    }
    if let Err(v) = merchant.validate(R::ENDPOINT) {
        violations.extend(v);
    }
    violations.into_result().map_err(BuildError::Invalid)
}

/// Every field that will be sent except `workwx_sign` and `sign`, empties dropped.
fn base_fields<'a, R: Request>(
    req: &'a R,
    merchant: &'a Merchant,
    nonce: &'a NonceStr,
) -> Vec<(&'static str, Cow<'a, str>)> {
    let spec = R::ENDPOINT.spec();
    let business = req.fields();
    let mut fields = Vec::with_capacity(business.len() + 5);
    fields.push(("nonce_str", Cow::Borrowed(nonce.as_str())));
    fields.push((spec.mch_id_field, Cow::Borrowed(merchant.mch_id.as_str())));
    if let Some(appid_field) = spec.appid_field {
        fields.push((appid_field, Cow::Borrowed(merchant.appid.as_str())));
    }
    fields.extend(business.into_iter().filter(|(_, v)| !v.is_empty()));
    fields
}

/// `(workwx string to sign, main string to sign)`, secrets masked.
type DebugStrings = (Option<String>, String);

fn assemble<R: Request>(
    req: &R,
    merchant: &Merchant,
    nonce: &NonceStr,
    signer: &Signer,
    workwx: Option<&WorkwxSigner>,
    debug: bool,
) -> Result<(Prepared, Option<DebugStrings>), BuildError> {
    validate_all(req, merchant)?;
    let spec = R::ENDPOINT.spec();
    let fields = base_fields(req, merchant, nonce);
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(fields.len() + 2);
    pairs.extend(fields.iter().map(|(n, v)| (*n, v.as_ref())));
    let mut workwx_debug = None;
    let workwx_sign = match spec.workwx {
        Some(kind) => {
            let workwx = workwx.ok_or(BuildError::MissingWorkwxSecret)?;
            if debug {
                workwx_debug = Some(workwx.string_to_sign(kind, pairs.iter().copied())?);
            }
            Some(workwx.sign(kind, pairs.iter().copied())?)
        }
        None => None,
    };
    if let Some(w) = &workwx_sign {
        pairs.push(("workwx_sign", w.as_str()));
    }
    let sign = signer.sign_md5(pairs.iter().copied())?;
    let debug_strings = if debug {
        Some((workwx_debug, signer.string_to_sign(pairs.iter().copied())?))
    } else {
        None
    };
    pairs.push(("sign", sign.as_str()));
    let body = write_document(&pairs, None);
    Ok((Prepared::signed(R::ENDPOINT, &pairs, body), debug_strings))
}

/// Validates `req` (and the merchant identity) — **all** violations at once —
/// then computes `workwx_sign` (WeCom send endpoints; needs `workwx`), then
/// the main MD5 `sign` over every non-empty field including `workwx_sign`,
/// and writes the XML body. Never sends `sign_type`; empty optional fields
/// are omitted (neither sent nor signed).
pub fn build<R: Request>(
    req: &R,
    merchant: &Merchant,
    nonce: &NonceStr,
    signer: &Signer,
    workwx: Option<&WorkwxSigner>,
) -> Result<Prepared, BuildError> {
    assemble(req, merchant, nonce, signer, workwx, false).map(|(signed, _)| signed)
}

/// Like [`build`], also returning the strings that were hashed (secrets masked).
pub fn build_debug<R: Request>(
    req: &R,
    merchant: &Merchant,
    nonce: &NonceStr,
    signer: &Signer,
    workwx: Option<&WorkwxSigner>,
) -> Result<SignDebug, BuildError> {
    let (signed, strings) = assemble(req, merchant, nonce, signer, workwx, true)?;
    let (workwx_string_to_sign, string_to_sign) = strings.unwrap_or_default();
    Ok(SignDebug {
        workwx_string_to_sign,
        string_to_sign,
        signed,
    })
}

/// Whether a stored request body carries signatures made with these keys:
/// its `sign` verifies with `signer` and, on WeCom endpoints when `workwx` is
/// given, its `workwx_sign` is the one `workwx` makes. A body signed with an
/// older (or wrong) key answers `false`: [`resign`] it before sending.
pub fn signed_with(
    endpoint: Endpoint,
    stored: &RawXml,
    signer: &Signer,
    workwx: Option<&WorkwxSigner>,
) -> bool {
    if signer.verify_reply(stored.fields()).is_err() {
        return false;
    }
    match (endpoint.spec().workwx, workwx) {
        (Some(kind), Some(workwx)) => {
            match workwx.sign(kind, stored.fields().filter(|(n, _)| *n != "workwx_sign")) {
                Ok(expected) => stored
                    .get("workwx_sign")
                    .is_some_and(|got| expected.matches(got)),
                Err(_) => false,
            }
        }
        _ => true,
    }
}

/// Signs a stored request again: the same fields with the same values (the
/// business parameters: bill number, payee, amount, texts, ids) byte for
/// byte and in the same order, a new `nonce_str`, and `workwx_sign` and
/// `sign` made with the keys given now.
///
/// WeChat keeps one payment per bill number and a resend with identical
/// business parameters can never pay twice, so this is how a request refused
/// with `SIGN_ERROR` (or signed with a key that was rotated since) is sent
/// again under its bill number. The stored body is not validated again (it
/// was when it was built); nothing but the nonce and the signatures changes.
///
/// On a WeCom endpoint without `workwx`, the stored `workwx_sign` and the
/// stored `nonce_str` it covers are kept, and only the main `sign` is made
/// again (`MissingWorkwxSecret` when the body has no `workwx_sign`).
pub fn resign(
    endpoint: Endpoint,
    stored: &RawXml,
    nonce: &NonceStr,
    signer: &Signer,
    workwx: Option<&WorkwxSigner>,
) -> Result<Prepared, BuildError> {
    let spec = endpoint.spec();
    let kept_workwx = match (spec.workwx, workwx) {
        (Some(_), None) => Some(
            stored
                .get_non_empty("workwx_sign")
                .ok_or(BuildError::MissingWorkwxSecret)?,
        ),
        _ => None,
    };
    let nonce = match kept_workwx {
        Some(_) => stored.get("nonce_str").unwrap_or_default(),
        None => nonce.as_str(),
    };
    let mut pairs: Vec<(&str, &str)> = stored
        .fields()
        .filter(|(n, _)| !matches!(*n, "sign" | "workwx_sign" | "sign_type"))
        .map(|(n, v)| if n == "nonce_str" { (n, nonce) } else { (n, v) })
        .collect();
    if !pairs.iter().any(|(n, _)| *n == "nonce_str") {
        pairs.insert(0, ("nonce_str", nonce));
    }
    let workwx_sign = match (spec.workwx, workwx) {
        (Some(kind), Some(workwx)) => Some(workwx.sign(kind, pairs.iter().copied())?),
        _ => None,
    };
    if let Some(w) = &workwx_sign {
        pairs.push(("workwx_sign", w.as_str()));
    } else if let Some(kept) = kept_workwx {
        pairs.push(("workwx_sign", kept));
    }
    let sign = signer.sign_md5(pairs.iter().copied())?;
    pairs.push(("sign", sign.as_str()));
    let body = write_document(&pairs, None);
    Ok(Prepared::signed(endpoint, &pairs, body))
}
