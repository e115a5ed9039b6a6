//! The merchant API client certificate (mutual TLS identity).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use zeroize::Zeroizing;

use crate::{ErrorKind, TransportError};

/// The one-line OpenSSL command that converts a PKCS#12 file this crate cannot
/// read into a PEM file that [`ClientIdentity::from_pem_files`] can.
pub(crate) const PKCS12_TO_PEM_HINT: &str = "convert it to PEM once with \
`openssl pkcs12 -legacy -in apiclient_cert.p12 -out apiclient.pem -nodes -passin pass:<mch_id>` \
(OpenSSL 3; drop `-legacy` with OpenSSL 1.1), keep apiclient.pem private (chmod 600), and load it with \
`ClientIdentity::from_pem_files(\"apiclient.pem\", \"apiclient.pem\")`";

/// The merchant API certificate and its private key, used as the TLS client
/// certificate (WeChat Pay: `apiclient_cert.pem` + `apiclient_key.pem`, or
/// `apiclient_cert.p12` whose password defaults to the merchant id).
///
/// Loading parses and validates everything up front: the private key is parsed
/// with the ring crypto provider, and it must match the certificate's public key.
/// The identity then holds only the parsed signing key and the certificate
/// chain. Key material this crate copies while loading (file contents, decoded
/// DER) is zeroized when dropped; this is best effort: buffers inside
/// dependencies (the PEM decoder's base64 scratch buffer, p12-keystore's
/// decrypted key, ring's parsed key pair) are outside this crate's control.
/// The PKCS#12 password is only borrowed, never stored. Cloning is cheap
/// (shared).
///
/// `Debug` shows the certificate subject and never the key or any password.
///
/// Supported keys: RSA (PKCS#1 or PKCS#8), ECDSA P-256/P-384 (SEC1 or PKCS#8),
/// Ed25519 (PKCS#8). WeChat Pay merchant certificates are RSA.
#[derive(Clone)]
pub struct ClientIdentity {
    certified_key: Arc<CertifiedKey>,
    subject: String,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.subject)
            .field("certificates", &self.certified_key.cert.len())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl ClientIdentity {
    /// Loads the identity from PEM: `cert_pem` holds the certificate (optionally
    /// followed by intermediate certificates), `key_pem` the unencrypted private
    /// key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    ///
    /// Both may be the same combined PEM (certificate and key in one file, as
    /// produced by `openssl pkcs12 -nodes`): only `CERTIFICATE` sections are
    /// read from `cert_pem` and only the private key from `key_pem`. The
    /// certificate matching the key is used as the leaf, whatever its position.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TransportError> {
        let certs = parse_pem_certificates(cert_pem, "client certificate")?;
        if certs.is_empty() {
            let hint = if contains_private_key_section(cert_pem) && !key_pem.is_empty() {
                " (it contains a private key: are the certificate and key arguments swapped?)"
            } else {
                ""
            };
            return Err(cert_error(format!(
                "no CERTIFICATE section found in the client certificate PEM{hint}"
            )));
        }
        let key = parse_pem_private_key(key_pem)?;
        Self::assemble(certs, &key.as_key_der())
    }

    /// Loads the identity from PEM files (see [`from_pem`](Self::from_pem));
    /// `cert_path` and `key_path` may name the same combined file.
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, TransportError> {
        let cert_path = cert_path.as_ref();
        let key_path = key_path.as_ref();
        let cert_pem = Zeroizing::new(read_file(cert_path, "client certificate")?);
        let key_pem = Zeroizing::new(read_file(key_path, "private key")?);
        Self::from_pem(&cert_pem, &key_pem).map_err(|e| {
            e.with_context(format_args!(
                "{} / {}",
                cert_path.display(),
                key_path.display()
            ))
        })
    }

    /// Loads the identity from a PKCS#12 archive (`apiclient_cert.p12`).
    ///
    /// For WeChat Pay's file the password is the **merchant id** (`mch_id`)
    /// unless it was changed: pass the merchant id here.
    ///
    /// Supported encryption: PBES2 (PBKDF2 + AES, the modern default) and the
    /// legacy PKCS#12 schemes PBE-SHA1-3DES and PBE-SHA1-RC2-40 (what OpenSSL
    /// 1.x and older tools write); MACs HMAC-SHA1/SHA-2. Anything else (e.g.
    /// RC2-128, RC4, 2-key 3DES, MD5 MACs, public-key-protected archives) fails
    /// with an error that gives the one-line `openssl` command converting the
    /// file to PEM.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, TransportError> {
        let archive =
            p12_keystore::Pkcs12Archive::from_pkcs12(der, password).map_err(pkcs12_error)?;
        let p12_keystore::Pkcs12Archive { keys, certs, .. } = archive;
        let key_bag = match keys.as_slice() {
            [key] => key,
            [] => {
                return Err(cert_error(
                    "the PKCS#12 archive contains no private key (is it the merchant's \
                     apiclient_cert.p12?)",
                ));
            }
            more => {
                return Err(cert_error(format!(
                    "the PKCS#12 archive contains {} private keys; expected exactly one — {}",
                    more.len(),
                    PKCS12_TO_PEM_HINT
                )));
            }
        };
        let key_der: Zeroizing<Vec<u8>> = Zeroizing::new(key_bag.key.as_der().to_vec());
        // Put the certificate bag carrying the key's localKeyId first: it is the
        // leaf by construction; `assemble` still checks the key really matches.
        let key_id = key_bag.local_key_id.as_ref().map(|id| id.as_ref().to_vec());
        let mut chain: Vec<CertificateDer<'static>> = Vec::with_capacity(certs.len());
        let mut rest: Vec<CertificateDer<'static>> = Vec::new();
        for bag in &certs {
            let der = CertificateDer::from(bag.cert.as_der().to_vec());
            if key_id.is_some() && bag.local_key_id.as_deref() == key_id.as_deref() {
                chain.push(der);
            } else {
                rest.push(der);
            }
        }
        chain.extend(rest);
        drop(keys);
        if chain.is_empty() {
            return Err(cert_error(
                "the PKCS#12 archive contains no certificate for the private key",
            ));
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.as_slice()));
        Self::assemble(chain, &key)
    }

    /// Loads the identity from a PKCS#12 file (see [`from_pkcs12`](Self::from_pkcs12));
    /// the password of WeChat Pay's `apiclient_cert.p12` is the merchant id.
    pub fn from_pkcs12_file(
        path: impl AsRef<Path>,
        password: &str,
    ) -> Result<Self, TransportError> {
        let path = path.as_ref();
        let der = Zeroizing::new(read_file(path, "PKCS#12")?);
        Self::from_pkcs12(&der, password).map_err(|e| e.with_context(path.display()))
    }

    /// The subject of the client certificate, e.g. `CN=1900000109, O=…`
    /// (empty if it could not be rendered).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Number of certificates sent to the server (the leaf plus any chain).
    pub fn certificate_count(&self) -> usize {
        self.certified_key.cert.len()
    }

    /// The DER of the leaf (client) certificate.
    pub fn certificate_der(&self) -> &[u8] {
        self.certified_key
            .cert
            .first()
            .map(|c| c.as_ref())
            .unwrap_or_default()
    }

    pub(crate) fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.certified_key)
    }

    /// Parses the key, picks the certificate matching it as the leaf (first),
    /// keeps the others in their order as the chain.
    fn assemble(
        mut certs: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<Self, TransportError> {
        let signing_key: Arc<dyn SigningKey> = rustls::crypto::ring::sign::any_supported_type(key)
            .map_err(|_| {
                cert_error(
                    "the private key could not be parsed (supported: RSA, ECDSA P-256/P-384, \
                     Ed25519; unencrypted)",
                )
            })?;

        let mut leaf = None;
        let mut undecidable = false;
        for (index, cert) in certs.iter().enumerate() {
            let candidate = CertifiedKey::new(vec![cert.clone()], Arc::clone(&signing_key));
            match candidate.keys_match() {
                Ok(()) => {
                    leaf = Some(index);
                    break;
                }
                Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                    undecidable = true;
                }
                Err(_) => {}
            }
        }
        let leaf = match (leaf, undecidable) {
            (Some(index), _) => index,
            // The provider cannot tell: trust the conventional leaf-first order.
            (None, true) => 0,
            (None, false) => {
                return Err(cert_error(
                    "the private key does not match the client certificate (are \
                     apiclient_cert.pem and apiclient_key.pem from the same merchant?)",
                ));
            }
        };
        let leaf_cert = certs.remove(leaf);
        let subject = p12_keystore::Certificate::from_der(leaf_cert.as_ref())
            .map(|c| c.subject().to_owned())
            .unwrap_or_default();
        certs.insert(0, leaf_cert);
        Ok(ClientIdentity {
            certified_key: Arc::new(CertifiedKey::new(certs, signing_key)),
            subject,
        })
    }
}

/// A private key whose DER bytes are zeroized on drop.
struct SecretKeyDer {
    kind: SectionKind,
    der: Zeroizing<Vec<u8>>,
}

impl SecretKeyDer {
    fn as_key_der(&self) -> PrivateKeyDer<'_> {
        match self.kind {
            SectionKind::RsaPrivateKey => {
                PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(self.der.as_slice()))
            }
            SectionKind::EcPrivateKey => {
                PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(self.der.as_slice()))
            }
            _ => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.der.as_slice())),
        }
    }
}

fn cert_error(message: impl Into<String>) -> TransportError {
    TransportError::not_sent(ErrorKind::Certificate, message)
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| {
        cert_error(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
        .with_source(e)
    })
}

/// Describes a PEM syntax error without echoing any of the (possibly secret) input.
fn pem_error_text(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64",
        pem::Error::SectionTooLarge => "a PEM section is too large",
        _ => "the PEM data is malformed",
    }
}

/// One decoded PEM section; the DER is zeroized on drop (it may be a key).
struct PemSection {
    kind: SectionKind,
    der: Zeroizing<Vec<u8>>,
}

fn is_private_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

/// All recognised sections of `pem_data` (unknown labels are skipped).
fn pem_sections(pem_data: &[u8], what: &str) -> Result<Vec<PemSection>, TransportError> {
    let mut sections = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem_data) {
        let (kind, der) = item.map_err(|e| {
            cert_error(format!(
                "cannot parse the {what} PEM: {}",
                pem_error_text(&e)
            ))
        })?;
        // Wrap at once so every decoded copy is zeroized on drop.
        sections.push(PemSection {
            kind,
            der: Zeroizing::new(der),
        });
    }
    Ok(sections)
}

/// The `CERTIFICATE` sections of `pem_data`, in order.
pub(crate) fn parse_pem_certificates(
    pem_data: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    Ok(pem_sections(pem_data, what)?
        .into_iter()
        .filter(|s| s.kind == SectionKind::Certificate)
        .map(|s| CertificateDer::from(s.der.to_vec()))
        .collect())
}

fn contains_private_key_section(pem_data: &[u8]) -> bool {
    pem_sections(pem_data, "client certificate")
        .map(|sections| sections.iter().any(|s| is_private_key(s.kind)))
        .unwrap_or(false)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn parse_pem_private_key(pem_data: &[u8]) -> Result<SecretKeyDer, TransportError> {
    if contains(pem_data, b"Proc-Type: 4,ENCRYPTED")
        || contains(pem_data, b"BEGIN ENCRYPTED PRIVATE KEY")
    {
        return Err(cert_error(
            "the private key PEM is encrypted; decrypt it once with \
             `openssl pkey -in apiclient_key.pem -out apiclient_key.plain.pem` and keep the result private",
        ));
    }
    let mut keys = pem_sections(pem_data, "private key")?
        .into_iter()
        .filter(|s| is_private_key(s.kind));
    let key = keys.next().ok_or_else(|| {
        cert_error(
            "no private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section) found in the \
             private key PEM",
        )
    })?;
    if keys.next().is_some() {
        return Err(cert_error(
            "the private key PEM contains more than one private key",
        ));
    }
    Ok(SecretKeyDer {
        kind: key.kind,
        der: key.der,
    })
}

fn pkcs12_error(e: p12_keystore::error::Error) -> TransportError {
    use p12_keystore::error::Error as E;
    let message = match &e {
        E::MacError(_) => "cannot open the PKCS#12 archive: wrong password (integrity check \
             failed). The password of WeChat Pay's apiclient_cert.p12 is the merchant id \
             (mch_id) unless it was changed"
            .to_owned(),
        E::UnpadError | E::Pkcs5Error(_) => "cannot decrypt the PKCS#12 archive: wrong password \
             or corrupted file (the password of apiclient_cert.p12 defaults to the merchant id)"
            .to_owned(),
        E::UnsupportedEncryptionScheme | E::UnsupportedMacAlgorithm | E::UnsupportedContentType => {
            format!(
                "the PKCS#12 archive uses a legacy encryption or integrity algorithm this library \
                 cannot read (supported: PBES2/AES, PBE-SHA1-3DES, PBE-SHA1-RC2-40, HMAC-SHA1/SHA-2); \
                 {PKCS12_TO_PEM_HINT}"
            )
        }
        E::InvalidPrivateKey => {
            "the private key inside the PKCS#12 archive is not a valid PKCS#8 key".to_owned()
        }
        other => format!("not a valid PKCS#12 archive: {other}"),
    };
    cert_error(message).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pem_key_is_explained() {
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = parse_pem_private_key(pem).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("encrypted"), "{err}");
        assert!(err.contains("openssl pkey"), "{err}");
    }

    #[test]
    fn missing_key_and_garbage() {
        let e = parse_pem_private_key(b"hello").err();
        assert!(e.is_some_and(|e| e.message().contains("no private key")));
        let e = parse_pem_private_key(
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        )
        .err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("not valid base64"), "{e}");
        assert!(!e.contains("!!!!"));
    }

    #[test]
    fn garbage_pkcs12() {
        let e = ClientIdentity::from_pkcs12(b"not a p12", "1900000109").err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("not a valid PKCS#12"), "{e}");
        assert!(!e.contains("1900000109"));
    }

    #[test]
    fn missing_file_is_a_certificate_error() {
        let e =
            ClientIdentity::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").err();
        assert!(e.is_some_and(|e| e.kind() == ErrorKind::Certificate && !e.may_have_been_sent()));
    }
}
