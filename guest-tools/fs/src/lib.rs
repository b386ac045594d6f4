//! The file tool pack: `fs_list`, `fs_read` and `fs_write`, over the directories the operator
//! granted to the component (WASI preopens) and nothing else.
//!
//! Invariant: each tool resolves its path through `Grants` first, so the model learns what it
//! may reach; the work itself is done by `ops` with plain `std::fs`, which WASI confines.

mod errors;
mod grants;
mod ops;

pub use grants::{Grant, Grants};
pub use ops::{ListArgs, ListOutput, ReadArgs, ReadOutput, WriteArgs, WriteMode, WriteOutput};
use warden_tool::{ToolError, tool};

/// Lists a directory: each entry's name, kind (file, dir, symlink, other) and size in bytes.
///
/// Only directories the operator granted can be listed; call it with "." (or the granted
/// directory's path) to start. Relative paths are relative to the first granted directory.
#[tool(output)]
pub fn fs_list(args: ListArgs) -> Result<ListOutput, ToolError> {
    ops::list(&Grants::current(), args)
}

/// Reads a UTF-8 text file, up to `max_bytes` (default 65536) from byte `offset` (default 0).
///
/// When `truncated` is true, call again with `offset` set to `next_offset` to read on.
#[tool(output)]
pub fn fs_read(args: ReadArgs) -> Result<ReadOutput, ToolError> {
    ops::read(&Grants::current(), args)
}

/// Writes a text file: mode "create" (the default; fails if the file exists), "overwrite"
/// (replaces or creates) or "append" (adds to the end, creating the file if needed).
///
/// Set `create_dirs` to create missing parent directories. Only writable granted directories
/// can be written.
#[tool(output)]
pub fn fs_write(args: WriteArgs) -> Result<WriteOutput, ToolError> {
    ops::write(&Grants::current(), args)
}

warden_tool::export_tools!(fs_list, fs_read, fs_write);
