//! Adapters (http): answers already worked out for shared, immutable values (a cached
//! session's validate answer, its identity headers for the proxy), kept in a fixed number of
//! slots so that a value asked about again and again is worked on once.
//!
//! A slot is chosen by the value's address and holds a weak pointer to it. While that weak
//! pointer lives, the allocation cannot be reused by another value, so an equal address means
//! the same value, and the same value has the same answer. A value that falls out of every
//! cache leaves only its allocation behind until another value takes its slot. The slots
//! are made on first use: an API built only for its OpenAPI document holds none.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;

/// How many answers are kept (a power of two).
const SLOTS: usize = 1024;

type Slot<A, V> = Mutex<Option<(Weak<A>, V)>>;

/// Answers of type `V` (cheap to clone) for values of type `A`.
pub struct AnswerMemo<A, V = Bytes> {
    slots: OnceLock<Box<[Slot<A, V>]>>,
}

impl<A, V> Default for AnswerMemo<A, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A, V> AnswerMemo<A, V> {
    pub const fn new() -> Self {
        Self {
            slots: OnceLock::new(),
        }
    }
}

impl<A, V: Clone> AnswerMemo<A, V> {
    /// The answer kept for `value`, or the one `write` makes, which is then kept in its
    /// place. `None` when `write` cannot write one.
    pub fn get_or_write(&self, value: &Arc<A>, write: impl FnOnce(&A) -> Option<V>) -> Option<V> {
        let slots = self
            .slots
            .get_or_init(|| (0..SLOTS).map(|_| Mutex::new(None)).collect());
        let slot = &slots[Self::slot_of(value)];
        if let Some((kept, answer)) = crate::sync::lock(slot).as_ref()
            && std::ptr::eq(kept.as_ptr(), Arc::as_ptr(value))
        {
            return Some(answer.clone());
        }
        let answer = write(value)?;
        *crate::sync::lock(slot) = Some((Arc::downgrade(value), answer.clone()));
        Some(answer)
    }

    /// The slot of a value: its address, mixed so that neighbouring allocations spread.
    fn slot_of(value: &Arc<A>) -> usize {
        const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
        let address = Arc::as_ptr(value).addr() as u64;
        let mixed = address.wrapping_mul(MIX) >> (64 - SLOTS.trailing_zeros());
        usize::try_from(mixed).unwrap_or_default() & (SLOTS - 1)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn write_counted(calls: &Cell<u32>) -> impl FnOnce(&String) -> Option<Bytes> + '_ {
        move |value| {
            calls.set(calls.get() + 1);
            Some(Bytes::from(format!("answer for {value}")))
        }
    }

    #[test]
    fn a_memo_never_asked_holds_no_slots() {
        let memo = AnswerMemo::<String>::default();
        assert!(memo.slots.get().is_none());
        memo.get_or_write(&Arc::new("a".to_owned()), |_| None);
        assert_eq!(memo.slots.get().map(|s| s.len()), Some(SLOTS));
    }

    #[test]
    fn a_value_asked_about_again_is_written_once() {
        let memo = AnswerMemo::default();
        let value = Arc::new("a".to_owned());
        let calls = Cell::new(0);
        for _ in 0..3 {
            let answer = memo.get_or_write(&value, write_counted(&calls));
            assert_eq!(answer.as_deref(), Some(&b"answer for a"[..]));
        }
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn equal_values_at_different_addresses_each_get_their_own_answer() {
        let memo = AnswerMemo::default();
        let calls = Cell::new(0);
        let values: Vec<Arc<String>> = (0..3 * SLOTS).map(|i| Arc::new(i.to_string())).collect();
        for value in &values {
            let answer = memo.get_or_write(value, write_counted(&calls));
            assert_eq!(answer, Some(Bytes::from(format!("answer for {value}"))));
        }
        assert_eq!(calls.get(), u32::try_from(values.len()).expect("few"));
        // Whatever was evicted is written again, and every answer is still its value's own.
        for value in &values {
            let answer = memo.get_or_write(value, write_counted(&calls));
            assert_eq!(answer, Some(Bytes::from(format!("answer for {value}"))));
        }
    }

    #[test]
    fn a_value_dropped_and_replaced_is_never_answered_with_the_old_answer() {
        let memo = AnswerMemo::default();
        let calls = Cell::new(0);
        for round in 0..200 {
            let value = Arc::new(format!("value {round}"));
            let answer = memo.get_or_write(&value, write_counted(&calls));
            assert_eq!(
                answer,
                Some(Bytes::from(format!("answer for value {round}")))
            );
        }
        assert_eq!(calls.get(), 200);
    }

    #[test]
    fn an_answer_that_cannot_be_written_is_not_kept() {
        let memo = AnswerMemo::default();
        let value = Arc::new("a".to_owned());
        assert_eq!(memo.get_or_write(&value, |_| None), None);
        let calls = Cell::new(0);
        let answer = memo.get_or_write(&value, write_counted(&calls));
        assert_eq!(answer.as_deref(), Some(&b"answer for a"[..]));
        assert_eq!(calls.get(), 1);
    }
}
