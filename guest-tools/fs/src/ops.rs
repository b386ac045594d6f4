//! The work of `fs_list`, `fs_read` and `fs_write` as plain functions over `Grants`, so tests
//! run them natively against a temporary directory.
//!
//! Invariant: reads are capped (`max_bytes` ≤ 1 MiB, entries ≤ 10000) and only ever return
//! whole UTF-8 characters; a write touches exactly the resolved path.

use crate::errors::{Op, io_error};
use crate::grants::Grants;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use warden_tool::ToolError;

/// Largest `max_bytes` for one read.
const READ_LIMIT: u64 = 1 << 20;
/// Largest `max_entries` for one listing.
const ENTRY_LIMIT: usize = 10_000;

fn default_max_bytes() -> u64 {
    64 * 1024
}
fn default_max_entries() -> usize {
    1000
}

/// Arguments of `fs_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// The directory to list ("." for the first granted directory).
    pub path: String,
    /// Most entries to return (1 to 10000, default 1000).
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

/// One directory entry.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name.
    pub name: String,
    /// "file", "dir", "symlink" or "other".
    pub kind: String,
    /// Size in bytes (files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Output of `fs_list`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ListOutput {
    /// The directory listed, as resolved.
    pub path: String,
    /// Its entries, sorted by name.
    pub entries: Vec<Entry>,
    /// How many entries the directory holds.
    pub total: usize,
    /// True when `total` is more than the entries returned.
    pub truncated: bool,
}

/// Arguments of `fs_read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// The file to read.
    pub path: String,
    /// Byte offset to start at (default 0).
    #[serde(default)]
    pub offset: u64,
    /// Most bytes to return (1 to 1048576, default 65536).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
}

/// Output of `fs_read`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ReadOutput {
    /// The file read, as resolved.
    pub path: String,
    /// The text read.
    pub content: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Byte offset the content starts at.
    pub offset: u64,
    /// Byte offset just past the content: pass it as `offset` to read on.
    pub next_offset: u64,
    /// True when the file goes on after the content.
    pub truncated: bool,
}

/// How `fs_write` treats an existing file.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Create a new file; fail if it exists.
    #[default]
    Create,
    /// Replace the file's content, creating it if needed.
    Overwrite,
    /// Add to the end of the file, creating it if needed.
    Append,
}

/// Arguments of `fs_write`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// The file to write.
    pub path: String,
    /// The text to write.
    pub content: String,
    /// "create" (default), "overwrite" or "append".
    #[serde(default)]
    pub mode: WriteMode,
    /// Create missing parent directories (default false).
    #[serde(default)]
    pub create_dirs: bool,
}

/// Output of `fs_write`.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct WriteOutput {
    /// The file written, as resolved.
    pub path: String,
    /// Bytes written by this call.
    pub bytes_written: u64,
    /// The file's size after the write.
    pub size: u64,
}

/// Lists the directory `args.path`.
pub fn list(grants: &Grants, args: ListArgs) -> Result<ListOutput, ToolError> {
    if args.max_entries == 0 || args.max_entries > ENTRY_LIMIT {
        return Err(ToolError::invalid_args(format!(
            "max_entries must be from 1 to {ENTRY_LIMIT}, got {}",
            args.max_entries
        )));
    }
    let at = grants.resolve(&args.path, false)?;
    let reader = fs::read_dir(&at.path).map_err(|e| io_error(Op::List, &at, &e))?;
    let mut entries = Vec::new();
    for item in reader {
        let item = item.map_err(|e| io_error(Op::List, &at, &e))?;
        let file_type = item.file_type().map_err(|e| io_error(Op::List, &at, &e))?;
        let (kind, size) = if file_type.is_dir() {
            ("dir", None)
        } else if file_type.is_symlink() {
            ("symlink", None)
        } else if file_type.is_file() {
            ("file", item.metadata().ok().map(|m| m.len()))
        } else {
            ("other", None)
        };
        entries.push(Entry {
            name: item.file_name().to_string_lossy().into_owned(),
            kind: kind.into(),
            size,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let total = entries.len();
    entries.truncate(args.max_entries);
    Ok(ListOutput {
        path: at.path.display().to_string(),
        entries,
        total,
        truncated: total > args.max_entries,
    })
}

/// Reads up to `args.max_bytes` of the text file `args.path` from `args.offset`.
pub fn read(grants: &Grants, args: ReadArgs) -> Result<ReadOutput, ToolError> {
    if args.max_bytes == 0 || args.max_bytes > READ_LIMIT {
        return Err(ToolError::invalid_args(format!(
            "max_bytes must be from 1 to {READ_LIMIT}, got {}",
            args.max_bytes
        )));
    }
    let at = grants.resolve(&args.path, false)?;
    let mut file = fs::File::open(&at.path).map_err(|e| io_error(Op::Read, &at, &e))?;
    let meta = file.metadata().map_err(|e| io_error(Op::Read, &at, &e))?;
    if meta.is_dir() {
        return Err(ToolError::failed(format!(
            "{} is a directory; use fs_list to see its entries",
            at.path.display()
        )));
    }
    let size = meta.len();
    if args.offset > size {
        return Err(ToolError::invalid_args(format!(
            "offset {} is past the end of {} ({size} bytes)",
            args.offset,
            at.path.display()
        )));
    }
    file.seek(SeekFrom::Start(args.offset))
        .map_err(|e| io_error(Op::Read, &at, &e))?;
    let mut bytes = Vec::new();
    file.take(args.max_bytes)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(Op::Read, &at, &e))?;
    let content = whole_chars(bytes, args.offset).map_err(|bad| {
        ToolError::failed(format!(
            "{} is not UTF-8 text (invalid byte at offset {bad}); this tool reads text files only",
            at.path.display()
        ))
    })?;
    let next_offset = args.offset + content.len() as u64;
    Ok(ReadOutput {
        path: at.path.display().to_string(),
        content,
        size,
        offset: args.offset,
        next_offset,
        truncated: next_offset < size,
    })
}

/// `bytes` as text, dropping a character cut in two at the end by the size cap.
/// `Err` holds the file offset of the first invalid byte.
fn whole_chars(mut bytes: Vec<u8>, offset: u64) -> Result<String, u64> {
    match std::str::from_utf8(&bytes) {
        Ok(_) => {}
        // `error_len() == None`: the bytes end inside a character; keep what is before it.
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => bytes.truncate(e.valid_up_to()),
        Err(e) => return Err(offset + e.valid_up_to() as u64),
    }
    String::from_utf8(bytes).map_err(|e| offset + e.utf8_error().valid_up_to() as u64)
}

/// Writes `args.content` to `args.path` as `args.mode` says.
pub fn write(grants: &Grants, args: WriteArgs) -> Result<WriteOutput, ToolError> {
    let at = grants.resolve(&args.path, true)?;
    if args.create_dirs
        && let Some(parent) = at.path.parent()
    {
        fs::create_dir_all(parent).map_err(|e| io_error(Op::Write, &at, &e))?;
    }
    // Atomic: the new content goes to a temporary file beside the target, which is then
    // renamed over it, so a crash mid-write leaves the old file or the new one, never half.
    let existing = match args.mode {
        WriteMode::Create if at.path.exists() => {
            return Err(io_error(
                Op::Write,
                &at,
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        WriteMode::Append => match fs::read(&at.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(Op::Write, &at, &e)),
        },
        _ => Vec::new(),
    };
    let temp = temp_path(&at.path);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(&existing)?;
        file.write_all(args.content.as_bytes())?;
        file.flush()?;
        file.sync_all()?;
        fs::rename(&temp, &at.path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(Op::Write, &at, &e));
    }
    let size = fs::metadata(&at.path)
        .map_err(|e| io_error(Op::Write, &at, &e))?
        .len();
    Ok(WriteOutput {
        path: at.path.display().to_string(),
        bytes_written: args.content.len() as u64,
        size,
    })
}

/// A temporary name beside `path`, unique to this call (the idempotency key when the host
/// gives one, else the clock).
fn temp_path(path: &std::path::Path) -> std::path::PathBuf {
    let unique = warden_tool::idempotency_key()
        .map(|k| k.bytes().map(|b| format!("{b:02x}")).collect::<String>())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_nanos()).to_string()
        });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = &unique[..unique.len().min(64)];
    path.with_file_name(format!(".{name}.{unique}.warden-tmp"))
}

#[cfg(test)]
mod tests;
