//! The PostgreSQL backend (feature `postgres`): one ledger shared by any
//! number of worker processes on any number of machines.
//!
//! * **Claims** pick due payouts with `FOR UPDATE SKIP LOCKED` in the same
//!   statement that sets the owner, the lease and `fence = fence + 1`, so two
//!   workers never claim one payout, and never wait for each other.
//! * **Fencing**: every write about a claimed payout says
//!   `WHERE id = $id AND fence = $fence`; a worker whose lease expired and
//!   whose payout was claimed again writes nothing (it gets `false`).
//! * **Bill numbers** are unique in the ledger (one ledger per merchant):
//!   `payouts.bill` is `UNIQUE`, and `bills` keeps every number ever used
//!   (primary key), so a replaced number is never handed out again.
//! * **Shared rates**: the merchant's quota and the per-employee spacing are
//!   GCRA rows (`rates.tat_us`, the "theoretical arrival time") updated
//!   atomically by one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so N
//!   processes together stay within one budget.
//! * **Times** of leases come from the database's clock (one clock for all
//!   machines); attempt times are the workers' own.
//!
//! The location is a libpq-style URL, `postgres://user:password@host:port/db`
//! with the options of `tokio_postgres::Config` (`sslmode=disable|prefer|require`,
//! `options=-csearch_path%3Dmy_schema`, …) plus `sslrootcert=PATH` (PEM CA
//! certificates for the server's certificate; the Mozilla roots otherwise)
//! and `pool_size=N` (connections per process, default 8).

mod pool;
mod schema;
mod tls;

use crate::store::{
    BillDraw, SIMILAR_WINDOW_MS, changed_row, due_arms, is_same_payout, may_replace, repeated_key,
    same_or_conflict, similar_condition,
};
use crate::{
    AttemptAction, AttemptRecord, BatchSpec, BillSource, Binding, Claim, ClaimRequest, Claimed,
    Due, ImportPlan, LedgerError, NewPayout, Payout, PayoutFilter, PayoutState, ServerId,
    SimilarPayout, Store, Submitted, Summary, now_ms, rfc3339,
};
use async_trait::async_trait;
use hongbao_proto::NextStep;
use pool::Pool;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::Poll;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

impl From<tokio_postgres::Error> for LedgerError {
    fn from(err: tokio_postgres::Error) -> Self {
        LedgerError::Backend(Box::new(err))
    }
}

/// Default number of connections per process.
const DEFAULT_POOL_SIZE: usize = 8;

/// The database's clock, in unix milliseconds (one clock for every
/// machine: leases are compared against it).
const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The stored states in which WeChat accepted the payment.
const PAID_STATES: &str = "('paid', 'received', 'refunded')";

/// The columns of a payout, in [`payout_from_row`]'s order.
const PAYOUT_COLUMNS: &str = "id, key, batch, line, openid, amount_fen, params, bill, state, \
     request_json, body, wechat_id, err_code, message, attempts, updated_ms, next_step, \
     generated, received_ms, refunded_ms, fence";

/// The number of [`PAYOUT_COLUMNS`].
const PAYOUT_COLUMN_COUNT: usize = 21;

/// A ledger in a PostgreSQL database (or in one schema of it, chosen by
/// `search_path`).
#[derive(Debug)]
pub struct PgStore {
    location: String,
    pool: Pool,
}

impl PgStore {
    /// Connects to the database at `url` (see the module docs) and brings
    /// its schema to the current version (creating it in an empty
    /// database). A schema newer than this build knows is refused.
    pub async fn open(url: &str) -> Result<PgStore, LedgerError> {
        let (config_text, root_file, pool_size) = split_url(url)?;
        let config: tokio_postgres::Config = config_text
            .parse()
            .map_err(|e| LedgerError::Unsupported(format!("not a usable PostgreSQL URL: {e}")))?;
        let location = describe(&config);
        let roots = match root_file {
            None => Vec::new(),
            Some(path) => read_roots(&path)?,
        };
        let tls = tls::MakeRustls::new(roots).map_err(LedgerError::Unsupported)?;
        let store = PgStore {
            location,
            pool: Pool::new(config, tls, pool_size),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), LedgerError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        // One migrating process at a time (per database).
        tx.execute("SELECT pg_advisory_xact_lock(7235712683)", &[])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS hongbao_meta (key text PRIMARY KEY, value text NOT NULL)",
        )
        .await?;
        let found = tx
            .query_opt(
                "SELECT value FROM hongbao_meta WHERE key = 'schema_version'",
                &[],
            )
            .await?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()?;
        let version: u32 = match found {
            None => 0,
            Some(text) => text.parse().map_err(|_| LedgerError::Schema {
                path: self.location.clone(),
                found: text.clone(),
                supported: schema::VERSION,
            })?,
        };
        if version > schema::VERSION {
            return Err(LedgerError::Schema {
                path: self.location.clone(),
                found: version.to_string(),
                supported: schema::VERSION,
            });
        }
        for step in &schema::MIGRATIONS[version as usize..] {
            tx.batch_execute(step).await?;
        }
        if version < schema::VERSION {
            tx.execute(
                "INSERT INTO hongbao_meta(key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&schema::VERSION.to_string()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The schema version of the ledger (for tests and `status`).
    pub async fn schema_version(&self) -> Result<u32, LedgerError> {
        let conn = self.pool.get().await?;
        let text: String = conn
            .query_one(
                "SELECT value FROM hongbao_meta WHERE key = 'schema_version'",
                &[],
            )
            .await?
            .try_get(0)?;
        text.parse().map_err(|_| LedgerError::Schema {
            path: self.location.clone(),
            found: text,
            supported: schema::VERSION,
        })
    }

    /// How PostgreSQL runs `request`'s claim: its plan with the rows each
    /// step read and threw away (`EXPLAIN (ANALYZE, FORMAT JSON)`, as JSON
    /// text), for a claim that seems slow. The claim is made, measured and
    /// rolled back: nothing is claimed.
    pub async fn explain_claim(&self, request: &ClaimRequest) -> Result<String, LedgerError> {
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_one(
                &format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", claim_sql(request.due)),
                &claim_params(request, &limit),
            )
            .await?;
        let PlanText(plan) = row.try_get(0)?;
        tx.rollback().await?;
        Ok(plan)
    }

    /// Every attempt as stored, with the claim and worker that made it,
    /// in id order (the chaos test checks from this that no bill number
    /// was in flight under two claims at once).
    pub async fn attempt_traces(&self) -> Result<Vec<AttemptTrace>, LedgerError> {
        let conn = self.pool.get().await?;
        let rows = conn
            .query(
                "SELECT payout_id, bill, fence, owner, started_ms, finished_ms, err_code
                 FROM attempts ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptTrace {
                    payout: r.try_get(0)?,
                    bill: r.try_get(1)?,
                    fence: r.try_get(2)?,
                    owner: r.try_get(3)?,
                    started_ms: r.try_get(4)?,
                    finished_ms: r.try_get(5)?,
                    err_code: r.try_get(6)?,
                })
            })
            .collect()
    }
}

/// The text of a plan `EXPLAIN` returns (`json` in `FORMAT JSON`).
#[derive(Debug)]
struct PlanText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for PlanText {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PlanText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        [
            tokio_postgres::types::Type::JSON,
            tokio_postgres::types::Type::TEXT,
        ]
        .contains(ty)
    }
}

/// One stored attempt with the claim it was made under
/// ([`PgStore::attempt_traces`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptTrace {
    /// The payout.
    pub payout: i64,
    /// The bill number the attempt was about.
    pub bill: String,
    /// The fence of the claim it was made under.
    pub fence: i64,
    /// The worker that held the claim.
    pub owner: Option<String>,
    /// Start, unix milliseconds (the worker's clock).
    pub started_ms: i64,
    /// End, unix milliseconds.
    pub finished_ms: i64,
    /// The error code recorded, if any.
    pub err_code: Option<String>,
}

/// Takes our own options (`sslrootcert`, `pool_size`) out of the URL's
/// query; the rest goes to `tokio_postgres::Config`.
fn split_url(url: &str) -> Result<(String, Option<String>, usize), LedgerError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let mut root = None;
    let mut pool_size = DEFAULT_POOL_SIZE;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", value)) => root = Some(percent_decode(value)),
            Some(("pool_size", value)) => {
                pool_size = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    LedgerError::Unsupported(format!(
                        "pool_size={value}: not a whole number above 0"
                    ))
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let text = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((text, root, pool_size))
}

/// `%XX` decoding of a URL query value (for a file path).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&high), Some(&low)) => hex(high).zip(hex(low)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_roots(path: &str) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, LedgerError> {
    use rustls_pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| LedgerError::Unsupported(format!("sslrootcert={path}: cannot read it: {e}")))?
        .collect();
    let certs = certs.map_err(|e| {
        LedgerError::Unsupported(format!("sslrootcert={path}: not PEM certificates: {e}"))
    })?;
    if certs.is_empty() {
        return Err(LedgerError::Unsupported(format!(
            "sslrootcert={path}: no certificate in it"
        )));
    }
    Ok(certs)
}

/// The location for messages: `postgres://user@host:port/db`, never the
/// password.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "postgres://{}@{host}{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

fn to_i64(value: u64, what: &str) -> Result<i64, LedgerError> {
    i64::try_from(value)
        .map_err(|_| LedgerError::Unsupported(format!("{what} {value} is too large to store")))
}

fn to_u64(value: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(value).map_err(|_| LedgerError::Corrupt(format!("negative {what} {value}")))
}

fn payout_from_row(row: &Row) -> Result<Payout, LedgerError> {
    let state: String = row.try_get(8)?;
    let next_step: Option<String> = row.try_get(16)?;
    let attempts: i32 = row.try_get(14)?;
    Ok(Payout {
        id: row.try_get(0)?,
        key: row.try_get(1)?,
        batch: row.try_get(2)?,
        line: to_u64(row.try_get(3)?, "line")?,
        openid: row.try_get(4)?,
        amount_fen: to_u64(row.try_get(5)?, "amount")?,
        params: row.try_get(6)?,
        bill: row.try_get(7)?,
        state: state.parse()?,
        request_json: row.try_get(9)?,
        body: row.try_get(10)?,
        wechat_id: row.try_get(11)?,
        err_code: row.try_get(12)?,
        message: row.try_get(13)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        updated_at: rfc3339(row.try_get(15)?),
        next_step: next_step.as_deref().and_then(NextStep::parse),
        generated: row.try_get(17)?,
        received_ms: row.try_get(18)?,
        refunded_ms: row.try_get(19)?,
        fence: row.try_get(20)?,
    })
}

fn batch_from_row(row: &Row) -> Result<BatchSpec, LedgerError> {
    Ok(BatchSpec {
        name: row.try_get(0)?,
        file_name: row.try_get(1)?,
        file_digest: row.try_get(2)?,
        kind: row.try_get(3)?,
    })
}

/// The claim statement: up to `$5` free payouts `due` after id `$4` (in
/// batch `$3`, any when `NULL`), the smallest ids first, taken for owner
/// `$1` for `$2` ms.
///
/// Each [`due_arms`] pair is one search of the `(state, id)` index from the
/// cursor, in id order, that locks as it goes (`FOR UPDATE SKIP LOCKED`,
/// each in a `WITH` query of its own: PostgreSQL refuses `FOR UPDATE` in
/// the arms of a `UNION`) and stops after `$5` rows. The search is written
/// `(state, id) > (s, $4) AND state <= s ... ORDER BY state, id` (the same
/// rows as `state = s AND id > $4 ORDER BY id`) so that only that index
/// gives its order: with `state = s`, PostgreSQL took the primary key,
/// ordered by id as well, whenever the state's share of the table looked
/// large (its estimate cannot know the done payouts are all before the
/// due ones) and walked the done payouts again. A payout another
/// claim holds locked is passed over and the next one of the state taken
/// instead, so a page is short only at the end of what is due. The page
/// is the `$5` smallest ids of the searches together; every id left out
/// is greater than every id taken, so the claimer's next page (from its
/// last id) reaches them: their locks end with the statement. One `OR` of
/// the states made PostgreSQL walk the primary key from the cursor and
/// read every payout already done (`EXPLAIN ANALYZE`, 15,000 of 20,000
/// paid: 15,000 rows thrown away per page, a pass quadratic in its size).
///
/// A locked row is checked again in its newest version (PostgreSQL's
/// recheck under `READ COMMITTED`): one that was paid, or taken by
/// another claim, since the statement began is passed over. One that moved
/// to another due state meanwhile (its writer, the holder of a lease just
/// run out, committed in between) is passed over too, as a row locked by
/// its writer at that moment always was: it stays with that holder, and
/// the next pass finds it again.
fn claim_sql(due: Due) -> String {
    let free =
        format!("(owner IS NULL OR lease_until_ms IS NULL OR lease_until_ms <= {DB_NOW_MS})");
    let arms = due_arms(due);
    let searches: Vec<String> = arms
        .iter()
        .enumerate()
        .map(|(n, (state, extra))| {
            format!(
                "a{n} AS (SELECT id FROM payouts
                     WHERE (state, id) > ('{state}', $4) AND state <= '{state}' {extra}
                       AND ($3::text IS NULL OR batch = $3) AND {free}
                     ORDER BY state, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
            )
        })
        .collect();
    let union: Vec<String> = (0..arms.len())
        .map(|n| format!("SELECT id FROM a{n}"))
        .collect();
    format!(
        "WITH {searches},
              page AS (SELECT id FROM ({union}) found ORDER BY id LIMIT $5)
         UPDATE payouts SET owner = $1, lease_until_ms = {DB_NOW_MS} + $2, fence = fence + 1
         WHERE id IN (SELECT id FROM page)
         RETURNING {PAYOUT_COLUMNS}",
        searches = searches.join(",\n              "),
        union = union.join(" UNION ALL "),
    )
}

/// The parameters of [`claim_sql`] for `request`, `limit` its page size.
fn claim_params<'a>(request: &'a ClaimRequest, limit: &'a i64) -> [&'a (dyn ToSql + Sync); 5] {
    [
        &request.owner,
        &request.lease_ms,
        &request.batch,
        &request.after_id,
        limit,
    ]
}

/// Whether a database error is a unique violation.
fn is_unique_violation(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The key of the payout that holds (or held) a bill number.
async fn bill_holder<C: GenericClient + Sync>(
    client: &C,
    bill: &str,
) -> Result<Option<String>, LedgerError> {
    let row = client
        .query_opt(
            "SELECT p.key FROM bills b JOIN payouts p ON p.id = b.payout_id WHERE b.bill = $1",
            &[&bill],
        )
        .await?;
    Ok(match row {
        Some(row) => Some(format!("payout {}", row.try_get::<_, String>(0)?)),
        None => None,
    })
}

/// Inserts payouts (bill numbers already checked free) and reserves their
/// bill numbers, in the caller's transaction.
async fn insert_payouts<C: GenericClient + Sync>(
    client: &C,
    rows: &[NewPayout],
    now: i64,
) -> Result<Vec<Payout>, LedgerError> {
    let mut keys = Vec::with_capacity(rows.len());
    let mut batches = Vec::with_capacity(rows.len());
    let mut lines = Vec::with_capacity(rows.len());
    let mut openids = Vec::with_capacity(rows.len());
    let mut amounts = Vec::with_capacity(rows.len());
    let mut params = Vec::with_capacity(rows.len());
    let mut bills = Vec::with_capacity(rows.len());
    let mut requests = Vec::with_capacity(rows.len());
    let mut generated = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push(row.key.as_str());
        batches.push(row.batch.as_deref());
        lines.push(to_i64(row.line, "line")?);
        openids.push(row.openid.as_str());
        amounts.push(to_i64(row.amount_fen, "amount")?);
        params.push(row.params.as_str());
        bills.push(row.bill.as_str());
        requests.push(row.request_json.as_str());
        generated.push(row.generated);
    }
    let inserted = client
        .query(
            &format!(
                "INSERT INTO payouts(key, batch, line, openid, amount_fen, params, bill, state,
                     request_json, generated, created_ms, updated_ms)
                 SELECT k, b, l, o, a, p, bill, 'planned', r, g, $10, $10
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
                             $6::text[], $7::text[], $8::text[], $9::bool[])
                      WITH ORDINALITY AS t(k, b, l, o, a, p, bill, r, g, n)
                 ORDER BY n
                 RETURNING {PAYOUT_COLUMNS}"
            ),
            &[
                &keys, &batches, &lines, &openids, &amounts, &params, &bills, &requests,
                &generated, &now,
            ],
        )
        .await?;
    let mut payouts = inserted
        .iter()
        .map(payout_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    payouts.sort_by_key(|p| p.id);
    let ids: Vec<i64> = payouts.iter().map(|p| p.id).collect();
    client
        .execute(
            "INSERT INTO bills(bill, payout_id, created_ms)
             SELECT bill, id, $2 FROM payouts WHERE id = ANY($1)",
            &[&ids, &now],
        )
        .await?;
    Ok(payouts)
}

#[async_trait]
impl Store for PgStore {
    fn location(&self) -> &str {
        &self.location
    }

    async fn binding(&self) -> Result<Option<Binding>, LedgerError> {
        let conn = self.pool.get().await?;
        read_binding(&*conn).await
    }

    async fn bind(
        &self,
        binding: &Binding,
        adopt_unrecorded_server: bool,
    ) -> Result<(), LedgerError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(7235712684)", &[])
            .await?;
        let meta = read_meta(&tx).await?;
        let get = |key: &str| meta.get(key).cloned();
        let mut writes: Vec<(&str, String)> = Vec::new();
        match (get("mch_id"), get("appid")) {
            (Some(mch_id), Some(appid)) => {
                for (field, ledger, this_run) in [
                    ("merchant id", mch_id, &binding.mch_id),
                    ("app id", appid, &binding.appid),
                ] {
                    if ledger != *this_run {
                        return Err(LedgerError::BindingMismatch {
                            path: self.location.clone(),
                            field,
                            ledger,
                            this_run: this_run.clone(),
                        });
                    }
                }
                match (get("server"), get("server_sandbox")) {
                    (Some(id), Some(sandbox)) => {
                        let ledger = ServerId {
                            id,
                            sandbox: sandbox == "1",
                        };
                        if ledger != binding.server {
                            return Err(LedgerError::ServerMismatch {
                                path: self.location.clone(),
                                ledger: ledger.to_string(),
                                this_run: binding.server.to_string(),
                            });
                        }
                    }
                    _ if adopt_unrecorded_server => {
                        writes.push(("server", binding.server.id.clone()));
                        writes.push((
                            "server_sandbox",
                            if binding.server.sandbox { "1" } else { "0" }.to_owned(),
                        ));
                    }
                    _ => {
                        return Err(LedgerError::ServerUnrecorded {
                            path: self.location.clone(),
                            this_run: binding.server.to_string(),
                        });
                    }
                }
            }
            _ => {
                writes.push(("mch_id", binding.mch_id.clone()));
                writes.push(("appid", binding.appid.clone()));
                writes.push(("server", binding.server.id.clone()));
                writes.push((
                    "server_sandbox",
                    if binding.server.sandbox { "1" } else { "0" }.to_owned(),
                ));
            }
        }
        for (key, value) in &writes {
            tx.execute(
                "INSERT INTO hongbao_meta(key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[key, value],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn submit(
        &self,
        payout: &NewPayout,
        bills: &dyn BillSource,
    ) -> Result<Submitted, LedgerError> {
        // A few rounds: a concurrent submit of the same key, or a bill
        // number taken at the same moment elsewhere, makes a round retry
        // (the unique constraints decide; the loser looks again).
        for _ in 0..16 {
            let mut conn = self.pool.get().await?;
            let tx = conn.transaction().await?;
            if let Some(existing) = tx
                .query_opt(
                    &format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE key = $1"),
                    &[&payout.key],
                )
                .await?
            {
                return same_or_conflict(payout_from_row(&existing)?, payout);
            }
            let (bill, request_json) = match free_bill(&tx, payout, bills).await? {
                Ok(found) => found,
                Err(key) => {
                    return Err(LedgerError::BillTaken {
                        bill: payout.bill.clone(),
                        key,
                    });
                }
            };
            let mut candidate = payout.clone();
            candidate.bill = bill;
            candidate.request_json = request_json;
            match insert_payouts(&tx, std::slice::from_ref(&candidate), now_ms()).await {
                Ok(mut stored) => {
                    tx.commit().await?;
                    let payout = stored
                        .pop()
                        .ok_or_else(|| LedgerError::Corrupt("insert returned no payout".into()))?;
                    return Ok(Submitted {
                        payout,
                        created: true,
                    });
                }
                Err(LedgerError::Backend(err))
                    if err
                        .downcast_ref::<tokio_postgres::Error>()
                        .is_some_and(is_unique_violation) =>
                {
                    continue;
                }
                Err(other) => return Err(other),
            }
        }
        Err(LedgerError::Corrupt(format!(
            "payout {:?}: could not store it after repeated conflicts",
            payout.key
        )))
    }

    async fn import(
        &self,
        batch: &BatchSpec,
        rows: &[NewPayout],
        bills: &dyn BillSource,
        dry_run: bool,
        now_ms: i64,
    ) -> Result<ImportPlan, LedgerError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        // One importer per ledger at a time: each plan sees the rows of the
        // imports before it.
        tx.execute("SELECT pg_advisory_xact_lock(7235712685)", &[])
            .await?;
        // The import's time (rows planned at it, the window of similar
        // payouts ends at it); claims are checked against this clock.
        let now = now_ms;
        let clock = crate::now_ms();
        match tx
            .query_opt("SELECT kind FROM batches WHERE name = $1", &[&batch.name])
            .await?
        {
            Some(row) => {
                let kind: String = row.try_get(0)?;
                if kind != batch.kind {
                    return Err(LedgerError::KindMismatch {
                        batch: batch.name.clone(),
                        ledger: kind,
                        this_run: batch.kind.clone(),
                    });
                }
                tx.execute(
                    "UPDATE batches SET file_name = $2, file_digest = $3 WHERE name = $1",
                    &[&batch.name, &batch.file_name, &batch.file_digest],
                )
                .await?;
            }
            None => {
                tx.execute(
                    "INSERT INTO batches(name, file_name, file_digest, kind, created_ms)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &batch.name,
                        &batch.file_name,
                        &batch.file_digest,
                        &batch.kind,
                        &now,
                    ],
                )
                .await?;
            }
        }

        // What the chunk needs to know, fetched at once: the payouts of its
        // keys (with whether a live claim holds them), the holders of its
        // bill numbers, and recent payouts of its payees elsewhere.
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let mut existing: HashMap<String, (Payout, bool)> = HashMap::new();
        for row in tx
            .query(
                &format!(
                    "SELECT {PAYOUT_COLUMNS}, owner IS NOT NULL AND lease_until_ms > $2
                     FROM payouts WHERE key = ANY($1)"
                ),
                &[&keys, &clock],
            )
            .await?
        {
            let payout = payout_from_row(&row)?;
            let held: Option<bool> = row.try_get(PAYOUT_COLUMN_COUNT)?;
            existing.insert(payout.key.clone(), (payout, held.unwrap_or(false)));
        }
        let wanted: Vec<&str> = rows.iter().map(|r| r.bill.as_str()).collect();
        let mut taken: HashMap<String, String> = HashMap::new();
        for row in tx
            .query(
                "SELECT b.bill, p.key FROM bills b JOIN payouts p ON p.id = b.payout_id
                 WHERE b.bill = ANY($1)",
                &[&wanted],
            )
            .await?
        {
            taken.insert(
                row.try_get(0)?,
                format!("payout {}", row.try_get::<_, String>(1)?),
            );
        }
        let openids: Vec<&str> = rows.iter().map(|r| r.openid.as_str()).collect();
        let mut recent: HashMap<(String, u64), Vec<(Option<String>, String)>> = HashMap::new();
        for row in tx
            .query(
                &format!(
                    "SELECT p.openid, p.amount_fen, p.batch, p.key FROM payouts p
                     WHERE p.openid = ANY($1) AND {}
                     ORDER BY p.id",
                    similar_condition("$2")
                ),
                &[&openids, &(now - SIMILAR_WINDOW_MS)],
            )
            .await?
        {
            let openid: String = row.try_get(0)?;
            let amount = to_u64(row.try_get(1)?, "amount")?;
            recent
                .entry((openid, amount))
                .or_default()
                .push((row.try_get(2)?, row.try_get(3)?));
        }

        let mut plan = ImportPlan::default();
        let mut to_insert: Vec<NewPayout> = Vec::new();
        let mut to_replace: Vec<(i64, NewPayout)> = Vec::new();
        let mut moved_lines: Vec<(i64, i64)> = Vec::new();
        // Bill numbers planned in this chunk (`line <n>` of their row).
        let mut chunk_bills: HashMap<String, String> = HashMap::new();
        let mut chunk_keys: HashMap<&str, &NewPayout> = HashMap::new();
        for row in rows {
            if let Some(first) = chunk_keys.get(row.key.as_str()) {
                // The same key twice in one file: the same payout, or refused.
                match repeated_key(first, row) {
                    None => plan.unchanged.push(row.line),
                    Some(changed) => plan.refused.push(changed),
                }
                continue;
            }
            chunk_keys.insert(&row.key, row);
            match existing.get(&row.key) {
                Some((old, _)) if is_same_payout(old, row) => {
                    if old.line != row.line {
                        moved_lines.push((old.id, to_i64(row.line, "line")?));
                    }
                    plan.unchanged.push(row.line);
                }
                Some((old, held)) => {
                    let changed = changed_row(old, row);
                    if !may_replace(old, *held) {
                        plan.refused.push(changed);
                        continue;
                    }
                    match pick_bill(row, bills, &taken, &chunk_bills)? {
                        Ok((bill, request_json)) => {
                            let mut new = row.clone();
                            new.bill = bill;
                            new.request_json = request_json;
                            chunk_bills.insert(new.bill.clone(), format!("line {}", row.line));
                            to_replace.push((old.id, new));
                            plan.replaced.push(changed);
                        }
                        Err(key) => plan.duplicate_bills.push((row.line, row.bill.clone(), key)),
                    }
                }
                None => {
                    match pick_bill(row, bills, &taken, &chunk_bills)? {
                        Ok((bill, request_json)) => {
                            let mut new = row.clone();
                            new.bill = bill;
                            new.request_json = request_json;
                            chunk_bills.insert(new.bill.clone(), format!("line {}", row.line));
                            to_insert.push(new);
                        }
                        Err(key) => {
                            plan.duplicate_bills.push((row.line, row.bill.clone(), key));
                            continue;
                        }
                    }
                    if let Some((other_batch, other_key)) = recent
                        .get(&(row.openid.clone(), row.amount_fen))
                        .and_then(|found| found.iter().find(|(b, _)| *b != row.batch))
                    {
                        plan.similar.push(SimilarPayout {
                            line: row.line,
                            openid: row.openid.clone(),
                            amount_fen: row.amount_fen,
                            other_batch: other_batch.clone(),
                            other_key: other_key.clone(),
                        });
                    }
                    plan.new.push(row.line);
                }
            }
        }

        if dry_run || plan.is_refused() {
            tx.rollback().await?;
            return Ok(plan);
        }
        if !to_insert.is_empty() {
            insert_payouts(&tx, &to_insert, now).await?;
        }
        if !moved_lines.is_empty() {
            let (ids, lines): (Vec<i64>, Vec<i64>) = moved_lines.into_iter().unzip();
            tx.execute(
                "UPDATE payouts p SET line = m.line
                 FROM unnest($1::bigint[], $2::bigint[]) AS m(id, line) WHERE p.id = m.id",
                &[&ids, &lines],
            )
            .await?;
        }
        for (id, new) in &to_replace {
            tx.execute(
                "INSERT INTO bills(bill, payout_id, created_ms) VALUES ($1, $2, $3)",
                &[&new.bill, id, &now],
            )
            .await?;
            tx.execute(
                "UPDATE payouts SET line = $2, openid = $3, amount_fen = $4, params = $5,
                        bill = $6, request_json = $7, generated = $8, state = 'planned',
                        body = NULL, wechat_id = NULL, err_code = NULL, message = NULL,
                        next_step = NULL, owner = NULL, lease_until_ms = NULL,
                        fence = fence + 1, updated_ms = $9
                 WHERE id = $1",
                &[
                    id,
                    &to_i64(new.line, "line")?,
                    &new.openid,
                    &to_i64(new.amount_fen, "amount")?,
                    &new.params,
                    &new.bill,
                    &new.request_json,
                    &new.generated,
                    &now,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        plan.committed = true;
        // When the table has grown by half since its statistics were taken
        // (or they never were), they are taken again at once, so the claims
        // that follow are planned on them. Planned on the statistics of an
        // empty table (a worker started before the import), a claim sorted
        // the whole batch for every page: 36 ms a claim in pg_workers.sh.
        // Not after every chunk of an import: `ANALYZE` of 100,000 payouts
        // takes about 300 ms, and an import commits a chunk per 1,000 rows.
        // Only an optimisation: an import is done once committed, and a
        // ledger role that may not ANALYZE is left to autovacuum.
        if !plan.new.is_empty() {
            let stale = conn
                .query_one(
                    "SELECT c.relpages = 0
                         OR pg_relation_size(c.oid) / current_setting('block_size')::bigint
                            > c.relpages * 3 / 2
                     FROM pg_class c WHERE c.oid = 'payouts'::regclass",
                    &[],
                )
                .await
                .and_then(|row| row.try_get::<_, bool>(0));
            if matches!(stale, Ok(true)) {
                let _ = conn.batch_execute("ANALYZE payouts").await;
            }
        }
        Ok(plan)
    }

    async fn batch(&self, name: &str) -> Result<Option<BatchSpec>, LedgerError> {
        let conn = self.pool.get().await?;
        conn.query_opt(
            "SELECT name, file_name, file_digest, kind FROM batches WHERE name = $1",
            &[&name],
        )
        .await?
        .as_ref()
        .map(batch_from_row)
        .transpose()
    }

    async fn batches(&self) -> Result<Vec<BatchSpec>, LedgerError> {
        let conn = self.pool.get().await?;
        conn.query(
            "SELECT name, file_name, file_digest, kind FROM batches ORDER BY seq",
            &[],
        )
        .await?
        .iter()
        .map(batch_from_row)
        .collect()
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<Claimed>, LedgerError> {
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        let sql = claim_sql(request.due);
        let statement = conn.prepared(&sql).await?;
        let rows = conn
            .query(&statement, &claim_params(request, &limit))
            .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                payout_from_row(row).map(|payout| Claimed {
                    claim: Claim {
                        payout: payout.id,
                        fence: payout.fence,
                    },
                    payout,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|c| c.claim.payout);
        Ok(claimed)
    }

    async fn renew(&self, claims: &[Claim], lease_ms: i64) -> Result<Vec<bool>, LedgerError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, fences) = split_claims(claims);
        let mut conn = self.pool.get().await?;
        let statement = conn
            .prepared(&format!(
                "UPDATE payouts p SET lease_until_ms = {DB_NOW_MS} + $3
                 FROM unnest($1::bigint[], $2::bigint[]) AS c(id, fence)
                 WHERE p.id = c.id AND p.fence = c.fence AND p.owner IS NOT NULL
                 RETURNING p.id, p.fence"
            ))
            .await?;
        let kept: HashSet<(i64, i64)> = conn
            .query(&statement, &[&ids, &fences, &lease_ms])
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, LedgerError>>()?;
        Ok(claims
            .iter()
            .map(|c| kept.contains(&(c.payout, c.fence)))
            .collect())
    }

    async fn release(&self, claims: &[Claim]) -> Result<(), LedgerError> {
        if claims.is_empty() {
            return Ok(());
        }
        let (ids, fences) = split_claims(claims);
        let mut conn = self.pool.get().await?;
        let statement = conn
            .prepared(
                "UPDATE payouts p SET owner = NULL, lease_until_ms = NULL
                 FROM unnest($1::bigint[], $2::bigint[]) AS c(id, fence)
                 WHERE p.id = c.id AND p.fence = c.fence",
            )
            .await?;
        conn.execute(&statement, &[&ids, &fences]).await?;
        Ok(())
    }

    async fn mark_sending(&self, marks: &[(Claim, Vec<u8>)]) -> Result<Vec<bool>, LedgerError> {
        if marks.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        record_and_mark(&mut conn, &[], marks).await?.1
    }

    async fn record(&self, attempts: &[AttemptRecord]) -> Result<Vec<bool>, LedgerError> {
        if attempts.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await?;
        Ok(record_and_mark(&mut conn, attempts, &[]).await?.0)
    }

    /// One transaction, one commit, one round trip (see
    /// `record_and_mark`).
    async fn record_then_mark_sending(
        &self,
        attempts: &[AttemptRecord],
        marks: &[(Claim, Vec<u8>)],
    ) -> Result<(Vec<bool>, Vec<bool>), LedgerError> {
        if attempts.is_empty() && marks.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut conn = self.pool.get().await?;
        let (recorded, marked) = record_and_mark(&mut conn, attempts, marks).await?;
        Ok((recorded, marked?))
    }

    async fn reissue(
        &self,
        claim: Claim,
        new_bill: &str,
        new_request_json: &str,
    ) -> Result<bool, LedgerError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT fence, state FROM payouts WHERE id = $1 FOR UPDATE",
                &[&claim.payout],
            )
            .await?
        else {
            return Err(LedgerError::NoSuchPayout(claim.payout));
        };
        let fence: i64 = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        if fence != claim.fence {
            return Ok(false);
        }
        if !matches!(
            state.parse::<PayoutState>()?,
            PayoutState::NotPaid | PayoutState::Conflict | PayoutState::Refunded
        ) {
            return Err(LedgerError::WrongState {
                payout: claim.payout,
                change: "given a new bill number",
            });
        }
        if let Some(holder) = bill_holder(&tx, new_bill).await? {
            return Err(LedgerError::BillTaken {
                bill: new_bill.to_owned(),
                key: holder,
            });
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO bills(bill, payout_id, created_ms) VALUES ($1, $2, $3)",
            &[&new_bill, &claim.payout, &now],
        )
        .await?;
        tx.execute(
            "UPDATE payouts SET bill = $3, request_json = $4, body = NULL, state = 'planned',
                    err_code = NULL, message = NULL, wechat_id = NULL, next_step = NULL,
                    received_ms = NULL, refunded_ms = NULL, generated = true,
                    owner = NULL, lease_until_ms = NULL, updated_ms = $5
             WHERE id = $1 AND fence = $2",
            &[
                &claim.payout,
                &claim.fence,
                &new_bill,
                &new_request_json,
                &now,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reserve_slot(
        &self,
        name: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, LedgerError> {
        let mut conn = self.pool.get().await?;
        let now_us = now_ms.saturating_mul(1000);
        let interval_us = interval_ms.saturating_mul(1000);
        // GCRA without burst: the slot is max(tat, now); tat moves one
        // interval past it. One statement, one row lock: atomic across
        // every process of the ledger.
        let statement = conn
            .prepared(
                "INSERT INTO rates(name, tat_us) VALUES ($1, $2::bigint + $3::bigint)
                 ON CONFLICT (name) DO UPDATE
                     SET tat_us = GREATEST(rates.tat_us, $2::bigint) + $3::bigint
                 RETURNING tat_us - $3::bigint",
            )
            .await?;
        let slot_us: i64 = conn
            .query_one(&statement, &[&name, &now_us, &interval_us])
            .await?
            .try_get(0)?;
        Ok(slot_us.div_euclid(1000) + i64::from(slot_us.rem_euclid(1000) != 0))
    }

    async fn payouts(&self, filter: &PayoutFilter) -> Result<Vec<Payout>, LedgerError> {
        let conn = self.pool.get().await?;
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let limit: Option<i64> = match filter.limit {
            0 => None,
            n => Some(i64::try_from(n).unwrap_or(i64::MAX)),
        };
        conn.query(
            &format!(
                "SELECT {PAYOUT_COLUMNS} FROM payouts
                 WHERE ($1::text IS NULL OR batch = $1)
                   AND (cardinality($2::text[]) = 0 OR state = ANY($2))
                   AND id > $3
                 ORDER BY id LIMIT $4"
            ),
            &[&filter.batch, &states, &filter.after_id, &limit],
        )
        .await?
        .iter()
        .map(payout_from_row)
        .collect()
    }

    async fn payout(&self, id: i64) -> Result<Payout, LedgerError> {
        let conn = self.pool.get().await?;
        match conn
            .query_opt(
                &format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = $1"),
                &[&id],
            )
            .await?
        {
            Some(row) => payout_from_row(&row),
            None => Err(LedgerError::NoSuchPayout(id)),
        }
    }

    async fn payout_by_key(&self, key: &str) -> Result<Option<Payout>, LedgerError> {
        let conn = self.pool.get().await?;
        conn.query_opt(
            &format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE key = $1"),
            &[&key],
        )
        .await?
        .as_ref()
        .map(payout_from_row)
        .transpose()
    }

    async fn attempts(&self, payout: i64) -> Result<Vec<AttemptRecord>, LedgerError> {
        let conn = self.pool.get().await?;
        conn.query(
            "SELECT payout_id, fence, bill, action, outcome, err_code, wechat_id, message,
                    started_ms, finished_ms, next_step
             FROM attempts WHERE payout_id = $1 ORDER BY id",
            &[&payout],
        )
        .await?
        .iter()
        .map(|row| {
            let action: String = row.try_get(3)?;
            let outcome: String = row.try_get(4)?;
            let step: Option<String> = row.try_get(10)?;
            Ok(AttemptRecord {
                claim: Claim {
                    payout: row.try_get(0)?,
                    fence: row.try_get(1)?,
                },
                bill: row.try_get(2)?,
                action: AttemptAction::parse(&action).ok_or_else(|| {
                    LedgerError::Corrupt(format!("unknown attempt action {action:?}"))
                })?,
                outcome: outcome.parse()?,
                err_code: row.try_get(5)?,
                wechat_id: row.try_get(6)?,
                message: row.try_get(7)?,
                started_ms: row.try_get(8)?,
                finished_ms: row.try_get(9)?,
                next_step: step.as_deref().and_then(NextStep::parse),
            })
        })
        .collect()
    }

    async fn summary(&self, batch: Option<&str>) -> Result<Summary, LedgerError> {
        let conn = self.pool.get().await?;
        let mut summary = Summary::empty();
        for row in conn
            .query(
                "SELECT state, count(*), COALESCE(sum(amount_fen), 0)::bigint FROM payouts
                 WHERE ($1::text IS NULL OR batch = $1) GROUP BY state",
                &[&batch],
            )
            .await?
        {
            let state: PayoutState = row.try_get::<_, String>(0)?.parse()?;
            let count = to_u64(row.try_get(1)?, "count")?;
            let fen = to_u64(row.try_get(2)?, "total")?;
            if let Some(entry) = summary.by_state.iter_mut().find(|(s, _, _)| *s == state) {
                *entry = (state, count, fen);
            }
        }
        for row in conn
            .query(
                "SELECT COALESCE(err_code, '(none)'), count(*), COALESCE(sum(amount_fen), 0)::bigint
                 FROM payouts WHERE state = 'not_paid' AND ($1::text IS NULL OR batch = $1)
                 GROUP BY 1 ORDER BY 1",
                &[&batch],
            )
            .await?
        {
            summary.not_paid_by_code.push((
                row.try_get(0)?,
                to_u64(row.try_get(1)?, "count")?,
                to_u64(row.try_get(2)?, "total")?,
            ));
        }
        Ok(summary)
    }

    async fn checkpoint(&self) -> Result<(), LedgerError> {
        // Every commit is durable in the server (its WAL is its business).
        Ok(())
    }
}

fn split_claims(claims: &[Claim]) -> (Vec<i64>, Vec<i64>) {
    claims.iter().map(|c| (c.payout, c.fence)).unzip()
}

/// A free bill number for `row` in an import chunk: its own when free
/// (in the ledger and in the chunk), else, for a generated one, drawn
/// again. `Err(key of the holder)` for a caller-chosen number that is taken.
fn pick_bill(
    row: &NewPayout,
    bills: &dyn BillSource,
    taken: &HashMap<String, String>,
    chunk: &HashMap<String, String>,
) -> Result<Result<(String, String), String>, LedgerError> {
    let mut draw = BillDraw::new(row);
    loop {
        let holder = taken.get(draw.bill()).or_else(|| chunk.get(draw.bill()));
        if let Some(holder) = holder {
            if let Some(holder) = draw.taken(holder.clone(), bills)? {
                return Ok(Err(holder));
            }
        } else {
            return Ok(Ok(draw.free()));
        }
    }
}

/// A free bill number for a payout submitted alone (see [`pick_bill`]),
/// checked against the ledger.
async fn free_bill<C: GenericClient + Sync>(
    client: &C,
    payout: &NewPayout,
    bills: &dyn BillSource,
) -> Result<Result<(String, String), String>, LedgerError> {
    let mut draw = BillDraw::new(payout);
    loop {
        if let Some(holder) = bill_holder(client, draw.bill()).await? {
            if let Some(holder) = draw.taken(holder, bills)? {
                return Ok(Err(holder));
            }
        } else {
            return Ok(Ok(draw.free()));
        }
    }
}

async fn read_meta<C: GenericClient + Sync>(
    client: &C,
) -> Result<HashMap<String, String>, LedgerError> {
    client
        .query("SELECT key, value FROM hongbao_meta", &[])
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

async fn read_binding<C: GenericClient + Sync>(client: &C) -> Result<Option<Binding>, LedgerError> {
    let meta = read_meta(client).await?;
    Ok(match (meta.get("mch_id"), meta.get("appid")) {
        (Some(mch_id), Some(appid)) => Some(Binding {
            mch_id: mch_id.clone(),
            appid: appid.clone(),
            server: ServerId {
                id: meta.get("server").cloned().unwrap_or_default(),
                sandbox: meta.get("server_sandbox").is_some_and(|s| s == "1"),
            },
        }),
        _ => None,
    })
}

/// Records attempts of distinct payouts in one statement (one round of
/// [`record_and_mark`]); returns the `(payout, fence)` of those whose claim
/// held.
///
/// As in the SQLite backend: an attempt whose claim holds (fence
/// unchanged; the row is locked first) is stored with the claim's owner,
/// counts as an attempt and releases the claim; it moves the payout to its
/// outcome only when it is about the payout's current bill number and the
/// payout was not paid (a paid red packet may still go on to received or
/// refunded). A paid payout never goes back to an unpaid state.
static RECORD_SQL: LazyLock<String> = LazyLock::new(|| {
    let applies = format!(
        "(p.bill = h.bill AND (p.state NOT IN {PAID_STATES} \
         OR (p.state = 'paid' AND h.outcome IN {PAID_STATES})))"
    );
    format!(
        "WITH a AS (
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
                 $10::bigint[], $11::text[]) WITH ORDINALITY
                 AS a(id, fence, bill, action, outcome, err_code, wechat_id,
                      message, started_ms, finished_ms, next_step, n)
         ),
         h AS (
             SELECT a.*, p.owner FROM a JOIN payouts p ON p.id = a.id AND p.fence = a.fence
             FOR UPDATE OF p
         ),
         ins AS (
             INSERT INTO attempts(payout_id, fence, owner, bill, action, outcome,
                 err_code, wechat_id, message, started_ms, finished_ms, next_step)
             SELECT id, fence, owner, bill, action, outcome, err_code, wechat_id,
                 message, started_ms, finished_ms, next_step
             FROM h ORDER BY n
         )
         UPDATE payouts p SET
             state = CASE WHEN {applies} THEN h.outcome ELSE p.state END,
             err_code = CASE WHEN {applies} THEN h.err_code ELSE p.err_code END,
             message = CASE WHEN {applies} THEN h.message ELSE p.message END,
             next_step = CASE WHEN {applies} THEN h.next_step ELSE p.next_step END,
             wechat_id = CASE WHEN {applies} THEN COALESCE(h.wechat_id, p.wechat_id)
                 ELSE COALESCE(p.wechat_id, h.wechat_id) END,
             received_ms = CASE WHEN {applies} AND h.outcome = 'received'
                 THEN COALESCE(p.received_ms, h.finished_ms) ELSE p.received_ms END,
             refunded_ms = CASE WHEN {applies} AND h.outcome = 'refunded'
                 THEN COALESCE(p.refunded_ms, h.finished_ms) ELSE p.refunded_ms END,
             updated_ms = CASE WHEN {applies} THEN h.finished_ms ELSE p.updated_ms END,
             attempts = p.attempts + 1,
             owner = NULL,
             lease_until_ms = NULL
         FROM h
         WHERE p.id = h.id AND p.fence = h.fence
         RETURNING p.id, p.fence"
    )
});

/// The states a payout may be marked `sending` from (as in [`MARK_SQL`]'s
/// guard).
const SENDABLE_STATES: [&str; 4] = ["planned", "sending", "unknown", "not_paid"];

/// Locks the payouts to be marked, in id order (no deadlock between two
/// markers), and reads their fence and state.
const MARK_LOCK_SQL: &str =
    "SELECT id, fence, state FROM payouts WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// Stores each held payout's body (unless one is stored) and sets it
/// `sending`, all of them or, when one held payout is in a state that is
/// not sent again (the check [`mark_outcome`] makes of [`MARK_LOCK_SQL`]'s
/// rows, which are locked: nothing changes them in between), none.
const MARK_SQL: &str = "UPDATE payouts p
     SET body = COALESCE(p.body, c.body), state = 'sending', updated_ms = $4
     FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS c(id, fence, body)
     WHERE p.id = c.id AND p.fence = c.fence
       AND NOT EXISTS (
           SELECT 1 FROM payouts q JOIN unnest($1::bigint[], $2::bigint[]) AS d(id, fence)
               ON q.id = d.id AND q.fence = d.fence
           WHERE q.state NOT IN ('planned', 'sending', 'unknown', 'not_paid'))";

/// The parameters of one [`RECORD_SQL`] round.
struct RoundParams<'a> {
    ids: Vec<i64>,
    fences: Vec<i64>,
    bills: Vec<&'a str>,
    actions: Vec<&'a str>,
    outcomes: Vec<&'a str>,
    codes: Vec<Option<&'a str>>,
    wechat_ids: Vec<Option<&'a str>>,
    messages: Vec<Option<&'a str>>,
    started: Vec<i64>,
    finished: Vec<i64>,
    steps: Vec<Option<&'a str>>,
}

impl<'a> RoundParams<'a> {
    fn new(round: &[&'a AttemptRecord]) -> Self {
        let mut p = RoundParams {
            ids: Vec::with_capacity(round.len()),
            fences: Vec::with_capacity(round.len()),
            bills: Vec::with_capacity(round.len()),
            actions: Vec::with_capacity(round.len()),
            outcomes: Vec::with_capacity(round.len()),
            codes: Vec::with_capacity(round.len()),
            wechat_ids: Vec::with_capacity(round.len()),
            messages: Vec::with_capacity(round.len()),
            started: Vec::with_capacity(round.len()),
            finished: Vec::with_capacity(round.len()),
            steps: Vec::with_capacity(round.len()),
        };
        for a in round {
            p.ids.push(a.claim.payout);
            p.fences.push(a.claim.fence);
            p.bills.push(a.bill.as_str());
            p.actions.push(a.action.as_str());
            p.outcomes.push(a.outcome.as_str());
            p.codes.push(a.err_code.as_deref());
            p.wechat_ids.push(a.wechat_id.as_deref());
            p.messages.push(a.message.as_deref());
            p.started.push(a.started_ms);
            p.finished.push(a.finished_ms);
            p.steps.push(a.next_step.map(NextStep::as_str));
        }
        p
    }

    fn refs(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.ids,
            &self.fences,
            &self.bills,
            &self.actions,
            &self.outcomes,
            &self.codes,
            &self.wechat_ids,
            &self.messages,
            &self.started,
            &self.finished,
            &self.steps,
        ]
    }
}

/// A request of a pipeline: its rows.
type Request<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

/// Runs `requests` on one connection as a pipeline: each is polled once
/// in order first (tokio-postgres sends a request when first polled), so
/// they leave in this order, back to back, and the server answers them
/// one after the other: one round trip for all. Returns every result, in
/// order.
async fn pipeline(mut requests: Vec<Request<'_>>) -> Vec<Result<Vec<Row>, tokio_postgres::Error>> {
    let mut results: Vec<Option<Result<Vec<Row>, tokio_postgres::Error>>> =
        requests.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (request, result) in requests.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match request.as_mut().poll(cx) {
                    Poll::Ready(done) => *result = Some(done),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// What the locked rows say of the marks: `Ok(held)` per mark (`false`
/// for a lost claim), or [`LedgerError::WrongState`] when a held payout
/// may not be sent again (then [`MARK_SQL`] wrote nothing).
fn mark_outcome(marks: &[(Claim, Vec<u8>)], rows: &[Row]) -> Result<Vec<bool>, LedgerError> {
    let current: HashMap<i64, (i64, String)> = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?))))
        .collect::<Result<_, LedgerError>>()?;
    let mut held = Vec::with_capacity(marks.len());
    for (claim, _) in marks {
        match current.get(&claim.payout) {
            None => held.push(false),
            Some((fence, _)) if *fence != claim.fence => held.push(false),
            Some((_, state)) if !SENDABLE_STATES.contains(&state.as_str()) => {
                return Err(LedgerError::WrongState {
                    payout: claim.payout,
                    change: "marked sending",
                });
            }
            Some(_) => held.push(true),
        }
    }
    Ok(held)
}

/// Records `attempts`, then marks `marks` sending, in one transaction sent
/// as one pipeline (BEGIN, the record rounds, the locking read and the
/// update of the marks, COMMIT: one round trip, one commit, statements
/// prepared once per connection). Returns the records' results and the
/// marks' (a refused mark, [`LedgerError::WrongState`], writes nothing, and
/// the records are committed all the same). A database error commits
/// nothing.
async fn record_and_mark(
    conn: &mut pool::Conn<'_>,
    attempts: &[AttemptRecord],
    marks: &[(Claim, Vec<u8>)],
) -> Result<(Vec<bool>, Result<Vec<bool>, LedgerError>), LedgerError> {
    // Rounds: the k-th attempt of each payout in round k, so several
    // attempts of one payout apply in order, as one after the other.
    let mut rounds: Vec<Vec<&AttemptRecord>> = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for a in attempts {
        let k = seen.entry(a.claim.payout).or_insert(0);
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(a);
        *k += 1;
    }
    let record = if rounds.is_empty() {
        None
    } else {
        Some(conn.prepared(&RECORD_SQL).await?)
    };
    let mark = if marks.is_empty() {
        None
    } else {
        Some((
            conn.prepared(MARK_LOCK_SQL).await?,
            conn.prepared(MARK_SQL).await?,
        ))
    };
    let round_params: Vec<RoundParams<'_>> = rounds.iter().map(|r| RoundParams::new(r)).collect();
    let round_refs: Vec<[&(dyn ToSql + Sync); 11]> =
        round_params.iter().map(RoundParams::refs).collect();
    let ids: Vec<i64> = marks.iter().map(|(c, _)| c.payout).collect();
    let fences: Vec<i64> = marks.iter().map(|(c, _)| c.fence).collect();
    let bodies: Vec<&[u8]> = marks.iter().map(|(_, b)| b.as_slice()).collect();
    let now = now_ms();
    let mark_lock_params: [&(dyn ToSql + Sync); 1] = [&ids];
    let mark_params: [&(dyn ToSql + Sync); 4] = [&ids, &fences, &bodies, &now];

    // Until the transaction is over, a drop (the caller gave up) closes
    // the connection, which rolls back whatever was not committed.
    conn.discard();
    let client: &tokio_postgres::Client = conn;
    let mut requests: Vec<Request<'_>> = Vec::with_capacity(rounds.len() + 4);
    requests.push(Box::pin(async move {
        client.batch_execute("BEGIN").await.map(|()| Vec::new())
    }));
    if let Some(statement) = &record {
        for refs in &round_refs {
            requests.push(Box::pin(client.query(statement, refs)));
        }
    }
    if let Some((lock, update)) = &mark {
        requests.push(Box::pin(client.query(lock, &mark_lock_params)));
        requests.push(Box::pin(client.query(update, &mark_params)));
    }
    requests.push(Box::pin(async move {
        client.batch_execute("COMMIT").await.map(|()| Vec::new())
    }));
    let mut results = pipeline(requests).await.into_iter();
    // The first error is the cause (the statements after it fail because
    // the transaction is aborted; COMMIT then rolls it back).
    let mut recorded: HashSet<(i64, i64)> = HashSet::new();
    let mut next = || {
        results
            .next()
            .unwrap_or_else(|| Ok(Vec::new()))
            .map_err(LedgerError::from)
    };
    let _begun = next()?;
    for _ in &round_refs {
        for row in next()? {
            recorded.insert((row.try_get(0)?, row.try_get(1)?));
        }
    }
    let marked = if mark.is_some() {
        let locked = next()?;
        let _updated = next()?;
        mark_outcome(marks, &locked)
    } else {
        Ok(Vec::new())
    };
    let _committed = next()?;
    // Committed: the session is clean again.
    conn.keep();
    let recorded = attempts
        .iter()
        .map(|a| recorded.contains(&(a.claim.payout, a.claim.fence)))
        .collect();
    Ok((recorded, marked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_url_options_are_taken_out_and_decoded() {
        let (rest, root, size) = split_url(
            "postgres://u:secret@db:5433/x?sslmode=require&sslrootcert=%2Fetc%2Fca%20a.pem&pool_size=3",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:secret@db:5433/x?sslmode=require");
        assert_eq!(root.as_deref(), Some("/etc/ca a.pem"));
        assert_eq!(size, 3);
        assert!(split_url("postgres://db/x?pool_size=0").is_err());
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
        let config: tokio_postgres::Config = rest.parse().unwrap();
        let shown = describe(&config);
        assert_eq!(shown, "postgres://u@db:5433/x");
        assert!(!shown.contains("secret"));
    }
}
