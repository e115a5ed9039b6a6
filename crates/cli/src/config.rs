//! `hongbao.toml` and secrets.
//!
//! Secrets never come from a flag (shell history, `ps`): the API key comes
//! from the environment variable `HONGBAO_API_KEY` or from the file named by
//! `api_key_file`; the WeCom app secret from `HONGBAO_WORKWX_SECRET` or
//! `workwx_secret_file`.

use hongbao_sign::{ApiKey, SecretError, WorkwxSecret};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "HONGBAO_API_KEY";
/// Environment variable holding the WeCom app secret.
pub const WORKWX_SECRET_ENV: &str = "HONGBAO_WORKWX_SECRET";
/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "HONGBAO_CONFIG";
/// Default rate limit (requests per minute).
pub const DEFAULT_RATE_PER_MINUTE: u32 = 1800;

/// Default text fields of payouts; each can be overridden per CSV row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// Red packets: sender (merchant) name.
    pub send_name: Option<String>,
    /// Red packets / pay to employee: activity name.
    pub act_name: Option<String>,
    /// Red packets: blessing.
    pub wishing: Option<String>,
    /// Red packets: remark.
    pub remark: Option<String>,
    /// WeCom red packets: send in a person's name.
    pub sender_name: Option<String>,
    /// WeCom: the app id (`agentid`) to send in the name of.
    pub agentid: Option<String>,
    /// Transfers / pay to employee: description shown to the payee.
    pub desc: Option<String>,
    /// Red packets: `scene_id` (needed below 1 or above 200 yuan).
    pub scene_id: Option<String>,
    /// Group red packets: number of packets (3–20, default 3).
    pub total_num: Option<String>,
}

/// The contents of `hongbao.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Merchant id.
    pub mch_id: String,
    /// App id (official account, or the WeCom corpid).
    pub appid: String,
    /// API base URL (default: WeChat Pay's production URL).
    pub base_url: Option<String>,
    /// Extra CA certificate (PEM file), e.g. for a sandbox.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) — with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) — with `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Client certificate and key as PKCS#12 (password: the merchant id,
    /// or the contents of `client_p12_password_file`).
    pub client_p12: Option<PathBuf>,
    /// File holding the PKCS#12 password.
    pub client_p12_password_file: Option<PathBuf>,
    /// File holding the API key (used when `HONGBAO_API_KEY` is not set).
    pub api_key_file: Option<PathBuf>,
    /// File holding the WeCom app secret (when `HONGBAO_WORKWX_SECRET` is not set).
    pub workwx_secret_file: Option<PathBuf>,
    /// IP address sent as `client_ip` / `spbill_create_ip` (default 127.0.0.1).
    pub client_ip: Option<String>,
    /// Requests per minute (default 1800; 0 turns rate limiting off).
    pub rate_per_minute: Option<u32>,
    /// Timeout of one request attempt in milliseconds (default 30000).
    pub timeout_ms: Option<u64>,
    /// Automatic resends of the identical body after an unknown outcome,
    /// within one run (default 3; a rerun resolves what is left).
    pub max_resends: Option<u32>,
    /// Queries after the resends, within one run (default 2).
    pub queries: Option<u32>,
    /// The namespace of generated bill numbers, 0–4 ASCII letters and
    /// digits placed after the date (default none). Give each system that
    /// pays from one merchant its own, so that their generated numbers can
    /// never meet; the rest of the number is random.
    pub bill_prefix: Option<String>,
    /// Default red packet sender name.
    pub send_name: Option<String>,
    /// Default activity name.
    pub act_name: Option<String>,
    /// Default blessing.
    pub wishing: Option<String>,
    /// Default remark.
    pub remark: Option<String>,
    /// Default WeCom sender name.
    pub sender_name: Option<String>,
    /// Default WeCom `agentid`.
    pub agentid: Option<String>,
    /// Default description (transfers, pay to employee).
    pub desc: Option<String>,
    /// Default `scene_id`.
    pub scene_id: Option<String>,
    /// Default number of packets of a group red packet.
    pub total_num: Option<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is invalid.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// No API key was given.
    #[error(
        "no API key: set the environment variable {API_KEY_ENV} or `api_key_file` in the config (never a flag)"
    )]
    MissingApiKey,
    /// A secret was refused (empty or whitespace); the value is not shown.
    #[error("{source} (from {origin})")]
    BadSecret {
        /// Where it came from (variable or file name).
        origin: String,
        /// Why.
        source: SecretError,
    },
    /// Something else is wrong with a setting.
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads and parses a config file; relative paths in it are resolved
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for slot in [
            &mut config.ca_cert,
            &mut config.client_cert,
            &mut config.client_key,
            &mut config.client_p12,
            &mut config.client_p12_password_file,
            &mut config.api_key_file,
            &mut config.workwx_secret_file,
        ] {
            if let Some(p) = slot.as_mut() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(config)
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<text>".into(),
            message: e.to_string(),
        })?;
        if config.mch_id.is_empty() || config.appid.is_empty() {
            return Err(ConfigError::Invalid("mch_id and appid are required".into()));
        }
        if config.client_p12.is_some()
            && (config.client_cert.is_some() || config.client_key.is_some())
        {
            return Err(ConfigError::Invalid(
                "give either client_p12 or client_cert + client_key, not both".into(),
            ));
        }
        if config.client_cert.is_some() != config.client_key.is_some() {
            return Err(ConfigError::Invalid(
                "client_cert and client_key go together".into(),
            ));
        }
        if let Some(prefix) = &config.bill_prefix {
            if prefix.len() > 4 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::Invalid(
                    "bill_prefix: 0 to 4 ASCII letters and digits".into(),
                ));
            }
        }
        Ok(config)
    }

    /// The namespace of generated bill numbers (empty when none).
    pub fn bill_prefix(&self) -> &str {
        self.bill_prefix.as_deref().unwrap_or_default()
    }

    /// The API key: `HONGBAO_API_KEY`, else `api_key_file`.
    pub fn api_key(&self) -> Result<ApiKey, ConfigError> {
        load_secret(API_KEY_ENV, self.api_key_file.as_deref(), ApiKey::new)?
            .ok_or(ConfigError::MissingApiKey)
    }

    /// The WeCom app secret, if one is configured.
    pub fn workwx_secret(&self) -> Result<Option<WorkwxSecret>, ConfigError> {
        load_secret(
            WORKWX_SECRET_ENV,
            self.workwx_secret_file.as_deref(),
            WorkwxSecret::new,
        )
    }

    /// The default text fields.
    pub fn texts(&self) -> Texts {
        Texts {
            send_name: self.send_name.clone(),
            act_name: self.act_name.clone(),
            wishing: self.wishing.clone(),
            remark: self.remark.clone(),
            sender_name: self.sender_name.clone(),
            agentid: self.agentid.clone(),
            desc: self.desc.clone(),
            scene_id: self.scene_id.clone(),
            total_num: self.total_num.clone(),
        }
    }

    /// Requests per minute (0 = unlimited).
    pub fn rate_per_minute(&self) -> u32 {
        self.rate_per_minute.unwrap_or(DEFAULT_RATE_PER_MINUTE)
    }

    /// The IP sent as `client_ip` / `spbill_create_ip`.
    pub fn client_ip(&self) -> &str {
        self.client_ip.as_deref().unwrap_or("127.0.0.1")
    }
}

/// Reads a secret from `env_var`, else from `file` (one trailing newline is
/// dropped; other whitespace makes the secret invalid).
pub fn load_secret<T>(
    env_var: &str,
    file: Option<&Path>,
    make: impl Fn(String) -> Result<T, SecretError>,
) -> Result<Option<T>, ConfigError> {
    if let Some(value) = std::env::var_os(env_var) {
        let value = value
            .into_string()
            .map_err(|_| ConfigError::Invalid(format!("{env_var} is not valid UTF-8")))?;
        return make(value)
            .map(Some)
            .map_err(|source| ConfigError::BadSecret {
                origin: env_var.to_owned(),
                source,
            });
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let mut text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    make(text)
        .map(Some)
        .map_err(|source| ConfigError::BadSecret {
            origin: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_config() {
        let config = Config::parse(
            r#"
mch_id = "1900000109"
appid = "wx8888888888888888"
base_url = "https://127.0.0.1:9443"
client_p12 = "apiclient_cert.p12"
send_name = "Shop"
wishing = "Thanks"
rate_per_minute = 600
"#,
        )
        .expect("valid");
        assert_eq!(config.mch_id, "1900000109");
        assert_eq!(config.texts().send_name.as_deref(), Some("Shop"));
        assert_eq!(config.rate_per_minute(), 600);
    }

    #[test]
    fn refuses_a_key_in_the_file_and_unknown_fields() {
        let err = Config::parse("mch_id = \"1\"\nappid = \"wx1\"\napi_key = \"secret\"\n")
            .expect_err("api_key is not a setting");
        assert!(err.to_string().contains("api_key"), "{err}");
    }

    #[test]
    fn cert_settings_must_be_consistent() {
        assert!(
            Config::parse("mch_id = \"1\"\nappid = \"wx1\"\nclient_cert = \"a.pem\"\n").is_err()
        );
    }
}
