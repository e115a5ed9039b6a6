//! One request at a time per bill number, and at least 1 s between two
//! requests for the same bill number, within one `Client` (and its clones).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tokio::time::Instant;

use crate::retry::MIN_SPACING;

/// Per bill: when the last request for it was started.
#[derive(Debug, Default)]
pub(crate) struct BillState {
    last_request: Option<Instant>,
}

impl BillState {
    /// Waits until a request for this bill may start (1 s after the previous
    /// one) and records the new start.
    pub(crate) async fn space(&mut self) {
        if let Some(last) = self.last_request {
            tokio::time::sleep_until(last + MIN_SPACING).await;
        }
        self.last_request = Some(Instant::now());
    }
}

/// The held lock on one bill number.
pub(crate) type BillGuard = OwnedMutexGuard<BillState>;

/// A map from bill number to its async lock; entries nobody holds and whose
/// last request is more than 1 s old are pruned as the map grows.
#[derive(Debug, Default)]
pub(crate) struct BillLocks {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Arc<AsyncMutex<BillState>>>,
    after_prune: usize,
}

impl BillLocks {
    fn lock_map(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for exclusive use of `bill` (endpoint family included in the key
    /// by the caller when bill namespaces differ).
    pub(crate) async fn lock(&self, bill: &str) -> BillGuard {
        let entry = {
            let mut inner = self.lock_map();
            if inner.map.len() > 2 * inner.after_prune.max(256) {
                let now = Instant::now();
                inner.map.retain(|_, entry| {
                    Arc::strong_count(entry) > 1
                        || match entry.try_lock() {
                            Ok(state) => state.last_request.is_some_and(|last| {
                                now.saturating_duration_since(last) < MIN_SPACING
                            }),
                            Err(_) => true,
                        }
                });
                inner.after_prune = inner.map.len();
            }
            Arc::clone(inner.map.entry(bill.to_owned()).or_default())
        };
        entry.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock_map().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn same_bill_is_exclusive_and_spaced() {
        let locks = Arc::new(BillLocks::default());
        let start = Instant::now();
        let mut first = locks.lock("B1").await;
        first.space().await;
        assert_eq!(Instant::now(), start);

        let other = Arc::clone(&locks);
        let waiter = tokio::spawn(async move {
            let mut guard = other.lock("B1").await;
            guard.space().await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished());
        // A different bill is not blocked.
        let mut b2 = locks.lock("B2").await;
        b2.space().await;
        drop(b2);
        drop(first);
        let second_started = waiter.await.unwrap_or(start);
        assert_eq!(second_started - start, MIN_SPACING);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_entries_are_pruned() {
        let locks = BillLocks::default();
        for i in 0..2000 {
            let mut guard = locks.lock(&format!("B{i}")).await;
            guard.space().await;
            drop(guard);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Only entries touched in the last second (about 100) plus growth
        // since the last pruning remain.
        assert!(locks.len() < 1000, "{}", locks.len());
    }
}
