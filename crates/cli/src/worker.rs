//! `hongbao worker`: a long-lived worker that pays whatever is due in a
//! ledger, whoever submitted it (a `batch run`, a service using the
//! library, another machine). Meant for PostgreSQL ledgers, where any
//! number of workers share the payouts (fenced leases) and the merchant's
//! rate limit (a GCRA row in the database).

use crate::app::{AppError, connect, server_of};
use crate::cli::{Cli, WorkerArgs};
use crate::exit;
use crate::i18n;
use hongbao_ledger::{Binding, Event, Ledger, LedgerOptions, Quota, StopHandle};
use std::time::Duration;

/// A log line on stderr through [`crate::log::emit`] (text, or JSON with
/// `--log-format json`).
macro_rules! say {
    ($level:ident, $($arg:tt)+) => {
        crate::log::emit(crate::log::Level::$level, "worker", &format!($($arg)+), &[])
    };
}

/// Runs the worker until SIGTERM/SIGINT (or, with `--exit-when-idle`, until
/// a pass finds nothing to do); returns the exit code.
pub async fn run(cli: &Cli, args: &WorkerArgs) -> Result<u8, AppError> {
    // The client's own limiter is off: the ledger's shared quota paces
    // every worker of the merchant together.
    let session = connect(cli, Some(0)).await?;
    let per_minute = args
        .rate_per_minute
        .unwrap_or_else(|| session.config.rate_per_minute());
    let quota = (per_minute > 0).then_some(Quota::per_minute(per_minute));
    let binding = Binding::new(
        session.config.mch_id.clone(),
        session.config.appid.clone(),
        server_of(&session),
    );
    let lease_ms = i64::try_from(args.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let options = LedgerOptions::default()
        .bill_prefix(session.config.bill_prefix())
        .quota(quota)
        .lease_ms(lease_ms);
    let ledger = Ledger::open(&args.journal, binding, options).await?;
    let stop = StopHandle::new();
    let signals = tokio::spawn(stop_on_signal(stop.clone()));
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let worker = ledger
        .worker(session.client.clone())
        .concurrency(usize::from(args.concurrency))
        .batch(args.batch.clone())
        .reissue_not_paid(args.reissue_not_paid)
        .events(events)
        .with_stop(stop.clone());
    let limit = match quota {
        Some(q) => i18n::text_str("worker-limit", &[("rate", q.per_minute.to_string())]),
        None => i18n::text("worker-no-limit"),
    };
    say!(
        Info,
        "{}",
        i18n::text_str(
            "worker-started",
            &[
                ("location", ledger.store().location().to_string()),
                ("concurrency", args.concurrency.to_string()),
                ("limit", limit),
                ("lease", args.lease_secs.to_string()),
            ]
        )
    );
    let idle = Duration::from_millis(args.idle_ms);
    let work = async {
        if args.exit_when_idle {
            loop {
                let report = worker.run_pass().await?;
                if report.sent + report.resumed == 0
                    || report.interrupted
                    || report.halted.is_some()
                {
                    return Ok(report);
                }
            }
        } else {
            worker.run_until_stopped(idle).await
        }
    };
    tokio::pin!(work);
    let mut paid = 0u64;
    let report = loop {
        tokio::select! {
            report = &mut work => break report?,
            Some(event) = received.recv() => {
                if let Event::Progress { done, .. } = event {
                    paid += done;
                }
            }
        }
    };
    signals.abort();
    if let Some(why) = &report.halted {
        say!(Error, "{}: {why}", i18n::text("worker-halted"));
    }
    let id = if stop.is_stopped() {
        "worker-stopped-signal"
    } else {
        "worker-stopped"
    };
    say!(
        Info,
        "{}",
        i18n::text_str(id, &[("paid", paid.to_string())])
    );
    if let Some(url) = crate::app::notify_url(args.notify.as_deref(), &session.config) {
        let server = server_of(&session);
        let notice = crate::notify::RunNotice {
            batch: args
                .batch
                .clone()
                .unwrap_or_else(|| crate::i18n::text("notify-all-batches")),
            sandbox: server.sandbox,
            server: Some(server.id),
            halted: report.halted.clone(),
            summary: report.summary.clone(),
            ..crate::notify::RunNotice::default()
        };
        // A failure is a warning: the exit code stays the worker's.
        crate::notify::send(&url, &notice).await;
    }
    Ok(if report.halted.is_some() {
        exit::ERROR
    } else {
        exit::OK
    })
}

/// The shared quota for a ledger at `location`: on a PostgreSQL ledger,
/// where other processes pay for the same merchant, `per_minute` (0: none)
/// is kept by all of them together; a SQLite ledger has one process, paced
/// by its client alone.
pub fn shared_quota(location: &str, per_minute: u32) -> Option<Quota> {
    let shared = location.starts_with("postgres://") || location.starts_with("postgresql://");
    (shared && per_minute > 0).then_some(Quota::per_minute(per_minute))
}

/// Sets the stop flag on SIGINT or SIGTERM: the worker records what is in
/// flight, releases its claims and returns.
async fn stop_on_signal(stop: StopHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            stop.stop();
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    say!(Info, "{}", i18n::text("worker-stopping"));
    stop.stop();
}
