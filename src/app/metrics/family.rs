//! App (metrics): the value kinds (counter, histogram) and a family of them keyed by labels.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::Label;

/// Upper bounds of the latency buckets, in seconds.
pub(super) const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
pub(super) struct Counter(AtomicU64);

impl Counter {
    pub(super) fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts per bucket (not cumulative; the writer sums them), the sum in microseconds.
#[derive(Debug, Default)]
pub(super) struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A histogram read at one moment.
pub(super) struct HistogramSnapshot {
    pub cumulative: [u64; BUCKETS.len()],
    pub sum_seconds: f64,
    pub count: u64,
}

impl Histogram {
    pub(super) fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0; BUCKETS.len()];
        let mut running = 0;
        for (slot, bucket) in cumulative.iter_mut().zip(&self.buckets) {
            running += bucket.load(Ordering::Relaxed);
            *slot = running;
        }
        HistogramSnapshot {
            cumulative,
            // Microsecond sums stay exact in an f64 far beyond any process lifetime.
            #[allow(clippy::cast_precision_loss)]
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// Values of one kind by label values. Label sets are small and closed (route templates,
/// operations, outcomes), so the map stays small.
#[derive(Debug)]
pub(super) struct Family<const N: usize, V> {
    values: RwLock<HashMap<[Label; N], Arc<V>, BuildHasherDefault<Fnv>>>,
}

/// FNV-1a. Label values come from closed sets the gateway names (routes, methods, statuses,
/// outcomes), never from free text a client sends, so a keyed hash would guard against
/// nothing here while costing time on every request.
pub(super) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl<const N: usize, V> Default for Family<N, V> {
    fn default() -> Self {
        Self {
            values: RwLock::new(HashMap::default()),
        }
    }
}

impl<const N: usize, V: Default> Family<N, V> {
    /// The value for these labels, created on first use.
    pub(super) fn get(&self, labels: [Label; N]) -> Arc<V> {
        if let Some(v) = crate::sync::read(&self.values).get(&labels) {
            return v.clone();
        }
        crate::sync::write(&self.values)
            .entry(labels)
            .or_default()
            .clone()
    }

    /// Every label set and its value, sorted by labels so the output is stable.
    pub(super) fn entries(&self) -> Vec<([Label; N], Arc<V>)> {
        let mut all: Vec<_> = crate::sync::read(&self.values)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
