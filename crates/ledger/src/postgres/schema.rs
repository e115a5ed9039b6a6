//! The PostgreSQL schema, by version. The same logical schema as the
//! SQLite backend: the binding (`hongbao_meta`), batches, payouts (one row
//! per business payout, with its claim: `owner`, `lease_until_ms`,
//! `fence`), every bill number ever used (`bills`, so an abandoned number
//! is never reused), every attempt (with the fence and owner it was made
//! under) and the shared rates (`rates`: one GCRA "theoretical arrival
//! time" per rate).
//!
//! Migrations run in one transaction under an advisory lock, so processes
//! opening the same ledger at once apply each step exactly once.

/// The newest schema version.
pub(crate) const VERSION: u32 = 1;

/// `MIGRATIONS[n]` takes a ledger from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: [&str; VERSION as usize] = [V1];

/// Version 0 (empty) to 1.
const V1: &str = "
CREATE TABLE batches (
    name        text PRIMARY KEY,
    seq         bigserial NOT NULL,
    file_name   text NOT NULL,
    file_digest text NOT NULL,
    kind        text NOT NULL,
    created_ms  bigint NOT NULL
);
CREATE TABLE payouts (
    id             bigserial PRIMARY KEY,
    key            text NOT NULL UNIQUE,
    batch          text REFERENCES batches(name),
    line           bigint NOT NULL,
    openid         text NOT NULL,
    amount_fen     bigint NOT NULL CHECK (amount_fen >= 0),
    params         text NOT NULL,
    bill           text NOT NULL UNIQUE,
    state          text NOT NULL CHECK (state IN ('planned', 'sending', 'unknown', 'paid',
                       'not_paid', 'conflict', 'received', 'refunded')),
    request_json   text NOT NULL,
    body           bytea,
    wechat_id      text,
    err_code       text,
    message        text,
    attempts       integer NOT NULL DEFAULT 0,
    created_ms     bigint NOT NULL,
    updated_ms     bigint NOT NULL,
    next_step      text,
    generated      boolean NOT NULL,
    received_ms    bigint,
    refunded_ms    bigint,
    fence          bigint NOT NULL DEFAULT 0,
    owner          text,
    lease_until_ms bigint
);
CREATE INDEX payouts_state ON payouts(state, id);
CREATE INDEX payouts_batch ON payouts(batch, id);
CREATE INDEX payouts_payee ON payouts(openid, amount_fen);
CREATE TABLE bills (
    bill       text PRIMARY KEY,
    payout_id  bigint NOT NULL REFERENCES payouts(id),
    created_ms bigint NOT NULL
);
CREATE TABLE attempts (
    id          bigserial PRIMARY KEY,
    payout_id   bigint NOT NULL REFERENCES payouts(id),
    fence       bigint NOT NULL,
    owner       text,
    bill        text NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL,
    err_code    text,
    wechat_id   text,
    message     text,
    started_ms  bigint NOT NULL,
    finished_ms bigint NOT NULL,
    next_step   text
);
CREATE INDEX attempts_payout ON attempts(payout_id, id);
CREATE TABLE rates (
    name   text PRIMARY KEY,
    tat_us bigint NOT NULL
);
";
