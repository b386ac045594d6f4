//! The guest's `open-at`, done by warden instead of wasmtime-wasi so that no open can block a
//! host thread and every open file is counted.
//!
//! wasmtime-wasi opens on the blocking pool with plain `open(2)`: a FIFO (or a tty) in a
//! granted directory then blocks that thread until a writer appears, which can be never, and
//! a runtime waits for its blocking threads before it shuts down. Here the path is resolved
//! with the same sandboxed resolution (cap-primitives, which wasmtime-wasi vendors), checked
//! with `stat` first and opened with `O_NONBLOCK`, and anything but a regular file or a
//! directory is refused.
//!
//! Invariant: the flag handling and permission checks are wasmtime-wasi 48's `open_at`; the
//! only differences are `O_NONBLOCK`, the refusal of special files and the ledger.

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use cap_primitives::fs::{FollowSymlinks, OpenOptions};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{FsError, FsResult};
use wasmtime_wasi::{FsPerms, OpenMode};

use super::CallLedger;
use crate::error::ToolCallError;

/// What the blocking part found.
enum Opened {
    Dir(fs::File),
    File(fs::File),
    NotDir,
    Special(&'static str),
}

/// `descriptor.open-at` on the directory `fd`, as wasmtime-wasi does it, plus the limits.
pub(crate) async fn open_at(
    table: &mut ResourceTable,
    ledger: &CallLedger,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
    oflags: OpenFlags,
    flags: DescriptorFlags,
) -> FsResult<Resource<Descriptor>> {
    let dir: Dir = match table.get(&fd)? {
        Descriptor::Dir(d) => d.clone(),
        Descriptor::File(_) => return Err(ErrorCode::NotDirectory.into()),
    };
    let (opts, open_mode, create) = options(path_flags, oflags, flags)?;
    if dir.perms == FsPerms::ReadOnly && (create || open_mode.contains(OpenMode::WRITE)) {
        return Err(ErrorCode::NotPermitted.into());
    }
    ledger.admit_open().map_err(FsError::trap)?;
    if create {
        ledger.admit_create().map_err(FsError::trap)?;
    }
    let follow = opts_follow(path_flags);
    let want_dir = oflags.contains(OpenFlags::DIRECTORY);
    let start = dir.dir.clone();
    let shown = path.clone();
    let (opened, created) =
        tokio::task::spawn_blocking(move || open_blocking(&start, &path, &opts, follow, want_dir))
            .await
            .map_err(|e| FsError::trap(wasmtime::Error::msg(format!("open-at failed: {e}"))))?
            .map_err(ErrorCode::from)?;
    let descriptor = match opened {
        Opened::Dir(d) => Descriptor::Dir(Dir::new(d, dir.perms, open_mode, false)),
        Opened::File(f) => Descriptor::File(File::new(f, dir.perms, open_mode, false)),
        Opened::NotDir => return Err(ErrorCode::NotDirectory.into()),
        Opened::Special(kind) => {
            let refused = ledger.refuse(ToolCallError::CapabilityDenied {
                capability: "opening a special file".into(),
                detail: format!(
                    "{shown:?} is a {kind}; only regular files and directories may be opened"
                ),
            });
            return Err(FsError::trap(refused));
        }
    };
    ledger.opened(match &descriptor {
        Descriptor::Dir(d) => &d.dir,
        Descriptor::File(f) => &f.file,
    });
    if create && created {
        ledger.created();
    }
    Ok(table.push(descriptor)?)
}

fn opts_follow(path_flags: PathFlags) -> FollowSymlinks {
    if path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    }
}

/// The open options, the open mode and whether the open may create a file, exactly as
/// wasmtime-wasi derives them, plus `O_NONBLOCK`.
fn options(
    path_flags: PathFlags,
    oflags: OpenFlags,
    flags: DescriptorFlags,
) -> Result<(OpenOptions, OpenMode, bool), ErrorCode> {
    let mut opts = OpenOptions::new();
    let mut open_mode = OpenMode::empty();
    let create = oflags.contains(OpenFlags::CREATE);
    if create {
        if oflags.contains(OpenFlags::EXCLUSIVE) {
            opts.create_new(true);
        } else {
            opts.create(true);
        }
        opts.write(true);
        open_mode |= OpenMode::WRITE;
    }
    if oflags.contains(OpenFlags::TRUNCATE) {
        opts.truncate(true).write(true);
        open_mode |= OpenMode::WRITE;
    }
    if flags.contains(DescriptorFlags::READ) {
        opts.read(true);
        open_mode |= OpenMode::READ;
    }
    if flags.contains(DescriptorFlags::WRITE) {
        opts.write(true);
        open_mode |= OpenMode::WRITE;
    } else {
        // As wasmtime-wasi: open for reading so the OS allows it; perms reject writes later.
        opts.read(true);
        open_mode |= OpenMode::READ;
    }
    // The `_cap_fs_ext_*` setters are how cap-fs-ext exposes these; they are plain setters.
    opts._cap_fs_ext_follow(opts_follow(path_flags));
    opts._cap_fs_ext_nonblock(true);
    if flags.intersects(
        DescriptorFlags::FILE_INTEGRITY_SYNC
            | DescriptorFlags::DATA_INTEGRITY_SYNC
            | DescriptorFlags::REQUESTED_WRITE_SYNC,
    ) {
        return Err(ErrorCode::Unsupported);
    }
    if oflags.contains(OpenFlags::DIRECTORY)
        && oflags.intersects(OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE)
    {
        return Err(ErrorCode::Invalid);
    }
    Ok((opts, open_mode, create))
}

/// Refuses a special file before opening it (opening some devices has effects), opens
/// without blocking, and checks again on the open file in case the path changed in between.
/// The bool says whether the path did not exist before (so a create made it).
fn open_blocking(
    start: &fs::File,
    path: &str,
    opts: &OpenOptions,
    follow: FollowSymlinks,
    want_dir: bool,
) -> io::Result<(Opened, bool)> {
    let path = Path::new(path);
    let existed = match cap_primitives::fs::stat(start, path, follow) {
        Ok(meta) => {
            if let Some(kind) = TypeBits::cap(&meta.file_type()).special() {
                return Ok((Opened::Special(kind), false));
            }
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        // Let the open itself report anything else (e.g. a symlink loop or an escape).
        Err(_) => true,
    };
    let file = cap_primitives::fs::open(start, path, opts)?;
    let file_type = file.metadata()?.file_type();
    if let Some(kind) = TypeBits::std(&file_type).special() {
        return Ok((Opened::Special(kind), false));
    }
    let opened = if file_type.is_dir() {
        Opened::Dir(file)
    } else if want_dir {
        Opened::NotDir
    } else {
        Opened::File(file)
    };
    Ok((opened, !existed))
}

/// The type bits of a file, from a std or a cap-primitives file type.
struct TypeBits {
    regular_or_dir: bool,
    fifo: bool,
    char_device: bool,
    block_device: bool,
}

impl TypeBits {
    fn std(t: &fs::FileType) -> Self {
        Self {
            regular_or_dir: t.is_file() || t.is_dir(),
            fifo: t.is_fifo(),
            char_device: t.is_char_device(),
            block_device: t.is_block_device(),
        }
    }

    fn cap(t: &cap_primitives::fs::FileType) -> Self {
        use cap_primitives::fs::FileTypeExt as _;
        Self {
            regular_or_dir: t.is_file() || t.is_dir(),
            fifo: t.is_fifo(),
            char_device: t.is_char_device(),
            block_device: t.is_block_device(),
        }
    }

    /// What kind of special file this is, or `None` for a regular file or a directory.
    fn special(&self) -> Option<&'static str> {
        if self.regular_or_dir {
            None
        } else if self.fifo {
            Some("FIFO")
        } else if self.char_device {
            Some("character device")
        } else if self.block_device {
            Some("block device")
        } else {
            Some("socket or other special file")
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn read_opts() -> OpenOptions {
        options(
            PathFlags::empty(),
            OpenFlags::empty(),
            DescriptorFlags::READ,
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let start = fs::File::open(dir.path()).unwrap();
        let (opened, _) =
            open_blocking(&start, "pipe", &read_opts(), FollowSymlinks::Yes, false).unwrap();
        assert!(matches!(opened, Opened::Special("FIFO")));
    }

    #[test]
    fn regular_files_and_dirs_open_and_a_create_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let start = fs::File::open(dir.path()).unwrap();
        let (opened, created) =
            open_blocking(&start, "sub", &read_opts(), FollowSymlinks::No, true).unwrap();
        assert!(matches!(opened, Opened::Dir(_)) && !created);
        let (opts, mode, create) = options(
            PathFlags::empty(),
            OpenFlags::CREATE,
            DescriptorFlags::WRITE,
        )
        .unwrap();
        assert!(create && mode.contains(OpenMode::WRITE));
        let (opened, created) =
            open_blocking(&start, "new.txt", &opts, FollowSymlinks::No, false).unwrap();
        assert!(matches!(opened, Opened::File(_)) && created);
        let (_, created) =
            open_blocking(&start, "new.txt", &opts, FollowSymlinks::No, false).unwrap();
        assert!(
            !created,
            "opening an existing file with CREATE creates nothing"
        );
    }

    #[test]
    fn paths_still_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let start = fs::File::open(dir.path()).unwrap();
        let escaped = open_blocking(
            &start,
            "../../etc/passwd",
            &read_opts(),
            FollowSymlinks::Yes,
            false,
        );
        assert!(escaped.is_err());
    }
}
