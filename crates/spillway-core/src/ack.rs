//! Ordered acknowledgements.
//!
//! Batches go to a stream writer in order and may be acknowledged out of order (a Kafka
//! producer reports deliveries per partition). [`AckTracker`] hands out a sequence number per
//! batch and yields the checkpoint of the highest batch below which every batch is
//! acknowledged: the only progress that may be committed without risking a lost change.

use crate::offsets::Offset;
use std::collections::BTreeMap;

/// Tracks in-flight batches and the committable checkpoint.
#[derive(Debug, Default)]
pub struct AckTracker {
    next_seq: u64,
    /// In-flight batches by sequence: their checkpoint and whether they are acked.
    pending: BTreeMap<u64, (Option<Offset>, bool)>,
    committable: Option<Offset>,
}

impl AckTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a batch that ends at `checkpoint` and returns its sequence number.
    pub fn register(&mut self, checkpoint: Option<Offset>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.insert(seq, (checkpoint, false));
        seq
    }

    /// Marks a batch acknowledged and advances the committable checkpoint past every
    /// leading acknowledged batch. Unknown sequence numbers are ignored.
    pub fn ack(&mut self, seq: u64) {
        if let Some(entry) = self.pending.get_mut(&seq) {
            entry.1 = true;
        }
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().1 {
                break;
            }
            let (checkpoint, _) = entry.remove();
            if let Some(checkpoint) = checkpoint {
                self.committable = Some(checkpoint);
            }
        }
    }

    /// The checkpoint of the last batch below which all batches are acknowledged.
    pub fn committable(&self) -> Option<&Offset> {
        self.committable.as_ref()
    }

    /// Number of batches sent but not yet acknowledged in order.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Position;

    fn offset(row: u64) -> Option<Offset> {
        Some(Offset::new(Position::stream(1, 0, row)))
    }

    #[test]
    fn out_of_order_acks_commit_only_the_contiguous_prefix() {
        let mut t = AckTracker::new();
        let a = t.register(offset(1));
        let b = t.register(offset(2));
        let c = t.register(offset(3));
        t.ack(c);
        assert_eq!(t.committable(), None);
        t.ack(a);
        assert_eq!(t.committable().map(|o| o.position.row), Some(1));
        t.ack(b);
        assert_eq!(t.committable().map(|o| o.position.row), Some(3));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn batches_without_checkpoint_keep_the_previous_one() {
        let mut t = AckTracker::new();
        let a = t.register(offset(7));
        let b = t.register(None);
        t.ack(a);
        t.ack(b);
        assert_eq!(t.committable().map(|o| o.position.row), Some(7));
    }
}
