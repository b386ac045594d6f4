//! [`SecureDir`]: a directory of warden's own state, opened once and then used only through
//! its file descriptor, so later changes to the path (a swapped-in symlink) cannot redirect
//! what warden reads or writes.
//!
//! Invariant: a `SecureDir` is a real directory (its last component is not a symlink, and
//! every component warden created or entered below the resolved parent was entered without
//! following links), owned by the current user, and neither group- nor world-writable; files in it are opened without following symlinks, and only
//! regular files owned by the current user are read.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, fstat, mkdirat, openat};
use rustix::io::Errno;

use crate::state_dirs::resolve;

/// Why a state directory (or a file in it) is not used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("{path} is a symlink; warden never enters its state through a symlink")]
    Symlink { path: String },
    #[error("{path} is owned by user {owner}, not by the current user {me}")]
    Owner { path: String, owner: u32, me: u32 },
    #[error("{path} is writable by group or others (mode {mode:o}); it must be 0700")]
    Writable { path: String, mode: u32 },
    #[error("{path} is readable by group or others (mode {mode:o}); it must be 0600")]
    NotPrivate { path: String, mode: u32 },
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    #[error("{path} is {size} bytes, over the {limit}-byte limit")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// An opened, checked state directory.
#[derive(Debug)]
pub(crate) struct SecureDir {
    path: PathBuf,
    fd: OwnedFd,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

impl SecureDir {
    /// Opens `path`, creating the missing components with mode 0700, and checks it. The
    /// parent is resolved like a grant is (see `state_dirs::resolve`), so the directory
    /// opened is the one protected from grants; its last component is never a symlink.
    pub(crate) fn open_or_create(path: &Path) -> Result<Self, Refused> {
        let absolute = std::path::absolute(path).map_err(|e| io_err(path, e))?;
        let (Some(parent), Some(Component::Normal(name))) =
            (absolute.parent(), absolute.components().next_back())
        else {
            return Err(io_err(
                path,
                std::io::Error::other("the path must end in a directory name"),
            ));
        };
        let path = resolve(parent).join(name);
        // The existing part of the resolved path has no symlinks left; every component
        // below it is created and entered without following links.
        let parts: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name),
                _ => None,
            })
            .collect();
        let mut existing = parts.len();
        let mut fd = loop {
            let prefix: PathBuf = std::iter::once(OsStr::new("/"))
                .chain(parts[..existing].iter().copied())
                .collect();
            match rustix::fs::open(&prefix, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => break fd,
                Err(Errno::NOENT) if existing > 0 => existing -= 1,
                Err(e) => return Err(refused(&prefix, e)),
            }
        };
        for name in &parts[existing..] {
            match mkdirat(&fd, *name, Mode::RWXU) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(refused(&path, e)),
            }
            fd = openat(&fd, *name, DIR_FLAGS, Mode::empty()).map_err(|e| refused(&path, e))?;
        }
        check_owner_and_mode(&path, &fd)?;
        Ok(Self { path, fd })
    }

    /// The directory's path (for messages and for the grant check).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads file `name` (a regular file of ours, at most `limit` bytes); `Ok(None)` if absent.
    pub(crate) fn read(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, Refused> {
        self.read_checked(name, limit, false)
    }

    /// [`SecureDir::read`] that also refuses a file readable by group or others.
    pub(crate) fn read_private(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, Refused> {
        self.read_checked(name, limit, true)
    }

    fn read_checked(
        &self,
        name: &str,
        limit: u64,
        private: bool,
    ) -> Result<Option<Vec<u8>>, Refused> {
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = match openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(refused(&path, e)),
        };
        let stat = fstat(&fd).map_err(|e| refused(&path, e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(Refused::NotAFile {
                path: path.display().to_string(),
            });
        }
        check_owner(&path, stat.st_uid)?;
        if private && stat.st_mode & 0o077 != 0 {
            return Err(Refused::NotPrivate {
                path: path.display().to_string(),
                mode: stat.st_mode & 0o7777,
            });
        }
        let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
        if size > limit {
            return Err(Refused::TooLarge {
                path: path.display().to_string(),
                size,
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        std::fs::File::from(fd)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| io_err(&path, e))?;
        if bytes.len() as u64 > limit {
            return Err(Refused::TooLarge {
                path: path.display().to_string(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(Some(bytes))
    }

    /// Writes `parts` to a new temp file (0600), syncs it, and renames it to `name`, so a
    /// reader sees the old file or the whole new one.
    pub(crate) fn write(&self, name: &str, parts: &[&[u8]]) -> Result<(), Refused> {
        let tmp = self.write_temp(parts)?;
        rustix::fs::renameat(&self.fd, &tmp, &self.fd, name).map_err(|e| {
            self.remove(&tmp);
            refused(&self.path.join(name), e)
        })
    }

    /// Like [`SecureDir::write`] but never replaces an existing `name`: returns `Ok(false)`
    /// if another writer got there first.
    pub(crate) fn create(&self, name: &str, parts: &[&[u8]]) -> Result<bool, Refused> {
        let tmp = self.write_temp(parts)?;
        let linked = rustix::fs::linkat(&self.fd, &tmp, &self.fd, name, AtFlags::empty());
        self.remove(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(refused(&self.path.join(name), e)),
        }
    }

    /// Removes file `name` (best effort: a missing file is fine).
    pub(crate) fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    fn write_temp(&self, parts: &[&[u8]]) -> Result<String, Refused> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        for _ in 0..16 {
            let name = format!(".tmp-{}-{:016x}", std::process::id(), rand::random::<u64>());
            let fd = match openat(
                &self.fd,
                &name,
                flags | OFlags::CLOEXEC,
                Mode::RUSR | Mode::WUSR,
            ) {
                Ok(fd) => fd,
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(refused(&self.path.join(&name), e)),
            };
            let mut file = std::fs::File::from(fd);
            let written = parts
                .iter()
                .try_for_each(|part| file.write_all(part))
                .and_then(|()| file.sync_all());
            if let Err(e) = written {
                self.remove(&name);
                return Err(io_err(&self.path.join(&name), e));
            }
            return Ok(name);
        }
        Err(io_err(
            &self.path,
            std::io::Error::other("cannot create a temp file"),
        ))
    }
}

fn check_owner_and_mode(path: &Path, fd: &OwnedFd) -> Result<(), Refused> {
    let stat = fstat(fd).map_err(|e| refused(path, e))?;
    check_owner(path, stat.st_uid)?;
    let mode = stat.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Refused::Writable {
            path: path.display().to_string(),
            mode,
        });
    }
    if mode & 0o077 != 0 {
        // Readable by others but not writable: ours to tighten, nothing to distrust.
        rustix::fs::fchmod(fd, Mode::RWXU).map_err(|e| refused(path, e))?;
    }
    Ok(())
}

fn check_owner(path: &Path, owner: u32) -> Result<(), Refused> {
    let me = rustix::process::geteuid().as_raw();
    if owner != me {
        return Err(Refused::Owner {
            path: path.display().to_string(),
            owner,
            me,
        });
    }
    Ok(())
}

fn refused(path: &Path, e: Errno) -> Refused {
    // O_NOFOLLOW on a symlink fails with ELOOP (or ENOTDIR with O_DIRECTORY on some systems).
    if matches!(e, Errno::LOOP | Errno::NOTDIR)
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    {
        return Refused::Symlink {
            path: path.display().to_string(),
        };
    }
    io_err(path, e.into())
}

fn io_err(path: &Path, source: std::io::Error) -> Refused {
    Refused::Io {
        path: path.display().to_string(),
        source,
    }
}
