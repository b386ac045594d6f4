//! The tiktoken tables, loaded only when a count must be exact. One holds ~45 MB (three
//! times the rest of a running `warden`) and takes ~0.4 s to build, so a counter asks for it
//! only when a request might be near a limit (see [`super::tokens`]); once asked, it is
//! built on a loader thread, off the async worker that asked.
//!
//! Invariant: a table is built at most once per process; [`Table::loaded`] never blocks
//! and never starts a load.

use std::sync::{Once, OnceLock};

use tiktoken_rs::CoreBPE;

use super::models::Tokenizer;

/// One table: loaded once, by the first thread that asks.
pub(super) struct Table {
    ready: OnceLock<&'static CoreBPE>,
    started: Once,
    load: fn() -> &'static CoreBPE,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("loaded", &self.ready.get().is_some())
            .finish_non_exhaustive()
    }
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

    /// The process's table for `tokenizer`; `None` for the estimate, which has none.
    pub(super) fn of(tokenizer: Tokenizer) -> Option<&'static Table> {
        match tokenizer {
            Tokenizer::O200k => Some(&O200K),
            Tokenizer::Cl100k => Some(&CL100K),
            Tokenizer::Estimate => None,
        }
    }

    /// A table of its own for `tokenizer`, so a test can see whether a counter asked for
    /// it (the process's tables are shared by every test). Leaked: tests only.
    #[cfg(test)]
    pub(super) fn private(tokenizer: Tokenizer) -> Option<&'static Table> {
        let shared = Self::of(tokenizer)?;
        Some(Box::leak(Box::new(Table::new(shared.load))))
    }

    /// The table if it is loaded; never starts a load.
    pub(super) fn loaded(&self) -> Option<&'static CoreBPE> {
        self.ready.get().copied()
    }

    /// Whether a load has been asked for.
    #[cfg(test)]
    pub(super) fn is_started(&self) -> bool {
        self.started.is_completed()
    }

    /// Starts loading (once) on a loader thread, unless the table is already there.
    pub(super) fn start(&'static self) {
        if self.loaded().is_some() {
            return;
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
    }

    /// Blocks until the table is loaded, starting the load if nobody has.
    pub(super) fn wait(&'static self) -> &'static CoreBPE {
        self.start();
        self.ready.wait()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_table_loads_only_when_asked() {
        let table = Table::private(Tokenizer::O200k).unwrap();
        assert!(table.loaded().is_none());
        assert!(!table.is_started());
        let bpe = table.wait();
        assert_eq!(bpe.encode_ordinary("hello world").len(), 2);
        assert!(table.is_started() && table.loaded().is_some());
        assert!(Table::of(Tokenizer::Estimate).is_none());
    }
}
