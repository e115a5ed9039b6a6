//! The `hongbao-sandbox` binary: one JSON start line, serving, clean exit on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{OPENID, TestResult, parse_reply, plain_http_client, red_packet};

#[cfg(unix)]
#[test]
fn prints_the_start_line_and_stops_on_sigterm() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("hongbao-sandbox-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hongbao-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--cert-dir"])
        .arg(&dir)
        .args([
            "--seed",
            "3",
            "--fault",
            "malformed_reply=0.1",
            "--balance-yuan",
            "12.34",
        ])
        .env("HONGBAO_API_KEY", hongbao_sandbox::DEFAULT_API_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let start: serde_json::Value = serde_json::from_str(&line)?;
    let keys: Vec<&str> = start
        .as_object()
        .ok_or("not an object")?
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "admin_url",
            "api_key_env",
            "appid",
            "ca_cert",
            "client_cert",
            "client_key",
            "client_p12",
            "mch_id",
            "temporary_cert_dir",
            "url"
        ]
    );
    assert_eq!(start["temporary_cert_dir"], false);
    assert_eq!(start["api_key_env"], "HONGBAO_API_KEY");
    let url = start["url"].as_str().ok_or("url")?;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(
        start["admin_url"].as_str(),
        Some(format!("{url}/_sandbox").as_str())
    );
    for key in ["ca_cert", "client_cert", "client_key", "client_p12"] {
        let path = start[key].as_str().ok_or("path")?;
        assert!(std::path::Path::new(path).is_file(), "{key}: {path}");
    }
    assert!(std::fs::read_to_string(dir.join("ca.pem"))?.contains("BEGIN CERTIFICATE"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait()? {
            break exit;
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("the sandbox did not stop on SIGTERM".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn refuses_bad_arguments() -> Result<(), Box<dyn std::error::Error>> {
    let output = Command::new(env!("CARGO_BIN_EXE_hongbao-sandbox"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--plain-http",
            "--balance-yuan",
            "12.345",
        ])
        .output()?;
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("balance-yuan"));
    let output = Command::new(env!("CARGO_BIN_EXE_hongbao-sandbox"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--plain-http",
            "--fault",
            "explode=1",
        ])
        .output()?;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown fault kind"));
    Ok(())
}

/// Sends SIGTERM and waits (10 s at most) for a clean exit.
#[cfg(unix)]
fn stop(child: &mut Child) -> TestResult {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait()? {
            assert!(exit.success(), "{exit:?}");
            return Ok(());
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("the sandbox did not stop on SIGTERM".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Without `--cert-dir`: a ready config snippet on stderr (no secret but
/// the public test key), the certificates in a temporary directory that is
/// gone after SIGTERM, CA private key included.
#[cfg(unix)]
#[test]
fn prints_a_config_snippet_and_removes_its_temp_dir() -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hongbao-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("HONGBAO_API_KEY")
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let start: serde_json::Value = serde_json::from_str(&line)?;
    assert_eq!(start["temporary_cert_dir"], true);
    let ca_key =
        std::path::Path::new(start["ca_cert"].as_str().ok_or("ca_cert")?).with_file_name("ca.key");
    assert!(ca_key.is_file(), "{}", ca_key.display());
    stop(&mut child)?;
    assert!(!ca_key.exists(), "{} survived the exit", ca_key.display());
    assert!(
        !ca_key.parent().ok_or("dir")?.exists(),
        "the temporary directory survived the exit"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .ok_or("no stderr")?
        .read_to_string(&mut stderr)?;
    let url = start["url"].as_str().ok_or("url")?;
    for expected in [
        format!("base_url = \"{url}\""),
        "mch_id = \"10000098\"".to_owned(),
        "client_cert = ".to_owned(),
        "export HONGBAO_API_KEY=".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected} not in {stderr}");
    }
    assert!(!stderr.to_lowercase().contains("embedded"), "{stderr}");
    Ok(())
}

/// From another process: `--per-minute` scales the red packet quota,
/// `--fault` and `POST /_sandbox/faults` inject faults, and
/// `GET /_sandbox/ledger` lists every payment with its payee and amount.
#[cfg(unix)]
#[tokio::test]
async fn per_minute_faults_and_ledger_from_another_process() -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hongbao-sandbox"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--plain-http",
            "--per-minute",
            "2",
        ])
        .args(["--fault", "systemerror_before_commit=0"])
        .env("HONGBAO_API_KEY", hongbao_sandbox::DEFAULT_API_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let start: serde_json::Value = serde_json::from_str(&line)?;
    let url = start["url"].as_str().ok_or("url")?.to_owned();
    let admin = start["admin_url"].as_str().ok_or("admin_url")?.to_owned();
    let client = plain_http_client();
    let send = |bill: &'static str, openid: &'static str| {
        let req = red_packet(bill, openid, 1_000);
        let request = client
            .post(format!("{url}{}", req.path))
            .body(req.body())
            .send();
        async move {
            let response = request.await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(parse_reply(status, &body))
        }
    };
    assert_eq!(send("B1", OPENID).await?.code(), "SUCCESS");
    assert_eq!(send("B2", "oOtherUser").await?.code(), "SUCCESS");
    assert_eq!(
        send("B3", "oThirdUser").await?.code(),
        "SECOND_OVER_LIMITED"
    );

    let faults: serde_json::Value = serde_json::from_slice(
        &client
            .post(format!("{admin}/faults"))
            .header("content-type", "application/json")
            .body(r#"{"systemerror_before_commit": 1.0}"#)
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    assert_eq!(faults["faults"]["systemerror_before_commit"], 1.0);
    assert_eq!(send("B1", OPENID).await?.code(), "SYSTEMERROR");

    let ledger: serde_json::Value = serde_json::from_slice(
        &client
            .get(format!("{admin}/ledger"))
            .send()
            .await?
            .bytes()
            .await?,
    )?;
    let payments = ledger["payments"].as_array().ok_or("payments")?;
    let rows: Vec<(&str, &str, u64)> = payments
        .iter()
        .map(|p| {
            (
                p["bill"].as_str().unwrap_or(""),
                p["openid"].as_str().unwrap_or(""),
                p["amount_fen"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(rows, [("B1", OPENID, 1_000), ("B2", "oOtherUser", 1_000)]);
    stop(&mut child)
}
