//! Finance and operations (issue 13 §4): the run's summary POSTed to a
//! webhook (`--notify`, WeCom group-bot shape), JSON log lines
//! (`--log-format json`), one warning per cause for unknown payouts, and
//! the run's overall rate.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common::*;
use hongbao_sandbox::FaultConfig;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// One HTTP request as the webhook received it.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook on 127.0.0.1 that takes one request, answers `reply` and
/// hands the request over; returns its base URL and the receiver.
fn webhook(reply: &'static str) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        stream.flush().unwrap();
        tx.send(Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(body).unwrap(),
        })
        .unwrap();
    });
    (url, rx)
}

fn sandbox_run(csv: &Path, journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = hongbao();
    cmd.arg("--sandbox")
        .args(["batch", "run"])
        .arg(csv)
        .args(["--kind", "red-packet", "--no-progress", "--journal"])
        .arg(journal)
        .args(extra);
    cmd
}

fn content(received: &Received) -> String {
    let value: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(value["msgtype"], "markdown", "{value}");
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
    value["markdown"]["content"].as_str().unwrap().to_owned()
}

const KEY: &str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";

#[test]
fn a_run_posts_its_summary_to_the_webhook_in_the_wecom_shape() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "march.csv", &csv_rows(3));
    let journal = dir.path().join("j.db");
    let (base, rx) = webhook(r#"{"errcode":0,"errmsg":"ok"}"#);
    let url = format!("{base}/cgi-bin/webhook/send?key={KEY}");
    let (stdout, stderr, code) = text(
        &sandbox_run(&csv, &journal, &["--notify", &url])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let received = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        received.request_line,
        format!("POST /cgi-bin/webhook/send?key={KEY} HTTP/1.1")
    );
    assert_eq!(received.header("content-type"), Some("application/json"));
    let content = content(&received);
    // A sandbox run never looks like a real one.
    assert!(
        content.starts_with("**[SANDBOX — no real money moved]** hongbao batch march"),
        "{content}"
    );
    assert!(content.contains("> paid: 3 (6.03 yuan)"), "{content}");
    assert!(content.contains("> not paid: 0 (0.00 yuan)"), "{content}");
    assert!(content.contains("> unknown: 0 (0.00 yuan)"), "{content}");
    assert!(content.contains("> conflicts: 0"), "{content}");
    assert!(content.contains("> invalid rows skipped: 0"), "{content}");
    assert!(!content.contains("interrupted"), "{content}");
    // The key never reaches the output.
    assert!(!stderr.contains(KEY) && !stdout.contains(KEY), "{stderr}");
    assert!(
        stderr.contains("webhook notified: http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("key=***"), "{stderr}");
}

#[test]
fn the_webhook_from_the_environment_gets_chinese_with_skipped_rows() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "april.csv",
        &format!("{}oRowBADabcdefghijklmnopq,abc\n", csv_rows(2)),
    );
    let journal = dir.path().join("j.db");
    let (base, rx) = webhook(r#"{"errcode":0,"errmsg":"ok"}"#);
    let mut cmd = sandbox_run(&csv, &journal, &["--skip-invalid"]);
    cmd.env("HONGBAO_NOTIFY_URL", format!("{base}/hook?key={KEY}"))
        .args(["--lang", "zh"]);
    let (stdout, stderr, code) = text(&cmd.output().unwrap());
    // Skipped rows make the exit code 1 (nothing else is wrong).
    assert_eq!(code, 1, "{stdout}{stderr}");
    let content = content(&rx.recv_timeout(Duration::from_secs(10)).unwrap());
    assert!(content.contains("沙箱"), "{content}");
    assert!(content.contains("已支付：2 笔（3.01 元）"), "{content}");
    assert!(content.contains("跳过的无效行：1 行"), "{content}");
    assert!(!stderr.contains(KEY), "{stderr}");
}

#[test]
fn an_unreachable_webhook_warns_and_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "may.csv", &csv_rows(2));
    let journal = dir.path().join("j.db");
    // A port nobody listens on any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/cgi-bin/webhook/send?key={KEY}");
    let (stdout, stderr, code) = text(
        &sandbox_run(&csv, &journal, &["--notify", &url, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("was not notified"), "{stderr}");
    assert!(stderr.contains("exit code are unchanged"), "{stderr}");
    assert!(stderr.contains("send?key=***"), "{stderr}");
    assert!(!stderr.contains(KEY) && !stdout.contains(KEY), "{stderr}");
    // stdout stays one JSON document.
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["sandbox"], true);

    // A webhook that refuses (WeCom's errcode) is a warning too.
    let (base, rx) = webhook(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#);
    let url = format!("{base}/hook?key={KEY}");
    let (stdout, stderr, code) = text(
        &sandbox_run(&csv, &journal, &["--notify", &url])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(stderr.contains("errcode 93000"), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
}

#[test]
fn log_lines_are_json_objects_with_time_level_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "june.csv", &csv_rows(3));
    let journal = dir.path().join("j.db");
    let (stdout, stderr, code) = text(
        &sandbox_run(&csv, &journal, &["--log-format", "json", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["states"]["paid"]["rows"], 3, "{value}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in &lines {
        let ts = line["ts"].as_str().unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(
            ["error", "warn", "info", "debug", "trace"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(
            line["event"].is_string() && line["message"].is_string(),
            "{line}"
        );
        assert!(line["fields"].is_object(), "{line}");
    }
    let progress = lines
        .iter()
        .rev()
        .find(|l| l["event"] == "progress")
        .unwrap();
    assert_eq!(progress["fields"]["done"], 3, "{progress}");
    assert_eq!(progress["fields"]["total"], 3, "{progress}");
    for event in ["sandbox.start", "batch.plan", "batch.imported"] {
        assert!(
            lines.iter().any(|l| l["event"] == event),
            "{event}: {stderr}"
        );
    }
    let rate = lines.iter().find(|l| l["event"] == "batch.rate").unwrap();
    assert_eq!(rate["fields"]["handled"], 3, "{rate}");

    // Errors too; the default stays text.
    let (_, stderr, code) = text(
        &hongbao()
            .args(["--log-format", "json", "batch", "status", "--journal"])
            .arg(dir.path().join("missing.db"))
            .output()
            .unwrap(),
    );
    assert_eq!(code, 4);
    let error: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(error["level"], "error");
    assert_eq!(error["fields"]["exit_code"], 4);
    let (_, stderr, _) = text(
        &hongbao()
            .args(["batch", "status", "--journal"])
            .arg(dir.path().join("missing.db"))
            .output()
            .unwrap(),
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_payouts_are_one_warning_by_cause_and_rows_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let mut faults = FaultConfig::none();
    faults.set(hongbao_sandbox::FaultKind::ProcessingAfterCommit, 1.0);
    let handle = sandbox_with(faults, 31, Some(&dir.path().join("certs")), 600).await;
    let config = write_config(dir.path(), &handle, "max_resends = 0\nqueries = 1\n");
    let csv = write(dir.path(), "july.csv", &csv_rows(3));
    let journal = dir.path().join("j.db");
    let run = |verbose: bool| {
        let mut cmd = hongbao();
        cmd.arg("--config").arg(&config);
        if verbose {
            cmd.arg("-v");
        }
        cmd.args(["batch", "run", "--yes", "--no-progress"])
            .arg(&csv)
            .args(["--kind", "transfer", "--journal"])
            .arg(&journal);
        cmd
    };
    let (stdout, stderr, code) = text(&output(run(false)).await);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("unknown")).collect();
    assert_eq!(warnings.len(), 1, "one line for the batch: {stderr}");
    assert!(
        warnings[0].starts_with("warning: 3 payout(s) unknown: ")
            && warnings[0].contains(" 3; rerun the same command"),
        "{stderr}"
    );
    assert!(stderr.contains("payout(s) handled in"), "{stderr}");

    // -v: one line per row as well (the rerun still cannot settle them).
    let (stdout, stderr, code) = text(&output(run(true)).await);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let rows = stderr
        .lines()
        .filter(|l| l.starts_with("unknown: line "))
        .count();
    assert_eq!(rows, 3, "{stderr}");
    assert!(
        stderr.contains("warning: 3 payout(s) unknown: "),
        "{stderr}"
    );
}

#[test]
fn a_worker_posts_its_summary_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "august.csv", &csv_rows(2));
    let journal = dir.path().join("j.db");
    // Planned only; the worker pays it.
    let (stdout, stderr, code) = text(
        &sandbox_run(&csv, &journal, &["--dry-run"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (base, rx) = webhook(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (stdout, stderr, code) = text(
        &hongbao()
            .args(["--sandbox", "worker", "--exit-when-idle", "--journal"])
            .arg(&journal)
            .args(["--batch", "august", "--notify"])
            .arg(format!("{base}/hook?key={KEY}"))
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let content = content(&rx.recv_timeout(Duration::from_secs(10)).unwrap());
    assert!(
        content.starts_with("**[SANDBOX — no real money moved]** hongbao batch august"),
        "{content}"
    );
    assert!(content.contains("> paid: 2 (3.01 yuan)"), "{content}");
    assert!(!stderr.contains(KEY), "{stderr}");
}
