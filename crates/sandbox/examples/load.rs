//! Load test: N concurrent keep-alive mutual-TLS clients send red packets to
//! an in-process sandbox for a while; prints sends/second and latency
//! percentiles.
//!
//! ```text
//! cargo run --release -p hongbao-sandbox --example load -- [CLIENTS] [SECONDS]
//! ```
//!
//! Defaults: 32 clients, 5 seconds. Client and server share the machine
//! (and the tokio runtime), as in the issue's goal of ≥ 5 000 sends/s on two
//! cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hongbao_proto::write_document;
use hongbao_sandbox::{DEFAULT_API_KEY, Limits, Sandbox, SandboxHandle};
use hongbao_sign::{ApiKey, Signer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn client(sandbox: &SandboxHandle) -> Result<reqwest::Client, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(
        sandbox.ca_cert_pem().as_bytes(),
    )?)?;
    let cert = CertificateDer::from_pem_slice(sandbox.client_cert_pem().as_bytes())?;
    let key = PrivateKeyDer::from_pem_slice(sandbox.client_key_pem().as_bytes())?;
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(vec![cert], key)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .build()?)
}

fn body(signer: &Signer, client_no: usize, seq: u64) -> Result<Vec<u8>, BoxError> {
    let bill = format!("10000098{client_no:04}{seq:014}");
    let openid = format!("oLoadTestUser{client_no:04}");
    let mut fields = vec![
        ("nonce_str", "LoadTestNonce0123456789"),
        ("mch_billno", bill.as_str()),
        ("mch_id", "10000098"),
        ("wxappid", "wx8888888888888888"),
        ("send_name", "load"),
        ("re_openid", openid.as_str()),
        ("total_amount", "100"),
        ("total_num", "1"),
        ("wishing", "hello"),
        ("client_ip", "127.0.0.1"),
        ("act_name", "load test"),
        ("remark", "load test"),
    ];
    let sign = signer.sign_md5(fields.iter().copied())?;
    fields.push(("sign", sign.as_str()));
    Ok(write_document(&fields, None))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let sandbox = Sandbox::builder()
        .limits(Limits::unlimited())
        .balance_fen(u64::MAX / 2)
        .start()
        .await?;
    let url = format!("{}/mmpaymkttransfers/sendredpack", sandbox.url());
    let signer = Signer::new(ApiKey::new(DEFAULT_API_KEY)?);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for client_no in 0..clients {
        let http = client(&sandbox)?;
        let url = url.clone();
        let signer = signer.clone();
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let Ok(body) = body(&signer, client_no, seq) else {
                    failures += 1;
                    continue;
                };
                let started = Instant::now();
                let ok = match http.post(&url).body(body).send().await {
                    Ok(response) => response
                        .bytes()
                        .await
                        .is_ok_and(|b| b.windows(7).any(|w| w == b"SUCCESS")),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(started.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (l, f) = task.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index.min(latencies.len() - 1)]
    };
    let paid = sandbox.ledger().payments.len();
    println!(
        "clients={clients} seconds={elapsed:.1} sends={} failures={failures} sends/s={:.0} p50={:.2}ms p99={:.2}ms ledger={paid}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    sandbox.shutdown().await;
    Ok(())
}
