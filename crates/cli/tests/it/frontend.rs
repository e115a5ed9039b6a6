//! The command line as finance and operations people meet it (issue 13):
//! an explicit sandbox, files as Excel writes them, output for scripts and
//! people, completions and man pages, the environment, the sign debugger.
//! Every fixture is made here (GBK bytes by encoding_rs, workbooks by
//! rust_xlsxwriter).
#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

use crate::common::*;
use hongbao_sandbox::FaultConfig;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const SANDBOX: &str = "--sandbox";

fn run_cmd(csv: &Path, journal: &Path, extra: &[&str]) -> Command {
    let mut cmd = hongbao();
    cmd.arg(SANDBOX)
        .args(["batch", "run"])
        .arg(csv)
        .args(["--kind", "red-packet", "--no-progress", "--journal"])
        .arg(journal)
        .args(extra);
    cmd
}

fn run(cmd: Command) -> (String, String, i32) {
    let mut cmd = cmd;
    text(&cmd.output().unwrap())
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

#[test]
fn commands_that_send_refuse_without_config_or_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("p.db");
    let mut cases: Vec<Command> = Vec::new();
    let mut send = hongbao();
    send.args(["send", "red-packet", "--to", "oSend0000000000000000000001"])
        .args(["--amount", "1.00"]);
    cases.push(send);
    let mut query = hongbao();
    query.args(["query", "red-packet", "10000098202401010000000001"]);
    cases.push(query);
    let mut batch = hongbao();
    batch
        .args(["batch", "run"])
        .arg(&csv)
        .args(["--kind", "red-packet", "--journal"])
        .arg(&journal);
    cases.push(batch);
    for cmd in cases {
        let (stdout, stderr, code) = run(cmd);
        assert_eq!(code, 4, "{stdout}{stderr}");
        assert!(
            stderr.contains("--config") && stderr.contains("--sandbox"),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was sent"), "{stderr}");
        assert!(!stdout.contains("paid"), "{stdout}");
    }
    // reconcile of an existing journal, too.
    let (_, stderr, code) = run(run_cmd(&csv, &journal, &["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    let mut reconcile = hongbao();
    reconcile
        .args(["batch", "reconcile", "--journal"])
        .arg(&journal);
    let (_, stderr, code) = run(reconcile);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("--sandbox"), "{stderr}");
}

#[test]
fn sandbox_runs_are_marked_in_summary_json_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(3));
    let journal = dir.path().join("p.db");
    let (stdout, stderr, code) = run(run_cmd(&csv, &journal, &[]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("SANDBOX — no real money moved\n"),
        "{stdout}"
    );
    assert!(stderr.contains("SANDBOX — no real money moved"), "{stderr}");

    // The rerun, as JSON: only JSON on stdout, marked.
    let (stdout, _, code) = run(run_cmd(&csv, &journal, &["--json"]));
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["sandbox"], true);
    assert_eq!(value["dry_run"], false);
    assert_eq!(value["interrupted"], false);
    assert_eq!(value["states"]["paid"]["rows"], 3);

    // The report for Excel carries a sandbox column.
    let report = dir.path().join("r.csv");
    let mut cmd = hongbao();
    cmd.args(["batch", "report", "--journal"])
        .arg(&journal)
        .arg("--csv")
        .arg(&report);
    let (_, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("SANDBOX"), "{stderr}");
    let written = std::fs::read_to_string(&report).unwrap();
    let header = written.lines().next().unwrap();
    assert!(
        header.ends_with(",next_step,key,received_at,refunded_at,sandbox"),
        "{header}"
    );
    assert!(written.lines().skip(1).all(|l| l.ends_with(",true")));

    // send and query say it too.
    let mut send = hongbao();
    send.args([SANDBOX, "send", "red-packet", "--json", "--amount", "1.00"])
        .args(["--to", "oSend0000000000000000000001"]);
    let (stdout, stderr, code) = run(send);
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&value["outcome"], &value["sandbox"]),
        (&"paid".into(), &true.into())
    );
}

#[test]
fn dry_run_json_prints_only_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let (stdout, stderr, code) = run(run_cmd(
        &csv,
        &dir.path().join("p.db"),
        &["--dry-run", "--json"],
    ));
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["dry_run"], true);
    assert_eq!(value["sandbox"], true);
    assert_eq!(value["states"]["planned"]["rows"], 2);
    assert!(stderr.contains(": 2 new, "), "{stderr}");
}

#[test]
fn dry_run_summary_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(4));
    let (stdout, stderr, code) = run(run_cmd(&csv, &dir.path().join("p.db"), &["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn gbk_csv_with_chinese_headers_and_crlf_is_decoded_and_paid() {
    let dir = tempfile::tempdir().unwrap();
    let text = "收款人openid,金额,备注,姓名\r\noGbk0000000000000000000001,1.00,年终奖,张三\r\noGbk0000000000000000000002,2.00,年终奖,李四\r\n";
    let csv = dir.path().join("gbk.csv");
    std::fs::write(&csv, gbk(text)).unwrap();
    let journal = dir.path().join("gbk.db");
    let (stdout, stderr, code) = run(run_cmd(&csv, &journal, &["--json"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("read as GB18030/GBK"), "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["states"]["paid"]["rows"], 2);
    assert_eq!(value["states"]["paid"]["yuan"], "3.00");
}

#[test]
fn a_file_in_neither_utf8_nor_gbk_is_an_encoding_problem() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, b"openid,amount\noBad,1.00,\x80\xff\n").unwrap();
    let (_, stderr, code) = run(run_cmd(&csv, &dir.path().join("p.db"), &[]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("encoding problem"), "{stderr}");
    assert!(stderr.contains("CSV UTF-8"), "{stderr}");
    assert!(!stderr.contains("--skip-invalid"), "{stderr}");
}

#[test]
fn utf8_bom_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "bom.csv",
        "\u{feff}openid,amount\r\noBom0000000000000000000001,1.00\r\n",
    );
    let (_, stderr, code) = run(run_cmd(&csv, &dir.path().join("p.db"), &["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(": 1 new, "), "{stderr}");
}

#[test]
fn crlf_line_numbers_name_the_files_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "crlf.csv",
        "openid,amount\r\noCrlf000000000000000000001,1.00\r\noCrlf000000000000000000002,1.00\r\noCrlf000000000000000000003,1.001\r\n",
    );
    let (_, stderr, code) = run(run_cmd(&csv, &dir.path().join("p.db"), &[]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid: line 4: amount"), "{stderr}");
}

#[test]
fn unknown_columns_are_noted_once_and_blank_rows_and_trailing_commas_pass() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "x.csv",
        "openid,amount,部门,工号,\noX00000000000000000000001,1.00,财务,7,\n,,,,\n\n",
    );
    let (_, stderr, code) = run(run_cmd(&csv, &dir.path().join("p.db"), &["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches("ignored column(s)").count(), 1, "{stderr}");
    assert!(stderr.contains("\"部门\", \"工号\""), "{stderr}");
    assert!(stderr.contains(": 1 new, "), "{stderr}");
}

#[test]
fn xlsx_input_is_read_and_numeric_bill_numbers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, name) in ["收款人openid", "金额", "备注"].iter().enumerate() {
        sheet.write_string(0, col as u16, *name).unwrap();
    }
    sheet
        .write_string(1, 0, "oXlsx000000000000000000001")
        .unwrap();
    sheet.write_number(1, 1, 1.5).unwrap();
    sheet.write_string(1, 2, "年终奖").unwrap();
    sheet
        .write_string(2, 0, "oXlsx000000000000000000002")
        .unwrap();
    sheet.write_string(2, 1, "2.00").unwrap();
    let path = dir.path().join("pay.xlsx");
    workbook.save(&path).unwrap();
    let (stdout, stderr, code) = run(run_cmd(&path, &dir.path().join("x.db"), &["--json"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["states"]["paid"]["rows"], 2);
    assert_eq!(value["states"]["paid"]["yuan"], "3.50");

    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, name) in ["openid", "amount", "bill"].iter().enumerate() {
        sheet.write_string(0, col as u16, *name).unwrap();
    }
    sheet
        .write_string(1, 0, "oXlsx000000000000000000001")
        .unwrap();
    sheet.write_string(1, 1, "1.00").unwrap();
    sheet.write_number(1, 2, 1.0000982024e25).unwrap();
    let path = dir.path().join("numbers.xlsx");
    workbook.save(&path).unwrap();
    let (_, stderr, code) = run(run_cmd(&path, &dir.path().join("n.db"), &[]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid: line 2: bill: stored as a number"),
        "{stderr}"
    );
}

#[test]
fn skipped_invalid_rows_are_counted_as_rows_in_summary_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3 breaks two rules (openid missing, amount has a space): one row.
    let csv = write(
        dir.path(),
        "s.csv",
        "openid,amount\noSkip000000000000000000001,1.00\n, 1.00\noSkip000000000000000000003,2.00\n",
    );
    let (_, stderr, code) = run(run_cmd(&csv, &dir.path().join("a.db"), &[]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("1 invalid row(s): nothing was sent"),
        "{stderr}"
    );
    let (stdout, stderr, code) = run(run_cmd(
        &csv,
        &dir.path().join("s.db"),
        &["--skip-invalid", "--json"],
    ));
    assert_eq!(code, 1, "skipped rows are not paid: {stdout}{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["skipped_invalid_rows"], 1);
    assert_eq!(value["states"]["paid"]["rows"], 2);
    let (stdout, _, code) = run(run_cmd(&csv, &dir.path().join("t.db"), &["--skip-invalid"]));
    assert_eq!(code, 1);
    assert!(stdout.contains("skipped"), "{stdout}");
    // A rerun (resumed from the journal) still counts them.
    let (stdout, stderr, code) = run(run_cmd(
        &csv,
        &dir.path().join("s.db"),
        &["--skip-invalid", "--json"],
    ));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["skipped_invalid_rows"], 1);
}

#[test]
fn a_missing_input_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr, code) = run(run_cmd(
        &dir.path().join("nope.csv"),
        &dir.path().join("p.db"),
        &[],
    ));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn report_files_for_excel_keep_ids_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("p.db");
    let (_, stderr, code) = run(run_cmd(&csv, &journal, &[]));
    assert_eq!(code, 0, "{stderr}");
    let (csv_out, xlsx_out) = (dir.path().join("r.csv"), dir.path().join("r.xlsx"));
    let mut cmd = hongbao();
    cmd.args(["batch", "report", "--journal"])
        .arg(&journal)
        .arg("--csv")
        .arg(&csv_out)
        .arg("--xlsx")
        .arg(&xlsx_out);
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "files only: {stdout}");
    let bytes = std::fs::read(&csv_out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let text = String::from_utf8(bytes).unwrap();
    let row = text.lines().nth(1).unwrap();
    // The bill number and the WeChat id as ="…", the openid as is.
    assert!(row.contains(",\"=\"\"10000098"), "{row}");
    assert_eq!(row.matches("\"=\"\"").count(), 2, "{row}");
    assert!(row.contains(",oRow000000abcdefghijklmnop,"), "{row}");

    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_out).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.get_size().0, 3);
    let bill = range.get((1, 3)).unwrap();
    assert!(
        matches!(bill, calamine::Data::String(s) if s.len() == 28 && s.starts_with("10000098")),
        "{bill:?}"
    );
}

#[test]
fn status_and_reconcile_do_not_accept_csv() {
    for what in ["status", "reconcile"] {
        let mut cmd = hongbao();
        cmd.args(["batch", what, "--journal", "j.db", "--csv", "out.csv"]);
        let (_, stderr, code) = run(cmd);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("--csv"), "{stderr}");
    }
}

#[test]
fn reconcile_exits_non_zero_on_a_disagreement() {
    // Paid through one sandbox; reconciled against a fresh one, which has
    // never heard of these payments.
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("p.db");
    let (_, stderr, code) = run(run_cmd(&csv, &journal, &[]));
    assert_eq!(code, 0, "{stderr}");
    let mut reconcile = hongbao();
    reconcile
        .args([SANDBOX, "batch", "reconcile", "--journal"])
        .arg(&journal);
    let (stdout, stderr, code) = run(reconcile);
    assert!(stderr.contains("disagreement"), "{stdout}{stderr}");
    assert_ne!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(1500));
    let journal = dir.path().join("p.db");
    let (_, stderr, code) = run(run_cmd(&csv, &journal, &["--dry-run"]));
    assert_eq!(code, 0, "{stderr}");
    // `hongbao batch report … | head -1`: far more than a pipe buffer.
    let mut child = hongbao()
        .args(["batch", "report", "--journal"])
        .arg(&journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// `hongbao batch run … 2>&1 | head -1`: the log lines on a closed stderr
/// made the run panic (exit 101) in the middle of paying.
#[test]
fn a_closed_stderr_does_not_stop_the_run() {
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "p.csv", &csv_rows(40));
        let mut cmd = run_cmd(&csv, &dir.path().join("p.db"), &["--log-format", format]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{format}: {stdout}");
        assert!(
            stdout.contains("40"),
            "{format}: the summary is printed: {stdout}"
        );
    }
}

#[test]
fn no_ansi_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let mut cmd = run_cmd(&csv, &dir.path().join("p.db"), &[]);
    cmd.arg("-vv");
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("DEBUG") || stderr.contains("TRACE"),
        "logs on: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "{stderr}"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let mut cmd = hongbao();
        cmd.args(["completions", shell]);
        let (stdout, stderr, code) = run(cmd);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(
            stdout.contains("hongbao") && stdout.contains("reconcile"),
            "{shell}"
        );
    }
    let mut cmd = hongbao();
    cmd.args(["completions", "tcsh"]);
    assert_eq!(run(cmd).2, 2);
}

#[test]
fn man_pages_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hongbao();
    cmd.arg("man").arg(dir.path().join("man"));
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    let main = std::fs::read_to_string(dir.path().join("man/hongbao.1")).unwrap();
    assert!(main.contains(".TH hongbao 1"), "{main}");
    let run_page = std::fs::read_to_string(dir.path().join("man/hongbao-batch-run.1")).unwrap();
    assert!(run_page.contains("skip\\-invalid"), "{run_page}");
    assert!(stdout.contains("hongbao-batch-run.1"), "{stdout}");
    assert!(
        !stdout.contains("hongbao-man.1"),
        "hidden command: {stdout}"
    );
}

#[test]
fn batch_run_help_lists_the_chinese_header_aliases() {
    let mut cmd = hongbao();
    cmd.args(["batch", "run", "--help"]);
    let (stdout, _, code) = run(cmd);
    assert_eq!(code, 0);
    for (alias, _) in hongbao_cli::input::ALIASES {
        assert!(stdout.contains(alias), "{alias} missing from --help");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_values_come_from_the_environment_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let handle = sandbox(FaultConfig::none(), 31, Some(&dir.path().join("certs"))).await;
    let certs = handle.cert_paths().unwrap();
    let mut cmd = hongbao();
    cmd.env("HONGBAO_MCH_ID", handle.mch_id())
        .env("HONGBAO_APPID", handle.appid())
        .env("HONGBAO_BASE_URL", handle.url())
        .env("HONGBAO_CA_CERT", &certs.ca_cert)
        .env("HONGBAO_CLIENT_CERT", &certs.client_cert)
        .env("HONGBAO_CLIENT_KEY", &certs.client_key)
        .env("HONGBAO_API_KEY", handle.api_key().expose())
        .env("HONGBAO_SEND_NAME", "Env Shop")
        .env("HONGBAO_ACT_NAME", "Env")
        .env("HONGBAO_WISHING", "Thanks")
        .env("HONGBAO_REMARK", "env")
        .args(["send", "red-packet", "--to", "oEnv00000000000000000000001"])
        .args(["--amount", "1.00", "--json", "--send-name", "Flag Shop"]);
    let (stdout, stderr, code) = text(&output(cmd).await);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&value["outcome"], &value["sandbox"]),
        (&"paid".into(), &false.into())
    );
    let ledger = handle.ledger();
    assert_eq!(ledger.payments.len(), 1);
    assert_eq!(ledger.payments[0].openid, "oEnv00000000000000000000001");
}

#[test]
fn query_checks_the_bill_number_before_asking() {
    let mut cmd = hongbao();
    cmd.args([SANDBOX, "query", "red-packet", "10000098-2024/01"]);
    let (_, stderr, code) = run(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("not a bill number for red-packet"),
        "{stderr}"
    );
    let mut cmd = hongbao();
    cmd.args([SANDBOX, "query", "red-packet", &"1".repeat(29)]);
    assert_eq!(run(cmd).2, 2);
}

#[test]
fn group_red_packet_takes_total_num_and_explains_the_average() {
    let mut cmd = hongbao();
    cmd.args([SANDBOX, "send", "group-red-packet", "--total-num", "5"])
        .args([
            "--amount",
            "5.00",
            "--json",
            "--to",
            "oGroup000000000000000000001",
        ]);
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut cmd = hongbao();
    cmd.args([SANDBOX, "send", "group-red-packet", "--total-num", "2"])
        .args(["--amount", "5.00", "--to", "oGroup000000000000000000001"]);
    assert_eq!(run(cmd).2, 2);
    let mut cmd = hongbao();
    cmd.args(["send", "--help"]);
    let (stdout, _, _) = run(cmd);
    assert!(
        stdout.contains("average per person must be 1–200 yuan"),
        "{stdout}"
    );
}

fn sign(stdin: &str, key: Option<&str>) -> (String, String, i32) {
    let mut cmd = hongbao();
    cmd.arg("sign")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        cmd.env("HONGBAO_API_KEY", key);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    text(&child.wait_with_output().unwrap())
}

#[test]
fn sign_without_a_key_prints_the_string_to_sign_masked() {
    let (stdout, stderr, code) = sign("{\"mch_id\":\"10000100\",\"b\":\"2\",\"a\":\"1\"}", None);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stdout.starts_with("string to sign: a=1&b=2&mch_id=10000100&key=***\n"),
        "{stdout}"
    );
    assert!(stderr.contains("HONGBAO_API_KEY"), "{stderr}");
}

#[test]
fn sign_names_url_encoding_body_order_bare_key_and_gbk() {
    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
    let md5 = |text: &str| hongbao_sign::digest::md5_of(text).as_str().to_owned();
    // An XML body, whose order (mch_id, wishing, act_name) is not sorted.
    let body = |sign: &str| {
        format!(
            "<xml><mch_id>10000100</mch_id><wishing>新年 快乐/好</wishing><act_name>a b</act_name><sign>{sign}</sign></xml>"
        )
    };
    let cases = [
        (
            md5(&format!(
                "mch_id=10000100&wishing=新年 快乐/好&act_name=a b&key={KEY}"
            )),
            "fields not sorted",
        ),
        (
            md5(&format!(
                "act_name=a b&mch_id=10000100&wishing=新年 快乐/好{KEY}"
            )),
            "key appended directly",
        ),
        (
            md5(&format!(
                "act_name=a b&mch_id=10000100&wishing=新年 快乐/好&{KEY}"
            )),
            "key appended after a bare `&`",
        ),
        (
            md5(&format!(
                "act_name=a%20b&mch_id=10000100&wishing=%E6%96%B0%E5%B9%B4%20%E5%BF%AB%E4%B9%90/%E5%A5%BD&key={KEY}"
            )),
            "urllib.parse.quote ",
        ),
        (
            md5(&format!(
                "act_name=a+b&mch_id=10000100&wishing=%E6%96%B0%E5%B9%B4+%E5%BF%AB%E4%B9%90%2F%E5%A5%BD&key={KEY}"
            )),
            "urllib.parse.quote_plus",
        ),
        (
            hongbao_sign::digest::md5_of_bytes(&gbk(&format!(
                "act_name=a b&mch_id=10000100&wishing=新年 快乐/好&key={KEY}"
            )))
            .as_str()
            .to_owned(),
            "GBK bytes",
        ),
    ];
    for (received, cause) in cases {
        let (stdout, stderr, code) = sign(&body(&received), Some(KEY));
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stdout.contains("MISMATCH"), "{stdout}");
        assert!(stdout.contains(cause), "{cause}: {stdout}");
        assert!(!stdout.contains(KEY), "{stdout}");
    }
}

#[test]
fn sandbox_quickstart_from_the_readme_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/recipients.csv");
    let mut cmd = hongbao();
    cmd.args(["batch", "run"])
        .arg(&csv)
        .args(["--kind", "red-packet", "--journal"])
        .arg(dir.path().join("quickstart.db"))
        .arg(OsStr::new(SANDBOX));
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("SANDBOX — no real money moved"), "{stdout}");
    // The plan is shown; a sandbox run asks nothing and needs no --yes.
    assert!(stderr.contains("plan: 20 row(s) to pay"), "{stderr}");
    assert!(!stderr.contains("[y/N]"), "{stderr}");
}

#[test]
fn a_chinese_locale_prints_the_summary_and_errors_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let mut cmd = run_cmd(&csv, &dir.path().join("p.db"), &["--dry-run"]);
    cmd.env("LANG", "zh_CN.UTF-8");
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
    // --lang wins over the locale; the top-level error too.
    let mut cmd = hongbao();
    cmd.env("LANG", "en_US.UTF-8").args([
        "--lang",
        "zh",
        "query",
        "red-packet",
        "10000098202401010000000001",
    ]);
    let (_, stderr, code) = run(cmd);
    assert_eq!(code, 4);
    assert!(
        stderr.starts_with("错误：") || stderr.starts_with("错误: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("没有配置") && stderr.contains("--sandbox"),
        "{stderr}"
    );
    // English stays the default.
    let mut cmd = hongbao();
    cmd.args(["query", "red-packet", "10000098202401010000000001"]);
    assert!(run(cmd).1.starts_with("error: no configuration"));
}

/// Help in Simplified Chinese (issue 13 §5): from `--lang zh` or a Chinese
/// locale, every about and help text, heading and note comes from the
/// catalog; English stays clap's rendering of the doc comments.
#[test]
fn help_is_in_chinese_with_lang_zh_or_a_chinese_locale() {
    let mut cmd = hongbao();
    cmd.env("LANG", "zh_CN.UTF-8")
        .env("COLUMNS", "100")
        .args(["batch", "run", "--help"]);
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("chinese_batch_run_help", stdout);

    let mut cmd = hongbao();
    cmd.env("COLUMNS", "100").args(["--lang", "zh", "-h"]);
    let (stdout, _, code) = run(cmd);
    assert_eq!(code, 0);
    insta::assert_snapshot!("chinese_short_help", stdout);

    // `help batch run` is the same page; English stays the default.
    let mut cmd = hongbao();
    cmd.args(["--lang", "zh", "help", "batch", "run"]);
    assert!(run(cmd).0.contains("用法: hongbao batch run"));
    let mut cmd = hongbao();
    cmd.args(["batch", "run", "--help"]);
    let (stdout, _, _) = run(cmd);
    assert!(stdout.starts_with("Validate, plan and pay"), "{stdout}");
    assert!(stdout.contains("\nUsage: hongbao batch run"), "{stdout}");
}

/// `hongbao sandbox` has options of its own: the global `--config`,
/// `--sandbox`, `-v` and `--log-format` are not in its help, and given to it they are an
/// error (HONGBAO_CONFIG in the environment is fine: it is for the other
/// commands).
#[test]
fn sandbox_help_shows_only_its_own_options_and_refuses_the_others() {
    let mut cmd = hongbao();
    cmd.args(["sandbox", "--help"]);
    let (stdout, _, code) = run(cmd);
    assert_eq!(code, 0);
    assert!(stdout.contains("--balance-yuan"), "{stdout}");
    assert!(stdout.contains("--lang"), "{stdout}");
    for hidden in ["--config", "--sandbox", "--verbose", "--log-format"] {
        assert!(!stdout.contains(hidden), "{hidden} in {stdout}");
    }
    for args in [
        &["sandbox", "--config", "x.toml"][..],
        &["--config", "x.toml", "sandbox"],
        &["sandbox", "--sandbox"],
        &["sandbox", "-v"],
        &["sandbox", "--log-format", "json"],
    ] {
        let mut cmd = hongbao();
        cmd.args(args);
        let (_, stderr, code) = run(cmd);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("`hongbao sandbox` does not use"),
            "{stderr}"
        );
    }
}

/// The progress and note lines of a run are in Chinese too (issue 13 §5).
#[test]
fn a_chinese_locale_prints_progress_and_notes_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "p.csv", &csv_rows(2));
    let journal = dir.path().join("p.db");
    let mut cmd = run_cmd(&csv, &journal, &[]);
    cmd.env("LANG", "zh_CN.UTF-8");
    let (stdout, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for expected in [
        "沙箱 — 没有真实资金流动",
        "计划：本次支付 2 行",
        "批次 p（账本 ",
        "新增 2 行，未变 0 行，替换 0 行",
        "正在支付：2 / 2",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    for english in ["row(s)", "batch p in", "paying"] {
        assert!(!stderr.contains(english), "{english} in {stderr}");
    }
    // The same run in English.
    let mut cmd = run_cmd(&csv, &journal, &[]);
    cmd.env("LANG", "en_US.UTF-8");
    let (_, stderr, code) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("resuming batch p in "), "{stderr}");
}
