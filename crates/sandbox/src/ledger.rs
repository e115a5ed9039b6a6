//! The ledger: every payment, its status over time, the balance and the
//! counters behind the daily and rate limits.
//!
//! Statuses move on the sandbox clock. Transitions are kept in a queue
//! ordered by due time and applied lazily ([`Ledger::settle`]) before any
//! read or write, so a clock jump of a day settles a day's worth of
//! transitions at once and an idle sandbox costs nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use hongbao_proto::{Amount, Endpoint, ErrorCode, Family, RedPacketStatus, TransferStatus};
use serde::Serialize;

use crate::clock::{BeijingDate, Timestamp};
use crate::limits::Progression;

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentState {
    /// Accepted, not finished (`SENDING` / `PROCESSING`).
    InProgress,
    /// Paid (`SENT` for red packets, `SUCCESS` for payouts).
    Paid,
    /// A red packet the recipient opened (`RECEIVED`).
    Received,
    /// An unopened red packet whose money is going back (`RFUND_ING`).
    Refunding,
    /// An unopened red packet whose money is back on the balance (`REFUND`).
    Refunded,
    /// A definite failure: nothing was paid (`FAILED`).
    Failed,
}

impl PaymentState {
    /// The `status` WeChat's query reports for this state, per product line.
    pub fn wire_status(self, family: Family) -> WireStatus {
        use RedPacketStatus as R;
        use TransferStatus as T;
        let red_packet = matches!(family, Family::RedPacket | Family::WorkwxRedPacket);
        if red_packet {
            WireStatus::RedPacket(match self {
                PaymentState::InProgress => R::Sending,
                PaymentState::Paid => R::Sent,
                PaymentState::Received => R::Received,
                PaymentState::Refunding => R::RefundInProgress,
                PaymentState::Refunded => R::Refunded,
                PaymentState::Failed => R::Failed,
            })
        } else {
            WireStatus::Payout(match self {
                PaymentState::InProgress => T::Processing,
                // Payouts have no receive/refund steps; they stay paid.
                PaymentState::Paid
                | PaymentState::Received
                | PaymentState::Refunding
                | PaymentState::Refunded => T::Success,
                PaymentState::Failed => T::Failed,
            })
        }
    }

    /// Whether money left the merchant's balance (and has not come back).
    pub fn is_money_out(self) -> bool {
        matches!(
            self,
            PaymentState::InProgress
                | PaymentState::Paid
                | PaymentState::Received
                | PaymentState::Refunding
        )
    }
}

/// A query's `status`, typed by product line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireStatus {
    /// Red packets (`gethbinfo`, `queryworkwxredpack`).
    RedPacket(RedPacketStatus),
    /// Pay to employee and transfers (`querywwsptrans2pocket`, `gettransferinfo`).
    Payout(TransferStatus),
}

impl WireStatus {
    /// The wire value (`SENT`, `SUCCESS`, …).
    pub fn as_str(&self) -> &str {
        match self {
            WireStatus::RedPacket(s) => s.as_str(),
            WireStatus::Payout(s) => s.as_str(),
        }
    }
}

impl std::fmt::Display for WireStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One payment (or one definitively failed bill number) in the ledger.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The send endpoint that created it.
    pub endpoint: Endpoint,
    /// The merchant's bill number (`mch_billno` / `partner_trade_no`).
    pub bill: String,
    /// The payee.
    pub openid: String,
    /// The amount in fen.
    pub amount_fen: u64,
    /// Current state.
    pub state: PaymentState,
    /// How many requests named this bill number (the first included).
    pub times_requested: u32,
    /// When it was first accepted.
    pub created: Timestamp,
    /// When its state last changed (or it was last requested).
    pub updated: Timestamp,
    /// When it was paid (left `InProgress`).
    pub paid_at: Option<Timestamp>,
    /// When the recipient opened it (red packets).
    pub received_at: Option<Timestamp>,
    /// When the refund finished (red packets).
    pub refunded_at: Option<Timestamp>,
    /// WeChat's order id: `send_listid` (red packets) or `payment_no` (payouts).
    pub wechat_id: String,
    /// WeChat's internal id reported by queries (`detail_id`).
    pub detail_id: String,
    /// For a failed bill: the code and description every retry gets again.
    pub failure: Option<(ErrorCode, String)>,
    /// The business parameters of the first request (no nonce, no signatures),
    /// compared with every retry and used for query replies.
    pub params: BTreeMap<String, String>,
}

impl Payment {
    /// The product line (which query endpoint sees it).
    pub fn family(&self) -> Family {
        self.endpoint.spec().family
    }

    /// The status a query reports now.
    pub fn wire_status(&self) -> WireStatus {
        self.state.wire_status(self.family())
    }

    /// The amount as an [`Amount`].
    pub fn amount(&self) -> Amount {
        Amount::from_fen(self.amount_fen)
    }

    /// A business parameter of the original request, or "".
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

/// A JSON view of one payment, as `GET /_sandbox/ledger` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentView {
    /// The send endpoint's name (`sendredpack`, `transfers`, …).
    pub endpoint: String,
    /// The bill number.
    pub bill: String,
    /// The payee.
    pub openid: String,
    /// Amount in fen.
    pub amount_fen: u64,
    /// The status a query reports (`SENT`, `RECEIVED`, `SUCCESS`, `FAILED`, …).
    pub status: String,
    /// How many requests named this bill number.
    pub times_requested: u32,
    /// First accepted, Beijing time (RFC 3339).
    pub created: String,
    /// Last change, Beijing time (RFC 3339).
    pub updated: String,
    /// `send_listid` / `payment_no` (empty for a failed bill).
    pub wechat_id: String,
    /// `detail_id` as queries report it.
    pub detail_id: String,
    /// For a failed bill: the error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        PaymentView {
            endpoint: p.endpoint.name().to_owned(),
            bill: p.bill.clone(),
            openid: p.openid.clone(),
            amount_fen: p.amount_fen,
            status: p.wire_status().to_string(),
            times_requested: p.times_requested,
            created: p.created.rfc3339_beijing(),
            updated: p.updated.rfc3339_beijing(),
            wechat_id: p.wechat_id.clone(),
            detail_id: p.detail_id.clone(),
            failure_code: p.failure.as_ref().map(|(code, _)| code.to_string()),
        }
    }
}

/// Which quotas a payment counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Quota {
    RedPacket,
    /// WeCom red packets: their own per-minute and daily counters, not the
    /// cash red packets' ones.
    WorkwxRedPacket,
    PayEmployee,
    Transfer,
}

impl Quota {
    pub(crate) fn of(family: Family) -> Option<Quota> {
        match family {
            Family::RedPacket => Some(Quota::RedPacket),
            Family::WorkwxRedPacket => Some(Quota::WorkwxRedPacket),
            Family::PayEmployee => Some(Quota::PayEmployee),
            Family::Transfer => Some(Quota::Transfer),
            _ => None,
        }
    }
}

/// Count and amount accumulated for one key on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) count: u32,
    pub(crate) fen: u64,
}

/// A new payment to record.
#[derive(Debug, Clone)]
pub(crate) struct NewPayment {
    pub(crate) endpoint: Endpoint,
    pub(crate) bill: String,
    pub(crate) openid: String,
    pub(crate) amount_fen: u64,
    pub(crate) params: BTreeMap<String, String>,
    /// Accepted as in progress (the `PROCESSING` fault) rather than paid.
    pub(crate) in_progress: bool,
}

/// The ledger and the balance.
#[derive(Debug)]
pub(crate) struct Ledger {
    payments: Vec<Payment>,
    index: HashMap<(Family, String), usize>,
    due: BTreeSet<(Timestamp, usize)>,
    balance_fen: u64,
    user_daily: HashMap<(Quota, String, BeijingDate), Tally>,
    merchant_daily: HashMap<(Quota, BeijingDate), Tally>,
    recent: HashMap<Quota, VecDeque<Timestamp>>,
    last_paid: HashMap<(Quota, String), Timestamp>,
    seq: u64,
}

impl Ledger {
    pub(crate) fn new(balance_fen: u64) -> Self {
        Ledger {
            payments: Vec::new(),
            index: HashMap::new(),
            due: BTreeSet::new(),
            balance_fen,
            user_daily: HashMap::new(),
            merchant_daily: HashMap::new(),
            recent: HashMap::new(),
            last_paid: HashMap::new(),
            seq: 0,
        }
    }

    pub(crate) fn balance_fen(&self) -> u64 {
        self.balance_fen
    }

    pub(crate) fn set_balance_fen(&mut self, fen: u64) {
        self.balance_fen = fen;
    }

    pub(crate) fn payments(&self) -> &[Payment] {
        &self.payments
    }

    pub(crate) fn find(&self, family: Family, bill: &str) -> Option<&Payment> {
        self.index
            .get(&(family, bill.to_owned()))
            .and_then(|i| self.payments.get(*i))
    }

    pub(crate) fn find_mut(&mut self, family: Family, bill: &str) -> Option<&mut Payment> {
        match self.index.get(&(family, bill.to_owned())) {
            Some(i) => self.payments.get_mut(*i),
            None => None,
        }
    }

    pub(crate) fn user_tally(&self, quota: Quota, openid: &str, date: BeijingDate) -> Tally {
        self.user_daily
            .get(&(quota, openid.to_owned(), date))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn merchant_tally(&self, quota: Quota, date: BeijingDate) -> Tally {
        self.merchant_daily
            .get(&(quota, date))
            .copied()
            .unwrap_or_default()
    }

    /// Payments of `quota` accepted in the `window_millis` before `now`.
    pub(crate) fn recent_count(
        &mut self,
        quota: Quota,
        now: Timestamp,
        window_millis: i64,
    ) -> usize {
        let queue = self.recent.entry(quota).or_default();
        let horizon = now.add_millis(-window_millis);
        while queue.front().is_some_and(|t| *t <= horizon) {
            queue.pop_front();
        }
        queue.len()
    }

    pub(crate) fn last_paid(&self, quota: Quota, openid: &str) -> Option<Timestamp> {
        self.last_paid.get(&(quota, openid.to_owned())).copied()
    }

    fn next_id(&mut self, prefix: &str, now: Timestamp, digits: usize) -> String {
        self.seq += 1;
        format!(
            "{prefix}{}{:0width$}",
            now.beijing_yyyymmdd(),
            self.seq,
            width = digits
        )
    }

    /// Records a paid (or in-progress) payment: debits the balance, counts
    /// it against the quotas and schedules its next status change. The
    /// caller has checked the balance and every limit.
    pub(crate) fn commit(
        &mut self,
        new: NewPayment,
        now: Timestamp,
        progression: &Progression,
    ) -> &Payment {
        let family = new.endpoint.spec().family;
        let (wechat_id, detail_id) = match family {
            Family::RedPacket | Family::WorkwxRedPacket => {
                let id = self.next_id("1000041701", now, 10);
                (id.clone(), id)
            }
            Family::PayEmployee => (
                self.next_id("1000018301", now, 10),
                self.next_id("1000000000", now, 10),
            ),
            _ => (
                self.next_id("1010011610", now, 14),
                self.next_id("1000000000", now, 10),
            ),
        };
        self.balance_fen = self.balance_fen.saturating_sub(new.amount_fen);
        if let Some(quota) = Quota::of(family) {
            let date = now.beijing_date();
            let user = self
                .user_daily
                .entry((quota, new.openid.clone(), date))
                .or_default();
            user.count = user.count.saturating_add(1);
            user.fen = user.fen.saturating_add(new.amount_fen);
            let merchant = self.merchant_daily.entry((quota, date)).or_default();
            merchant.count = merchant.count.saturating_add(1);
            merchant.fen = merchant.fen.saturating_add(new.amount_fen);
            self.recent.entry(quota).or_default().push_back(now);
            self.last_paid.insert((quota, new.openid.clone()), now);
        }
        let state = if new.in_progress {
            PaymentState::InProgress
        } else {
            PaymentState::Paid
        };
        let payment = Payment {
            endpoint: new.endpoint,
            bill: new.bill,
            openid: new.openid,
            amount_fen: new.amount_fen,
            state,
            times_requested: 1,
            created: now,
            updated: now,
            paid_at: (!new.in_progress).then_some(now),
            received_at: None,
            refunded_at: None,
            wechat_id,
            detail_id,
            failure: None,
            params: new.params,
        };
        let index = self.insert(payment);
        self.schedule(index, progression);
        &self.payments[index]
    }

    /// Records a bill number that failed definitively: every retry of it
    /// gets the same code, and queries report `FAILED`.
    pub(crate) fn record_failure(
        &mut self,
        new: NewPayment,
        failure: (ErrorCode, String),
        now: Timestamp,
    ) -> &Payment {
        let detail_id = self.next_id("1000000000", now, 10);
        let payment = Payment {
            endpoint: new.endpoint,
            bill: new.bill,
            openid: new.openid,
            amount_fen: new.amount_fen,
            state: PaymentState::Failed,
            times_requested: 1,
            created: now,
            updated: now,
            paid_at: None,
            received_at: None,
            refunded_at: None,
            wechat_id: String::new(),
            detail_id,
            failure: Some(failure),
            params: new.params,
        };
        let index = self.insert(payment);
        &self.payments[index]
    }

    fn insert(&mut self, payment: Payment) -> usize {
        let index = self.payments.len();
        self.index
            .insert((payment.family(), payment.bill.clone()), index);
        self.payments.push(payment);
        index
    }

    /// Queues the next transition of payment `index`, if it has one.
    fn schedule(&mut self, index: usize, progression: &Progression) {
        let Some(p) = self.payments.get(index) else {
            return;
        };
        let red_packet = matches!(p.family(), Family::RedPacket | Family::WorkwxRedPacket);
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        let next = match p.state {
            PaymentState::InProgress => Some(p.updated.add_secs(secs(progression.processing_secs))),
            PaymentState::Paid if red_packet => {
                let paid = p.paid_at.unwrap_or(p.updated);
                match progression.receive_after_secs {
                    Some(r) if r < progression.refund_after_secs => Some(paid.add_secs(secs(r))),
                    _ => Some(paid.add_secs(secs(progression.refund_after_secs))),
                }
            }
            PaymentState::Refunding => {
                Some(p.updated.add_secs(secs(progression.refund_duration_secs)))
            }
            _ => None,
        };
        if let Some(at) = next {
            self.due.insert((at, index));
        }
    }

    /// Applies every transition due at or before `now`, in time order.
    pub(crate) fn settle(&mut self, now: Timestamp, progression: &Progression) {
        while let Some(&(at, index)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            let Some(p) = self.payments.get_mut(index) else {
                continue;
            };
            let red_packet = matches!(p.family(), Family::RedPacket | Family::WorkwxRedPacket);
            match p.state {
                PaymentState::InProgress => {
                    p.state = PaymentState::Paid;
                    p.paid_at = Some(at);
                }
                PaymentState::Paid if red_packet => {
                    let paid = p.paid_at.unwrap_or(p.created);
                    let opened = progression
                        .receive_after_secs
                        .is_some_and(|r| r < progression.refund_after_secs)
                        && at
                            < paid.add_secs(
                                i64::try_from(progression.refund_after_secs).unwrap_or(i64::MAX),
                            );
                    if opened {
                        p.state = PaymentState::Received;
                        p.received_at = Some(at);
                    } else {
                        p.state = PaymentState::Refunding;
                    }
                }
                PaymentState::Refunding => {
                    p.state = PaymentState::Refunded;
                    p.refunded_at = Some(at);
                    self.balance_fen = self.balance_fen.saturating_add(p.amount_fen);
                }
                _ => continue,
            }
            p.updated = at;
            self.schedule(index, progression);
        }
    }

    /// Notes one more request for an existing bill number.
    pub(crate) fn note_request(&mut self, family: Family, bill: &str, now: Timestamp) {
        if let Some(p) = self.find_mut(family, bill) {
            p.times_requested = p.times_requested.saturating_add(1);
            p.updated = p.updated.max(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Timestamp {
        Timestamp::from_unix_secs(1_707_530_400)
    }

    fn new_packet(bill: &str, fen: u64) -> NewPayment {
        NewPayment {
            endpoint: Endpoint::SendRedPacket,
            bill: bill.into(),
            openid: "oUser1".into(),
            amount_fen: fen,
            params: BTreeMap::new(),
            in_progress: false,
        }
    }

    #[test]
    fn red_packet_is_received_after_the_delay() {
        let progression = Progression::default();
        let mut ledger = Ledger::new(10_000);
        let id = ledger
            .commit(new_packet("b1", 1_000), start(), &progression)
            .wechat_id
            .clone();
        assert_eq!(id, "1000041701202402100000000001");
        assert_eq!(ledger.balance_fen(), 9_000);
        ledger.settle(start().add_secs(59), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::Sent))
        );
        ledger.settle(start().add_secs(60), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::Received))
        );
        ledger.settle(start().add_secs(200_000), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::Received))
        );
        assert_eq!(ledger.balance_fen(), 9_000);
    }

    #[test]
    fn unopened_red_packet_is_refunded() {
        let progression = Progression {
            receive_after_secs: None,
            ..Progression::default()
        };
        let mut ledger = Ledger::new(10_000);
        ledger.commit(new_packet("b1", 1_000), start(), &progression);
        ledger.settle(start().add_secs(86_399), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::Sent))
        );
        ledger.settle(start().add_secs(86_400), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::RefundInProgress))
        );
        assert_eq!(ledger.balance_fen(), 9_000);
        // One jump settles both steps.
        ledger.settle(start().add_secs(86_400 + 3_600), &progression);
        assert_eq!(
            ledger
                .find(Family::RedPacket, "b1")
                .map(Payment::wire_status),
            Some(WireStatus::RedPacket(RedPacketStatus::Refunded))
        );
        assert_eq!(ledger.balance_fen(), 10_000);
    }

    #[test]
    fn in_progress_payout_completes() {
        let progression = Progression::default();
        let mut ledger = Ledger::new(10_000);
        let mut new = new_packet("t1", 500);
        new.endpoint = Endpoint::Transfer;
        new.in_progress = true;
        ledger.commit(new, start(), &progression);
        assert_eq!(
            ledger
                .find(Family::Transfer, "t1")
                .map(Payment::wire_status),
            Some(WireStatus::Payout(TransferStatus::Processing))
        );
        ledger.settle(start().add_secs(60), &progression);
        assert_eq!(
            ledger
                .find(Family::Transfer, "t1")
                .map(Payment::wire_status),
            Some(WireStatus::Payout(TransferStatus::Success))
        );
        assert!(ledger.find(Family::RedPacket, "t1").is_none());
    }

    #[test]
    fn quotas_count_per_beijing_day() {
        let progression = Progression::default();
        let mut ledger = Ledger::new(1_000_000);
        ledger.commit(new_packet("b1", 100), start(), &progression);
        ledger.commit(new_packet("b2", 200), start().add_secs(30), &progression);
        let today = start().beijing_date();
        let tally = ledger.user_tally(Quota::RedPacket, "oUser1", today);
        assert_eq!((tally.count, tally.fen), (2, 300));
        assert_eq!(ledger.merchant_tally(Quota::RedPacket, today).fen, 300);
        let tomorrow = start().add_secs(86_400).beijing_date();
        assert_eq!(
            ledger
                .user_tally(Quota::RedPacket, "oUser1", tomorrow)
                .count,
            0
        );
        assert_eq!(
            ledger.recent_count(Quota::RedPacket, start().add_secs(59), 60_000),
            2
        );
        assert_eq!(
            ledger.recent_count(Quota::RedPacket, start().add_secs(61), 60_000),
            1
        );
    }
}
