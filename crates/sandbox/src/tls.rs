//! Certificates: a private CA, the server certificate and the merchant's
//! client certificate (PEM and PKCS#12), generated with rcgen at start or
//! reloaded from a certificate directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SandboxError;

/// File names written to (and read from) the certificate directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key (kept so a later run can reuse the same CA).
pub const CA_KEY_FILE: &str = "ca.key";
/// The merchant client certificate, PEM.
pub const CLIENT_CERT_FILE: &str = "client.pem";
/// The merchant client key, PKCS#8 PEM.
pub const CLIENT_KEY_FILE: &str = "client.key";
/// The merchant client certificate and key, PKCS#12, password = mch_id.
pub const CLIENT_P12_FILE: &str = "client.p12";

const CA_NAME: &str = "hongbao-sandbox CA";

/// Every certificate and key of one sandbox run.
pub(crate) struct Pki {
    pub(crate) ca_cert_pem: String,
    ca_cert_der: CertificateDer<'static>,
    pub(crate) client_cert_pem: String,
    pub(crate) client_key_pem: String,
    pub(crate) client_p12: Vec<u8>,
    server_cert_der: CertificateDer<'static>,
    server_key_der: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

fn cert_err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Certificate(format!("{what}: {e}"))
}

fn ca_params() -> Result<CertificateParams, SandboxError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_err("CA", e))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "hongbao-sandbox");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn client_params(mch_id: &str) -> Result<CertificateParams, SandboxError> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_err("client", e))?;
    // WeChat Pay merchant certificates carry the merchant id as CN.
    params.distinguished_name.push(DnType::CommonName, mch_id);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "hongbao-sandbox merchant");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn server_params() -> Result<CertificateParams, SandboxError> {
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| cert_err("server", e))?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    params
        .distinguished_name
        .push(DnType::CommonName, "hongbao-sandbox server");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn read(path: &Path) -> Result<String, SandboxError> {
    fs::read_to_string(path).map_err(|source| SandboxError::File {
        action: "read",
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), SandboxError> {
    let err = |source| SandboxError::File {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    use std::io::Write;
    let mut file = options.open(path).map_err(err)?;
    file.write_all(bytes).map_err(err)
}

/// Paths of the files in a certificate directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// `ca.pem`: the CA clients must trust.
    pub ca_cert: PathBuf,
    /// `client.pem`: the merchant client certificate.
    pub client_cert: PathBuf,
    /// `client.key`: its private key (PKCS#8 PEM).
    pub client_key: PathBuf,
    /// `client.p12`: certificate and key in PKCS#12, password = mch_id.
    pub client_p12: PathBuf,
}

impl CertPaths {
    /// The file paths inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        CertPaths {
            ca_cert: dir.join(CA_CERT_FILE),
            client_cert: dir.join(CLIENT_CERT_FILE),
            client_key: dir.join(CLIENT_KEY_FILE),
            client_p12: dir.join(CLIENT_P12_FILE),
        }
    }
}

impl Pki {
    /// Generates a fresh CA and client certificate, or reloads them from
    /// `cert_dir` when it already holds `ca.pem`, `ca.key`, `client.pem` and
    /// `client.key` (so clients can keep trusting the same CA across runs).
    /// The server certificate is always fresh. When `cert_dir` is given, the
    /// files are (re)written there.
    pub(crate) fn load_or_generate(
        cert_dir: Option<&Path>,
        mch_id: &str,
    ) -> Result<Pki, SandboxError> {
        let existing = cert_dir.filter(|dir| {
            [CA_CERT_FILE, CA_KEY_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE]
                .iter()
                .all(|f| dir.join(f).is_file())
        });
        let (ca_cert_pem, ca_key, client_cert_pem, client_key_pem) = match existing {
            Some(dir) => {
                let ca_key_pem = read(&dir.join(CA_KEY_FILE))?;
                let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| cert_err("ca.key", e))?;
                (
                    read(&dir.join(CA_CERT_FILE))?,
                    ca_key,
                    read(&dir.join(CLIENT_CERT_FILE))?,
                    read(&dir.join(CLIENT_KEY_FILE))?,
                )
            }
            None => {
                let ca_key = KeyPair::generate().map_err(|e| cert_err("CA key", e))?;
                let ca_cert = ca_params()?
                    .self_signed(&ca_key)
                    .map_err(|e| cert_err("CA certificate", e))?;
                let issuer = Issuer::new(ca_params()?, &ca_key);
                let client_key = KeyPair::generate().map_err(|e| cert_err("client key", e))?;
                let client_cert = client_params(mch_id)?
                    .signed_by(&client_key, &issuer)
                    .map_err(|e| cert_err("client certificate", e))?;
                (
                    ca_cert.pem(),
                    ca_key,
                    client_cert.pem(),
                    client_key.serialize_pem(),
                )
            }
        };
        // The CA is rebuilt from the same parameters (same name, same key →
        // same key identifier), so certificates it signs chain to ca.pem.
        let issuer = Issuer::new(ca_params()?, &ca_key);
        let server_key = KeyPair::generate().map_err(|e| cert_err("server key", e))?;
        let server_cert = server_params()?
            .signed_by(&server_key, &issuer)
            .map_err(|e| cert_err("server certificate", e))?;

        let ca_cert_der = CertificateDer::from_pem_slice(ca_cert_pem.as_bytes())
            .map_err(|e| cert_err("ca.pem", e))?;
        let client_p12 = make_p12(&client_cert_pem, &client_key_pem, &ca_cert_der, mch_id)?;

        if let Some(dir) = cert_dir {
            fs::create_dir_all(dir).map_err(|source| SandboxError::File {
                action: "write",
                path: dir.to_owned(),
                source,
            })?;
            if existing.is_none() {
                write(&dir.join(CA_CERT_FILE), ca_cert_pem.as_bytes(), false)?;
                write(
                    &dir.join(CA_KEY_FILE),
                    ca_key.serialize_pem().as_bytes(),
                    true,
                )?;
                write(
                    &dir.join(CLIENT_CERT_FILE),
                    client_cert_pem.as_bytes(),
                    false,
                )?;
                write(&dir.join(CLIENT_KEY_FILE), client_key_pem.as_bytes(), true)?;
            }
            write(&dir.join(CLIENT_P12_FILE), &client_p12, true)?;
        }

        Ok(Pki {
            ca_cert_pem,
            ca_cert_der,
            client_cert_pem,
            client_key_pem,
            client_p12,
            server_cert_der: server_cert.der().clone(),
            server_key_der: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        })
    }

    /// The rustls server configuration: our server certificate, client
    /// certificates verified against our CA. A client may connect without a
    /// certificate (the sandbox-key endpoint and the admin API need none);
    /// endpoints that need one then answer `CA_ERROR`. A certificate from
    /// another CA fails the handshake.
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, SandboxError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_cert_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| cert_err("client verifier", e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server_cert_der.clone()],
                PrivateKeyDer::Pkcs8(self.server_key_der.clone_key()),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn make_p12(
    cert_pem: &str,
    key_pem: &str,
    ca_der: &CertificateDer<'_>,
    password: &str,
) -> Result<Vec<u8>, SandboxError> {
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| cert_err("client.pem", e))?;
    let key_der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| cert_err("client.key (PKCS#8 expected)", e))?;
    let cert = p12_keystore::Certificate::from_der(cert_der.as_ref())
        .map_err(|e| cert_err("client certificate for PKCS#12", e))?;
    let ca = p12_keystore::Certificate::from_der(ca_der.as_ref())
        .map_err(|e| cert_err("CA certificate for PKCS#12", e))?;
    let key = p12_keystore::PrivateKey::from_der(key_der.secret_pkcs8_der())
        .map_err(|e| cert_err("client key for PKCS#12", e))?;
    let chain =
        p12_keystore::PrivateKeyChain::new(b"hongbao-sandbox-client".to_vec(), key, [cert, ca]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "client",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store
        .writer(password)
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .write()
        .map_err(|e| cert_err("PKCS#12", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_then_reloads_the_same_ca() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("hongbao-sandbox-tls-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = Pki::load_or_generate(Some(&dir), "10000098")?;
        first.server_config()?;
        let second = Pki::load_or_generate(Some(&dir), "10000098")?;
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.client_cert_pem, second.client_cert_pem);
        second.server_config()?;
        // The PKCS#12 opens with the merchant id and holds the client key.
        let store = p12_keystore::KeyStore::from_pkcs12(
            &second.client_p12,
            "10000098",
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )?;
        let (_, chain) = store.private_key_chain().ok_or("no key chain")?;
        assert!(!chain.certs().is_empty());
        assert!(
            p12_keystore::KeyStore::from_pkcs12(
                &second.client_p12,
                "wrong",
                p12_keystore::Pkcs12ImportPolicy::Relaxed
            )
            .is_err()
        );
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
