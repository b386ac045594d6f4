//! What the assembler remembers of the last request it built: its messages as given (system
//! prompt first), each one's token tally, and the shape check's state after them. The next
//! request's messages usually start with the same ones (the same shared texts), so only
//! those after the common prefix are read, counted and checked: planning a request costs
//! what its new messages cost, not what the whole history costs.
//!
//! Invariant: every count and verdict the memo gives equals the one a fresh count or check
//! of the same messages gives; a message is reused only when it equals the one remembered.

use std::sync::{Mutex, MutexGuard};

use super::shape::ShapeCheck;
use super::tokens::{Measure, Tally, TokenCounter};
use crate::chat::Message;

/// The memo of one assembler. A clone starts empty: clones plan other runs' requests.
#[derive(Debug, Default)]
pub(super) struct MemoCell(Mutex<Memo>);

impl Clone for MemoCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl MemoCell {
    /// The memo; a poisoned lock only means a panic mid-update, and a memo in any state is
    /// only ever reused where it equals the messages given (see [`Memo::sync`]).
    pub(super) fn lock(&self) -> MutexGuard<'_, Memo> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The last messages measured, and what was measured of them.
#[derive(Debug, Default)]
pub(super) struct Memo {
    entries: Vec<(Message, Tally)>,
    /// The shape check after every entry, while they have no issue (their end aside).
    check: Option<ShapeCheck>,
    /// Messages tallied since the assembler was made (tests: what was read again).
    #[cfg(test)]
    pub(super) tallied: usize,
}

impl Memo {
    /// Makes the memo hold `messages`: keeps the entries they start with, drops the rest,
    /// tallies and checks the new ones.
    pub(super) fn sync<'a, I>(&mut self, messages: I)
    where
        I: Iterator<Item = &'a Message> + Clone,
    {
        let kept = (self.entries.iter())
            .zip(messages.clone())
            .take_while(|((old, _), new)| old == *new)
            .count();
        if kept < self.entries.len() {
            self.entries.truncate(kept);
            // The check's state is that of the longer list: check the kept prefix again.
            self.check = None;
        }
        // No state: the entries had an issue, were cut, or there were none.
        let mut check =
            (self.check.take()).unwrap_or_else(|| ShapeCheck::of(messages.clone().take(kept)));
        for message in messages.skip(kept) {
            check.push(message);
            self.entries
                .push((message.clone(), TokenCounter::tally(message)));
            #[cfg(test)]
            {
                self.tallied += 1;
            }
        }
        self.check = check.clean_so_far().then_some(check);
    }

    /// Whether `repair` would leave the synced messages as they are.
    pub(super) fn is_canonical(&self) -> bool {
        self.check.as_ref().is_some_and(ShapeCheck::is_canonical)
    }

    /// [`TokenCounter::count_message`] of each synced message.
    pub(super) fn counts(&mut self, counter: &TokenCounter) -> Vec<u64> {
        self.each(counter, Measure::Best).collect()
    }

    /// The sum of [`TokenCounter::count_message`] over the synced messages.
    pub(super) fn total(&mut self, counter: &TokenCounter) -> u64 {
        self.each(counter, Measure::Best).sum()
    }

    /// The sum of [`TokenCounter::bound_message`] over the synced messages.
    pub(super) fn bound(&mut self, counter: &TokenCounter) -> u64 {
        self.each(counter, Measure::Bound).sum()
    }

    /// Each synced message measured by `counter` for `measure`, from its tally.
    fn each<'a>(
        &'a mut self,
        counter: &'a TokenCounter,
        measure: Measure,
    ) -> impl Iterator<Item = u64> + 'a {
        (self.entries.iter_mut()).map(move |(m, tally)| counter.count_tallied(m, tally, measure))
    }
}
