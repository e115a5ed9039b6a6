//! What the store benchmarks (`sqlite_store_bench`, `pg_store_bench`)
//! share: their command-line numbers, the N red-packet payouts they import,
//! the signed bodies they mark sending, the records of a group paid, and
//! the rates they print. Each benchmark keeps its own loop and timing.

use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, BillFactory, Claim, Claimed, NewPayout, PayoutState,
};
use hongbao_proto::{Amount, AnyRequest, BillNo, Endpoint, NextStep, OpenId, RedPacket};
use std::time::Duration;

/// The `index`th number among the arguments that are not `--flags`, else
/// `default`.
pub(crate) fn number(index: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The bill numbers of the benchmark's red packets.
pub(crate) fn bills() -> BillFactory {
    BillFactory::new("10000098", "", Endpoint::SendRedPacket)
}

/// The batch the payouts are imported into.
pub(crate) fn spec() -> BatchSpec {
    BatchSpec::new("bench", "bench.csv", "00", "red-packet")
}

/// Payout `i` of the batch: a red packet of 1.00 to 9.99 yuan under a new
/// bill number of `bills`, on line `i + 2`.
pub(crate) fn payout(bills: &BillFactory, i: usize) -> NewPayout {
    let bill = bills.generate().unwrap();
    let request: AnyRequest = RedPacket::builder(
        BillNo::new(&bill).unwrap(),
        OpenId::new(format!("oBench{i:08}")).unwrap(),
        Amount::from_fen(100 + (i as u64 % 900)),
    )
    .send_name("bench")
    .wishing("bench")
    .act_name("bench")
    .remark("bench")
    .client_ip("203.0.113.10")
    .build()
    .unwrap()
    .into();
    NewPayout::new(format!("bench/{i}"), &request, true)
        .unwrap()
        .in_batch("bench", i as u64 + 2)
}

/// The bodies `group` is marked sending with: as large as a signed
/// request (the stored request).
pub(crate) fn marks(group: &[Claimed]) -> Vec<(Claim, Vec<u8>)> {
    group
        .iter()
        .map(|c| (c.claim, c.payout.request_json.clone().into_bytes()))
        .collect()
}

/// The records of `group` paid now, each with the WeChat id `wechat_id`
/// gives its payout id.
pub(crate) fn paid(group: &[Claimed], wechat_id: impl Fn(i64) -> String) -> Vec<AttemptRecord> {
    let now = hongbao_ledger::now_ms();
    group
        .iter()
        .map(|c| {
            AttemptRecord::new(
                c.claim,
                c.payout.bill.clone(),
                AttemptAction::Send,
                PayoutState::Paid,
                now,
                now,
            )
            .with_wechat_id(Some(wechat_id(c.payout.id)))
            .with_next_step(Some(NextStep::Done))
        })
        .collect()
}

/// `n` payouts in `elapsed`: payouts per second.
pub(crate) fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// `elapsed` over `n` payouts, times `workers` working at once:
/// microseconds of ledger time per payout (per worker).
pub(crate) fn micros_per_payout(n: usize, elapsed: Duration, workers: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 * workers as f64 / n as f64
}

/// The CPU time (user and system) process `pid` (or `self`) has used, in
/// seconds, from `/proc/<pid>/stat` (Linux; 0 elsewhere). Unlike the wall
/// time, it hardly moves when other work shares the machine.
#[allow(dead_code)] // `pg_store_bench` measures the server's time too: wall time.
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The fields after the command name (which may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0)
}
