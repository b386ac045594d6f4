//! Turns an `std::io::Error` from a file operation into a message the model can act on.
//!
//! Invariant: the message names the path and, where there is one, the way forward; WASI's
//! capability denials read as "not granted / read-only", never as a bare errno.

use crate::grants::Resolved;
use std::io::{Error, ErrorKind};
use warden_tool::ToolError;

/// What the tool was doing, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Read,
    Write,
}

/// The `ToolError` for `error` while doing `op` on `at`.
pub fn io_error(op: Op, at: &Resolved<'_>, error: &Error) -> ToolError {
    let path = at.path.display();
    let verb = match op {
        Op::List => "list",
        Op::Read => "read",
        Op::Write => "write",
    };
    let message = match error.kind() {
        ErrorKind::NotFound if op == Op::Write => format!(
            "cannot write {path}: its parent directory does not exist; set create_dirs to true to create it"
        ),
        ErrorKind::NotFound => {
            format!("{path} does not exist; list its parent directory to see what is there")
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => format!(
            "cannot {verb} {path}: permission denied; this directory was not granted to the tool \
             for {} (or the file is protected)",
            if op == Op::Write {
                "writing"
            } else {
                "reading"
            }
        ),
        ErrorKind::AlreadyExists => format!(
            "{path} already exists; use mode \"overwrite\" to replace it or \"append\" to add to it"
        ),
        ErrorKind::IsADirectory => format!("{path} is a directory; use fs_list to see its entries"),
        ErrorKind::NotADirectory if op == Op::List => {
            format!("{path} is a file, not a directory; use fs_read to read it")
        }
        ErrorKind::NotADirectory => format!("a parent of {path} is a file, not a directory"),
        _ => format!("cannot {verb} {path}: {error}"),
    };
    ToolError::failed(message)
}
