//! The `hongbao-sandbox` binary: one JSON start line, serving, clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
            "ca_cert",
            "client_cert",
            "client_key",
            "client_p12",
            "url"
        ]
    );
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
