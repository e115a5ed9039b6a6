//! The `hongbao` binary: sign debugger, exit codes, dry run, invalid input,
//! reports, and secrets never printed.
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common;

use common::*;
use hongbao_ledger::PayoutState as RowState;
use hongbao_sandbox::FaultConfig;
use hongbao_sign::{ApiKey, Signer};
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const SECRET: &str = "Wk3cretForTestOnly0123456789abcd";

fn sign_cmd(
    args: &[&str],
    stdin: &str,
    key: Option<&str>,
    secret: Option<&str>,
) -> (String, String, i32) {
    let mut cmd = hongbao();
    cmd.arg("sign").args(args);
    if let Some(key) = key {
        cmd.env("HONGBAO_API_KEY", key);
    }
    if let Some(secret) = secret {
        cmd.env("HONGBAO_WORKWX_SECRET", secret);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    text(&child.wait_with_output().unwrap())
}

/// MD5 of a candidate string to sign, by hongbao-sign (the CLI crate
/// depends on no hashing crate).
fn md5_upper(text: &str) -> String {
    hongbao_sign::digest::md5_of(text).as_str().to_owned()
}

#[test]
fn sign_reproduces_every_vector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sign/tests/fixtures/vectors.json"
    );
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(vectors.len() >= 19);
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let key = vector["key"].as_str().unwrap();
        let params = serde_json::to_string(&vector["params"]).unwrap();
        let (args, secret_env, field): (Vec<&str>, bool, &str) =
            match vector["algorithm"].as_str().unwrap() {
                "MD5" => (vec!["--json"], false, "sign"),
                "HMAC-SHA256" => (vec!["--json", "--hmac"], false, "sign"),
                "WORKWX-MD5" => {
                    let fields = vector["selected_fields"].as_array().unwrap();
                    let kind = if fields.iter().any(|f| f == "partner_trade_no") {
                        "pay-employee"
                    } else {
                        "red-packet"
                    };
                    (vec!["--json", "--workwx", kind], true, "workwx_sign")
                }
                other => panic!("unknown algorithm {other}"),
            };
        let (stdout, stderr, code) = if secret_env {
            sign_cmd(&args, &params, Some(KEY), Some(key))
        } else {
            sign_cmd(&args, &params, Some(key), None)
        };
        assert_eq!(code, 0, "{name}: {stderr}");
        let out: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}: {stdout}"));
        assert_eq!(out[field], vector["expected"], "{name}");
        let masked = vector["string_to_sign"]
            .as_str()
            .unwrap()
            .replace(key, "***");
        assert_eq!(out["string_to_sign"], masked.as_str(), "{name}");
        assert!(
            !stdout.contains(key) && !stderr.contains(key),
            "{name}: key printed"
        );
    }
}

#[test]
fn sign_reads_xml_and_prints_text() {
    let xml = "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info>\
               <body><![CDATA[test]]></body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str>\
               <sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>";
    let (stdout, _, code) = sign_cmd(&[], xml, Some(KEY), None);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "string to sign: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***\n\
         sign: 9A0A8659F005D6984697E2CA0A9CF3B7\n\
         received sign: 9A0A8659F005D6984697E2CA0A9CF3B7\n\
         result: MATCH\n"
    );
}

fn with_sign(mut params: serde_json::Map<String, serde_json::Value>, sign: &str) -> String {
    params.insert("sign".into(), sign.into());
    serde_json::Value::Object(params).to_string()
}

fn base_params() -> serde_json::Map<String, serde_json::Value> {
    serde_json::json!({
        "mch_billno": "10000098202401010000000001", "mch_id": "10000098", "wxappid": "wx8888888888888888",
        "send_name": "Shop", "re_openid": "oxTWIuGaIt6gTKsQRLau2M0yL16E", "total_amount": "100",
        "total_num": "1", "wishing": "Thanks", "client_ip": "10.0.0.1", "act_name": "Gala",
        "remark": "r", "nonce_str": "Ab12Cd34Ef56Gh78"
    })
    .as_object()
    .unwrap()
    .clone()
}

fn canonical(params: &serde_json::Map<String, serde_json::Value>, keep_empty: bool) -> String {
    let mut pairs: Vec<(&String, &str)> = params
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap()))
        .filter(|(_, v)| keep_empty || !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}&key={KEY}", body.join("&"))
}

#[test]
fn sign_diagnoses_mismatches() {
    // Empty value signed.
    let mut params = base_params();
    params.insert("scene_id".into(), "".into());
    let wrong = md5_upper(&canonical(&params, true));
    let (stdout, stderr, code) = sign_cmd(&[], &with_sign(params, &wrong), Some(KEY), None);
    assert_eq!(code, 1, "a mismatch exits 1");
    assert!(stdout.contains("result: MISMATCH"), "{stdout}");
    assert!(
        stdout.contains("likely cause: empty value signed: scene_id"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));

    // sign_type signed but not sent.
    let params = base_params();
    let mut with_type = params.clone();
    with_type.insert("sign_type".into(), "MD5".into());
    let wrong = md5_upper(&canonical(&with_type, false));
    let (stdout, _, _) = sign_cmd(&["--json"], &with_sign(params, &wrong), Some(KEY), None);
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["matches"], false);
    assert!(
        out["diagnosis"][0]
            .as_str()
            .unwrap()
            .contains("sign_type included"),
        "{stdout}"
    );

    // Whitespace trimmed by the signer.
    let mut params = base_params();
    params.insert("wishing".into(), "Thanks ".into());
    let mut trimmed = params.clone();
    trimmed.insert("wishing".into(), "Thanks".into());
    let wrong = md5_upper(&canonical(&trimmed, false));
    let (stdout, _, _) = sign_cmd(&[], &with_sign(params, &wrong), Some(KEY), None);
    assert!(stdout.contains("likely cause: whitespace"), "{stdout}");

    // Wrong field list: workwx_sign left out of the main sign.
    let mut params = base_params();
    let signer = Signer::new(ApiKey::new(KEY).unwrap());
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let without = signer
        .sign_md5(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap();
    params.insert(
        "workwx_sign".into(),
        "63C2619AE32ED45F98F8C91C30E37CC1".into(),
    );
    let (stdout, _, _) = sign_cmd(&[], &with_sign(params, without.as_str()), Some(KEY), None);
    assert!(
        stdout.contains("wrong field list: workwx_sign was not included"),
        "{stdout}"
    );

    // Nothing common reproduces it: a different key.
    let params = base_params();
    let other_key = md5_upper(&canonical(&params, false).replace(KEY, "another-key"));
    let (stdout, _, _) = sign_cmd(&[], &with_sign(params, &other_key), Some(KEY), None);
    assert!(stdout.contains("different key"), "{stdout}");
}

#[test]
fn workwx_sign_diagnoses_wrong_field_list() {
    let mut params = base_params();
    let all: Vec<String> = {
        let mut pairs: Vec<(&String, &str)> = params
            .iter()
            .map(|(k, v)| (k, v.as_str().unwrap()))
            .collect();
        pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
    };
    let wrong = md5_upper(&format!("{}&secret={SECRET}", all.join("&")));
    params.insert("workwx_sign".into(), wrong.into());
    let input = serde_json::Value::Object(params).to_string();
    let (stdout, stderr, code) = sign_cmd(&["--workwx", "red-packet"], &input, None, Some(SECRET));
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("string to sign: act_name=Gala&mch_billno="),
        "{stdout}"
    );
    assert!(stdout.contains("&secret=***\nworkwx_sign: "), "{stdout}");
    assert!(
        stdout.contains("likely cause: wrong field list: every field was signed"),
        "{stdout}"
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

#[test]
fn sign_refuses_bad_input_and_missing_key() {
    let (_, stderr, code) = sign_cmd(&[], "appid=1&b=2", Some(KEY), None);
    assert_eq!(code, 2, "{stderr}");
    let (_, stderr, code) = sign_cmd(&[], "{\"total_amount\": 100}", Some(KEY), None);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a string"), "{stderr}");
    let (_, stderr, code) = sign_cmd(&[], "{\"a\":\"1\"}", None, None);
    assert_eq!(code, 4);
    assert!(stderr.contains("HONGBAO_API_KEY"), "{stderr}");
    // A secret with whitespace is refused without being echoed.
    let (_, stderr, code) = sign_cmd(&[], "{\"a\":\"1\"}", Some("secret with spaces"), None);
    assert_eq!(code, 4);
    assert!(!stderr.contains("secret with spaces"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_invalid_input_exit_codes_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 11, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let run = |csv: &std::path::Path, journal: &str, extra: &[&str]| {
        let mut cmd = hongbao();
        cmd.arg("--config")
            .arg(&config)
            .args(["batch", "run", "--yes"])
            .arg(csv)
            .args(["--kind", "red-packet", "--journal"])
            .arg(dir.path().join(journal))
            .args(extra);
        cmd
    };

    // Invalid rows: exit 2, each reported with line, field and rule; nothing sent.
    let bad = write(
        dir.path(),
        "bad.csv",
        "openid,amount\noGood000000000000000000001,1.00\noGood000000000000000000002,12.345\n",
    );
    let (_, stderr, code) = text(&output(run(&bad, "bad.db", &[])).await);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid: line 3: amount:"), "{stderr}");
    assert!(handle.ledger().payments.is_empty());

    // Dry run: plans, sends nothing.
    let csv = write(
        dir.path(),
        "p.csv",
        &format!("{}oFailing000000000000000001,1.00\n", csv_rows(4)),
    );
    let (stdout, stderr, code) = text(&output(run(&csv, "p.db", &["--dry-run"])).await);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("dry run: nothing sent"), "{stdout}");
    assert!(
        handle.ledger().payments.is_empty(),
        "a dry run sends nothing"
    );
    let journal = open_ledger(&dir.path().join("p.db"), &handle).await;
    assert_eq!(
        journal
            .summary(None)
            .await
            .unwrap()
            .get(RowState::Planned)
            .0,
        5
    );
    drop(journal);

    // The real run: one row definitely fails → exit 1, with the summary.
    let (stdout, stderr, code) = text(&output(run(&csv, "p.db", &["--no-progress"])).await);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("paid") && stdout.contains("SEND_FAILED"),
        "{stdout}"
    );
    assert_eq!(handle.ledger().payments.len(), 5);

    // Status, report --json and --csv.
    let mut status = hongbao();
    status
        .args(["batch", "status", "--json", "--journal"])
        .arg(dir.path().join("p.db"));
    let (stdout, _, code) = text(&output(status).await);
    assert_eq!(code, 1);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["states"]["paid"]["rows"], 4);
    assert_eq!(summary["not_paid_by_code"][0]["code"], "SEND_FAILED");
    let mut report = hongbao();
    let report_csv = dir.path().join("report.csv");
    report
        .args(["batch", "report", "--journal"])
        .arg(dir.path().join("p.db"))
        .arg("--csv")
        .arg(&report_csv);
    let (_, stderr, code) = text(&output(report).await);
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&report_csv).unwrap();
    assert_eq!(written.lines().count(), 6);
    assert!(
        written.lines().nth(5).unwrap().contains(",not_paid,"),
        "{written}"
    );

    // Another file on the same journal is another batch; its payees were
    // paid the same amounts in batch p: the plan warns (and pays).
    let other = write(dir.path(), "other.csv", &csv_rows(2));
    let (_, stderr, code) = text(&output(run(&other, "p.db", &[])).await);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the same amount as payout p/oRow000000abcdefghijklmnop/1 in batch p"),
        "{stderr}"
    );
    assert_eq!(handle.ledger().payments.len(), 7);

    // A corrupt journal: a clear error, nothing sent.
    std::fs::write(dir.path().join("corrupt.db"), vec![b'x'; 4096]).unwrap();
    let (_, stderr, code) = text(&output(run(&csv, "corrupt.db", &[])).await);
    assert_eq!(code, 4);
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_query_and_secrets_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 12, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let key = handle.api_key().expose().to_owned();
    let mut all_output = String::new();

    let mut send = hongbao();
    send.arg("--config").arg(&config).args([
        "-vv",
        "send",
        "transfer",
        "--to",
        "oSend0000000000000000000001",
        "--amount",
        "2.50",
        "--bill",
        "SEND0001",
    ]);
    send.env("HONGBAO_WORKWX_SECRET", SECRET);
    let (stdout, stderr, code) = text(&output(send).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("paid: bill SEND0001 wechat id "),
        "{stdout}"
    );
    all_output.push_str(&stdout);
    all_output.push_str(&stderr);

    let mut query = hongbao();
    query
        .arg("--config")
        .arg(&config)
        .args(["-vv", "query", "transfer", "SEND0001", "--json"]);
    let (stdout, stderr, code) = text(&output(query).await);
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(out["outcome"], "paid");
    all_output.push_str(&stdout);
    all_output.push_str(&stderr);

    let mut failed = hongbao();
    failed.arg("--config").arg(&config).args([
        "send",
        "red-packet",
        "--to",
        "oFailing000000000000000001",
        "--amount",
        "1.00",
    ]);
    let (stdout, stderr, code) = text(&output(failed).await);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("not paid") && stdout.contains("NEW bill number"),
        "{stdout}"
    );
    all_output.push_str(&stdout);
    all_output.push_str(&stderr);

    let mut invalid = hongbao();
    invalid.arg("--config").arg(&config).args([
        "send",
        "red-packet",
        "--to",
        "x y",
        "--amount",
        "1",
    ]);
    let (_, stderr, code) = text(&output(invalid).await);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--openid") || stderr.contains("openid"),
        "{stderr}"
    );

    assert!(!all_output.contains(&key), "the API key was printed");
    assert!(!all_output.contains(SECRET), "the WeCom secret was printed");
    assert_eq!(handle.ledger().payments.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcome_names_the_bill_and_the_resolve_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut faults = FaultConfig::none();
    faults.set(hongbao_sandbox::FaultKind::ProcessingAfterCommit, 1.0);
    let handle = sandbox_with(faults, 13, Some(&dir.path().join("certs")), 600).await;
    let config = write_config(dir.path(), &handle, "max_resends = 0\nqueries = 1\n");
    let mut send = hongbao();
    send.arg("--config").arg(&config).args([
        "send",
        "transfer",
        "--to",
        "oSlow0000000000000000000001",
        "--amount",
        "3.00",
        "--bill",
        "SLOW0001",
    ]);
    let (stdout, stderr, code) = text(&output(send).await);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.starts_with("unknown: bill SLOW0001 ("), "{stdout}");
    let expected = format!(
        "resolve it with: hongbao --config {} query transfer SLOW0001",
        config.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");

    // Once WeChat has finished, the printed command settles it.
    handle.set_faults(FaultConfig::none()).unwrap();
    handle.advance_clock(3_600);
    let mut query = hongbao();
    query
        .arg("--config")
        .arg(&config)
        .args(["query", "transfer", "SLOW0001"]);
    let (stdout, _, code) = text(&output(query).await);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("paid: bill SLOW0001"), "{stdout}");
    assert_eq!(handle.ledger().payments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_and_json_report_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut faults = FaultConfig::none();
    faults.set(hongbao_sandbox::FaultKind::ProcessingAfterCommit, 1.0);
    let handle = sandbox_with(faults, 14, Some(&dir.path().join("certs")), 600).await;
    let config = write_config(dir.path(), &handle, "max_resends = 0\nqueries = 1\n");
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");
    let mut run = hongbao();
    run.arg("--config")
        .arg(&config)
        .args(["batch", "run", "--yes"])
        .arg(&csv);
    run.args(["--kind", "transfer", "--journal"]).arg(&journal);
    let (stdout, stderr, code) = text(&output(run).await);
    assert_eq!(code, 3, "unknown outcomes remain: {stdout}{stderr}");
    assert!(stderr.contains("rerun the same command"), "{stderr}");

    handle.set_faults(FaultConfig::none()).unwrap();
    handle.advance_clock(3_600);
    let mut reconcile = hongbao();
    reconcile
        .arg("--config")
        .arg(&config)
        .args(["batch", "reconcile", "--journal"])
        .arg(&journal);
    let (stdout, stderr, code) = text(&output(reconcile).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("queried 3 row(s)"), "{stderr}");

    let mut report = hongbao();
    report
        .args(["batch", "report", "--json", "--journal"])
        .arg(&journal);
    let (stdout, _, code) = text(&output(report).await);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["summary"]["states"]["paid"]["rows"], 3);
    let rows = value["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["state"] == "paid" && r["attempts"].as_u64().unwrap() >= 2)
    );
    assert_eq!(handle.ledger().payments.len(), 3);
}

/// Defect 5: `send --bill B` advice followed a fixed text ("no money moved…
/// pay again with a NEW bill number") even where that pays twice. It now
/// follows the client's typed decision: a second send under B with another
/// amount is a bill conflict (B paid the first amount), never "not paid";
/// a keep-the-number refusal says to retry with the SAME bill number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect5_send_advice_follows_the_typed_decision() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 15, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let send = |amount: &str, bill: &str| {
        let mut cmd = hongbao();
        cmd.arg("--config").arg(&config).args([
            "send",
            "red-packet",
            "--to",
            "oAlice0000000000000000001",
            "--amount",
            amount,
            "--bill",
            bill,
        ]);
        cmd
    };
    let (stdout, stderr, code) = text(&output(send("5.00", "ADVICE0001")).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (stdout, stderr, code) = text(&output(send("6.00", "ADVICE0001")).await);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("belongs to another payment") && stdout.contains("amount 5.00"),
        "{stdout}"
    );
    assert!(!stdout.contains("not paid"), "{stdout}");
    // The query agrees: bill ADVICE0001 is paid (5.00).
    let mut query = hongbao();
    query
        .arg("--config")
        .arg(&config)
        .args(["query", "red-packet", "ADVICE0001"]);
    let (stdout, _, code) = text(&output(query).await);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("paid: bill ADVICE0001"), "{stdout}");

    // No balance: not paid yet, nothing pending, the SAME bill later.
    handle.set_balance_fen(0);
    let (stdout, stderr, code) = text(&output(send("1.00", "ADVICE0002")).await);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("NOTENOUGH"), "{stdout}");
    assert!(stdout.contains("SAME bill number"), "{stdout}");
    assert!(!stdout.contains("NEW bill number"), "{stdout}");
    assert_eq!(handle.ledger().payments.len(), 1);
}

/// Issue 13, what the CLI adds: a batch that stops by itself on a
/// merchant-wide refusal (NOTENOUGH) says so, with the reason, and exits
/// "not paid" (1), the rows never sent left for the rerun. (That the
/// engine halts, and that the rerun after a top-up sends each remaining
/// row once and queries nothing, is hongbao-ledger's test
/// `a_rerun_after_a_top_up_sends_each_remaining_row_once_and_queries_nothing`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stopped_by_notenough_says_why_and_exits_not_paid() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 27, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let with_config = [std::ffi::OsStr::new("--config"), config.as_os_str()];
    // 10 red packets of 1.00 yuan; the balance pays 2 of them.
    let mut rows = String::from("openid,amount\n");
    for i in 0..10 {
        rows.push_str(&format!("oTopUp{i:06}abcdefghijklmnop,1.00\n"));
    }
    let csv = write(dir.path(), "p.csv", &rows);
    handle.set_balance_fen(2 * 100);
    let run = batch_run(
        &with_config,
        &csv,
        &dir.path().join("p.db"),
        &["--concurrency", "1"],
    );
    let (stdout, stderr, code) = text(&output(run).await);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let halted = stderr
        .lines()
        .find(|line| line.contains("stopped early: "))
        .unwrap_or_else(|| panic!("no stop reason: {stderr}"));
    assert!(halted.contains("NOTENOUGH"), "{halted}");
    assert!(stdout.contains("planned"), "{stdout}");
}

/// `hongbao batch run CSV --kind red-packet --journal J` plus `global` flags
/// (before the command) and `extra` (after it).
fn batch_run(global: &[&std::ffi::OsStr], csv: &Path, journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = hongbao();
    cmd.args(global)
        .args(["batch", "run", "--yes"])
        .arg(csv)
        .args(["--kind", "red-packet", "--no-progress", "--journal"])
        .arg(journal)
        .args(extra);
    cmd
}

fn batch_cmd(global: &[&std::ffi::OsStr], what: &str, journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = hongbao();
    cmd.args(global)
        .args(["batch", what, "--journal"])
        .arg(journal)
        .args(extra);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect6_journal_refuses_another_server() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 21, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let with_config = [std::ffi::OsStr::new("--config"), config.as_os_str()];
    let embedded = [std::ffi::OsStr::new("--sandbox")];
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");

    // Paid through the embedded sandbox, then resumed there (the quick start).
    let mut printed = String::new();
    for expected in ["3 new", "resuming batch p"] {
        let (stdout, stderr, code) = text(&output(batch_run(&embedded, &csv, &journal, &[])).await);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        printed.push_str(&stdout);
    }

    // Against another server: refused, naming both, nothing sent there.
    let url = handle.url().trim_end_matches('/').to_owned();
    let (stdout, stderr, code) = text(&output(batch_run(&with_config, &csv, &journal, &[])).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(!stderr.contains("resuming"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} pays through the server sandbox:embedded (sandbox), but this run uses {url}",
            journal.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("use another journal file"), "{stderr}");
    let (_, stderr, code) =
        text(&output(batch_cmd(&with_config, "reconcile", &journal, &[])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("pays through the server sandbox:embedded"),
        "{stderr}"
    );
    // --bind-server is for journals without a server, never for another one.
    let (_, stderr, code) =
        text(&output(batch_run(&with_config, &csv, &journal, &["--bind-server"])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        handle.ledger().payments.is_empty(),
        "the other server saw nothing"
    );
    assert!(
        printed.contains("server: sandbox:embedded (sandbox journal"),
        "{printed}"
    );

    // status, report and reconcile show the server and the sandbox mark.
    let (stdout, _, code) = text(&output(batch_cmd(&[], "status", &journal, &["--json"])).await);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["server"], "sandbox:embedded");
    assert_eq!(status["sandbox"], true);
    assert_eq!(status["states"]["paid"]["rows"], 3);
    let (stdout, _, _) = text(&output(batch_cmd(&[], "status", &journal, &[])).await);
    assert!(
        stdout.starts_with(
            "SANDBOX — no real money moved\nserver: sandbox:embedded (sandbox journal"
        ),
        "{stdout}"
    );
    let (stdout, stderr, code) =
        text(&output(batch_cmd(&[], "report", &journal, &["--json"])).await);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&report["server"], &report["sandbox"]),
        (&"sandbox:embedded".into(), &true.into())
    );
    // This process's sandbox is a fresh one, which never saw these
    // payments: reconcile reports the disagreement and exits 1.
    let (stdout, stderr, code) =
        text(&output(batch_cmd(&embedded, "reconcile", &journal, &["--json"])).await);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("disagreement"), "{stderr}");
    let reconciled: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reconciled["server"], "sandbox:embedded");

    // A journal planned against the configured server records its URL.
    let real_journal = dir.path().join("real.db");
    let (_, stderr, code) = text(&output(batch_run(&with_config, &csv, &real_journal, &[])).await);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);
    let (stdout, _, _) = text(&output(batch_cmd(&[], "status", &real_journal, &["--json"])).await);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&status["server"], &status["sandbox"]),
        (&url.as_str().into(), &false.into())
    );
    let (_, stderr, code) = text(&output(batch_run(&embedded, &csv, &real_journal, &[])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "pays through the server {url}, but this run uses sandbox:embedded"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect6_a_journal_without_a_server_is_refused_until_bound() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 22, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let with_config = [std::ffi::OsStr::new("--config"), config.as_os_str()];
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal_path = dir.path().join("old.db");
    // Planned the way hongbao did before journals recorded their server:
    // a schema-2 journal (one batch per file) without `server`.
    write_old_journal(&journal_path, &handle, &csv);

    let (_, stderr, _) = text(&output(batch_cmd(&[], "status", &journal_path, &[])).await);
    assert!(stderr.is_empty(), "{stderr}");
    let (stdout, _, _) = text(&output(batch_cmd(&[], "status", &journal_path, &["--json"])).await);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        status["server"].is_null() && status["sandbox"].is_null(),
        "{stdout}"
    );

    let (stdout, stderr, code) =
        text(&output(batch_run(&with_config, &csv, &journal_path, &[])).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("does not record which server it paid through"),
        "{stderr}"
    );
    assert!(stderr.contains("--bind-server"), "{stderr}");
    assert!(handle.ledger().payments.is_empty());

    let (stdout, stderr, code) = text(
        &output(batch_run(
            &with_config,
            &csv,
            &journal_path,
            &["--bind-server"],
        ))
        .await,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert_eq!(handle.ledger().payments.len(), 3);
    let journal = open_ledger(&journal_path, &handle).await;
    assert_eq!(
        journal
            .store()
            .binding()
            .await
            .unwrap()
            .map(|b| b.server.id),
        Some(handle.url().trim_end_matches('/').to_owned())
    );
    assert!(
        journal.store().batch("p").await.unwrap().is_some(),
        "migrated"
    );
}

/// A schema-2 journal of an older hongbao for `csv` (rows planned, server
/// not recorded), written with SQL as that version did.
fn write_old_journal(path: &Path, handle: &hongbao_sandbox::SandboxHandle, csv: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA application_id = 1212303921;
         PRAGMA journal_mode = WAL;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE rows (id INTEGER PRIMARY KEY, line INTEGER NOT NULL, openid TEXT NOT NULL,
            amount_fen INTEGER NOT NULL, bill TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
            request_json TEXT NOT NULL, body BLOB, wechat_id TEXT, err_code TEXT, message TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL, next_step TEXT,
            generated INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL REFERENCES rows(id),
            bill TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, err_code TEXT, wechat_id TEXT,
            message TEXT, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, next_step TEXT);
         INSERT INTO meta VALUES ('schema_version', '2'), ('file_digest', 'ab'), ('file_name', '{}'),
            ('kind', 'red-packet'), ('mch_id', '{}'), ('appid', '{}');",
        csv.display(),
        handle.mch_id(),
        handle.appid()
    ))
    .unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    let date = hongbao_cli::batch::beijing_today().unwrap();
    for (i, line) in text.lines().skip(1).enumerate() {
        let mut cells = line.split(',');
        let (openid, amount) = (cells.next().unwrap(), cells.next().unwrap());
        let bill = hongbao_cli::batch::generate_bill(
            hongbao_cli::payout::Kind::RedPacket,
            handle.mch_id(),
            date,
            "",
        )
        .unwrap();
        let input = hongbao_cli::payout::PayoutInput {
            line: i as u64 + 2,
            openid,
            amount,
            bill: &bill,
            name: None,
            texts: &texts(),
            defaults: &texts(),
            // The config's default.
            client_ip: "127.0.0.1",
        };
        let request =
            hongbao_cli::payout::build(hongbao_cli::payout::Kind::RedPacket, &input).unwrap();
        conn.execute(
            "INSERT INTO rows(line, openid, amount_fen, bill, state, request_json, updated_ms, generated)
             VALUES (?1, ?2, ?3, ?4, 'planned', ?5, 1, 1)",
            rusqlite::params![
                i as i64 + 2,
                openid,
                request.amount().unwrap().fen() as i64,
                bill,
                serde_json::to_string(&request).unwrap()
            ],
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect7_two_runs_on_one_journal_never_send_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut faults = FaultConfig::none();
    // Every reply comes 1.5 s late: the first run is still paying when the
    // second starts.
    faults.set(hongbao_sandbox::FaultKind::DelayAfterCommit, 1.0);
    faults.delay_ms = 1_500;
    let handle = sandbox(faults, 23, Some(&dir.path().join("certs"))).await;
    let config = write_config(dir.path(), &handle, "");
    let with_config = [std::ffi::OsStr::new("--config"), config.as_os_str()];
    let csv = write(dir.path(), "p.csv", &csv_rows(4));
    let journal = dir.path().join("p.db");

    let mut first = batch_run(&with_config, &csv, &journal, &[]);
    first.stdout(Stdio::null()).stderr(Stdio::piped());
    let first = first.spawn().unwrap();
    let first_pid = first.id();
    // Wait until it is paying (the sandbox has recorded a payment, whose
    // reply is still on its way).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while handle.ledger().payments.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never paid"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (stdout, stderr, code) = text(&output(batch_run(&with_config, &csv, &journal, &[])).await);
    assert_eq!(code, 4, "{stdout}{stderr}");
    let expected = format!(
        "{} is in use by pid {first_pid} on host ",
        journal.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains(" since "), "{stderr}");
    // Reconcile writes too: refused the same way.
    let (_, stderr, code) =
        text(&output(batch_cmd(&with_config, "reconcile", &journal, &[])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");

    let done = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let ledger = handle.ledger();
    assert_eq!(ledger.payments.len(), 4);
    assert!(
        ledger.payments.iter().all(|p| p.times_requested == 1),
        "each row was sent once, by one process"
    );
    // Released at exit: the next run resumes (nothing left to pay).
    let (_, stderr, code) = text(&output(batch_run(&with_config, &csv, &journal, &[])).await);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect7_a_journal_being_created_is_in_use_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("p.db");
    // Another process is creating the journal: it holds the lock, and the
    // journal file does not exist yet (or exists without its batch).
    let lock = hongbao_ledger::LedgerLock::acquire(&journal).unwrap();
    let expected = format!(
        "{} is in use by pid {} on host ",
        journal.display(),
        std::process::id()
    );
    for (stderr, code) in [
        text(&output(batch_run(&[OsStr::new("--sandbox")], &csv, &journal, &[])).await),
        text(&output(batch_cmd(&[], "status", &journal, &[])).await),
        text(&output(batch_cmd(&[], "report", &journal, &[])).await),
        text(&output(batch_cmd(&[], "reconcile", &journal, &[])).await),
    ]
    .map(|(_, stderr, code)| (stderr, code))
    {
        assert_eq!(code, 4, "{stderr}");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(!stderr.contains("corrupt"), "{stderr}");
    }
    std::fs::write(&journal, b"").unwrap();
    let (_, stderr, code) = text(&output(batch_cmd(&[], "status", &journal, &[])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    std::fs::remove_file(&journal).unwrap();
    drop(lock);
    let (_, stderr, code) =
        text(&output(batch_run(&[OsStr::new("--sandbox")], &csv, &journal, &[])).await);
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect8_cli_refuses_an_existing_journal_without_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("pay.db");
    std::fs::write(&journal, b"").unwrap();
    let (_, stderr, code) =
        text(&output(batch_run(&[OsStr::new("--sandbox")], &csv, &journal, &[])).await);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} exists but holds no batch (a copy without its -wal file?)",
            journal.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("row(s)"), "nothing planned: {stderr}");
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        0,
        "left untouched"
    );
    for what in ["status", "report"] {
        let (_, stderr, code) = text(&output(batch_cmd(&[], what, &journal, &[])).await);
        assert_eq!(code, 4, "{stderr}");
        assert!(stderr.contains("exists but holds no batch"), "{stderr}");
    }

    // An invalid file on a new journal leaves no journal behind, so the
    // fixed file then plans into a new one.
    let fresh = dir.path().join("fresh.db");
    let bad = write(
        dir.path(),
        "bad.csv",
        "openid,amount\noGood000000000000000000001,1.001\n",
    );
    let (_, stderr, code) =
        text(&output(batch_run(&[OsStr::new("--sandbox")], &bad, &fresh, &[])).await);
    assert_eq!(code, 2, "{stderr}");
    assert!(!fresh.exists());
    assert!(!dir.path().join("fresh.db.new").exists());
    let (_, stderr, code) =
        text(&output(batch_run(&[OsStr::new("--sandbox")], &csv, &fresh, &[])).await);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 new"), "{stderr}");
}

#[test]
fn defect9_config_errors_never_print_the_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Qv7ConfigSecretNeverShown0123456";
    for (name, toml_text, line, key) in [
        (
            "malformed",
            format!("mch_id = \"1\"\nappid = \"wx1\"\napi_key = \"{secret}\n"),
            3,
            "api_key",
        ),
        (
            "unknown",
            format!("mch_id = \"1\"\nappid = \"wx1\"\nsigning = \"{secret}\"\n"),
            3,
            "signing",
        ),
        (
            "misspelled",
            format!("mch_id = \"1\"\n\napi_kye = \"{secret}\"\nappid = \"wx1\"\n"),
            3,
            "api_kye",
        ),
        (
            "bad_syntax",
            format!("mch_id = \"1\"\nappid = \"wx1\"\nremark = \"hi\" {secret}\n"),
            3,
            "remark",
        ),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml_text).unwrap();
        let mut query = hongbao();
        query
            .arg("--config")
            .arg(&path)
            .args(["query", "transfer", "BILL0001"]);
        let (stdout, stderr, code) = text(&query.output().unwrap());
        assert_eq!(code, 4, "{name}: {stderr}");
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{name}: {stderr}"
        );
        assert!(
            !stderr.contains("Qv7"),
            "{name}: part of the secret shown: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{}", path.display())),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("line {line}, column ")),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(&format!("`{key}`")), "{name}: {stderr}");
    }
}
