//! Raw hashes for tools around signing: the `SIGN_ERROR` debugger, which
//! hashes candidate strings it builds itself (a wrong order, `&key=` where
//! `&secret=` belongs, trimmed values…), and content digests such as the
//! CLI's binding of a batch journal to its CSV file.
//!
//! Requests are signed with [`Signer`](crate::Signer) and
//! [`WorkwxSigner`](crate::WorkwxSigner), never with these: they hash exactly
//! the string given, which is already canonical and already ends with the
//! key or secret.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256 as Sha256Core;

use crate::signature::Signature;

/// MD5 of a complete string to sign (`a=1&b=2&key=…`), as uppercase hex:
/// what the main `sign` or `workwx_sign` would be if this were the
/// canonical string.
///
/// ```
/// // The example of the v2 signing guide.
/// let text = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100\
///             &nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d";
/// assert_eq!(
///     hongbao_sign::digest::md5_of(text).as_str(),
///     "9A0A8659F005D6984697E2CA0A9CF3B7"
/// );
/// ```
pub fn md5_of(string_to_sign: &str) -> Signature {
    Signature::from_digest(&Md5::digest(string_to_sign.as_bytes()))
}

/// MD5 of a string to sign given as bytes in another encoding than UTF-8
/// (e.g. GBK, as some old signers hash Chinese text), as uppercase hex.
///
/// ```
/// assert_eq!(
///     hongbao_sign::digest::md5_of_bytes(b"a=1&key=k").as_str(),
///     hongbao_sign::digest::md5_of("a=1&key=k").as_str()
/// );
/// ```
pub fn md5_of_bytes(string_to_sign: &[u8]) -> Signature {
    Signature::from_digest(&Md5::digest(string_to_sign))
}

/// HMAC-SHA256 of a complete string to sign, keyed with `key`, as uppercase
/// hex (the `sign_type=HMAC-SHA256` method of the general v2 API).
pub fn hmac_sha256_of(key: &str, string_to_sign: &str) -> Signature {
    // HMAC accepts keys of any length, so this cannot fail; the fallback
    // keeps the function total without a panic path.
    let mut mac = <Hmac<Sha256Core> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256Core> as KeyInit>::new(&Default::default()));
    mac.update(string_to_sign.as_bytes());
    Signature::from_digest(&mac.finalize().into_bytes())
}

/// A streaming SHA-256 content digest, written as lowercase hex.
///
/// ```
/// let mut digest = hongbao_sign::digest::Sha256::new();
/// digest.update(b"ab");
/// digest.update(b"c");
/// assert_eq!(
///     digest.hex(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct Sha256(Sha256Core);

impl Sha256 {
    /// An empty digest.
    pub fn new() -> Self {
        Sha256::default()
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        Digest::update(&mut self.0, bytes);
    }

    /// The digest of every byte fed so far, as 64 lowercase hex characters
    /// (the state is kept, so more bytes may follow).
    pub fn hex(&self) -> String {
        self.0
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, ApiKey, Signer};

    #[test]
    fn digest_helpers_agree_with_the_signer() -> Result<(), Box<dyn std::error::Error>> {
        let key = "192006250b4c09247ec02edce69f6a2d";
        let signer = Signer::new(ApiKey::new(key)?);
        let params = [("mch_id", "10000100"), ("nonce_str", "ibuaiVcKdpRxkhJA")];
        let text = format!("mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key={key}");
        assert_eq!(md5_of(&text), signer.sign(Algorithm::Md5, params)?);
        assert_eq!(
            hmac_sha256_of(key, &text),
            signer.sign(Algorithm::HmacSha256, params)?
        );
        assert_ne!(md5_of(&text), md5_of("mch_id=10000100"));
        Ok(())
    }

    #[test]
    fn sha256_of_nothing_is_the_known_value() {
        assert_eq!(
            Sha256::new().hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
