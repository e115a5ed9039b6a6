//! Tests of the PostgreSQL backend against a real server: the one whose URL
//! is in `HONGBAO_TEST_PG_URL` (`cargo xtask pg -- cargo test -p
//! hongbao-ledger --features postgres` starts a throwaway one). Without it
//! the tests say so and pass, except under `CI=true`, where they fail: CI
//! always has a server (`cargo xtask ci` runs the tests under the pg helper).
//!
//! Each test works in a schema of its own ([`fresh_schema`], shared with
//! hongbao-cli's tests in `hongbao-testkit`), so they run in parallel.

mod store;

pub(crate) use hongbao_testkit::pg::fresh_schema;
