//! A service that pays prizes: a request handler submits a payout to the
//! ledger (idempotent by the prize's id, so a retried request never pays
//! twice) and a background worker pays what is due.
//!
//! The demo: three requests (one of them retried), paid through the
//! embedded sandbox (no account, no real money), then it exits:
//!
//! ```text
//! cargo run -p hongbao-ledger --example service
//! ```
//!
//! As a long-running service, against a sandbox started apart (so that
//! the service can be stopped, or killed, and started again while the
//! "bank" keeps its own books):
//!
//! ```text
//! hongbao sandbox --listen 127.0.0.1:8443 --cert-dir certs --api-key-file key   # prints mch_id, appid
//! HONGBAO_LEDGER=prizes.db HONGBAO_LISTEN=127.0.0.1:7070 \
//! HONGBAO_SERVER_URL=https://127.0.0.1:8443 HONGBAO_CERT_DIR=certs HONGBAO_API_KEY_FILE=key \
//! HONGBAO_MCH_ID=… HONGBAO_APPID=… cargo run -p hongbao-ledger --example service
//! printf 'won p-1 oxTWIuGaIt6gTKsQRLau2M0yL16E 8.88\npaid\n' | nc 127.0.0.1 7070
//! ```
//!
//! Each line sent to `HONGBAO_LISTEN` is a request (a stand-in for your
//! web framework's handler): `won PRIZE OPENID YUAN` submits a payout and
//! answers at once; `paid` answers how many payouts are paid. Kill the
//! service at any moment (even `kill -9` in the middle of a payment) and
//! start it again with the same ledger: the worker resumes what was in
//! flight by asking WeChat first (resending under the same bill number
//! only when the first send is known not to have paid), requests repeated
//! by impatient clients find their payout, and nobody is paid twice
//! (`tests/service.rs` does exactly this).

use hongbao::{ApiKey, Client, ClientIdentity, RetryPolicy};
use hongbao_ledger::{Binding, Ledger, LedgerOptions, PayoutState, ServerId};
use hongbao_proto::{Amount, AnyRequest, BillNo, OpenId, RedPacket};
use hongbao_sandbox::{Sandbox, SandboxHandle};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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

/// Where the payments go, and what the ledger is bound to.
struct Server {
    client: Client,
    binding: Binding,
    /// The embedded sandbox, when no server was named (the demo).
    embedded: Option<SandboxHandle>,
}

/// The server named by `HONGBAO_SERVER_URL` (with `HONGBAO_MCH_ID`,
/// `HONGBAO_APPID`, `HONGBAO_API_KEY_FILE` and `HONGBAO_CERT_DIR` holding
/// `ca.pem`, `client.pem` and `client.key`, as `hongbao sandbox --cert-dir`
/// writes them), or else the embedded sandbox.
async fn server() -> Result<Server, BoxError> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let Ok(url) = std::env::var("HONGBAO_SERVER_URL") else {
        let sandbox = Sandbox::builder().start().await?;
        return Ok(Server {
            client: embedded_client(&sandbox)?,
            binding: Binding::new(
                sandbox.mch_id(),
                sandbox.appid(),
                ServerId::embedded_sandbox(),
            ),
            embedded: Some(sandbox),
        });
    };
    let certs = std::path::PathBuf::from(var("HONGBAO_CERT_DIR")?);
    let api_key = ApiKey::new(std::fs::read_to_string(var("HONGBAO_API_KEY_FILE")?)?.trim())?;
    let binding = Binding::new(
        var("HONGBAO_MCH_ID")?,
        var("HONGBAO_APPID")?,
        // A real merchant would use `ServerId::configured(&url)`; this
        // one is a sandbox: no real money moves.
        ServerId::new(url.trim_end_matches('/'), true),
    );
    let client = Client::builder()
        .mch_id(&binding.mch_id)
        .appid(&binding.appid)
        .api_key(api_key)
        .identity(ClientIdentity::from_pem(
            &std::fs::read(certs.join("client.pem"))?,
            &std::fs::read(certs.join("client.key"))?,
        )?)
        .extra_ca_pem(std::fs::read(certs.join("ca.pem"))?)
        .base_url(&url)
        .retry(RetryPolicy::default())
        .build()?;
    Ok(Server {
        client,
        binding,
        embedded: None,
    })
}

fn embedded_client(sandbox: &SandboxHandle) -> Result<Client, BoxError> {
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

/// One connection to `HONGBAO_LISTEN`: a request per line, an answer per
/// line.
async fn handle(ledger: &Ledger, stream: TcpStream) -> Result<(), BoxError> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["won", prize, openid, yuan] => on_prize_won(ledger, prize, openid, yuan)
                .await
                .unwrap_or_else(|e| format!("error: {e}")),
            ["paid"] => match ledger.summary(None).await {
                Ok(summary) => format!("paid {}", summary.get(PayoutState::Paid).0),
                Err(e) => format!("error: {e}"),
            },
            _ => "error: say `won PRIZE OPENID YUAN` or `paid`".to_owned(),
        };
        write.write_all(format!("{answer}\n").as_bytes()).await?;
    }
    Ok(())
}

/// Serves requests on `listen` until Ctrl-C or SIGTERM.
async fn serve(ledger: &Ledger, listen: &str) -> Result<(), BoxError> {
    let listener = TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(&ledger, stream).await {
                        eprintln!("connection: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        }
    }
}

/// The demo: three requests, one of them retried; waits until both
/// prizes are paid.
async fn demo(ledger: &Ledger, embedded: Option<&SandboxHandle>) -> Result<(), BoxError> {
    for (prize, openid, yuan) in [
        ("p-1", "oxTWIuGaIt6gTKsQRLau2M0yL16E", "8.88"),
        ("p-2", "oxTWIuGaIt6gTKsQRLau2M0yL17F", "6.66"),
        ("p-1", "oxTWIuGaIt6gTKsQRLau2M0yL16E", "8.88"),
    ] {
        println!("{}", on_prize_won(ledger, prize, openid, yuan).await?);
    }
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
    if let Some(sandbox) = embedded {
        let payments = sandbox.ledger().payments.len();
        println!("paid 2 prizes with {payments} payment(s) at WeChat");
        assert_eq!(payments, 2, "the retried request paid nothing more");
    }
    Ok(())
}

// `pub(crate)`: tests/service.rs runs this example in a child process.
#[tokio::main]
pub(crate) async fn main() -> Result<(), BoxError> {
    let server = server().await?;
    let dir = tempfile::tempdir()?;
    let path = std::env::var("HONGBAO_LEDGER")
        .unwrap_or_else(|_| dir.path().join("prizes.db").display().to_string());
    let ledger = Ledger::open(&path, server.binding, LedgerOptions::default()).await?;

    // The background worker.
    let worker = ledger.worker(server.client).concurrency(4);
    let stop = worker.stop_handle();
    let background =
        tokio::spawn(async move { worker.run_until_stopped(Duration::from_millis(50)).await });

    match std::env::var("HONGBAO_LISTEN") {
        Ok(listen) => serve(&ledger, &listen).await?,
        Err(_) => demo(&ledger, server.embedded.as_ref()).await?,
    }

    // Stop the worker: payments in flight finish and are recorded.
    stop.stop();
    background.await??;
    ledger.checkpoint().await?;
    if let Some(sandbox) = server.embedded {
        sandbox.shutdown().await;
    }
    Ok(())
}
