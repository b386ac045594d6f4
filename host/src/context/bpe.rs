//! The tiktoken tables, loaded off the caller's thread. Building one takes ~0.4 s in a
//! release build — forty times a whole `warden run` start-up — and the first request of a
//! run would wait for it (on an async worker thread), so the first use starts a loader
//! thread and counts are estimated until the table is ready.
//!
//! Invariant: a table is built at most once per process; [`ready`] never blocks.

use std::sync::{Once, OnceLock};

use tiktoken_rs::CoreBPE;

use super::models::Tokenizer;

/// One table: loaded once, by the first thread that asks.
struct Table {
    ready: OnceLock<&'static CoreBPE>,
    started: Once,
    load: fn() -> &'static CoreBPE,
}

static O200K: Table = Table::new(tiktoken_rs::o200k_base_singleton);
static CL100K: Table = Table::new(tiktoken_rs::cl100k_base_singleton);

impl Table {
    const fn new(load: fn() -> &'static CoreBPE) -> Self {
        Table {
            ready: OnceLock::new(),
            started: Once::new(),
            load,
        }
    }

    /// Starts loading (once) and returns the table if it is already there.
    fn get(&'static self) -> Option<&'static CoreBPE> {
        if let Some(bpe) = self.ready.get() {
            return Some(bpe);
        }
        self.started.call_once(|| {
            let load = self.load;
            let spawned = std::thread::Builder::new()
                .name("warden-tiktoken".into())
                .spawn(move || {
                    let _ = self.ready.set(load());
                });
            // Without a thread the table is built here, once.
            if spawned.is_err() {
                let _ = self.ready.set(load());
            }
        });
        self.ready.get().copied()
    }
}

fn table(tokenizer: Tokenizer) -> Option<&'static Table> {
    match tokenizer {
        Tokenizer::O200k => Some(&O200K),
        Tokenizer::Cl100k => Some(&CL100K),
        Tokenizer::Estimate => None,
    }
}

/// The table of `tokenizer` if it is loaded; starts loading it otherwise. `None` for the
/// estimate, which has no table.
pub(super) fn ready(tokenizer: Tokenizer) -> Option<&'static CoreBPE> {
    table(tokenizer)?.get()
}

/// Blocks until the table of `tokenizer` is loaded (at once for the estimate).
pub(super) fn wait(tokenizer: Tokenizer) {
    if let Some(table) = table(tokenizer) {
        table.get();
        table.ready.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_arrives_after_the_first_ask() {
        wait(Tokenizer::O200k);
        let bpe = ready(Tokenizer::O200k);
        assert!(bpe.is_some_and(|b| b.encode_ordinary("hello world").len() == 2));
        assert!(ready(Tokenizer::Estimate).is_none());
    }
}
