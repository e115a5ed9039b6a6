//! Summaries and per-payout reports of a batch (or a whole ledger).

use hongbao_ledger::{LedgerError, Payout, PayoutFilter, Store, Summary, rfc3339};
use hongbao_proto::Amount;
use std::io::Write;

/// Yuan text of an amount in fen (`1234` → `12.34`), as proto's
/// [`Amount`] writes it (the one yuan formatter of the workspace).
fn yuan(fen: u64) -> String {
    Amount::from_fen(fen).to_string()
}

/// The summary as a JSON object.
pub fn summary_json(summary: &Summary) -> serde_json::Value {
    let mut states = serde_json::Map::new();
    for (state, count, fen) in &summary.by_state {
        states.insert(
            state.as_str().into(),
            serde_json::json!({"rows": count, "yuan": yuan(*fen)}),
        );
    }
    let not_paid: Vec<serde_json::Value> = summary
        .not_paid_by_code
        .iter()
        .map(|(code, count, fen)| serde_json::json!({"code": code, "rows": count, "yuan": yuan(*fen)}))
        .collect();
    serde_json::json!({"rows": summary.payouts(), "states": states, "not_paid_by_code": not_paid})
}

/// Calls `each` for every payout of `batch` (all: `None`) in id order,
/// reading in pages (memory stays flat whatever the ledger size).
pub async fn for_each_payout(
    store: &dyn Store,
    batch: Option<&str>,
    mut each: impl FnMut(&Payout) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let mut after = 0;
    loop {
        let page = store
            .payouts(
                &PayoutFilter::default()
                    .with_batch(batch.map(str::to_owned))
                    .with_after_id(after)
                    .with_limit(1000),
            )
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.id;
        for payout in &page {
            each(payout)?;
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Writing the output failed.
    #[error("cannot write report: {0}")]
    Io(#[from] std::io::Error),
    /// Writing CSV failed.
    #[error("cannot write CSV report: {0}")]
    Csv(#[from] csv::Error),
}

/// Header of the CSV report.
pub const CSV_HEADER: [&str; 14] = [
    "line",
    "openid",
    "amount",
    "bill",
    "state",
    "wechat_id",
    "err_code",
    "message",
    "attempts",
    "updated_at",
    "next_step",
    "key",
    "received_at",
    "refunded_at",
];

fn time_of(ms: Option<i64>) -> String {
    ms.map(rfc3339).unwrap_or_default()
}

/// The report's cells of one payout, in [`CSV_HEADER`] order.
pub(crate) fn cells(row: &Payout) -> [String; 14] {
    [
        row.line.to_string(),
        row.openid.clone(),
        yuan(row.amount_fen),
        row.bill.clone(),
        row.state.as_str().to_owned(),
        row.wechat_id.clone().unwrap_or_default(),
        row.err_code.clone().unwrap_or_default(),
        row.message.clone().unwrap_or_default(),
        row.attempts.to_string(),
        row.updated_at.clone(),
        row.next_step.map(|n| n.as_str()).unwrap_or("").to_owned(),
        row.key.clone(),
        time_of(row.received_ms),
        time_of(row.refunded_ms),
    ]
}

/// Writes one CSV line per payout with its state, ids and red packet times.
pub async fn write_csv(
    store: &dyn Store,
    batch: Option<&str>,
    out: impl Write,
) -> Result<(), ReportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for_each_payout(store, batch, |row| {
        writer.write_record(cells(row))?;
        Ok(())
    })
    .await?;
    writer.flush()?;
    Ok(())
}

/// Writes `{"server":…,"sandbox":…,"summary":…,"rows":[…]}`, rows streamed
/// one by one (`server` and `sandbox` are `null` for a ledger that does not
/// record its server).
pub async fn write_json(
    store: &dyn Store,
    batch: Option<&str>,
    mut out: impl Write,
) -> Result<(), ReportError> {
    let summary = store.summary(batch).await?;
    let server = store
        .binding()
        .await?
        .map(|b| b.server)
        .filter(|s| !s.id.is_empty());
    let (id, sandbox) = match &server {
        Some(s) => (serde_json::json!(s.id), serde_json::json!(s.sandbox)),
        None => (serde_json::Value::Null, serde_json::Value::Null),
    };
    write!(
        out,
        "{{\"server\":{id},\"sandbox\":{sandbox},\"summary\":{},\"rows\":[",
        summary_json(&summary)
    )?;
    let mut first = true;
    for_each_payout(store, batch, |row| {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        let value = serde_json::json!({
            "line": row.line,
            "openid": row.openid,
            "amount": yuan(row.amount_fen),
            "bill": row.bill,
            "state": row.state.as_str(),
            "wechat_id": row.wechat_id,
            "err_code": row.err_code,
            "message": row.message,
            "attempts": row.attempts,
            "updated_at": row.updated_at,
            "next_step": row.next_step.map(|n| n.as_str()),
            "key": row.key,
            "batch": row.batch,
            "received_at": row.received_ms.map(rfc3339),
            "refunded_at": row.refunded_ms.map(rfc3339),
        });
        out.write_all(value.to_string().as_bytes())?;
        Ok(())
    })
    .await?;
    out.write_all(b"]}\n")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_formatting() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456), "1234.56");
    }
}
