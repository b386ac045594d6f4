//! The demo's files: a fresh temporary folder holding `notes/` (the directory the file tool
//! is granted, read-only) and `private/` next to it (real files the tool is *not* granted,
//! so a refusal shows the sandbox at work rather than a missing file).
//!
//! Invariant: everything is created under one new directory in the system temp dir, and
//! that directory is removed when the [`Workspace`] is dropped.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the file tool sees the granted folder.
pub const GUEST_NOTES: &str = "/notes";

const README: &str = "# Project Lighthouse: team notes

One file per meeting, named by date. Task estimates are in estimates.csv (hours).
";

const PLANNING: &str = "# Planning, 2 Nov 2026

Attendees: Ana, Ben, Chloé, Dev

## Decisions
- Ship the importer behind a feature flag.
- Freeze the public API on 20 Nov.

## Action items
- [ ] Write the CSV importer (@ana)
- [ ] Benchmark the sync path against v1 (@ben)
- [x] Book the design review (@chloe)
- [ ] Draft the migration guide (@dev)

Budget details are in ../private/budget-2027.md and the roadmap is on
https://wiki.lighthouse.example/roadmap
";

const RETRO: &str = "# Retro, 16 Nov 2026

## Went well
- The importer prototype parsed every sample file.
- Review turnaround was under a day.

## To improve
- The uploader gives up on the first network error.
- The login test failed 4 times in 30 runs; risk: it hides real regressions.

## Action items
- [ ] Add retries to the uploader (@ben)
- [ ] Triage the flaky login test (@chloe)
- [x] Rotate the staging keys (@dev)
";

const ESTIMATES: &str = "task,owner,hours
csv importer,ana,12
sync benchmark,ben,6
migration guide,dev,4.5
uploader retries,ben,3
flaky login test,chloe,2.5
";

const BUDGET: &str = "# Budget 2027 (confidential)

Headcount and salaries: not for the team notes.
";

/// The demo's temporary folder; removed on drop.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Creates the folder and its files under the system temp dir.
    pub fn create() -> std::io::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = std::env::temp_dir().join(format!("warden-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&root)?;
        // From here on the guard exists, so a failure below still cleans up.
        let workspace = Self { root };
        let notes = workspace.notes();
        let private = workspace.root.join("private");
        std::fs::create_dir(&notes)?;
        std::fs::create_dir(&private)?;
        write(&notes, "README.md", README)?;
        write(&notes, "2026-11-02-planning.md", PLANNING)?;
        write(&notes, "2026-11-16-retro.md", RETRO)?;
        write(&notes, "estimates.csv", ESTIMATES)?;
        write(&private, "budget-2027.md", BUDGET)?;
        Ok(workspace)
    }

    /// The root of the temporary folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host directory granted to the file tool.
    pub fn notes(&self) -> PathBuf {
        self.root.join("notes")
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // Best effort: a leftover temp folder is harmless and the OS cleans it eventually.
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(name), text)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn creates_notes_and_private_files_and_removes_them_on_drop() {
        let ws = Workspace::create().unwrap();
        let root = ws.root().to_path_buf();
        assert!(ws.notes().join("estimates.csv").is_file());
        assert!(root.join("private/budget-2027.md").is_file());
        drop(ws);
        assert!(!root.exists());
    }
}
