//! Host resources one call can take outside its own linear memory: the [`HostLimit`]s of the
//! operator's policy and the per-call [`CallLedger`] that counts against them.
//!
//! What is counted where:
//! - live host objects: the store's resource table is capped (`max_host_resources`), and so
//!   are the component-model handles; each HTTP header object is capped in bytes
//!   (`max_http_fields`). Together they bound the host memory a guest can pin.
//! - open files, files created, bytes written and random bytes: the linker shims in
//!   [`shims`] charge the ledger before the host does the work.
//!
//! Invariant: a limit is checked before the host allocates, opens or writes anything for the
//! request that would exceed it; the request then traps the guest, and the first breach is
//! recorded so the call ends in [`ToolCallError::ResourceLimit`] naming it.

mod open;
pub(crate) mod shims;
mod stream;
pub(crate) mod wasmtime_limits;

use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use serde::Serialize;

use super::error::ToolCallError;
use super::policy::ToolPolicy;

/// A per-call limit on host resources, named after its policy key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HostLimit {
    /// `max_host_resources`: host objects alive at once (files, streams, pollables, HTTP
    /// requests and header objects, …).
    HostResources,
    /// `max_http_fields`: bytes one HTTP header object may hold.
    HttpFieldsBytes,
    /// `max_open_files`: files and directories the call holds open at once.
    OpenFiles,
    /// `max_random`: random bytes the call may ask the host for, in total.
    RandomBytes,
    /// `max_write`: bytes the call may write into read-write grants, in total.
    WriteBytes,
    /// `max_files_created`: files, directories and links the call may create.
    FilesCreated,
}

impl HostLimit {
    /// The key that sets this limit in a policy file.
    pub fn policy_key(self) -> &'static str {
        match self {
            Self::HostResources => "max_host_resources",
            Self::HttpFieldsBytes => "max_http_fields",
            Self::OpenFiles => "max_open_files",
            Self::RandomBytes => "max_random",
            Self::WriteBytes => "max_write",
            Self::FilesCreated => "max_files_created",
        }
    }

    /// What is limited, after the number (`"… of 64 open files"`).
    pub fn unit(self) -> &'static str {
        match self {
            Self::HostResources => {
                "live host resources (open files, streams, pollables, HTTP objects)"
            }
            Self::HttpFieldsBytes => "bytes in one HTTP header object",
            Self::OpenFiles => "open files",
            Self::RandomBytes => "random bytes",
            Self::WriteBytes => "bytes written to granted directories",
            Self::FilesCreated => "files and directories created",
        }
    }
}

/// The ledger's limits, copied from the policy.
#[derive(Debug, Clone, Copy)]
struct Caps {
    open_files: u32,
    random_bytes: u64,
    write_bytes: u64,
    files_created: u32,
}

/// What the call used, for [`CallUsage`](super::CallUsage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LedgerReport {
    pub(crate) peak_open_files: u32,
    pub(crate) files_created: u32,
    pub(crate) bytes_written: u64,
    pub(crate) random_bytes: u64,
}

#[derive(Debug, Default)]
struct Books {
    /// Every file the call opened; a live one still has a strong reference somewhere (the
    /// descriptor, or a stream made from it).
    opened: Vec<Weak<File>>,
    report: LedgerReport,
    breach: Option<ToolCallError>,
}

/// The error a shim traps the guest with; the ledger has recorded the same breach.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LimitExceeded(ToolCallError);

/// Per-call counters behind the shims. Shared (`Arc`) with the output streams it wraps.
#[derive(Debug)]
pub(crate) struct CallLedger {
    caps: Caps,
    books: Mutex<Books>,
}

impl CallLedger {
    pub(crate) fn new(policy: &ToolPolicy) -> Arc<Self> {
        Arc::new(Self {
            caps: Caps {
                open_files: policy.max_open_files,
                random_bytes: policy.max_random_bytes,
                write_bytes: policy.max_write_bytes,
                files_created: policy.max_files_created,
            },
            books: Mutex::new(Books::default()),
        })
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first limit the call broke, if any.
    pub(crate) fn breach(&self) -> Option<ToolCallError> {
        self.books().breach.clone()
    }

    pub(crate) fn report(&self) -> LedgerReport {
        self.books().report
    }

    /// Records `error` as the call's breach (the first one wins) and returns the trap.
    pub(crate) fn refuse(&self, error: ToolCallError) -> LimitExceeded {
        let mut books = self.books();
        let first = books.breach.get_or_insert(error).clone();
        LimitExceeded(first)
    }

    fn limit(&self, books: &mut Books, resource: HostLimit, limit: u64) -> LimitExceeded {
        let first = books
            .breach
            .get_or_insert(ToolCallError::ResourceLimit { resource, limit })
            .clone();
        LimitExceeded(first)
    }

    /// Before opening a file: is there room for one more?
    pub(crate) fn admit_open(&self) -> Result<(), LimitExceeded> {
        let mut books = self.books();
        books.opened.retain(|f| f.strong_count() > 0);
        if books.opened.len() >= self.caps.open_files as usize {
            return Err(self.limit(
                &mut books,
                HostLimit::OpenFiles,
                self.caps.open_files.into(),
            ));
        }
        Ok(())
    }

    /// After opening `file`: count it while anything holds it.
    pub(crate) fn opened(&self, file: &Arc<File>) {
        let mut books = self.books();
        books.opened.push(Arc::downgrade(file));
        let live = u32::try_from(books.opened.len()).unwrap_or(u32::MAX);
        books.report.peak_open_files = books.report.peak_open_files.max(live);
    }

    /// Before creating a file, directory or link: is there room for one more?
    pub(crate) fn admit_create(&self) -> Result<(), LimitExceeded> {
        let mut books = self.books();
        if books.report.files_created >= self.caps.files_created {
            let limit = self.caps.files_created.into();
            return Err(self.limit(&mut books, HostLimit::FilesCreated, limit));
        }
        Ok(())
    }

    /// After a creation succeeded.
    pub(crate) fn created(&self) {
        let mut books = self.books();
        books.report.files_created = books.report.files_created.saturating_add(1);
    }

    /// Charges `bytes` about to be written into a granted directory.
    pub(crate) fn charge_write(&self, bytes: u64) -> Result<(), LimitExceeded> {
        let mut books = self.books();
        let total = books.report.bytes_written.saturating_add(bytes);
        if total > self.caps.write_bytes {
            return Err(self.limit(&mut books, HostLimit::WriteBytes, self.caps.write_bytes));
        }
        books.report.bytes_written = total;
        Ok(())
    }

    /// Charges `bytes` of randomness about to be generated.
    pub(crate) fn charge_random(&self, bytes: u64) -> Result<(), LimitExceeded> {
        let mut books = self.books();
        let total = books.report.random_bytes.saturating_add(bytes);
        if total > self.caps.random_bytes {
            return Err(self.limit(&mut books, HostLimit::RandomBytes, self.caps.random_bytes));
        }
        books.report.random_bytes = total;
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn ledger() -> Arc<CallLedger> {
        CallLedger::new(&ToolPolicy {
            max_open_files: 2,
            max_random_bytes: 100,
            max_write_bytes: 1000,
            max_files_created: 1,
            ..ToolPolicy::default()
        })
    }

    #[test]
    fn open_files_count_only_while_something_holds_them() {
        let ledger = ledger();
        let dir = tempfile::tempdir().unwrap();
        let open = || Arc::new(File::open(dir.path()).unwrap());
        let (a, b) = (open(), open());
        for f in [&a, &b] {
            ledger.admit_open().unwrap();
            ledger.opened(f);
        }
        assert!(ledger.admit_open().is_err());
        drop(a);
        // The breach stays recorded even though there is room again.
        ledger.admit_open().unwrap();
        assert_eq!(
            ledger.breach(),
            Some(ToolCallError::ResourceLimit {
                resource: HostLimit::OpenFiles,
                limit: 2
            })
        );
        assert_eq!(ledger.report().peak_open_files, 2);
        drop(b);
    }

    #[test]
    fn charges_stop_at_the_cap_and_the_first_breach_wins() {
        let ledger = ledger();
        ledger.charge_write(600).unwrap();
        ledger.charge_write(400).unwrap();
        let err = ledger.charge_write(1).unwrap_err();
        assert!(err.to_string().contains("1000 bytes written"), "{err}");
        assert!(ledger.charge_random(101).is_err());
        assert_eq!(ledger.report().bytes_written, 1000);
        assert_eq!(ledger.report().random_bytes, 0);
        assert_eq!(
            ledger.breach(),
            Some(ToolCallError::ResourceLimit {
                resource: HostLimit::WriteBytes,
                limit: 1000
            })
        );
    }

    #[test]
    fn creations_are_admitted_up_to_the_cap() {
        let ledger = ledger();
        ledger.admit_create().unwrap();
        ledger.created();
        assert!(ledger.admit_create().is_err());
        assert_eq!(ledger.report().files_created, 1);
    }
}
