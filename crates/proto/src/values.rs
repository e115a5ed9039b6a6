//! Validated value types: bill numbers, amounts, ids and the small enumerations.
//!
//! Identifiers validate on construction (`new`, `FromStr`, serde) and name the
//! field in their [`Violation`]. Enumerations parsed from replies keep unknown
//! values as `Unknown(String)` instead of failing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::{Rule, Violation};

macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn check_id(
    field: &'static str,
    value: &str,
    max: usize,
    allowed: fn(u8) -> bool,
    charset: &'static str,
) -> Result<(), Violation> {
    if value.is_empty() {
        return Err(Violation::new(field, Rule::Required, None));
    }
    if !value.bytes().all(allowed) {
        return Err(Violation::new(
            field,
            Rule::Charset(charset),
            Some(value.into()),
        ));
    }
    if value.len() > max {
        return Err(Violation::new(
            field,
            Rule::MaxChars(max),
            Some(value.into()),
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr, $allowed:expr, $charset:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The longest value allowed, in characters.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, Violation> {
                let value = value.into();
                check_id($field, &value, $max, $allowed, $charset)?;
                Ok($name(value))
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as a `String`.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Violation;
            fn from_str(s: &str) -> Result<Self, Violation> {
                $name::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        serde_via_str!($name);
    };
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn openid_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

id_type!(
    /// A red packet bill number (`mch_billno`): 1–28 ASCII letters and digits,
    /// unique per merchant. Reusing it with the same parameters never pays twice.
    BillNo, "mch_billno", 28, alnum, "ASCII letters and digits"
);

id_type!(
    /// A transfer / pay-to-employee order number (`partner_trade_no`): 1–32
    /// ASCII letters and digits, unique per merchant.
    TradeNo, "partner_trade_no", 32, alnum, "ASCII letters and digits"
);

id_type!(
    /// A user's openid: 1–64 characters of `[A-Za-z0-9_-]`. Red packet
    /// endpoints allow at most 32 (checked by their `validate`), transfers and
    /// pay-to-employee 64.
    OpenId, "openid", 64, openid_byte, "ASCII letters, digits, '_' and '-'"
);

id_type!(
    /// The request nonce (`nonce_str`): 1–32 ASCII letters and digits. It
    /// enters both signatures; draw it at random for every new request.
    NonceStr, "nonce_str", 32, alnum, "ASCII letters and digits"
);

impl NonceStr {
    /// A 32-character nonce made from 32 random bytes (each byte picks one of
    /// the 62 letters and digits). The caller supplies the randomness; this
    /// crate draws none.
    pub fn from_random_bytes(bytes: [u8; 32]) -> NonceStr {
        const ALPHABET: &[u8; 62] =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let s: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        NonceStr(s)
    }
}

/// A calendar date, used to generate bill numbers (`yyyymmdd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Date {
    /// Year, 1000–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31 (checked against the month and leap years).
    pub day: u8,
}

impl Date {
    /// A date, checked for validity.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, Violation> {
        let date = Date { year, month, day };
        if date.is_valid() {
            Ok(date)
        } else {
            Err(Violation::new("date", Rule::Date, Some(date.to_string())))
        }
    }

    /// The date `days` days after 1970-01-01 (before it when negative), in
    /// the proleptic Gregorian calendar; a violation of field `date` when the
    /// year is outside 1000–9999. Pure: the caller reads the clock.
    ///
    /// ```
    /// use hongbao_proto::Date;
    /// assert_eq!(Date::from_unix_days(19_782)?, Date::new(2024, 2, 29)?);
    /// # Ok::<(), hongbao_proto::Violation>(())
    /// ```
    pub fn from_unix_days(days: i64) -> Result<Date, Violation> {
        let (year, month, day) = civil_from_unix_days(days);
        match u16::try_from(year) {
            Ok(year) => Date::new(year, month, day),
            Err(_) => Err(Violation::new(
                "date",
                Rule::Date,
                Some(format!("{year:04}{month:02}{day:02}")),
            )),
        }
    }

    /// The Beijing (UTC+8, no daylight saving) calendar date of a Unix time
    /// in seconds: the date bill numbers carry. Errors as
    /// [`Date::from_unix_days`].
    ///
    /// ```
    /// use hongbao_proto::Date;
    /// // 2024-02-09T16:00:00Z is midnight of 2024-02-10 in Beijing.
    /// assert_eq!(Date::beijing_from_unix_seconds(1_707_494_400)?, Date::new(2024, 2, 10)?);
    /// # Ok::<(), hongbao_proto::Violation>(())
    /// ```
    pub fn beijing_from_unix_seconds(secs: i64) -> Result<Date, Violation> {
        Date::from_unix_days(
            secs.saturating_add(BEIJING_OFFSET_SECS)
                .div_euclid(SECS_PER_DAY),
        )
    }

    /// Whether the fields form a real calendar date between years 1000 and 9999.
    pub fn is_valid(&self) -> bool {
        let leap = (self.year.is_multiple_of(4) && !self.year.is_multiple_of(100))
            || self.year.is_multiple_of(400);
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1000..=9999).contains(&self.year) && (1..=days).contains(&self.day)
    }
}

/// Beijing time is UTC+8 all year.
const BEIJING_OFFSET_SECS: i64 = 8 * 3600;
const SECS_PER_DAY: i64 = 86_400;

/// The proleptic Gregorian date `(year, month 1–12, day 1–31)` that is `days`
/// days after 1970-01-01 (before it when negative), for any year; see
/// [`Date::from_unix_days`] for a checked [`Date`]. Howard Hinnant's
/// `civil_from_days` algorithm; `days` must stay within ±2^62. Private to
/// proto: the sandbox and the CLI read the calendar with jiff.
pub(crate) fn civil_from_unix_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // By construction day is 1..=31 and month 1..=12.
    (
        year,
        u8::try_from(month).unwrap_or(u8::MAX),
        u8::try_from(day).unwrap_or(u8::MAX),
    )
}

impl fmt::Display for Date {
    /// `yyyymmdd`, the layout used inside bill numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// The largest daily sequence number that fits the 10-digit layout.
pub const MAX_DAILY_SEQUENCE: u64 = 9_999_999_999;

fn generate(
    field: &'static str,
    max: usize,
    mch_id: &str,
    date: Date,
    seq: u64,
) -> Result<String, Violation> {
    check_id("mch_id", mch_id, 32, alnum, "ASCII letters and digits")?;
    if !date.is_valid() {
        return Err(Violation::new("date", Rule::Date, Some(date.to_string())));
    }
    if seq > MAX_DAILY_SEQUENCE {
        return Err(Violation::new(
            "sequence",
            Rule::Range {
                min: 0,
                max: MAX_DAILY_SEQUENCE,
            },
            Some(seq.to_string()),
        ));
    }
    let value = format!("{mch_id}{date}{seq:010}");
    if value.len() > max {
        return Err(Violation::new(field, Rule::MaxChars(max), Some(value)));
    }
    Ok(value)
}

/// The fewest random characters [`BillNo::random`] and [`TradeNo::random`]
/// accept after the date and the prefix: 6 base-62 characters, 35 bits.
pub const MIN_RANDOM_CHARS: usize = 6;

/// The characters of a random bill-number tail: digits and ASCII letters,
/// all allowed in `mch_billno` and `partner_trade_no`.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn generate_random(
    field: &'static str,
    max: usize,
    mch_id: &str,
    date: Date,
    prefix: &str,
    entropy: u128,
) -> Result<String, Violation> {
    check_id("mch_id", mch_id, 32, alnum, "ASCII letters and digits")?;
    if !prefix.is_empty() {
        check_id("bill_prefix", prefix, 16, alnum, "ASCII letters and digits")?;
    }
    if !date.is_valid() {
        return Err(Violation::new("date", Rule::Date, Some(date.to_string())));
    }
    let fixed = mch_id.len() + 8 + prefix.len();
    let room = max.saturating_sub(fixed);
    if room < MIN_RANDOM_CHARS {
        return Err(Violation::new(
            field,
            Rule::MaxChars(max),
            Some(format!(
                "{mch_id}{date}{prefix} leaves {room} random characters; at least {MIN_RANDOM_CHARS} are needed (shorten bill_prefix)"
            )),
        ));
    }
    let mut value = String::with_capacity(max);
    value.push_str(mch_id);
    value.push_str(&date.to_string());
    value.push_str(prefix);
    // u128 holds 21 base-62 digits; the longest tail is 32 - 8 - 1 = 23
    // characters, so the rest is filled from a second pass over the bits.
    let mut bits = entropy;
    for i in 0..room {
        if i == 21 {
            bits = entropy.rotate_left(61) ^ 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834;
        }
        value.push(char::from(BASE62[(bits % 62) as usize]));
        bits /= 62;
    }
    Ok(value)
}

impl BillNo {
    /// A bill number that no other system of the merchant is likely to
    /// draw: `mch_id + yyyymmdd + prefix + random`, the random tail filling
    /// the 28 characters with base-62 characters from `entropy` (10 random
    /// characters, about 59 bits, for a 10-digit `mch_id` and no prefix).
    ///
    /// `prefix` (`bill_prefix`, 0–16 ASCII letters and digits) is a namespace
    /// per system sharing the merchant. Pure: pass 128 random bits. Fails
    /// when fewer than [`MIN_RANDOM_CHARS`] random characters would be left.
    pub fn random(
        mch_id: &str,
        date: Date,
        prefix: &str,
        entropy: u128,
    ) -> Result<BillNo, Violation> {
        generate_random("mch_billno", Self::MAX_LEN, mch_id, date, prefix, entropy).map(BillNo)
    }

    /// The documented layout `mch_id + yyyymmdd + 10-digit daily sequence`
    /// (e.g. `10000098` + `20240210` + `0000000017`). Pure: the date and the
    /// sequence come from the caller, who must never hand out a sequence
    /// twice on the same day. Fails if the result would exceed 28 characters
    /// (an `mch_id` longer than 10 characters) or the sequence needs more than
    /// 10 digits.
    pub fn generate(mch_id: &str, date: Date, seq: u64) -> Result<BillNo, Violation> {
        generate("mch_billno", Self::MAX_LEN, mch_id, date, seq).map(BillNo)
    }
}

impl TradeNo {
    /// The layout of [`BillNo::random`] within 32 characters (14 random
    /// characters, about 83 bits, for a 10-digit `mch_id` and no prefix).
    pub fn random(
        mch_id: &str,
        date: Date,
        prefix: &str,
        entropy: u128,
    ) -> Result<TradeNo, Violation> {
        generate_random(
            "partner_trade_no",
            Self::MAX_LEN,
            mch_id,
            date,
            prefix,
            entropy,
        )
        .map(TradeNo)
    }

    /// The same layout as [`BillNo::generate`], limited to 32 characters.
    pub fn generate(mch_id: &str, date: Date, seq: u64) -> Result<TradeNo, Violation> {
        generate("partner_trade_no", Self::MAX_LEN, mch_id, date, seq).map(TradeNo)
    }
}

/// A sum of money in fen (1 yuan = 100 fen), the unit of every amount field.
///
/// Displayed as yuan with two decimals (`12.34`); [`Amount::parse_yuan`]
/// parses yuan exactly, with integer arithmetic only. Serialized (serde) as
/// the integer number of **fen**, like the wire format; `FromStr` parses yuan,
/// the inverse of `Display`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount(u64);

/// Why a yuan amount could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not an amount in yuan: expected digits with at most two decimals, such as 12.34"
)]
#[non_exhaustive]
pub struct AmountError {
    /// The rejected input.
    pub input: String,
}

impl Amount {
    /// An amount of `fen` fen.
    pub const fn from_fen(fen: u64) -> Amount {
        Amount(fen)
    }

    /// An amount of whole yuan, if it does not overflow.
    pub const fn from_yuan(yuan: u64) -> Option<Amount> {
        match yuan.checked_mul(100) {
            Some(fen) => Some(Amount(fen)),
            None => None,
        }
    }

    /// The amount in fen.
    pub const fn fen(self) -> u64 {
        self.0
    }

    /// Parses an amount in fen as the wire writes it (`total_amount`,
    /// `amount`, …): decimal digits only, no sign, no spaces.
    ///
    /// ```
    /// # use hongbao_proto::Amount;
    /// assert_eq!(Amount::parse_fen("1000").map(Amount::fen), Ok(1000));
    /// assert!(Amount::parse_fen("10.00").is_err());
    /// ```
    pub fn parse_fen(s: &str) -> Result<Amount, AmountError> {
        parse_uint(s)
            .map(Amount)
            .ok_or_else(|| AmountError { input: s.into() })
    }

    /// Parses yuan written as digits with an optional `.` and one or two
    /// decimals: `12`, `12.3`, `12.34`, `0.01`. No sign, no spaces, no
    /// exponent, no thousands separators; never goes through floating point.
    pub fn parse_yuan(s: &str) -> Result<Amount, AmountError> {
        let err = || AmountError { input: s.into() };
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let mut fen: u64 = 0;
        for b in whole.bytes() {
            fen = fen
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(err)?;
        }
        fen = fen.checked_mul(100).ok_or_else(err)?;
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            let mut cents = 0u64;
            for b in frac.bytes() {
                cents = cents * 10 + u64::from(b - b'0');
            }
            if frac.len() == 1 {
                cents *= 10;
            }
            fen = fen.checked_add(cents).ok_or_else(err)?;
        }
        Ok(Amount(fen))
    }
}

impl fmt::Display for Amount {
    /// Yuan with exactly two decimals: `10.00`, `0.01`, `200.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    /// Parses yuan, as [`Amount::parse_yuan`].
    fn from_str(s: &str) -> Result<Self, AmountError> {
        Amount::parse_yuan(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Integer fen, or a string of decimal digits (fen).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount in fen (non-negative integer)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                u64::try_from(v)
                    .map(Amount)
                    .map_err(|_| E::custom("an amount cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                parse_uint(v)
                    .map(Amount)
                    .ok_or_else(|| E::custom(format!("{v:?} is not an amount in fen")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Strict non-negative decimal integer: digits only, no sign, no spaces.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

macro_rules! closed_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire strings, in documentation order.
            pub const WIRE: &'static [&'static str] = &[$($wire),+];

            /// The wire value.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Violation;
            fn from_str(s: &str) -> Result<Self, Violation> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(Violation::new($field, Rule::OneOf(Self::WIRE), Some(s.into()))),
                }
            }
        }

        serde_via_str!($name);
    };
}

closed_enum!(
    /// `check_name` of transfers and pay-to-employee.
    CheckName, "check_name" {
        /// `NO_CHECK`: do not verify the payee's real name.
        NoCheck => "NO_CHECK",
        /// `FORCE_CHECK`: verify it; `re_user_name` becomes required.
        ForceCheck => "FORCE_CHECK",
    }
);

closed_enum!(
    /// `ww_msg_type` of WeCom pay-to-employee.
    MsgType, "ww_msg_type" {
        /// `NORMAL_MSG`: a plain payment message.
        NormalMsg => "NORMAL_MSG",
        /// `APPROVAL_MSG`: an approval payment message; needs
        /// `approval_number` and `approval_type = 1`.
        ApprovalMsg => "APPROVAL_MSG",
    }
);

closed_enum!(
    /// `amt_type` of group red packets.
    AmtType, "amt_type" {
        /// `ALL_RAND`: WeChat Pay splits the total randomly (the only value).
        AllRand => "ALL_RAND",
    }
);

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as received.
            Unknown(String),
        }

        impl $name {
            /// The documented wire strings.
            pub const WIRE: &'static [&'static str] = &[$($wire),+];

            /// Parses a wire value; unknown values become `Unknown`, never an error.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(s) => s,
                }
            }

            /// Whether this is a documented value.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::parse(s))
            }
        }

        serde_via_str!($name);
    };
}

open_enum!(
    /// `scene_id`: the usage scene of a red packet. Required when a packet is
    /// outside 1–200 yuan. Requests accept only `PRODUCT_1`…`PRODUCT_8`
    /// (validation rejects `Unknown`); replies keep any value.
    SceneId {
        /// `PRODUCT_1`: product promotion.
        Product1 => "PRODUCT_1",
        /// `PRODUCT_2`: lucky draw.
        Product2 => "PRODUCT_2",
        /// `PRODUCT_3`: virtual-goods prize redemption.
        Product3 => "PRODUCT_3",
        /// `PRODUCT_4`: company internal welfare.
        Product4 => "PRODUCT_4",
        /// `PRODUCT_5`: channel profit sharing.
        Product5 => "PRODUCT_5",
        /// `PRODUCT_6`: insurance rebate.
        Product6 => "PRODUCT_6",
        /// `PRODUCT_7`: lottery prize payout.
        Product7 => "PRODUCT_7",
        /// `PRODUCT_8`: tax-receipt scratch prize.
        Product8 => "PRODUCT_8",
    }
);

open_enum!(
    /// Red packet `status` from `gethbinfo` / `queryworkwxredpack`.
    RedPacketStatus {
        /// `SENDING`: in progress (outcome unknown).
        Sending => "SENDING",
        /// `SENT`: sent, waiting for the user (money left the merchant).
        Sent => "SENT",
        /// `FAILED`: sending failed; a new bill number is allowed.
        Failed => "FAILED",
        /// `RECEIVED`: opened by the user.
        Received => "RECEIVED",
        /// `RFUND_ING` (sic): unclaimed, refund in progress.
        RefundInProgress => "RFUND_ING",
        /// `REFUND`: unclaimed money refunded to the merchant.
        Refunded => "REFUND",
    }
);

open_enum!(
    /// Transfer / pay-to-employee `status` from `gettransferinfo` /
    /// `querywwsptrans2pocket`.
    TransferStatus {
        /// `SUCCESS`: paid.
        Success => "SUCCESS",
        /// `FAILED`: failed; a new order number is allowed.
        Failed => "FAILED",
        /// `PROCESSING`: in progress (outcome unknown).
        Processing => "PROCESSING",
    }
);

open_enum!(
    /// `send_type` of a red packet query.
    SendType {
        /// `API`: sent through the API.
        Api => "API",
        /// `UPLOAD`: file upload in the merchant platform.
        Upload => "UPLOAD",
        /// `ACTIVITY`: a platform activity rule.
        Activity => "ACTIVITY",
    }
);

open_enum!(
    /// `hb_type` of a red packet query.
    HbType {
        /// `NORMAL`: a single packet.
        Normal => "NORMAL",
        /// `GROUP`: a group (fission) packet.
        Group => "GROUP",
    }
);

open_enum!(
    /// `return_code` / `result_code` of a reply.
    ResultCode {
        /// `SUCCESS`.
        Success => "SUCCESS",
        /// `FAIL`.
        Fail => "FAIL",
    }
);

#[cfg(test)]
mod tests {
    use super::civil_from_unix_days;

    #[test]
    fn civil_dates_from_unix_days() {
        assert_eq!(civil_from_unix_days(0), (1970, 1, 1));
        assert_eq!(civil_from_unix_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_unix_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_unix_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_unix_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_unix_days(-719_468), (0, 3, 1));
    }
}
