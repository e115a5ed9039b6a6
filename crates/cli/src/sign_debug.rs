//! `hongbao sign`: the SIGN_ERROR debugger.
//!
//! Takes a request (or reply) as `<xml>…</xml>` or as a JSON object of
//! strings, shows the exact string that is signed (secret masked as `***`)
//! and the signature, and — when the input carries its own `sign` /
//! `workwx_sign` — says whether it matches and, if not, which common mistake
//! reproduces the received value.

use hongbao_sign::{Algorithm, ApiKey, SignError, Signer, WorkwxKind, WorkwxSecret, WorkwxSigner};
use serde::Serialize;

/// What to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignMode {
    /// The main `sign` with this algorithm.
    Main(Algorithm),
    /// The WeCom `workwx_sign` of this endpoint.
    Workwx(WorkwxKind),
}

/// The debugger's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignReport {
    /// The canonical string, secret shown as `***`.
    pub string_to_sign: String,
    /// The signature computed from the input.
    pub sign: String,
    /// `sign` or `workwx_sign`.
    #[serde(skip)]
    pub field: &'static str,
    /// The signature the input carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<String>,
    /// Whether it matches (present when the input carried one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<bool>,
    /// Likely causes of a mismatch, and warnings about risky fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<String>,
}

/// Why the debugger could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignDebugError {
    /// The input is neither an `<xml>` document nor a JSON object of strings.
    #[error("input is not a request: {0}")]
    Input(String),
    /// The fields cannot be signed (bad or repeated names).
    #[error("{0}")]
    Sign(#[from] SignError),
    /// The needed secret is not configured.
    #[error("{0}")]
    MissingSecret(&'static str),
}

/// Parses the debugger's input: an `<xml>` document or a JSON object whose
/// values are all strings. Fields keep their document order.
pub fn parse_input(text: &str) -> Result<Vec<(String, String)>, SignDebugError> {
    let trimmed = text.trim();
    if trimmed.starts_with('<') {
        let raw = hongbao_proto::RawXml::parse(trimmed.as_bytes())
            .map_err(|e| SignDebugError::Input(format!("XML: {e}")))?;
        Ok(raw
            .fields()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    } else if trimmed.starts_with('{') {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(trimmed)
            .map_err(|e| SignDebugError::Input(format!("JSON: {e}")))?;
        value
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                other => Err(SignDebugError::Input(format!(
                    "JSON field {k:?} is {other}, not a string (write numbers as strings: \"100\")"
                ))),
            })
            .collect()
    } else {
        Err(SignDebugError::Input(
            "expected <xml>…</xml> or a JSON object of strings on stdin".into(),
        ))
    }
}

fn canonical<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    keep_empty: bool,
    sort: fn(&str, &str) -> std::cmp::Ordering,
    suffix_name: &str,
    suffix: &str,
) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(_, v)| keep_empty || !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| sort(a.0, b.0));
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('&');
    }
    out.push_str(suffix_name);
    out.push('=');
    out.push_str(suffix);
    out
}

fn bytewise(a: &str, b: &str) -> std::cmp::Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

fn case_folded(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_ascii_lowercase()
        .replace('_', "~")
        .cmp(&b.to_ascii_lowercase().replace('_', "~"))
}

/// The hash of a candidate string to sign, by hongbao-sign (the CLI hashes
/// nothing itself).
fn digest(algorithm: Algorithm, key: &str, text: &str) -> String {
    let signature = match algorithm {
        Algorithm::Md5 => hongbao_sign::digest::md5_of(text),
        Algorithm::HmacSha256 => hongbao_sign::digest::hmac_sha256_of(key, text),
    };
    signature.as_str().to_owned()
}

/// `a=1&b=2` in the order given (no key).
fn joined(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn sorted_pairs<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| bytewise(a.0, b.0));
    sorted
}

/// Percent-encoding of a value as Python's `urllib.parse.quote` (`plus`:
/// `quote_plus`, space as `+` and `/` encoded) writes it, UTF-8 bytes.
fn url_encoded(value: &str, plus: bool) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if !plus => out.push('/'),
            b' ' if plus => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Runs the debugger over `fields` (in input order).
pub fn debug(
    fields: &[(String, String)],
    mode: SignMode,
    api_key: Option<&ApiKey>,
    workwx_secret: Option<&WorkwxSecret>,
) -> Result<SignReport, SignDebugError> {
    match mode {
        SignMode::Main(algorithm) => {
            let key = api_key.ok_or(SignDebugError::MissingSecret(
                "no API key: set HONGBAO_API_KEY or api_key_file in the config",
            ))?;
            debug_main(fields, algorithm, key)
        }
        SignMode::Workwx(kind) => {
            let secret = workwx_secret.ok_or(SignDebugError::MissingSecret(
                "no WeCom app secret: set HONGBAO_WORKWX_SECRET or workwx_secret_file in the config",
            ))?;
            debug_workwx(fields, kind, secret, api_key)
        }
    }
}

fn whitespace_fields(fields: &[(&str, &str)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty() && v.trim() != *v)
        .map(|(k, _)| (*k).to_owned())
        .collect()
}

fn debug_main(
    fields: &[(String, String)],
    algorithm: Algorithm,
    key: &ApiKey,
) -> Result<SignReport, SignDebugError> {
    let received = fields
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.clone());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signer = Signer::new(key.clone());
    let sign = signer.sign(algorithm, pairs.iter().copied())?;
    let string_to_sign = signer.string_to_sign(pairs.iter().copied())?;
    let mut diagnosis = Vec::new();
    if pairs.iter().any(|(k, _)| *k == "sign_type") {
        diagnosis.push(
            "warning: the request carries sign_type; the marketing-transfer endpoints are MD5-only and must not receive sign_type (SIGN_ERROR)".to_owned(),
        );
    }
    let ws = whitespace_fields(&pairs);
    if !ws.is_empty() {
        diagnosis.push(format!(
            "warning: leading/trailing whitespace in {}: some servers and SDKs trim it; remove it before signing",
            ws.join(", ")
        ));
    }
    let matches = received.as_deref().map(|r| sign.matches(r));
    if let (Some(received), Some(false)) = (received.as_deref(), matches) {
        diagnosis.extend(main_causes(&pairs, algorithm, key.expose(), received));
    }
    Ok(SignReport {
        string_to_sign,
        sign: sign.as_str().to_owned(),
        field: "sign",
        received,
        matches,
        diagnosis,
    })
}

fn main_causes(
    pairs: &[(&str, &str)],
    algorithm: Algorithm,
    key: &str,
    received: &str,
) -> Vec<String> {
    let try_variant = |variant: &[(&str, &str)],
                       keep_empty: bool,
                       sort: fn(&str, &str) -> std::cmp::Ordering,
                       alg: Algorithm| {
        same(
            &digest(
                alg,
                key,
                &canonical(variant.iter().copied(), keep_empty, sort, "key", key),
            ),
            received,
        )
    };
    let mut causes = Vec::new();
    let other = match algorithm {
        Algorithm::Md5 => Algorithm::HmacSha256,
        Algorithm::HmacSha256 => Algorithm::Md5,
    };
    if Algorithm::from_hex_len(received.len()) == Some(other)
        || try_variant(pairs, false, bytewise, other)
    {
        causes.push(format!(
            "likely cause: wrong algorithm: the received sign has {} hex characters ({:?}); this family signs with MD5 (use --hmac only to check HMAC-SHA256)",
            received.len(),
            other
        ));
    }
    if pairs.iter().any(|(_, v)| v.is_empty()) && try_variant(pairs, true, bytewise, algorithm) {
        let empties: Vec<&str> = pairs
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| *k)
            .collect();
        causes.push(format!(
            "likely cause: empty value signed: {} were signed as `name=`; empty parameters must be left out of the string",
            empties.join(", ")
        ));
    }
    if pairs.iter().any(|(k, _)| *k == "sign_type") {
        let without: Vec<(&str, &str)> = pairs
            .iter()
            .copied()
            .filter(|(k, _)| *k != "sign_type")
            .collect();
        if try_variant(&without, false, bytewise, algorithm) {
            causes.push("likely cause: sign_type included: sign_type is sent but was not signed; do not send sign_type at all on these endpoints".to_owned());
        }
    } else {
        for value in ["MD5", "HMAC-SHA256"] {
            let mut with = pairs.to_vec();
            with.push(("sign_type", value));
            if try_variant(&with, false, bytewise, algorithm) {
                causes.push(format!(
                    "likely cause: sign_type included: the signer signed sign_type={value}, which is not sent; leave sign_type out of the signature"
                ));
            }
        }
    }
    let trimmed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.trim())).collect();
    if !whitespace_fields(pairs).is_empty() && try_variant(&trimmed, false, bytewise, algorithm) {
        causes.push(format!(
            "likely cause: whitespace: the signer trimmed the values of {}; remove the spaces from the request",
            whitespace_fields(pairs).join(", ")
        ));
    }
    // Fields in the order of the body instead of sorted.
    let body_order = |_: &str, _: &str| std::cmp::Ordering::Equal;
    if sorted_pairs(pairs) != pairs && try_variant(pairs, false, body_order, algorithm) {
        causes.push("likely cause: fields not sorted: the signer used the order of the body; sort the names by ASCII bytes before joining".to_owned());
    }
    // The key appended without `&key=`.
    let sorted = joined(&sorted_pairs(pairs));
    for (text, how) in [
        (format!("{sorted}{key}"), "directly after the last value"),
        (format!("{sorted}&{key}"), "after a bare `&`"),
    ] {
        if same(&digest(algorithm, key, &text), received) {
            causes.push(format!(
                "likely cause: key appended {how}: the string must end with `&key=` and the key"
            ));
        }
    }
    // Values URL-encoded before signing.
    for (plus, how) in [(false, "quote"), (true, "quote_plus")] {
        let encoded: Vec<(&str, String)> = pairs
            .iter()
            .map(|(k, v)| (*k, url_encoded(v, plus)))
            .collect();
        let encoded: Vec<(&str, &str)> = encoded.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if encoded != pairs && try_variant(&encoded, false, bytewise, algorithm) {
            causes.push(format!(
                "likely cause: URL-encoded values: the signer signed the values percent-encoded (as Python's urllib.parse.{how} writes them); sign the raw values, exactly as sent in the XML"
            ));
        }
    }
    // Chinese text hashed as GBK bytes instead of UTF-8.
    if algorithm == Algorithm::Md5 && pairs.iter().any(|(_, v)| !v.is_ascii()) {
        let text = canonical(pairs.iter().copied(), false, bytewise, "key", key);
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        if same(hongbao_sign::digest::md5_of_bytes(&gbk).as_str(), received) {
            causes.push("likely cause: GBK bytes: the signer hashed the string as GBK (a Windows default); hash its UTF-8 bytes".to_owned());
        }
    }
    if try_variant(pairs, false, case_folded, algorithm) {
        causes.push("likely cause: wrong field order: the signer sorted names case-insensitively or naturally; sort by raw ASCII bytes (`re_openid` < `remark`)".to_owned());
    }
    for (skip, _) in pairs {
        let without: Vec<(&str, &str)> = pairs.iter().copied().filter(|(k, _)| k != skip).collect();
        if try_variant(&without, false, bytewise, algorithm) {
            causes.push(if *skip == "workwx_sign" {
                "likely cause: wrong field list: workwx_sign was not included in the main sign; the main sign covers every field but sign, workwx_sign included".to_owned()
            } else {
                format!("likely cause: wrong field list: `{skip}` is sent but was not signed (added after signing?)")
            });
        }
    }
    if causes.is_empty() {
        causes.push("likely cause: no common mistake reproduces the received sign: the signer used a different key (sandbox key vs production key?), or the body was changed after signing (values must be signed exactly as sent, UTF-8, no URL-encoding)".to_owned());
    }
    causes
}

fn debug_workwx(
    fields: &[(String, String)],
    kind: WorkwxKind,
    secret: &WorkwxSecret,
    api_key: Option<&ApiKey>,
) -> Result<SignReport, SignDebugError> {
    let received = fields
        .iter()
        .find(|(k, _)| k == "workwx_sign")
        .map(|(_, v)| v.clone());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "sign" && k != "workwx_sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signer = WorkwxSigner::new(secret.clone());
    let sign = signer.sign(kind, pairs.iter().copied())?;
    let string_to_sign = signer.string_to_sign(kind, pairs.iter().copied())?;
    let mut diagnosis = Vec::new();
    let missing: Vec<&str> = kind
        .fields()
        .iter()
        .copied()
        .filter(|f| !pairs.iter().any(|(k, v)| k == f && !v.is_empty()))
        .collect();
    if !missing.is_empty() {
        diagnosis.push(format!(
            "warning: fields of the workwx_sign list missing or empty: {}",
            missing.join(", ")
        ));
    }
    let matches = received.as_deref().map(|r| sign.matches(r));
    if let (Some(received), Some(false)) = (received.as_deref(), matches) {
        let selected: Vec<(&str, &str)> = pairs
            .iter()
            .copied()
            .filter(|(k, _)| kind.fields().contains(k))
            .collect();
        let md5_of = |text: String| same(&digest(Algorithm::Md5, "", &text), received);
        let s = secret.expose();
        if md5_of(canonical(
            pairs.iter().copied(),
            false,
            bytewise,
            "secret",
            s,
        )) {
            diagnosis.push(format!(
                "likely cause: wrong field list: every field was signed; workwx_sign covers only {}",
                kind.fields().join(", ")
            ));
        }
        if md5_of(canonical(
            selected.iter().copied(),
            false,
            bytewise,
            "key",
            s,
        )) {
            diagnosis.push(
                "likely cause: the secret was appended as `&key=`; workwx_sign appends `&secret=`"
                    .to_owned(),
            );
        }
        if let Some(key) = api_key
            && md5_of(canonical(
                selected.iter().copied(),
                false,
                bytewise,
                "secret",
                key.expose(),
            ))
        {
            diagnosis.push("likely cause: signed with the merchant API key; workwx_sign uses the WeCom app secret of the agentid's app".to_owned());
        }
        let trimmed: Vec<(&str, &str)> = selected.iter().map(|(k, v)| (*k, v.trim())).collect();
        if !whitespace_fields(&selected).is_empty()
            && md5_of(canonical(
                trimmed.iter().copied(),
                false,
                bytewise,
                "secret",
                s,
            ))
        {
            diagnosis.push(format!(
                "likely cause: whitespace: the signer trimmed {}; remove the spaces from the request",
                whitespace_fields(&selected).join(", ")
            ));
        }
        if selected.iter().any(|(_, v)| v.is_empty())
            && md5_of(canonical(
                selected.iter().copied(),
                true,
                bytewise,
                "secret",
                s,
            ))
        {
            diagnosis
                .push("likely cause: empty value signed: empty fields must be left out".to_owned());
        }
        if diagnosis.iter().all(|d| d.starts_with("warning")) {
            diagnosis.push("likely cause: no common mistake reproduces the received workwx_sign: a different WeCom app secret (the secret must belong to the app named by agentid), or the values changed after signing".to_owned());
        }
    }
    Ok(SignReport {
        string_to_sign,
        sign: sign.as_str().to_owned(),
        field: "workwx_sign",
        received,
        matches,
        diagnosis,
    })
}

/// The string to sign when no secret is configured: the same canonical
/// string, secret shown as `***`, and no signature (`sign` is empty).
pub fn keyless(fields: &[(String, String)], mode: SignMode) -> Result<SignReport, SignDebugError> {
    let placeholder = "placeholder-not-a-key";
    let (string_to_sign, field, received) = match mode {
        SignMode::Main(_) => {
            let key = ApiKey::new(placeholder).map_err(|e| SignDebugError::Input(e.to_string()))?;
            let pairs = fields
                .iter()
                .filter(|(k, _)| k != "sign")
                .map(|(k, v)| (k.as_str(), v.as_str()));
            (
                Signer::new(key).string_to_sign(pairs)?,
                "sign",
                fields.iter().find(|(k, _)| k == "sign"),
            )
        }
        SignMode::Workwx(kind) => {
            let secret =
                WorkwxSecret::new(placeholder).map_err(|e| SignDebugError::Input(e.to_string()))?;
            let pairs = fields
                .iter()
                .filter(|(k, _)| k != "sign" && k != "workwx_sign")
                .map(|(k, v)| (k.as_str(), v.as_str()));
            (
                WorkwxSigner::new(secret).string_to_sign(kind, pairs)?,
                "workwx_sign",
                fields.iter().find(|(k, _)| k == "workwx_sign"),
            )
        }
    };
    Ok(SignReport {
        string_to_sign,
        sign: String::new(),
        field,
        received: received.map(|(_, v)| v.clone()),
        matches: None,
        diagnosis: vec!["the signature was not computed: no secret is configured".to_owned()],
    })
}

impl SignReport {
    /// The report as JSON: `{"string_to_sign":…,"sign":…}` (`"workwx_sign"`
    /// with `--workwx`), plus `received`, `matches` and `diagnosis` when the
    /// input carried a signature.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("string_to_sign".into(), self.string_to_sign.clone().into());
        let sign = if self.sign.is_empty() {
            serde_json::Value::Null
        } else {
            self.sign.clone().into()
        };
        map.insert(self.field.into(), sign);
        if let Some(received) = &self.received {
            map.insert("received".into(), received.clone().into());
        }
        if let Some(matches) = self.matches {
            map.insert("matches".into(), matches.into());
        }
        if !self.diagnosis.is_empty() {
            map.insert("diagnosis".into(), self.diagnosis.clone().into());
        }
        serde_json::Value::Object(map).to_string()
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "string to sign: {}\n{}: {}\n",
            self.string_to_sign,
            self.field,
            if self.sign.is_empty() {
                "(not computed)"
            } else {
                &self.sign
            }
        );
        if let Some(received) = &self.received {
            out.push_str(&format!("received {}: {received}\n", self.field));
            out.push_str(if self.matches == Some(true) {
                "result: MATCH\n"
            } else {
                "result: MISMATCH\n"
            });
        }
        for line in &self.diagnosis {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
