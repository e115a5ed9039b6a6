//! The service example (`examples/service.rs`), run as a process of its
//! own, killed with SIGKILL while it pays and started again on the same
//! ledger: by the sandbox's own books (the sandbox runs in this test, apart
//! from the service), every prize is paid exactly once, with the bill
//! number the service answered when the prize was submitted.
//!
//! The child process is this test binary again, running the example's
//! `main` (`example_main`, which alone runs the example's demo).
#![cfg(all(feature = "sqlite", unix))]
#![allow(clippy::unwrap_used)]

#[path = "../examples/service.rs"]
mod service;

use hongbao_sandbox::{FaultConfig, FaultKind, Sandbox, SandboxHandle};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Prizes won before the kill, and after the restart.
const BEFORE: usize = 120;
const AFTER: usize = 10;

/// The example's `main`: the demo when run by `cargo test`, the service
/// (`HONGBAO_LISTEN` set) when run by the test below.
#[test]
fn example_main() {
    service::main().unwrap();
}

fn openid(i: usize) -> String {
    format!("oPrize{i:05}abcdefghijklmnopq")
}

fn yuan(i: usize) -> (String, u64) {
    let fen = 100 + (i as u64 * 7) % 900;
    (format!("{}.{:02}", fen / 100, fen % 100), fen)
}

/// Starts the service on the ledger `dir/prizes.db` against `sandbox`;
/// returns the process and the address it listens on.
fn start_service(dir: &Path, sandbox: &SandboxHandle) -> (Service, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "example_main", "--nocapture", "--test-threads=1"])
        .env("HONGBAO_LEDGER", dir.join("prizes.db"))
        .env("HONGBAO_LISTEN", "127.0.0.1:0")
        .env("HONGBAO_SERVER_URL", sandbox.url())
        .env("HONGBAO_MCH_ID", sandbox.mch_id())
        .env("HONGBAO_APPID", sandbox.appid())
        .env("HONGBAO_CERT_DIR", dir.join("certs"))
        .env("HONGBAO_API_KEY_FILE", dir.join("key"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { return };
            eprintln!("service: {line}");
            // libtest may have written `test example_main ... ` before it.
            if let Some((_, addr)) = line.split_once("listening on ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let child = Service(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("the service did not start listening: {e}"));
    (child, addr)
}

/// The service's process, killed if the test ends first.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Conn {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: &str) -> Conn {
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        Conn {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn ask(&mut self, line: &str) -> String {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.lines.next_line().await.unwrap().unwrap()
    }

    /// Submits prize `i`; returns the answer's bill number and whether the
    /// payout is new.
    async fn won(&mut self, i: usize) -> (String, bool) {
        let answer = self
            .ask(&format!("won p-{i} {} {}", openid(i), yuan(i).0))
            .await;
        let bill = answer
            .split(" bill ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected answer {answer:?}"));
        (bill.to_owned(), answer.ends_with("(new)"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_service_pays_each_prize_once() {
    let dir = tempfile::tempdir().unwrap();
    // Some sends pay but their answer is lost: the restarted worker must
    // find out by asking, not by paying again.
    let mut faults = FaultConfig::none();
    faults.set(FaultKind::SystemerrorAfterCommit, 0.03);
    faults.set(FaultKind::DropAfterCommit, 0.03);
    let sandbox = Sandbox::builder()
        .cert_dir(dir.path().join("certs"))
        .faults(faults)
        .start()
        .await
        .unwrap();
    std::fs::write(dir.path().join("key"), sandbox.api_key().expose()).unwrap();

    let (mut child, addr) = tokio::task::block_in_place(|| start_service(dir.path(), &sandbox));
    let mut conn = Conn::open(&addr).await;
    let mut bills = HashMap::new();
    for i in 0..BEFORE {
        let (bill, new) = conn.won(i).await;
        assert!(new, "prize {i} was new");
        bills.insert(i, bill);
    }
    // Kill it while it pays.
    let started = Instant::now();
    while sandbox.ledger().payments.len() < BEFORE / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the service does not pay"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let at_kill = sandbox.ledger().payments.len();
    assert!(
        at_kill < BEFORE,
        "killed after everything was paid ({at_kill}): nothing was in flight"
    );

    // Started again on the same ledger: impatient clients repeat their
    // requests (same payout, same bill), new prizes come in.
    let (mut child, addr) = tokio::task::block_in_place(|| start_service(dir.path(), &sandbox));
    let mut conn = Conn::open(&addr).await;
    for i in 0..BEFORE {
        let (bill, new) = conn.won(i).await;
        assert!(!new, "prize {i} was already submitted");
        assert_eq!(bill, bills[&i], "prize {i} kept its bill number");
    }
    for i in BEFORE..BEFORE + AFTER {
        let (bill, new) = conn.won(i).await;
        assert!(new, "prize {i} was new");
        bills.insert(i, bill);
    }
    let total = BEFORE + AFTER;
    let started = Instant::now();
    loop {
        let answer = conn.ask("paid").await;
        if answer == format!("paid {total}") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not all paid in time: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A graceful stop (SIGTERM) ends it cleanly.
    drop(conn);
    let status = Command::new("kill")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        child.0.wait().unwrap().success(),
        "the service stopped cleanly"
    );

    // The bank's books: one payment per prize, under the bill the service
    // answered, for the prize's amount and winner.
    let payments = sandbox.ledger().payments;
    assert_eq!(payments.len(), total, "one payment per prize");
    let by_bill: HashMap<&str, _> = payments.iter().map(|p| (p.bill.as_str(), p)).collect();
    for (i, bill) in &bills {
        let payment = by_bill
            .get(bill.as_str())
            .unwrap_or_else(|| panic!("prize {i}: no payment under bill {bill}"));
        assert_eq!(payment.openid, openid(*i));
        assert_eq!(payment.amount_fen, yuan(*i).1);
        assert!(payment.failure_code.is_none(), "prize {i}: {payment:?}");
    }
    eprintln!(
        "{total} prizes, killed with {at_kill} paid, {} sends repeated under the same bill",
        payments
            .iter()
            .map(|p| p.times_requested.saturating_sub(1))
            .sum::<u32>()
    );
    sandbox.shutdown().await;
}
