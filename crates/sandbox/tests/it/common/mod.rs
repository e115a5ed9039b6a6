//! Helpers shared by the integration tests: signed request bodies, HTTP
//! clients (plain and mutual TLS) and reply parsing.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hongbao_proto::{RawXml, write_document};
use hongbao_sandbox::{
    DEFAULT_API_KEY, DEFAULT_WORKWX_SECRET, Limits, ManualClock, SandboxBuilder, SandboxHandle,
};
use hongbao_sign::{ApiKey, Signer, WorkwxKind, WorkwxSecret, WorkwxSigner};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) const OPENID: &str = "oxTWIuGaIt6gTKsQRLau2M0yL16E";

/// A request under construction: ordered fields.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub path: &'static str,
    pub fields: Vec<(String, String)>,
    pub workwx: Option<WorkwxKind>,
}

impl Req {
    fn new(path: &'static str, fields: &[(&str, &str)], workwx: Option<WorkwxKind>) -> Self {
        Req {
            path,
            fields: fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            workwx,
        }
    }

    /// Sets (or adds) a field.
    pub(crate) fn set(mut self, name: &str, value: &str) -> Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Removes a field.
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self
    }

    /// The body signed with the default key and WeCom secret.
    pub(crate) fn body(&self) -> Vec<u8> {
        self.body_with(DEFAULT_API_KEY, DEFAULT_WORKWX_SECRET)
    }

    /// The body signed with `key` (and `secret` for `workwx_sign`).
    pub(crate) fn body_with(&self, key: &str, secret: &str) -> Vec<u8> {
        let mut fields = self.fields.clone();
        let pairs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
        if let Some(kind) = self.workwx
            && !fields.iter().any(|(n, _)| n == "workwx_sign")
        {
            let signer = WorkwxSigner::new(WorkwxSecret::new(secret).expect("secret"));
            let sig = signer
                .sign(kind, fields.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                .expect("workwx sign");
            fields.push(("workwx_sign".into(), sig.as_str().to_owned()));
        }
        if !fields.iter().any(|(n, _)| n == "sign") {
            let signer = Signer::new(ApiKey::new(key).expect("key"));
            let sig = signer
                .sign_md5(
                    pairs(&fields)
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                )
                .expect("sign");
            fields.push(("sign".into(), sig.as_str().to_owned()));
        }
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        write_document(&refs, None)
    }
}

pub(crate) fn red_packet(bill: &str, openid: &str, fen: u64) -> Req {
    let amount = fen.to_string();
    Req::new(
        "/mmpaymkttransfers/sendredpack",
        &[
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("wxappid", "wx8888888888888888"),
            ("send_name", "天虹百货"),
            ("re_openid", openid),
            ("total_amount", &amount),
            ("total_num", "1"),
            ("wishing", "感谢您参加猜灯谜活动，祝您元宵节快乐！"),
            ("client_ip", "192.168.0.1"),
            ("act_name", "猜灯谜抢红包活动"),
            ("remark", "猜越多得越多，快来抢！"),
        ],
        None,
    )
}

pub(crate) fn group_red_packet(bill: &str, openid: &str, fen: u64, num: u32) -> Req {
    let amount = fen.to_string();
    let num = num.to_string();
    Req::new(
        "/mmpaymkttransfers/sendgroupredpack",
        &[
            ("nonce_str", "8Qm2Lz7Xc4Vb1Nn6"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("wxappid", "wx8888888888888888"),
            ("send_name", "天虹百货"),
            ("re_openid", openid),
            ("total_amount", &amount),
            ("total_num", &num),
            ("amt_type", "ALL_RAND"),
            ("wishing", "新春快乐"),
            ("act_name", "新春裂变"),
            ("remark", "分享给好友"),
        ],
        None,
    )
}

pub(crate) fn mini_program_red_packet(bill: &str, openid: &str, fen: u64) -> Req {
    let amount = fen.to_string();
    Req::new(
        "/mmpaymkttransfers/sendminiprogramhb",
        &[
            ("nonce_str", "Hh3Kk5Mm7Pp9Rr2T"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("wxappid", "wx8888888888888888"),
            ("send_name", "天虹百货"),
            ("re_openid", openid),
            ("total_amount", &amount),
            ("total_num", "1"),
            ("wishing", "恭喜发财"),
            ("act_name", "开业红包"),
            ("remark", "小程序领取"),
            ("notify_way", "MINI_PROGRAM_JSAPI"),
        ],
        None,
    )
}

pub(crate) fn query_red_packet(bill: &str) -> Req {
    Req::new(
        "/mmpaymkttransfers/gethbinfo",
        &[
            ("nonce_str", "50780e0cca98c8c8e814883e5caa672e"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("appid", "wx8888888888888888"),
            ("bill_type", "MCHT"),
        ],
        None,
    )
}

pub(crate) fn workwx_red_packet(bill: &str, openid: &str, fen: u64) -> Req {
    let amount = fen.to_string();
    Req::new(
        "/mmpaymkttransfers/sendworkwxredpack",
        &[
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("wxappid", "wx8888888888888888"),
            ("agentid", "1000002"),
            ("re_openid", openid),
            ("total_amount", &amount),
            ("wishing", "感谢您参加猜灯谜活动，祝您元宵节快乐！"),
            ("act_name", "猜灯谜抢红包活动"),
            ("remark", "猜越多得越多，快来抢！"),
        ],
        Some(WorkwxKind::RedPacket),
    )
}

pub(crate) fn query_workwx_red_packet(bill: &str) -> Req {
    Req::new(
        "/mmpaymkttransfers/queryworkwxredpack",
        &[
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("mch_billno", bill),
            ("mch_id", "10000098"),
            ("appid", "wx8888888888888888"),
        ],
        None,
    )
}

pub(crate) fn pay_employee(trade_no: &str, openid: &str, fen: u64) -> Req {
    let amount = fen.to_string();
    Req::new(
        "/mmpaymkttransfers/promotion/paywwsptrans2pocket",
        &[
            ("appid", "wx8888888888888888"),
            ("mch_id", "10000098"),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("partner_trade_no", trade_no),
            ("openid", openid),
            ("check_name", "NO_CHECK"),
            ("amount", &amount),
            ("desc", "六月出差报销费用"),
            ("spbill_create_ip", "192.168.0.1"),
            ("ww_msg_type", "NORMAL_MSG"),
            ("act_name", "产品部门报销"),
        ],
        Some(WorkwxKind::PayEmployee),
    )
}

pub(crate) fn query_pay_employee(trade_no: &str) -> Req {
    Req::new(
        "/mmpaymkttransfers/promotion/querywwsptrans2pocket",
        &[
            ("nonce_str", "Zx9Yw8Vu7Ts6Rq5P"),
            ("partner_trade_no", trade_no),
            ("mch_id", "10000098"),
            ("appid", "wx8888888888888888"),
        ],
        None,
    )
}

pub(crate) fn transfer(trade_no: &str, openid: &str, fen: u64) -> Req {
    let amount = fen.to_string();
    Req::new(
        "/mmpaymkttransfers/promotion/transfers",
        &[
            ("mch_appid", "wx8888888888888888"),
            ("mchid", "10000098"),
            ("nonce_str", "3PG2J4ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("partner_trade_no", trade_no),
            ("openid", openid),
            ("check_name", "FORCE_CHECK"),
            ("re_user_name", "张三"),
            ("amount", &amount),
            ("desc", "节日快乐!"),
            ("spbill_create_ip", "10.2.3.10"),
        ],
        None,
    )
}

pub(crate) fn query_transfer(trade_no: &str) -> Req {
    Req::new(
        "/mmpaymkttransfers/gettransferinfo",
        &[
            ("nonce_str", "50780e0cca98c8c8e814883e5caa672e"),
            ("partner_trade_no", trade_no),
            ("mch_id", "10000098"),
            ("appid", "wx8888888888888888"),
        ],
        None,
    )
}

pub(crate) fn sign_key() -> Req {
    Req::new(
        "/sandboxnew/pay/getsignkey",
        &[
            ("mch_id", "10000098"),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ],
        None,
    )
}

/// A parsed reply: status and flat fields (plus hbinfo records).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub fields: BTreeMap<String, String>,
    pub records: Vec<Vec<(String, String)>>,
    pub raw: Vec<u8>,
}

impl Reply {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// `err_code`, or "SUCCESS" when both codes are SUCCESS.
    pub(crate) fn code(&self) -> &str {
        if self.get("return_code") == Some("SUCCESS") && self.get("result_code") == Some("SUCCESS")
        {
            "SUCCESS"
        } else {
            self.get("err_code").unwrap_or("<none>")
        }
    }

    /// Whether the reply's `sign` verifies with the default key.
    pub(crate) fn sign_verifies(&self) -> bool {
        let signer = Signer::new(ApiKey::new(DEFAULT_API_KEY).expect("key"));
        signer
            .verify_reply(self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .is_ok()
    }
}

pub(crate) fn parse_reply(status: u16, body: &[u8]) -> Reply {
    let raw = RawXml::parse(body)
        .unwrap_or_else(|e| panic!("unparseable reply ({e}): {}", String::from_utf8_lossy(body)));
    Reply {
        status,
        fields: raw
            .fields()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        records: raw.records().to_vec(),
        raw: body.to_vec(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A reqwest client for a plain-HTTP sandbox in another process.
pub(crate) fn plain_http_client() -> reqwest::Client {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A reqwest client for `sandbox`: trusts its CA, presents the client
/// certificate when `with_cert`.
pub(crate) fn http_client(sandbox: &SandboxHandle, with_cert: bool) -> reqwest::Client {
    http_client_with_timeout(sandbox, with_cert, Duration::from_secs(10))
}

/// As [`http_client`], with a total timeout per request.
pub(crate) fn http_client_with_timeout(
    sandbox: &SandboxHandle,
    with_cert: bool,
    timeout: Duration,
) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(sandbox.ca_cert_pem().as_bytes()).expect("ca");
    roots.add(ca).expect("add ca");
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut tls = if with_cert {
        let cert =
            CertificateDer::from_pem_slice(sandbox.client_cert_pem().as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(sandbox.client_key_pem().as_bytes()).expect("key");
        builder
            .with_client_auth_cert(vec![cert], key)
            .expect("client auth")
    } else {
        builder.with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(timeout)
        .build()
        .expect("client")
}

/// Sends `req` (signed with the default secrets) and parses the reply.
pub(crate) async fn call(client: &reqwest::Client, sandbox: &SandboxHandle, req: &Req) -> Reply {
    post_raw(client, sandbox, req.path, req.body()).await
}

pub(crate) async fn post_raw(
    client: &reqwest::Client,
    sandbox: &SandboxHandle,
    path: &str,
    body: Vec<u8>,
) -> Reply {
    let response = client
        .post(format!("{}{}", sandbox.url(), path))
        .header("content-type", "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    parse_reply(status, &bytes)
}

/// A sandbox and a client for it: the calls of a test, without repeating
/// both at every call.
#[derive(Clone, Copy)]
pub(crate) struct Api<'a> {
    client: &'a reqwest::Client,
    sandbox: &'a SandboxHandle,
}

impl<'a> Api<'a> {
    /// Calls `sandbox` through `client`.
    pub(crate) fn new(client: &'a reqwest::Client, sandbox: &'a SandboxHandle) -> Self {
        Api { client, sandbox }
    }

    /// Sends `req` (signed with the default secrets) and parses the reply.
    pub(crate) async fn call(&self, req: &Req) -> Reply {
        call(self.client, self.sandbox, req).await
    }

    /// The code of the reply to `req` (see [`Reply::code`]).
    pub(crate) async fn code(&self, req: &Req) -> String {
        self.call(req).await.code().to_owned()
    }

    /// Posts `body` as is to `path` and parses the reply.
    pub(crate) async fn post_raw(&self, path: &str, body: Vec<u8>) -> Reply {
        post_raw(self.client, self.sandbox, path, body).await
    }

    /// GET or POST JSON on the admin API.
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        name: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        admin(self.client, self.sandbox, method, name, body).await
    }
}

/// A builder for a plain-HTTP sandbox on a manual clock at 2024-02-10 10:00 Beijing.
pub(crate) fn plain(clock: &ManualClock) -> SandboxBuilder {
    hongbao_sandbox::Sandbox::builder()
        .plain_http(true)
        .clock(Arc::new(clock.clone()))
}

/// Limits with the spacing rule off, so tests can pay the same user quickly.
pub(crate) fn relaxed_limits() -> Limits {
    Limits {
        same_user_interval_secs: 0,
        ..Limits::default()
    }
}

/// GET or POST JSON on the admin API.
pub(crate) async fn admin(
    client: &reqwest::Client,
    sandbox: &SandboxHandle,
    method: reqwest::Method,
    name: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = client.request(method, format!("{}/{name}", sandbox.admin_url()));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("admin send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("admin body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("admin reply is not JSON ({e}): {text}"));
    (status, value)
}
