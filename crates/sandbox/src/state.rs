//! The sandbox's shared state: fixed settings plus the mutable ledger and
//! fault generator behind one mutex (never held across an `.await`).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use hongbao_sign::{ApiKey, Signer, WorkwxSigner};

use crate::clock::SandboxClock;
use crate::faults::{FaultConfig, FaultState, SplitMix64};
use crate::ledger::Ledger;
use crate::limits::{Limits, Progression};

/// Settings fixed for the life of one sandbox.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) mch_id: String,
    pub(crate) appid: String,
    pub(crate) api_key: ApiKey,
    pub(crate) signer: Signer,
    /// The key `getsignkey` hands out, derived from the API key.
    pub(crate) sandbox_key: ApiKey,
    pub(crate) sandbox_signer: Signer,
    pub(crate) workwx_default: Option<WorkwxSigner>,
    pub(crate) workwx_by_agent: HashMap<String, WorkwxSigner>,
    pub(crate) limits: Limits,
    pub(crate) progression: Progression,
    pub(crate) failing_openids: HashSet<String>,
    pub(crate) initial_balance_fen: u64,
    pub(crate) initial_faults: FaultConfig,
    pub(crate) seed: u64,
    pub(crate) max_body_bytes: usize,
}

impl Settings {
    /// The WeCom signer for a request naming `agentid` (or none).
    pub(crate) fn workwx_signer(&self, agentid: Option<&str>) -> Option<&WorkwxSigner> {
        agentid
            .filter(|a| !a.is_empty())
            .and_then(|a| self.workwx_by_agent.get(a))
            .or(self.workwx_default.as_ref())
    }
}

/// The mutable part.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) ledger: Ledger,
    pub(crate) faults: FaultState,
    pub(crate) nonces: SplitMix64,
}

impl Inner {
    pub(crate) fn new(settings: &Settings) -> Self {
        Inner {
            ledger: Ledger::new(settings.initial_balance_fen),
            faults: FaultState::new(settings.initial_faults.clone(), settings.seed),
            nonces: SplitMix64::new(settings.seed ^ 0x6E6F_6E63_655F_7267),
        }
    }

    /// A 32-character nonce for replies that carry `nonce_str`.
    pub(crate) fn nonce(&mut self) -> String {
        format!(
            "{:016x}{:016x}",
            self.nonces.next_u64(),
            self.nonces.next_u64()
        )
    }
}

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) clock: SandboxClock,
    inner: Mutex<Inner>,
    /// Requests received per WeChat endpoint name, whatever their answer.
    requests: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Shared {
    pub(crate) fn new(settings: Settings, clock: SandboxClock) -> Self {
        let inner = Inner::new(&settings);
        Shared {
            settings,
            clock,
            inner: Mutex::new(inner),
            requests: Mutex::default(),
        }
    }

    /// Locks the mutable state, settling every status change due by now.
    /// A poisoned lock (a panic elsewhere) is taken over rather than
    /// propagated: the ledger's invariants hold between statements.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now();
        guard.ledger.settle(now, &self.settings.progression);
        guard
    }

    /// Back to the start: empty ledger, initial balance, initial faults and seed.
    pub(crate) fn reset(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Inner::new(&self.settings);
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Counts one request to `endpoint` (before it is answered).
    pub(crate) fn count_request(&self, endpoint: hongbao_proto::Endpoint) {
        let mut counts = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(endpoint.name()).or_insert(0) += 1;
    }

    /// Requests received so far per endpoint name.
    pub(crate) fn requests(&self) -> std::collections::BTreeMap<String, u64> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, count)| ((*name).to_owned(), *count))
            .collect()
    }
}
