//! The business rules of the protocol reference's limits, each configurable.
//!
//! Defaults are the published defaults. Every amount is in fen.

use serde::{Deserialize, Serialize};

/// Every business rule the sandbox enforces. `Option` fields are off when `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Red packets (normal, mini-program, WeCom): the smallest amount per
    /// packet without a `scene_id` (default 100 = 1 yuan). Below it without
    /// `scene_id`: `MONEY_LIMIT`, as above `red_packet_max_fen`. Group red
    /// packets apply the amount rules to the average per packet.
    pub red_packet_min_fen: u64,
    /// Red packets: the largest amount without a `scene_id` (default
    /// 20 000 = 200 yuan). Above it without `scene_id`: `MONEY_LIMIT`.
    pub red_packet_max_fen: u64,
    /// Red packets: the largest amount with a `scene_id` (default
    /// 499 900 = 4 999 yuan). Above it: `MONEY_LIMIT`. The range is set per
    /// merchant; WeCom red packets have no fixed ceiling of their own.
    pub red_packet_max_with_scene_fen: u64,
    /// Red packets: packets one user may receive per Beijing day
    /// (default 10). Above it: `SENDNUM_LIMIT`.
    pub red_packet_user_daily_count: u32,
    /// Red packets: amount one user may receive per Beijing day (default
    /// 100 000 = 1 000 yuan). Above it: `RCVDAMOUNT_LIMIT`.
    pub red_packet_user_daily_fen: u64,
    /// Red packets: the merchant's total per Beijing day (default
    /// 100 000 000 = 1 000 000 yuan). Above it: `SENDAMOUNT_LIMIT`.
    pub red_packet_merchant_daily_fen: u64,
    /// Red packets: sends per rolling minute (default 1 800). Above it:
    /// `SECOND_OVER_LIMITED` for cash red packets; WeCom red packets count
    /// against their own quota (this rate and the daily caps) and answer
    /// `FREQ_LIMIT`.
    pub red_packet_per_minute: u32,
    /// Red packets: refuse sends between 00:00 and 08:00 Beijing time with
    /// `TIME_LIMITED` (an older rule; off by default).
    pub red_packet_night_ban: bool,
    /// Pay to employee: the smallest payment (default 100 = 1 yuan). Below
    /// it: `AMOUNT_LIMIT`.
    pub employee_min_fen: u64,
    /// Pay to employee: the largest single payment (default 20 000 = 200
    /// yuan). Above it: `AMOUNT_LIMIT`.
    pub employee_single_max_fen: u64,
    /// Pay to employee: amount per employee per Beijing day (default 20 000).
    /// Above it: `MONEY_LIMIT` (**Choice**: the page names no code).
    pub employee_user_daily_fen: u64,
    /// Pay to employee: payments per employee per Beijing day (default 10).
    /// Above it: `SENDNUM_LIMIT`.
    pub employee_user_daily_count: u32,
    /// Pay to employee: the merchant's total per Beijing day (default
    /// 10 000 000 = 100 000 yuan). Above it: `MONEY_LIMIT` (**Choice**).
    pub employee_merchant_daily_fen: u64,
    /// Pay to employee and transfers: the shortest interval between two
    /// payments to the same user, in seconds (default 15; 0 turns it off). Closer:
    /// `FREQ_LIMIT` (**Choice**: the page names no code).
    pub same_user_interval_secs: u32,
    /// Transfers: the smallest payment (default 100). Below it: `AMOUNT_LIMIT`.
    pub transfer_min_fen: u64,
    /// Transfers: the largest single payment (default 500 000 = 5 000 yuan).
    /// Above it: `AMOUNT_LIMIT`.
    pub transfer_single_max_fen: u64,
    /// Transfers: amount per user per Beijing day (default 500 000). Above
    /// it: `MONEY_LIMIT`.
    pub transfer_user_daily_fen: u64,
    /// Transfers: payments per user per Beijing day (default 10). Above it:
    /// `SENDNUM_LIMIT`.
    pub transfer_user_daily_count: u32,
    /// Transfers: the merchant's total per Beijing day (default 10 000 000 =
    /// 100 000 yuan). Above it: `MONEY_LIMIT`.
    pub transfer_merchant_daily_fen: u64,
    /// Transfers: requests per second (default 100). Above it: `FREQ_LIMIT`.
    pub transfer_per_second: u32,
    /// Queries see only payments created in the last this many days
    /// (default 30); older ones answer `NOT_FOUND`.
    pub query_window_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            red_packet_min_fen: 100,
            red_packet_max_fen: 20_000,
            red_packet_max_with_scene_fen: 499_900,
            red_packet_user_daily_count: 10,
            red_packet_user_daily_fen: 100_000,
            red_packet_merchant_daily_fen: 100_000_000,
            red_packet_per_minute: 1_800,
            red_packet_night_ban: false,
            employee_min_fen: 100,
            employee_single_max_fen: 20_000,
            employee_user_daily_fen: 20_000,
            employee_user_daily_count: 10,
            employee_merchant_daily_fen: 10_000_000,
            same_user_interval_secs: 15,
            transfer_min_fen: 100,
            transfer_single_max_fen: 500_000,
            transfer_user_daily_fen: 500_000,
            transfer_user_daily_count: 10,
            transfer_merchant_daily_fen: 10_000_000,
            transfer_per_second: 100,
            query_window_days: 30,
        }
    }
}

impl Limits {
    /// Limits that never stop a test: every cap is at its maximum and every
    /// window rule is off (amount ranges still apply).
    pub fn unlimited() -> Self {
        Limits {
            red_packet_user_daily_count: u32::MAX,
            red_packet_user_daily_fen: u64::MAX,
            red_packet_merchant_daily_fen: u64::MAX,
            red_packet_per_minute: u32::MAX,
            red_packet_night_ban: false,
            employee_user_daily_fen: u64::MAX,
            employee_user_daily_count: u32::MAX,
            employee_merchant_daily_fen: u64::MAX,
            same_user_interval_secs: 0,
            transfer_user_daily_fen: u64::MAX,
            transfer_user_daily_count: u32::MAX,
            transfer_merchant_daily_fen: u64::MAX,
            transfer_per_second: u32::MAX,
            ..Limits::default()
        }
    }
}

/// How red packets progress after they are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Progression {
    /// Seconds after sending when the recipient opens the packet
    /// (`SENT` → `RECEIVED`); `None`: nobody opens, so packets are refunded.
    pub receive_after_secs: Option<u64>,
    /// Seconds after sending when an unopened packet starts its refund
    /// (`SENT` → `RFUND_ING`); default 86 400 (24 h).
    pub refund_after_secs: u64,
    /// Seconds the refund takes (`RFUND_ING` → `REFUND`, money back on the
    /// balance); default 3 600.
    pub refund_duration_secs: u64,
    /// Seconds a payment accepted with `PROCESSING` stays in progress
    /// (`SENDING` / `PROCESSING`) before it completes; default 60.
    pub processing_secs: u64,
}

impl Default for Progression {
    fn default() -> Self {
        Progression {
            receive_after_secs: Some(60),
            refund_after_secs: 86_400,
            refund_duration_secs: 3_600,
            processing_secs: 60,
        }
    }
}
