//! The memory pool of every session: spilling operators share it fairly, as in DataFusion's
//! `FairSpillPool`, but a part of it stays free for the memory that cannot spill.
//!
//! Why not the fair pool itself: it lets the spilling consumers together take the whole pool. In
//! a plan of two sorts one after the other (a window over a sort, then `ORDER BY`), the first
//! sort's merge of its spill files asks for memory that cannot spill once its sorter is gone,
//! and finds the second sort holding everything; the query then fails at 10M calls under
//! 512 MB. Here spilling consumers stop short of a headroom (half the pool), which a
//! merge, a hash table or a window's buffer may use; they still share the rest fairly.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::common::human_readable_size;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation, TrackConsumersPool,
};

/// The pool a session runs in: `size` bytes, with a refusal naming the five largest consumers
/// (so that someone reading "Resources exhausted" sees what held the memory).
pub fn session_pool(size: usize) -> Arc<dyn MemoryPool> {
    let top = std::num::NonZeroUsize::new(5).unwrap_or(std::num::NonZeroUsize::MIN);
    Arc::new(TrackConsumersPool::new(HeadroomPool::new(size), top))
}

/// How many spill files one merge reads at once. A sort's merge takes room for two batches of
/// every file it reads (about 10 MB a file for calls), and DataFusion lets it take as many as the
/// pool allows: the first partition's merge took 248 MB of 512 and the second's then failed. A
/// merge of more files goes in passes instead; this allows the merges of every partition about
/// 64 MB of files each, half the pool (the headroom) between them.
pub fn merge_fan_in(size: usize, partitions: usize) -> usize {
    (size / (partitions.max(1) * 64 * 1024 * 1024)).clamp(4, 64)
}

/// A pool of `size` bytes; spilling consumers share all but `headroom` of it, fairly.
#[derive(Debug)]
pub struct HeadroomPool {
    size: usize,
    headroom: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Consumers that can spill, registered now.
    spillers: usize,
    /// Bytes held by consumers that can spill.
    spillable: usize,
    /// Bytes held by consumers that cannot.
    unspillable: usize,
}

impl HeadroomPool {
    /// A pool of `size` bytes keeping half of it for memory that cannot spill (merges of spill
    /// files, a second sort's merge running while the first still reads its files, hash tables).
    pub fn new(size: usize) -> Self {
        HeadroomPool { size, headroom: size / 2, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few counters updated whole under the lock: a panic elsewhere while it
        // was held cannot leave it half-written.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refuse(&self, reservation: &MemoryReservation, additional: usize, available: usize) -> DataFusionError {
        DataFusionError::ResourcesExhausted(format!(
            "Failed to allocate additional {} for {} with {} already allocated for this reservation - {} remain \
             available for the total memory pool: {self}",
            human_readable_size(additional),
            reservation.consumer().name(),
            human_readable_size(reservation.size()),
            human_readable_size(available),
        ))
    }
}

impl fmt::Display for HeadroomPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "headroom(pool_size: {}, kept for what cannot spill: {})",
            human_readable_size(self.size),
            human_readable_size(self.headroom)
        )
    }
}

impl MemoryPool for HeadroomPool {
    fn name(&self) -> &str {
        "headroom"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            self.state().spillers += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.state();
            state.spillers = state.spillers.saturating_sub(1);
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut state = self.state();
        if reservation.consumer().can_spill() {
            state.spillable += additional;
        } else {
            state.unspillable += additional;
        }
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut state = self.state();
        if reservation.consumer().can_spill() {
            state.spillable = state.spillable.saturating_sub(shrink);
        } else {
            state.unspillable = state.unspillable.saturating_sub(shrink);
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = self.state();
        if reservation.consumer().can_spill() {
            // What the spillers share: the pool less what cannot spill, and never the headroom.
            let shared = self.size.saturating_sub(state.unspillable.max(self.headroom));
            // Like the fair pool, each keeps to its share and no more is asked: the shares
            // narrow as spillers register, and one that already holds more than its new share
            // gives it back when it next spills.
            let share = shared.checked_div(state.spillers).unwrap_or(shared);
            if reservation.size() + additional > share {
                return Err(self.refuse(reservation, additional, share.saturating_sub(reservation.size())));
            }
            state.spillable += additional;
        } else {
            let free = self.size.saturating_sub(state.unspillable + state.spillable);
            if additional > free {
                return Err(self.refuse(reservation, additional, free));
            }
            state.unspillable += additional;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.state();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: usize = 1024 * 1024;

    #[test]
    fn spilling_consumers_share_all_but_the_headroom_which_a_merge_can_still_take() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(400 * MB));
        let first = MemoryConsumer::new("ExternalSorter[0]").with_can_spill(true).register(&pool);
        let second = MemoryConsumer::new("ExternalSorter[1]").with_can_spill(true).register(&pool);
        // Two spillers share the 200 MB beyond the headroom: 100 MB each.
        first.try_grow(100 * MB).unwrap();
        assert!(first.try_grow(MB).is_err(), "a spiller keeps to its share");
        second.try_grow(100 * MB).unwrap();
        // What cannot spill still finds the headroom (the fair pool would have none left).
        let merge = MemoryConsumer::new("ExternalSorterMerge[0]").register(&pool);
        merge.try_grow(200 * MB).unwrap();
        let error = merge.try_grow(1).unwrap_err().to_string();
        assert!(error.contains("ExternalSorterMerge[0]") && error.contains("Resources exhausted"), "{error}");
        assert_eq!(pool.reserved(), 400 * MB);
        // Once one spiller is gone and the merge done, the other may take the whole shared part.
        drop(first);
        merge.free();
        second.try_grow(100 * MB).unwrap();
        assert!(second.try_grow(MB).is_err());
        drop(second);
        assert_eq!(pool.reserved(), 0);
    }

    #[test]
    fn memory_that_cannot_spill_beyond_the_headroom_narrows_the_spillers_share() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(400 * MB));
        let table = MemoryConsumer::new("HashJoinInput").register(&pool);
        table.try_grow(300 * MB).unwrap();
        let sorter = MemoryConsumer::new("ExternalSorter[0]").with_can_spill(true).register(&pool);
        sorter.try_grow(100 * MB).unwrap();
        assert!(sorter.try_grow(1).is_err());
        assert!(table.try_grow(1).is_err());
        assert!(matches!(pool.memory_limit(), MemoryLimit::Finite(limit) if limit == 400 * MB));
    }

    #[test]
    fn a_merge_reads_fewer_files_at_once_under_a_smaller_pool() {
        assert_eq!(merge_fan_in(512 * MB, 2), 4);
        assert_eq!(merge_fan_in(2048 * MB, 2), 16);
        assert_eq!(merge_fan_in(64 * 1024 * MB, 2), 64);
        assert_eq!(merge_fan_in(1, 0), 4);
    }
}
