//! `hongbao.toml` and secrets.
//!
//! Secrets never come from a flag (shell history, `ps`) nor from the config
//! file: the API key comes from the environment variable `HONGBAO_API_KEY` or
//! from the file named by `api_key_file`; the WeCom app secret from
//! `HONGBAO_WORKWX_SECRET` or `workwx_secret_file`; the PKCS#12 password from
//! `client_p12_password_file`. A setting whose name looks like a secret is
//! refused without showing its value.
//!
//! Errors about the config never quote it: they name the file, line, column
//! and setting only (toml's own error text shows the offending line, which
//! may hold a secret, so it is never displayed).

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
    /// Identical resends after a rate-limit refusal (`FREQ_LIMIT`,
    /// `SECOND_OVER_LIMITED`), within one request (default 3; 0 = record
    /// the refusal and leave the payout to the next pass).
    pub limit_retries: Option<u32>,
    /// Largest amount of one payout of `batch run`, in yuan (`"200.00"` or
    /// `200`): a file with a row over it is refused before anything is
    /// sent. `--max-amount` overrides it.
    pub max_amount: Option<Yuan>,
    /// Largest total one `batch run` pays, in yuan: a run over it is
    /// refused before anything is sent. `--max-total` overrides it.
    pub max_total: Option<Yuan>,
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
    /// Webhook that gets the summary of every `batch run` (a WeCom group
    /// bot URL, `…/webhook/send?key=…`); `--notify` overrides it. Its
    /// query is never shown (masked in messages and in `Debug`).
    pub notify_url: Option<NotifyUrl>,
}

/// A webhook URL: it may carry a credential (a WeCom bot's `key=`), so its
/// `Debug` masks the query.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct NotifyUrl(pub String);

impl std::fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NotifyUrl")
            .field(&crate::notify::mask_url(&self.0))
            .finish()
    }
}

/// An amount in yuan in the config: `"200.00"` or `200` (never a float).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Yuan {
    /// Written as a string: `"200.50"`.
    Text(String),
    /// Written as a whole number: `200`.
    Whole(u64),
}

impl Yuan {
    /// The amount in fen; `setting` names it in the error.
    pub fn fen(&self, setting: &str) -> Result<u64, ConfigError> {
        match self {
            Yuan::Whole(n) => n.checked_mul(100),
            Yuan::Text(text) => hongbao_proto::Amount::parse_yuan(text.trim())
                .ok()
                .map(|a| a.fen()),
        }
        .ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{setting}: not an amount in yuan such as 200 or 200.00"
            ))
        })
    }
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
    /// The file is not valid TOML. The line is not shown: it may hold a
    /// secret.
    #[error(
        "invalid config {path}: syntax error at line {line}, column {column}{} (the line is not shown: it may hold a secret; check its quotes and the form key = \"value\"){}",
        key.as_deref().map(|k| format!(" in the setting `{k}`")).unwrap_or_default(),
        key.as_deref().and_then(secret_pointer).map(|p| format!("; besides, that name looks like a secret, and secrets are never read from the config file: {p}")).unwrap_or_default()
    )]
    Syntax {
        /// The file.
        path: String,
        /// Line (from 1).
        line: usize,
        /// Column (from 1, in characters).
        column: usize,
        /// The setting on that line, when the line has the shape `key = …`.
        key: Option<String>,
    },
    /// A setting is refused: unknown, of the wrong type, or a secret. Its
    /// value is never shown.
    #[error("invalid config {path}: line {line}, column {column}: `{key}` {problem}")]
    Setting {
        /// The file.
        path: String,
        /// Line (from 1).
        line: usize,
        /// Column (from 1, in characters).
        column: usize,
        /// The setting's name (dotted for a key inside a table).
        key: String,
        /// What is wrong, in our words (never the value).
        problem: String,
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
        let mut config = Config::parse_named(&text, &path.display().to_string())?;
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
            if let Some(p) = slot.as_mut()
                && p.is_relative()
            {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }

    /// Parses config text (errors name the file `<text>`).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_named(text, "<text>")
    }

    /// Parses config text read from `path` (used in error messages only).
    ///
    /// The text is checked setting by setting before it is deserialized, so
    /// that no error (toml's or serde's, which quote the source or the value)
    /// ever reaches the user: every error is ours, with file, line, column
    /// and setting name.
    pub fn parse_named(text: &str, path: &str) -> Result<Config, ConfigError> {
        let table = toml::de::DeTable::parse(text).map_err(|e| {
            let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
            ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                key: key_on_line(text, line),
            }
        })?;
        let mut problems = Vec::new();
        check_settings(table.get_ref(), &mut problems);
        if let Some((span, key, problem)) = problems.into_iter().min_by_key(|(span, _, _)| *span) {
            let (line, column) = line_column(text, span);
            return Err(ConfigError::Setting {
                path: path.to_owned(),
                line,
                column,
                key,
                problem,
            });
        }
        let config: Config = toml::from_str(text).map_err(|e| {
            // Every name and type was checked above: what is left is a value
            // out of range (e.g. a negative number). serde's text quotes the
            // value: name the setting instead.
            let at = e.span().map_or(0, |s| s.start);
            let key = table
                .get_ref()
                .iter()
                .find(|(_, v)| v.span().contains(&at))
                .map(|(k, _)| k.get_ref().to_string());
            let (line, column) = line_column(text, at);
            ConfigError::Setting {
                path: path.to_owned(),
                line,
                column,
                key: key.unwrap_or_else(|| "(unknown)".into()),
                problem: "has a value out of range (the value is not shown)".into(),
            }
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
        if let Some(prefix) = &config.bill_prefix
            && (prefix.len() > 4 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(ConfigError::Invalid(
                "bill_prefix: 0 to 4 ASCII letters and digits".into(),
            ));
        }
        Ok(config)
    }

    /// The configuration of a command: the file (if any), then each
    /// `HONGBAO_<SETTING>` environment variable ([`ENV_SETTINGS`]) over it.
    /// Flags are applied by the caller, over both: flags > environment >
    /// file. Without a file, the environment alone makes a configuration
    /// when it names `HONGBAO_MCH_ID` and `HONGBAO_APPID`; `Ok(None)` when
    /// there is neither.
    ///
    /// `env` reads a variable (`std::env::var(name).ok()` in the binary).
    pub fn resolve(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Config>, ConfigError> {
        let mut config = match file {
            Some(path) => Config::load(path)?,
            None if env(ENV_SETTINGS[0].0).is_some() || env(ENV_SETTINGS[1].0).is_some() => {
                Config::default()
            }
            None => return Ok(None),
        };
        config.apply_env(env)?;
        if config.mch_id.is_empty() || config.appid.is_empty() {
            return Err(ConfigError::Invalid(
                "mch_id and appid are required (HONGBAO_MCH_ID and HONGBAO_APPID without a config file)"
                    .into(),
            ));
        }
        Ok(Some(config))
    }

    /// Sets every setting whose `HONGBAO_<SETTING>` variable is set (and not
    /// empty) from it.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for (var, setting) in ENV_SETTINGS {
            let Some(value) = env(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let number = |value: &str| {
                value.trim().parse::<u64>().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "{var}: not a whole number (the value is not shown)"
                    ))
                })
            };
            let small = |value: &str| {
                number(value).and_then(|n| {
                    u32::try_from(n)
                        .map_err(|_| ConfigError::Invalid(format!("{var}: out of range")))
                })
            };
            let path = || Some(PathBuf::from(&value));
            let text = || Some(value.clone());
            match *setting {
                "mch_id" => self.mch_id = value.clone(),
                "appid" => self.appid = value.clone(),
                "base_url" => self.base_url = text(),
                "ca_cert" => self.ca_cert = path(),
                "client_cert" => self.client_cert = path(),
                "client_key" => self.client_key = path(),
                "client_p12" => self.client_p12 = path(),
                "client_p12_password_file" => self.client_p12_password_file = path(),
                "api_key_file" => self.api_key_file = path(),
                "workwx_secret_file" => self.workwx_secret_file = path(),
                "client_ip" => self.client_ip = text(),
                "rate_per_minute" => self.rate_per_minute = Some(small(&value)?),
                "timeout_ms" => self.timeout_ms = Some(number(&value)?),
                "max_resends" => self.max_resends = Some(small(&value)?),
                "limit_retries" => self.limit_retries = Some(small(&value)?),
                "max_amount" => self.max_amount = Some(Yuan::Text(value.clone())),
                "max_total" => self.max_total = Some(Yuan::Text(value.clone())),
                "queries" => self.queries = Some(small(&value)?),
                "bill_prefix" => self.bill_prefix = text(),
                "send_name" => self.send_name = text(),
                "act_name" => self.act_name = text(),
                "wishing" => self.wishing = text(),
                "remark" => self.remark = text(),
                "sender_name" => self.sender_name = text(),
                "agentid" => self.agentid = text(),
                "desc" => self.desc = text(),
                "scene_id" => self.scene_id = text(),
                "total_num" => self.total_num = text(),
                "notify_url" => self.notify_url = Some(NotifyUrl(value.clone())),
                _ => {}
            }
        }
        if let Some(prefix) = &self.bill_prefix
            && (prefix.len() > 4 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(ConfigError::Invalid(
                "bill_prefix: 0 to 4 ASCII letters and digits".into(),
            ));
        }
        Ok(())
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

/// The environment variables that set a config value, and the setting
/// each one sets (precedence: flags > environment > file). Secrets have
/// their own variables ([`API_KEY_ENV`], [`WORKWX_SECRET_ENV`]).
pub const ENV_SETTINGS: &[(&str, &str)] = &[
    ("HONGBAO_MCH_ID", "mch_id"),
    ("HONGBAO_APPID", "appid"),
    ("HONGBAO_BASE_URL", "base_url"),
    ("HONGBAO_CA_CERT", "ca_cert"),
    ("HONGBAO_CLIENT_CERT", "client_cert"),
    ("HONGBAO_CLIENT_KEY", "client_key"),
    ("HONGBAO_CLIENT_P12", "client_p12"),
    (
        "HONGBAO_CLIENT_P12_PASSWORD_FILE",
        "client_p12_password_file",
    ),
    ("HONGBAO_API_KEY_FILE", "api_key_file"),
    ("HONGBAO_WORKWX_SECRET_FILE", "workwx_secret_file"),
    ("HONGBAO_CLIENT_IP", "client_ip"),
    ("HONGBAO_RATE_PER_MINUTE", "rate_per_minute"),
    ("HONGBAO_LIMIT_RETRIES", "limit_retries"),
    ("HONGBAO_TIMEOUT_MS", "timeout_ms"),
    ("HONGBAO_MAX_RESENDS", "max_resends"),
    ("HONGBAO_QUERIES", "queries"),
    ("HONGBAO_MAX_AMOUNT", "max_amount"),
    ("HONGBAO_MAX_TOTAL", "max_total"),
    ("HONGBAO_BILL_PREFIX", "bill_prefix"),
    ("HONGBAO_SEND_NAME", "send_name"),
    ("HONGBAO_ACT_NAME", "act_name"),
    ("HONGBAO_WISHING", "wishing"),
    ("HONGBAO_REMARK", "remark"),
    ("HONGBAO_SENDER_NAME", "sender_name"),
    ("HONGBAO_AGENTID", "agentid"),
    ("HONGBAO_DESC", "desc"),
    ("HONGBAO_SCENE_ID", "scene_id"),
    ("HONGBAO_TOTAL_NUM", "total_num"),
    ("HONGBAO_NOTIFY_URL", "notify_url"),
];

/// What a setting holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SettingKind {
    Text,
    Number,
    /// Yuan: a string or a whole number.
    Yuan,
}

/// Every setting of [`Config`] and what it holds.
const SETTINGS: &[(&str, SettingKind)] = &[
    ("mch_id", SettingKind::Text),
    ("appid", SettingKind::Text),
    ("base_url", SettingKind::Text),
    ("ca_cert", SettingKind::Text),
    ("client_cert", SettingKind::Text),
    ("client_key", SettingKind::Text),
    ("client_p12", SettingKind::Text),
    ("client_p12_password_file", SettingKind::Text),
    ("api_key_file", SettingKind::Text),
    ("workwx_secret_file", SettingKind::Text),
    ("client_ip", SettingKind::Text),
    ("rate_per_minute", SettingKind::Number),
    ("timeout_ms", SettingKind::Number),
    ("max_resends", SettingKind::Number),
    ("queries", SettingKind::Number),
    ("limit_retries", SettingKind::Number),
    ("max_amount", SettingKind::Yuan),
    ("max_total", SettingKind::Yuan),
    ("send_name", SettingKind::Text),
    ("act_name", SettingKind::Text),
    ("wishing", SettingKind::Text),
    ("remark", SettingKind::Text),
    ("sender_name", SettingKind::Text),
    ("agentid", SettingKind::Text),
    ("desc", SettingKind::Text),
    ("scene_id", SettingKind::Text),
    ("total_num", SettingKind::Text),
    ("notify_url", SettingKind::Text),
];

/// Where a secret goes instead of the config file, for a setting whose name
/// looks like one; `None` for a name that does not.
fn secret_pointer(name: &str) -> Option<String> {
    let n = name.to_ascii_lowercase().replace('-', "_");
    let api_key = format!(
        "the API key comes from the environment variable {API_KEY_ENV} or from the file named by `api_key_file`"
    );
    let workwx = format!(
        "the WeCom app secret comes from the environment variable {WORKWX_SECRET_ENV} or from the file named by `workwx_secret_file`"
    );
    let password =
        "the PKCS#12 password comes from the file named by `client_p12_password_file`".to_owned();
    if (n.contains("workwx") || n.contains("wecom") || n.contains("corpsecret"))
        && (n.contains("secret") || n.contains("key") || n.contains("token"))
    {
        return Some(workwx);
    }
    if ["password", "passwd", "passphrase", "pwd"]
        .iter()
        .any(|w| n.contains(w))
    {
        return Some(password);
    }
    if ["api_key", "apikey", "sign_key", "signkey", "mch_key"]
        .iter()
        .any(|w| n.contains(w))
    {
        return Some(api_key);
    }
    if n == "key"
        || ["secret", "token", "private_key"]
            .iter()
            .any(|w| n.contains(w))
    {
        return Some(format!("{api_key}; {workwx}"));
    }
    // Misspellings of the usual names (`api_kye`, `secert`, `pasword`).
    const NEAR: [(&str, u8); 7] = [
        ("api_key", 0),
        ("apikey", 0),
        ("secret", 3),
        ("workwx_secret", 1),
        ("password", 2),
        ("cert_password", 2),
        ("token", 3),
    ];
    NEAR.iter()
        .find(|(word, _)| edit_distance(&n, word) <= 2)
        .map(|(_, which)| match which {
            0 => api_key,
            1 => workwx,
            2 => password,
            _ => format!("{api_key}; {workwx}"),
        })
}

/// Levenshtein distance with adjacent transpositions (optimal string
/// alignment), on bytes: enough for setting names.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Collects `(offset, key, problem)` for every setting that is refused:
/// a secret, an unknown name, or a value of the wrong type. Tables and
/// arrays are searched for secrets too. Values are never part of a problem.
fn check_settings(table: &toml::de::DeTable<'_>, problems: &mut Vec<(usize, String, String)>) {
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        let at = key.span().start;
        let known = SETTINGS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k);
        match known {
            Some(kind) => {
                let ok = matches!(
                    (kind, value.get_ref()),
                    (SettingKind::Text, toml::de::DeValue::String(_))
                        | (SettingKind::Number, toml::de::DeValue::Integer(_))
                        | (
                            SettingKind::Yuan,
                            toml::de::DeValue::String(_) | toml::de::DeValue::Integer(_)
                        )
                );
                if !ok {
                    let wanted = match kind {
                        SettingKind::Text => "a quoted string",
                        SettingKind::Number => "a whole number",
                        SettingKind::Yuan => "an amount in yuan: 200 or \"200.00\"",
                    };
                    problems.push((
                        at,
                        name.to_owned(),
                        format!("must be {wanted} (the value is not shown)"),
                    ));
                }
            }
            None => {
                let problem = match secret_pointer(name) {
                    Some(pointer) => format!(
                        "looks like a secret, and secrets are never read from the config file (the value is not shown; remove it from the file): {pointer}"
                    ),
                    None => format!(
                        "is not a setting (the value is not shown); settings are: {}",
                        SETTINGS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                problems.push((at, name.to_owned(), problem));
                let mut nested = Vec::new();
                collect_nested(value.get_ref(), &mut nested);
                for (at, inner, pointer) in nested {
                    problems.push((
                        at,
                        format!("{name}.{inner}"),
                        format!(
                            "looks like a secret, and secrets are never read from the config file (the value is not shown; remove it from the file): {pointer}"
                        ),
                    ));
                }
            }
        }
    }
}

/// Secret-looking keys inside a table or array: `(offset, key, pointer)`.
fn collect_nested(value: &toml::de::DeValue<'_>, out: &mut Vec<(usize, String, String)>) {
    match value {
        toml::de::DeValue::Table(table) => {
            for (key, inner) in table.iter() {
                let name = key.get_ref().as_ref();
                if let Some(pointer) = secret_pointer(name) {
                    out.push((key.span().start, name.to_owned(), pointer));
                }
                collect_nested(inner.get_ref(), out);
            }
        }
        toml::de::DeValue::Array(items) => {
            for item in items.iter() {
                collect_nested(item.get_ref(), out);
            }
        }
        _ => {}
    }
}

/// Line and column (both from 1; the column counts characters) of a byte
/// offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// The setting named on line `line` (from 1), when the line has the shape
/// `name = …` with a bare name: never anything right of the `=`.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let (name, _) = content.split_once('=')?;
    let name = name.trim();
    let bare = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    bare.then(|| name.to_owned())
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

    const SECRET: &str = "Zq9SecretValue0123456789abcdefXY";

    /// Neither Display nor Debug shows any part of the secret; both name the
    /// file, line, column and key.
    fn assert_safe(err: &ConfigError, line: usize, column: usize, key: &str) {
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("Zq9Secret"), "secret shown: {shown}");
            assert!(!shown.contains("0123456789abcdef"), "secret shown: {shown}");
        }
        let shown = err.to_string();
        assert!(shown.contains("hongbao.toml"), "{shown}");
        assert!(
            shown.contains(&format!("line {line}, column {column}")),
            "{shown}"
        );
        assert!(shown.contains(&format!("`{key}`")), "{shown}");
    }

    fn parse(text: &str) -> ConfigError {
        Config::parse_named(text, "/etc/hongbao.toml").expect_err("refused")
    }

    #[test]
    fn defect9_malformed_line_with_a_secret_is_not_echoed() {
        // Unclosed string.
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\napi_key = \"{SECRET}\n"
        ));
        assert!(
            matches!(err, ConfigError::Syntax { line: 3, .. }),
            "{err:?}"
        );
        assert_safe(&err, 3, 44, "api_key");
        assert!(err.to_string().contains(API_KEY_ENV), "{err}");
        // Missing `=`.
        let err = parse(&format!("mch_id = \"1\"\n  api_key \"{SECRET}\"\n"));
        assert!(
            matches!(err, ConfigError::Syntax { line: 2, .. }),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("Zq9Secret"), "{shown}");
        assert!(shown.contains("line 2, column "), "{shown}");
    }

    #[test]
    fn defect9_unknown_key_with_a_secret_value_is_not_echoed() {
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\n  signing = \"{SECRET}\"\n"
        ));
        assert!(matches!(err, ConfigError::Setting { .. }), "{err:?}");
        assert_safe(&err, 3, 3, "signing");
        assert!(err.to_string().contains("is not a setting"), "{err}");
        // Inside a table too.
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\n[merchant]\nkey = \"{SECRET}\"\n"
        ));
        assert_safe(&err, 3, 2, "merchant");
    }

    #[test]
    fn defect9_misspelled_api_key_points_to_the_environment() {
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\napi_kye = \"{SECRET}\"\n"
        ));
        assert_safe(&err, 3, 1, "api_kye");
        let shown = err.to_string();
        assert!(shown.contains("looks like a secret"), "{shown}");
        assert!(
            shown.contains(API_KEY_ENV) && shown.contains("api_key_file"),
            "{shown}"
        );
    }

    #[test]
    fn defect9_value_on_a_line_with_bad_syntax_is_not_echoed() {
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\nremark = \"thanks\" {SECRET}\n"
        ));
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
        assert_safe(&err, 3, 19, "remark");
        // A value of the wrong type, or out of range, is not shown either.
        let err = parse(&format!(
            "mch_id = \"1\"\nappid = \"wx1\"\nrate_per_minute = \"{SECRET}\"\n"
        ));
        assert_safe(&err, 3, 1, "rate_per_minute");
        let err = parse("mch_id = \"1\"\nappid = \"wx1\"\ntimeout_ms = -98765\n");
        assert!(!format!("{err} {err:?}").contains("98765"), "{err}");
        assert!(err.to_string().contains("`timeout_ms`"), "{err}");
    }

    #[test]
    fn defect9_secret_looking_settings_are_refused_with_a_pointer() {
        for (name, pointer) in [
            ("api_key", API_KEY_ENV),
            ("apikey", API_KEY_ENV),
            ("key", API_KEY_ENV),
            ("secret", API_KEY_ENV),
            ("mch_api_key", API_KEY_ENV),
            ("access_token", API_KEY_ENV),
            ("workwx_secret", WORKWX_SECRET_ENV),
            ("password", "client_p12_password_file"),
            ("cert_password", "client_p12_password_file"),
            ("p12-passwd", "client_p12_password_file"),
        ] {
            let err = parse(&format!(
                "mch_id = \"1\"\nappid = \"wx1\"\n{name} = \"{SECRET}\"\n"
            ));
            assert_safe(&err, 3, 1, name);
            let shown = err.to_string();
            assert!(shown.contains("looks like a secret"), "{shown}");
            assert!(shown.contains(pointer), "{name}: {shown}");
        }
        // The real settings that name secret files are fine.
        let config = Config::parse(
            "mch_id = \"1\"\nappid = \"wx1\"\napi_key_file = \"k\"\nworkwx_secret_file = \"s\"\nclient_p12 = \"c.p12\"\nclient_p12_password_file = \"p\"\n",
        )
        .expect("valid");
        assert_eq!(config.api_key_file.as_deref(), Some(Path::new("k")));
    }

    #[test]
    fn every_setting_is_known_to_the_checker() {
        let mut text = String::new();
        for (name, kind) in SETTINGS {
            match kind {
                SettingKind::Text if *name == "client_cert" || *name == "client_key" => {
                    text.push_str(&format!("{name} = \"x.pem\"\n"));
                }
                SettingKind::Text if name.starts_with("client_p12") => {}
                SettingKind::Text => text.push_str(&format!("{name} = \"1\"\n")),
                SettingKind::Number => text.push_str(&format!("{name} = 5\n")),
                SettingKind::Yuan => text.push_str(&format!("{name} = \"1.50\"\n")),
            }
        }
        let config = Config::parse(&text).expect("every setting parses");
        assert_eq!(config.queries, Some(5));
        assert_eq!(
            config.max_amount.map(|y| y.fen("max_amount").ok()),
            Some(Some(150))
        );
        assert_eq!(config.total_num.as_deref(), Some("1"));
    }

    #[test]
    fn cert_settings_must_be_consistent() {
        assert!(
            Config::parse("mch_id = \"1\"\nappid = \"wx1\"\nclient_cert = \"a.pem\"\n").is_err()
        );
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn environment_overrides_the_file_and_alone_makes_a_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("hongbao.toml");
        std::fs::write(
            &file,
            "mch_id = \"10000098\"\nappid = \"wxfile\"\nrate_per_minute = 5\nwishing = \"file\"\n",
        )
        .expect("write");
        let env = env_of(&[
            ("HONGBAO_APPID", "wxenv"),
            ("HONGBAO_RATE_PER_MINUTE", "7"),
            ("HONGBAO_BASE_URL", "https://example.test"),
        ]);
        let config = Config::resolve(Some(&file), &env)
            .expect("ok")
            .expect("some");
        assert_eq!(
            (config.mch_id.as_str(), config.appid.as_str()),
            ("10000098", "wxenv")
        );
        assert_eq!(config.rate_per_minute, Some(7));
        assert_eq!(config.wishing.as_deref(), Some("file"));
        assert_eq!(config.base_url.as_deref(), Some("https://example.test"));
        // No file, no variables: no configuration.
        assert!(Config::resolve(None, &env_of(&[])).expect("ok").is_none());
        // The environment alone.
        let alone = env_of(&[("HONGBAO_MCH_ID", "1"), ("HONGBAO_APPID", "wx")]);
        assert_eq!(
            Config::resolve(None, &alone).expect("ok").map(|c| c.mch_id),
            Some("1".to_owned())
        );
        // Half of it is refused; so is a number that is not one.
        assert!(Config::resolve(None, &env_of(&[("HONGBAO_MCH_ID", "1")])).is_err());
        let bad = env_of(&[("HONGBAO_RATE_PER_MINUTE", "lots")]);
        assert!(Config::resolve(Some(&file), &bad).is_err());
    }

    #[test]
    fn caps_are_yuan_written_as_text_or_whole_numbers() {
        let config = Config::parse(
            "mch_id = \"1\"\nappid = \"wx1\"\nmax_amount = 200\nmax_total = \"1000.50\"\n",
        )
        .expect("valid");
        let fen = |y: Option<Yuan>| y.map(|y| y.fen("cap").ok());
        assert_eq!(fen(config.max_amount.clone()), Some(Some(20_000)));
        assert_eq!(fen(config.max_total.clone()), Some(Some(100_050)));
        assert!(Yuan::Text("1.234".into()).fen("cap").is_err());
        assert!(Yuan::Text("-1".into()).fen("cap").is_err());
        // A float is refused (no rounding of money), naming the setting.
        let err = parse("mch_id = \"1\"\nappid = \"wx1\"\nmax_amount = 2.5\n");
        assert!(err.to_string().contains("`max_amount`"), "{err}");
        // The environment overrides the file.
        let mut config = config;
        let env = |name: &str| (name == "HONGBAO_MAX_TOTAL").then(|| "7".to_owned());
        config.apply_env(&env).expect("ok");
        assert_eq!(fen(config.max_total), Some(Some(700)));
    }

    #[test]
    fn every_setting_has_its_environment_variable() {
        for (name, _) in SETTINGS {
            let var = format!("HONGBAO_{}", name.to_ascii_uppercase());
            assert!(
                ENV_SETTINGS.iter().any(|(v, s)| *v == var && s == name),
                "{var}"
            );
        }
    }
}
