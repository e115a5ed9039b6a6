//! Seeded, reproducible fault injection.
//!
//! Each money-moving request that passes the protocol checks draws one fault
//! (or none) from a seeded generator: the same seed and the same sequence of
//! requests give the same faults, on every machine and every version of this
//! crate (the generator is SplitMix64, implemented here, so its output never
//! changes under a dependency upgrade).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// `SYSTEMERROR` before anything is recorded: no money moves.
    SystemerrorBeforeCommit,
    /// The payment is recorded (money moves), the client is told `SYSTEMERROR`.
    SystemerrorAfterCommit,
    /// The payment is recorded in an in-progress state, the client is told
    /// `PROCESSING`.
    ProcessingAfterCommit,
    /// The payment is recorded and the success reply is sent only after
    /// [`FaultConfig::delay_ms`] (longer than a client's timeout).
    DelayAfterCommit,
    /// The payment is recorded and the connection is closed without a reply.
    DropAfterCommit,
    /// The payment is recorded and the reply is not well-formed XML.
    MalformedReply,
    /// The payment is recorded and the success reply carries extra,
    /// undocumented elements (still correctly signed where replies are signed).
    UnknownFields,
    /// The payment is recorded and the client gets `result_code=FAIL` with an
    /// error code no documentation lists.
    UnknownErrorCode,
}

impl FaultKind {
    /// Every kind, in the order the draw considers them.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::SystemerrorBeforeCommit,
        FaultKind::SystemerrorAfterCommit,
        FaultKind::ProcessingAfterCommit,
        FaultKind::DelayAfterCommit,
        FaultKind::DropAfterCommit,
        FaultKind::MalformedReply,
        FaultKind::UnknownFields,
        FaultKind::UnknownErrorCode,
    ];

    /// The snake_case name used by flags and the admin API.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::SystemerrorBeforeCommit => "systemerror_before_commit",
            FaultKind::SystemerrorAfterCommit => "systemerror_after_commit",
            FaultKind::ProcessingAfterCommit => "processing_after_commit",
            FaultKind::DelayAfterCommit => "delay_after_commit",
            FaultKind::DropAfterCommit => "drop_after_commit",
            FaultKind::MalformedReply => "malformed_reply",
            FaultKind::UnknownFields => "unknown_fields",
            FaultKind::UnknownErrorCode => "unknown_error_code",
        }
    }

    /// Whether the payment is recorded (money moves) when this fault fires.
    pub fn commits(self) -> bool {
        !matches!(self, FaultKind::SystemerrorBeforeCommit)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = FaultConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| FaultConfigError::UnknownKind(s.chars().take(64).collect()))
    }
}

/// A fault setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultConfigError {
    /// No fault kind has this name.
    #[error(
        "unknown fault kind {0:?}; known: systemerror_before_commit, systemerror_after_commit, processing_after_commit, delay_after_commit, drop_after_commit, malformed_reply, unknown_fields, unknown_error_code"
    )]
    UnknownKind(String),
    /// A probability outside 0–1 (or not a number).
    #[error("probability of {kind} must be between 0 and 1, got {value}")]
    BadProbability {
        /// The fault kind.
        kind: FaultKind,
        /// The rejected value.
        value: f64,
    },
    /// The probabilities add up to more than 1.
    #[error("fault probabilities add up to {0}, more than 1")]
    TotalAboveOne(f64),
    /// A `KIND=P` flag without `=` or with an unreadable number.
    #[error("expected KIND=PROBABILITY (e.g. drop_after_commit=0.1), got {0:?}")]
    BadSpec(String),
}

/// Per-kind probabilities and the delay of [`FaultKind::DelayAfterCommit`].
///
/// At most one fault fires per request; the probabilities are of disjoint
/// events and must add up to at most 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// See [`FaultKind::SystemerrorBeforeCommit`].
    pub systemerror_before_commit: f64,
    /// See [`FaultKind::SystemerrorAfterCommit`].
    pub systemerror_after_commit: f64,
    /// See [`FaultKind::ProcessingAfterCommit`].
    pub processing_after_commit: f64,
    /// See [`FaultKind::DelayAfterCommit`].
    pub delay_after_commit: f64,
    /// See [`FaultKind::DropAfterCommit`].
    pub drop_after_commit: f64,
    /// See [`FaultKind::MalformedReply`].
    pub malformed_reply: f64,
    /// See [`FaultKind::UnknownFields`].
    pub unknown_fields: f64,
    /// See [`FaultKind::UnknownErrorCode`].
    pub unknown_error_code: f64,
    /// How long [`FaultKind::DelayAfterCommit`] holds the reply, in
    /// milliseconds (default 30 000, longer than typical client timeouts).
    pub delay_ms: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            systemerror_before_commit: 0.0,
            systemerror_after_commit: 0.0,
            processing_after_commit: 0.0,
            delay_after_commit: 0.0,
            drop_after_commit: 0.0,
            malformed_reply: 0.0,
            unknown_fields: 0.0,
            unknown_error_code: 0.0,
            delay_ms: 30_000,
        }
    }
}

impl FaultConfig {
    /// No faults (the default).
    pub fn none() -> Self {
        FaultConfig::default()
    }

    /// A config where `kind` always fires.
    pub fn always(kind: FaultKind) -> Self {
        let mut config = FaultConfig::default();
        config.set(kind, 1.0);
        config
    }

    /// The probability of `kind`.
    pub fn probability(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::SystemerrorBeforeCommit => self.systemerror_before_commit,
            FaultKind::SystemerrorAfterCommit => self.systemerror_after_commit,
            FaultKind::ProcessingAfterCommit => self.processing_after_commit,
            FaultKind::DelayAfterCommit => self.delay_after_commit,
            FaultKind::DropAfterCommit => self.drop_after_commit,
            FaultKind::MalformedReply => self.malformed_reply,
            FaultKind::UnknownFields => self.unknown_fields,
            FaultKind::UnknownErrorCode => self.unknown_error_code,
        }
    }

    /// Sets the probability of `kind` (checked by [`FaultConfig::validate`]).
    pub fn set(&mut self, kind: FaultKind, probability: f64) {
        let slot = match kind {
            FaultKind::SystemerrorBeforeCommit => &mut self.systemerror_before_commit,
            FaultKind::SystemerrorAfterCommit => &mut self.systemerror_after_commit,
            FaultKind::ProcessingAfterCommit => &mut self.processing_after_commit,
            FaultKind::DelayAfterCommit => &mut self.delay_after_commit,
            FaultKind::DropAfterCommit => &mut self.drop_after_commit,
            FaultKind::MalformedReply => &mut self.malformed_reply,
            FaultKind::UnknownFields => &mut self.unknown_fields,
            FaultKind::UnknownErrorCode => &mut self.unknown_error_code,
        };
        *slot = probability;
    }

    /// Applies a `KIND=PROBABILITY` setting (the form of the `--fault` flag).
    pub fn apply_spec(&mut self, spec: &str) -> Result<(), FaultConfigError> {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| FaultConfigError::BadSpec(spec.chars().take(64).collect()))?;
        let kind: FaultKind = name.trim().parse()?;
        let probability: f64 = value
            .trim()
            .parse()
            .map_err(|_| FaultConfigError::BadSpec(spec.chars().take(64).collect()))?;
        self.set(kind, probability);
        self.validate()
    }

    /// Checks every probability is in 0–1 and that they add up to at most 1.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        let mut total = 0.0;
        for kind in FaultKind::ALL {
            let p = self.probability(kind);
            if !(0.0..=1.0).contains(&p) {
                return Err(FaultConfigError::BadProbability { kind, value: p });
            }
            total += p;
        }
        if total > 1.0 + 1e-9 {
            return Err(FaultConfigError::TotalAboveOne(total));
        }
        Ok(())
    }

    /// Whether any fault can fire.
    pub fn any(&self) -> bool {
        FaultKind::ALL.iter().any(|k| self.probability(*k) > 0.0)
    }
}

/// SplitMix64: a small, fast, seedable generator with a fixed output
/// sequence (Steele, Lea, Flood 2014).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` with 53 bits of precision.
    pub(crate) fn next_f64(&mut self) -> f64 {
        // 53 high bits → exactly representable, uniform in [0, 1).
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The running fault state: configuration plus the seeded generator.
#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    pub(crate) config: FaultConfig,
    seed: u64,
    rng: SplitMix64,
}

impl FaultState {
    pub(crate) fn new(config: FaultConfig, seed: u64) -> Self {
        FaultState {
            config,
            seed,
            rng: SplitMix64::new(seed),
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Restarts the generator from `seed`.
    pub(crate) fn reseed(&mut self, seed: u64) {
        self.seed = seed;
        self.rng = SplitMix64::new(seed);
    }

    /// Draws the fault for one request: one uniform number, compared with
    /// the cumulative probabilities in [`FaultKind::ALL`] order. Draws
    /// nothing (and leaves the sequence untouched) when no fault is enabled.
    pub(crate) fn draw(&mut self) -> Option<FaultKind> {
        if !self.config.any() {
            return None;
        }
        let x = self.rng.next_f64();
        let mut cumulative = 0.0;
        for kind in FaultKind::ALL {
            cumulative += self.config.probability(kind);
            if x < cumulative {
                return Some(kind);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference output of SplitMix64 seeded with 1234567.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn same_seed_same_faults() {
        let mut config = FaultConfig::none();
        config.drop_after_commit = 0.3;
        config.unknown_error_code = 0.2;
        let mut a = FaultState::new(config.clone(), 42);
        let mut b = FaultState::new(config, 42);
        let xs: Vec<_> = (0..200).map(|_| a.draw()).collect();
        let ys: Vec<_> = (0..200).map(|_| b.draw()).collect();
        assert_eq!(xs, ys);
        let drops = xs
            .iter()
            .filter(|k| **k == Some(FaultKind::DropAfterCommit))
            .count();
        assert!((30..90).contains(&drops), "{drops}");
        assert!(xs.contains(&None));
    }

    #[test]
    fn always_fires_and_none_never() {
        let mut on = FaultState::new(FaultConfig::always(FaultKind::MalformedReply), 1);
        assert!((0..50).all(|_| on.draw() == Some(FaultKind::MalformedReply)));
        let mut off = FaultState::new(FaultConfig::none(), 1);
        assert!((0..50).all(|_| off.draw().is_none()));
    }

    #[test]
    fn specs_and_validation() -> Result<(), FaultConfigError> {
        let mut c = FaultConfig::none();
        c.apply_spec("drop_after_commit=0.25")?;
        assert_eq!(c.drop_after_commit, 0.25);
        assert!(c.apply_spec("nonsense=0.1").is_err());
        assert!(c.apply_spec("drop_after_commit").is_err());
        assert!(c.apply_spec("malformed_reply=2").is_err());
        c.malformed_reply = 0.0;
        c.unknown_fields = 0.9;
        assert!(matches!(
            c.validate(),
            Err(FaultConfigError::TotalAboveOne(_))
        ));
        assert_eq!(
            "unknown_error_code".parse::<FaultKind>()?,
            FaultKind::UnknownErrorCode
        );
        Ok(())
    }
}
