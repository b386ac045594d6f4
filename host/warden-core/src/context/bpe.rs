//! The tiktoken tables, loaded only when a count must be exact. One holds ~45 MB (three
//! times the rest of a running `warden`) and takes ~0.4 s to build, so a counter asks for it
//! only when a request might be near a limit (see [`super::tokens`]); once asked, it is
//! built on a loader thread, off the async worker that asked, and async code awaits it
//! with [`Table::ready`] rather than blocking a worker in [`Table::wait`].
//!
//! Invariant: a table is built at most once per process; [`Table::loaded`] never blocks
//! and never starts a load; [`Table::ready`] never blocks its thread.

use std::sync::{Once, OnceLock};

use tiktoken_rs::CoreBPE;

use super::models::Tokenizer;

/// One table: loaded once, by the first thread that asks.
pub(super) struct Table {
    ready: OnceLock<&'static CoreBPE>,
    started: Once,
    /// Wakes the tasks awaiting [`Table::ready`] once the table is set.
    on_load: event_listener::Event,
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
            on_load: event_listener::Event::new(),
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
        Some(Self::loaded_by(shared.load))
    }

    /// A table of its own built by `load` (tests only; leaked).
    #[cfg(test)]
    pub(super) fn loaded_by(load: fn() -> &'static CoreBPE) -> &'static Table {
        Box::leak(Box::new(Table::new(load)))
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
            let spawned = std::thread::Builder::new()
                .name("warden-tiktoken".into())
                .spawn(move || self.set());
            // Without a thread the table is built here, once.
            if spawned.is_err() {
                self.set();
            }
        });
    }

    fn set(&self) {
        let _ = self.ready.set((self.load)());
        self.on_load.notify(usize::MAX);
    }

    /// Blocks until the table is loaded, starting the load if nobody has. For sync code:
    /// async code awaits [`Table::ready`].
    pub(super) fn wait(&'static self) -> &'static CoreBPE {
        self.start();
        self.ready.wait()
    }

    /// Waits, without blocking the thread, until the table is loaded, starting the load if
    /// nobody has.
    pub(super) async fn ready(&'static self) -> &'static CoreBPE {
        self.start();
        loop {
            // Registered before the check: a load finishing in between still wakes us.
            let listener = self.on_load.listen();
            if let Some(table) = self.loaded() {
                return table;
            }
            listener.await;
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
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

    /// Opened by the test, or by a watchdog if the test's own task never ran.
    static GATE: (std::sync::Mutex<Option<&str>>, std::sync::Condvar) =
        (std::sync::Mutex::new(None), std::sync::Condvar::new());

    fn open_gate(by: &'static str) {
        let mut opened = GATE.0.lock().unwrap();
        opened.get_or_insert(by);
        GATE.1.notify_all();
    }

    /// A load that lasts until the gate opens.
    fn gated_load() -> &'static CoreBPE {
        let mut opened = GATE.0.lock().unwrap();
        while opened.is_none() {
            opened = GATE.1.wait(opened).unwrap();
        }
        tiktoken_rs::o200k_base_singleton()
    }

    /// On a single-threaded runtime, a task awaiting the table leaves the thread to the
    /// others: the task that ends the load runs meanwhile. A blocking wait would hold the
    /// only thread until the watchdog opened the gate.
    #[test]
    fn awaiting_the_table_leaves_the_worker_to_other_tasks() {
        let table = Table::loaded_by(gated_load);
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(20));
            open_gate("the watchdog");
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let waiter = table.ready();
            let opener = async {
                tokio::task::yield_now().await;
                open_gate("the test's own task");
            };
            let (bpe, ()) = tokio::join!(waiter, opener);
            assert_eq!(bpe.encode_ordinary("hello world").len(), 2);
        });
        assert_eq!(*GATE.0.lock().unwrap(), Some("the test's own task"));
    }
}
