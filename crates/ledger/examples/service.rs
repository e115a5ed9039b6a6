//! A service that pays prizes: a request handler submits a payout to the
//! ledger (idempotent by the prize's id, so a retried request never pays
//! twice) and a background worker pays what is due. Payments go to the
//! embedded sandbox (no account, no real money).
//!
//! ```text
//! cargo run -p hongbao-ledger --example service
//! ```
//!
//! Stop it at any moment and start it again with the same ledger file
//! (`HONGBAO_LEDGER=prizes.db`): the worker resumes what was in flight by
//! querying first, and nobody is paid twice.

use hongbao::{Client, ClientIdentity, RetryPolicy};
use hongbao_ledger::{Binding, Ledger, LedgerOptions, PayoutState, ServerId};
use hongbao_proto::{Amount, AnyRequest, BillNo, OpenId, RedPacket};
use hongbao_sandbox::{Sandbox, SandboxHandle};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request handler: "user `openid` won prize `prize_id`". Returns at
/// once; the worker pays. Calling it again for the same prize returns the
/// same payout.
async fn on_prize_won(
    ledger: &Ledger,
    prize_id: &str,
    openid: &str,
    yuan: &str,
) -> Result<String, BoxError> {
    // The ledger chooses the bill number: this one only makes the request valid.
    let placeholder = BillNo::new("1000009820260101PLACEHOLDER")?;
    let request: AnyRequest =
        RedPacket::builder(placeholder, OpenId::new(openid)?, Amount::parse_yuan(yuan)?)
            .send_name("Prize Shop")
            .wishing("Congratulations")
            .act_name("Lucky draw")
            .remark("Thanks for playing")
            .client_ip("203.0.113.10")
            .build()?
            .into();
    let submitted = ledger
        .submit(&format!("prize/{prize_id}"), &request)
        .await?;
    Ok(format!(
        "prize {prize_id}: payout {} bill {} ({})",
        submitted.payout.id,
        submitted.payout.bill,
        if submitted.created {
            "new"
        } else {
            "already submitted"
        }
    ))
}

fn client(sandbox: &SandboxHandle) -> Result<Client, BoxError> {
    Ok(Client::builder()
        .mch_id(sandbox.mch_id())
        .appid(sandbox.appid())
        .api_key(sandbox.api_key().clone())
        .identity(ClientIdentity::from_pem(
            sandbox.client_cert_pem().as_bytes(),
            sandbox.client_key_pem().as_bytes(),
        )?)
        .extra_ca_pem(sandbox.ca_cert_pem().as_bytes().to_vec())
        .base_url(sandbox.url())
        .retry(RetryPolicy::default())
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let sandbox = Sandbox::builder().start().await?;
    let dir = tempfile::tempdir()?;
    let path = std::env::var("HONGBAO_LEDGER")
        .unwrap_or_else(|_| dir.path().join("prizes.db").display().to_string());
    let ledger = Ledger::open(
        &path,
        Binding::new(
            sandbox.mch_id(),
            sandbox.appid(),
            ServerId::embedded_sandbox(),
        ),
        LedgerOptions::default(),
    )
    .await?;

    // The background worker.
    let worker = ledger.worker(client(&sandbox)?).concurrency(4);
    let stop = worker.stop_handle();
    let background =
        tokio::spawn(async move { worker.run_until_stopped(Duration::from_millis(50)).await });

    // Requests arrive; one is retried by an impatient client.
    for (prize, openid, yuan) in [
        ("p-1", "oxTWIuGaIt6gTKsQRLau2M0yL16E", "8.88"),
        ("p-2", "oxTWIuGaIt6gTKsQRLau2M0yL17F", "6.66"),
        ("p-1", "oxTWIuGaIt6gTKsQRLau2M0yL16E", "8.88"),
    ] {
        println!("{}", on_prize_won(&ledger, prize, openid, yuan).await?);
    }

    // Wait until both are paid, then stop the worker.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let summary = ledger.summary(None).await?;
        if summary.get(PayoutState::Paid).0 == 2 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("not paid in time: {summary:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.stop();
    background.await??;
    let payments = sandbox.ledger().payments.len();
    println!("paid 2 prizes with {payments} payment(s) at WeChat");
    assert_eq!(payments, 2, "the retried request paid nothing more");
    ledger.checkpoint().await?;
    sandbox.shutdown().await;
    Ok(())
}
