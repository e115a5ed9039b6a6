//! A PostgreSQL server for tests (feature `postgres`): the one whose URL is
//! in [`URL_VAR`] (`cargo xtask pg -- cargo test …` starts a throwaway
//! one), and a fresh schema of it per test so that tests run in parallel.
//!
//! Without a server the tests say so and pass, except under `CI=true`,
//! where they fail: CI always has a server (`cargo xtask ci` runs the tests
//! under the pg helper), so they never skip there.

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable with the test server's URL.
pub const URL_VAR: &str = "HONGBAO_TEST_PG_URL";

/// The test server's URL, or `None` (with a note on stderr) when there is
/// none outside CI.
///
/// # Panics
/// When the URL is missing and `CI` is `true` or `1`.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !in_ci,
                "{URL_VAR} is not set and CI=true: the PostgreSQL tests need a server. Run them \
                 under `cargo xtask pg -- cargo test …` (cargo xtask ci does); they never skip \
                 in CI"
            );
            eprintln!(
                "SKIPPED {test}: no PostgreSQL server ({URL_VAR} is not set); run the tests \
                 under `cargo xtask pg -- cargo test …`"
            );
            None
        }
    }
}

/// A fresh, empty schema for one test: its URL (the server's URL with
/// `search_path` set to it), or `None` when there is no server outside CI
/// (see [`server_url`]).
///
/// # Panics
/// When the server is missing under CI, or cannot be reached, or refuses
/// the schema.
pub async fn fresh_schema(test: &str) -> Option<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = server_url(test)?;
    let schema = format!(
        "t_{}_{}_{}",
        // PostgreSQL cuts names at 63 bytes: the tail must survive.
        test.chars()
            .take(30)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
    .to_lowercase();
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {base}: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE SCHEMA {schema}: {e}"));
    drop(client);
    let _ = task.await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-csearch_path%3D{schema}"))
}
