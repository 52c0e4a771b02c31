//! Files in and out of a session through the host folder behind its `~/Uploads` or
//! `~/Downloads` (the session's own transfer folder, or its profile), written and read by the
//! agent at disk speed: no `docker exec` pipe, and no archive API (which holds the container's
//! lock for the whole transfer, bench/README.md).
//!
//! The folders are the user's, and the user may have put anything in them. So everything is
//! opened relative to the folder's descriptor, never following a link: a link where the folder
//! should be is refused, and so is a link named by an upload; in `~/Downloads` a link is
//! followed once when it names a file of the same folder (a download manager's alias), never
//! out of it. An upload is written to an unnamed file (`O_TMPFILE`) that gets its name only
//! once complete: cut off by anything, even the agent's death, it leaves nothing behind.
use super::files::{entry, newest_first, LIST_MAX_OUTPUT};
use crate::files::chunks::{coalesced, PIECE};
use crate::files::{ByteStream, FileEntry, FileError};
use bytes::BytesMut;
use futures_util::StreamExt;
use rustix::fs::{self as fs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use store::mounts::{SESSION_HOME, SESSION_UID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A host folder and the path below it that a container folder is: `source` is what Docker
/// mounted (the agent made it or the operator allowed it), `rest` the components below it,
/// which belong to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backing {
    pub source: PathBuf,
    pub rest: Vec<String>,
}

/// The folders transfers use, in the session's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Uploads,
    Downloads,
}

impl Folder {
    pub fn container_path(self) -> String {
        format!("{SESSION_HOME}/{}", self.name())
    }

    fn name(self) -> &'static str {
        match self {
            Folder::Uploads => "Uploads",
            Folder::Downloads => "Downloads",
        }
    }

    fn label(self) -> String {
        format!("~/{}", self.name())
    }

    fn link_refusal(self) -> String {
        match self {
            Folder::Uploads => {
                "~/Uploads is a symbolic link; files are written only into a real folder.".into()
            }
            Folder::Downloads => {
                "~/Downloads is a symbolic link; files are read only from a real folder.".into()
            }
        }
    }
}

/// Of a container's mounts (destination, host source), the one holding `target` and the
/// path below it; None when `target` is in the container's own file system.
pub fn backing(mounts: &[(String, PathBuf)], target: &str) -> Option<Backing> {
    mounts
        .iter()
        .filter_map(|(destination, source)| {
            let below = Path::new(target).strip_prefix(destination).ok()?;
            let rest = below
                .components()
                .map(|part| match part {
                    Component::Normal(name) => name.to_str().map(str::to_owned),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>()?;
            Some((
                destination.len(),
                Backing {
                    source: source.clone(),
                    rest,
                },
            ))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, backing)| backing)
}

fn failed(what: String, error: impl std::fmt::Display) -> FileError {
    FileError::Failed(format!("{what}: {error}."))
}

fn session_user() -> (Option<fs::Uid>, Option<fs::Gid>) {
    (
        Some(fs::Uid::from_raw(SESSION_UID)),
        Some(fs::Gid::from_raw(SESSION_UID)),
    )
}

/// Opens `folder`, creating what is missing below the mount (owned by the session's user)
/// when `create`; None when it is missing and not to be created.
fn open_folder(
    backing: &Backing,
    folder: Folder,
    create: bool,
) -> Result<Option<OwnedFd>, FileError> {
    let directory = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = fs::open(&backing.source, directory, Mode::empty())
        .map_err(|error| failed(format!("The host folder behind {}", folder.label()), error))?;
    for part in &backing.rest {
        let opened = match fs::openat(&dir, part, directory | OFlags::NOFOLLOW, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                match fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(error) => {
                        return Err(failed(format!("Cannot create {}", folder.label()), error))
                    }
                }
                let made = fs::openat(&dir, part, directory | OFlags::NOFOLLOW, Mode::empty());
                if let Ok(made) = &made {
                    let (user, group) = session_user();
                    fs::fchown(made, user, group).map_err(|error| {
                        failed(
                            format!("Cannot give {} to the session's user", folder.label()),
                            error,
                        )
                    })?;
                }
                made
            }
            other => other,
        };
        dir = match opened {
            Ok(opened) => opened,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                return Err(match fs::statat(&dir, part, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                        FileError::Refused(folder.link_refusal())
                    }
                    _ => FileError::Refused(format!("{} is not a folder.", folder.label())),
                })
            }
            Err(error) => return Err(failed(format!("Cannot open {}", folder.label()), error)),
        };
    }
    Ok(Some(dir))
}

fn kind_of(dir: &OwnedFd, name: &str) -> Result<Option<FileType>, Errno> {
    match fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Where an upload is written until complete: an unnamed file, or where the file system has
/// none, a hidden temporary one.
struct Pending {
    dir: OwnedFd,
    file: std::fs::File,
    temporary: Option<String>,
}

impl Pending {
    fn discard(self) {
        if let Some(temporary) = self.temporary {
            let _ = fs::unlinkat(&self.dir, temporary.as_str(), AtFlags::empty());
        }
    }
}

/// Checks the target and opens the file an upload is written to.
fn start_upload(backing: &Backing, name: &str) -> Result<Pending, FileError> {
    let dir = open_folder(backing, Folder::Uploads, true)?
        .ok_or_else(|| FileError::Failed("~/Uploads cannot be created.".into()))?;
    match kind_of(&dir, name) {
        Ok(Some(FileType::Symlink)) => {
            return Err(FileError::Refused(format!(
                "~/Uploads/{name} is a symbolic link; it is not written through."
            )))
        }
        Ok(Some(FileType::Directory)) => {
            return Err(FileError::Refused(format!("~/Uploads/{name} is a folder.")))
        }
        Ok(_) => {}
        Err(error) => return Err(failed(format!("Cannot check ~/Uploads/{name}"), error)),
    }
    let mode = Mode::from_raw_mode(0o644);
    let write = OFlags::WRONLY | OFlags::CLOEXEC;
    let (file, temporary) = match fs::openat(&dir, ".", write | OFlags::TMPFILE, mode) {
        Ok(file) => (file, None),
        Err(_) => {
            let temporary = format!(".berth-upload.{}", uuid::Uuid::new_v4().simple());
            let flags = write | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
            let file = fs::openat(&dir, temporary.as_str(), flags, mode)
                .map_err(|error| failed("Cannot write into ~/Uploads".into(), error))?;
            (file, Some(temporary))
        }
    };
    let (user, group) = session_user();
    let pending = Pending {
        dir,
        file: std::fs::File::from(file),
        temporary,
    };
    if let Err(error) = fs::fchown(&pending.file, user, group) {
        pending.discard();
        return Err(failed(
            "Cannot give the upload to the session's user".into(),
            error,
        ));
    }
    Ok(pending)
}

/// Gives the complete upload its name (replacing a file of that name).
fn finish_upload(pending: Pending, name: &str) -> Result<(), FileError> {
    let temporary = match &pending.temporary {
        Some(temporary) => temporary.clone(),
        None => {
            let temporary = format!(".berth-upload.{}", uuid::Uuid::new_v4().simple());
            // An unnamed file is linked through /proc (AT_EMPTY_PATH would need a capability).
            let path = format!("/proc/self/fd/{}", pending.file.as_raw_fd());
            fs::linkat(
                fs::CWD,
                path.as_str(),
                &pending.dir,
                temporary.as_str(),
                AtFlags::SYMLINK_FOLLOW,
            )
            .map_err(|error| failed(format!("Cannot write ~/Uploads/{name}"), error))?;
            temporary
        }
    };
    match fs::renameat(&pending.dir, temporary.as_str(), &pending.dir, name) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = fs::unlinkat(&pending.dir, temporary.as_str(), AtFlags::empty());
            Err(match error {
                Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST => {
                    FileError::Refused(format!("~/Uploads/{name} is a folder."))
                }
                other => failed(format!("Cannot write ~/Uploads/{name}"), other),
            })
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| FileError::Failed(error.to_string()))?
}

/// Writes `body` (exactly `size` bytes) to `~/Uploads/name`.
pub async fn upload(
    backing: Backing,
    name: &str,
    size: u64,
    body: ByteStream,
) -> Result<u64, FileError> {
    let target = name.to_owned();
    let pending = blocking(move || start_upload(&backing, &target)).await?;
    let Pending {
        dir,
        file,
        temporary,
    } = pending;
    let mut file = tokio::fs::File::from_std(file);
    let mut body = coalesced(body, PIECE);
    let mut sent = 0u64;
    let mut outcome = Ok(());
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                outcome = Err(FileError::Refused(format!(
                    "The upload was interrupted: {error}"
                )));
                break;
            }
        };
        sent += chunk.len() as u64;
        if sent > size {
            outcome = Err(FileError::Refused(
                "The upload is longer than it declared.".into(),
            ));
            break;
        }
        if let Err(error) = file.write_all(&chunk).await {
            outcome = Err(failed(
                format!("Writing ~/Uploads/{name} failed (is the disk full?)"),
                error,
            ));
            break;
        }
    }
    if outcome.is_ok() && sent != size {
        outcome = Err(FileError::Refused(
            "The upload ended before the whole file arrived.".into(),
        ));
    }
    if outcome.is_ok() {
        if let Err(error) = file.flush().await {
            outcome = Err(failed(
                format!("Writing ~/Uploads/{name} failed (is the disk full?)"),
                error,
            ));
        }
    }
    let pending = Pending {
        dir,
        file: file.into_std().await,
        temporary,
    };
    let target = name.to_owned();
    blocking(move || match outcome {
        Ok(()) => finish_upload(pending, &target),
        Err(error) => {
            pending.discard();
            Err(error)
        }
    })
    .await?;
    Ok(size)
}

/// The name a download reads: `name` itself, or the file of the same folder a link names.
fn resolved(dir: &OwnedFd, name: &str) -> Result<String, FileError> {
    let outside = || {
        FileError::Refused(format!(
            "~/Downloads/{name} is a symbolic link to outside ~/Downloads."
        ))
    };
    match kind_of(dir, name) {
        Ok(None) => Err(FileError::Missing(format!(
            "There is no file ~/Downloads/{name}."
        ))),
        Ok(Some(FileType::Symlink)) => {
            let target = fs::readlinkat(dir, name, Vec::new())
                .map_err(|error| failed(format!("Cannot read ~/Downloads/{name}"), error))?;
            let target = PathBuf::from(target.to_string_lossy().into_owned());
            let folder = PathBuf::from(Folder::Downloads.container_path());
            let inside = target.strip_prefix(&folder).unwrap_or(&target);
            let mut parts = inside.components();
            match (parts.next(), parts.next()) {
                (Some(Component::Normal(file)), None) => match file.to_str() {
                    Some(file) if kind_of(dir, file).ok().flatten().is_some() => {
                        Ok(file.to_owned())
                    }
                    Some(_) => Err(FileError::Refused(format!(
                        "~/Downloads/{name} is a broken symbolic link."
                    ))),
                    None => Err(outside()),
                },
                _ => Err(outside()),
            }
        }
        Ok(Some(_)) => Ok(name.to_owned()),
        Err(error) => Err(failed(format!("Cannot read ~/Downloads/{name}"), error)),
    }
}

/// Opens `~/Downloads/name` as a regular file; its size.
fn open_download(backing: &Backing, name: &str) -> Result<(std::fs::File, u64), FileError> {
    let missing = || FileError::Missing(format!("There is no file ~/Downloads/{name}."));
    let dir = open_folder(backing, Folder::Downloads, false)?.ok_or_else(missing)?;
    let file = resolved(&dir, name)?;
    let not_regular = || FileError::Refused(format!("~/Downloads/{name} is not a regular file."));
    // Checked before opening too: opening a FIFO or a device can itself do something.
    if kind_of(&dir, &file).ok().flatten() != Some(FileType::RegularFile) {
        return Err(not_regular());
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let opened = match fs::openat(&dir, file.as_str(), flags, Mode::empty()) {
        Ok(opened) => opened,
        Err(Errno::LOOP) => {
            return Err(FileError::Refused(format!(
                "~/Downloads/{name} is a symbolic link to another link; it is not followed."
            )))
        }
        Err(Errno::NOENT) => return Err(missing()),
        Err(error) => return Err(failed(format!("Cannot read ~/Downloads/{name}"), error)),
    };
    let stat = fs::fstat(&opened)
        .map_err(|error| failed(format!("Cannot read ~/Downloads/{name}"), error))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(not_regular());
    }
    Ok((std::fs::File::from(opened), stat.st_size as u64))
}

/// `~/Downloads/name`: its size, and its bytes as they are read.
pub async fn download(backing: Backing, name: &str) -> Result<(u64, ByteStream), FileError> {
    let name = name.to_owned();
    let (file, size) = blocking(move || open_download(&backing, &name)).await?;
    Ok((
        size,
        Box::pin(read_exactly(tokio::fs::File::from_std(file), size)),
    ))
}

/// `size` bytes of `file` in pieces; an error if it ends before (the file shrank while read),
/// so a short body is never taken for the file.
fn read_exactly(
    file: tokio::fs::File,
    size: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold((file, size), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let want = PIECE.min(usize::try_from(left).unwrap_or(PIECE));
        let mut piece = BytesMut::with_capacity(want);
        while piece.len() < want {
            match file.read_buf(&mut piece).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => return Some((Err(error), (file, 0))),
            }
        }
        if piece.is_empty() {
            let ended = std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended before its size",
            );
            return Some((Err(ended), (file, 0)));
        }
        piece.truncate(want);
        let left = left - piece.len() as u64;
        Some((Ok(piece.freeze()), (file, left)))
    })
}

/// The regular files of `~/Downloads` (created if missing), newest first.
fn list_folder(backing: &Backing) -> Result<Vec<FileEntry>, FileError> {
    let dir = open_folder(backing, Folder::Downloads, true)?
        .ok_or_else(|| FileError::Failed("~/Downloads cannot be created.".into()))?;
    let reader = fs::openat(
        &dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|error| failed("Cannot list ~/Downloads".into(), error))?;
    let listing = fs::Dir::read_from(&reader)
        .map_err(|error| failed("Cannot list ~/Downloads".into(), error))?;
    let mut entries = Vec::new();
    // As much as the exec listing allowed (some 10,000 files).
    let mut budget = LIST_MAX_OUTPUT;
    for item in listing {
        let Ok(item) = item else { break };
        let name = item.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let Ok(stat) = fs::statat(&dir, item.file_name(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            continue;
        }
        budget = match budget.checked_sub(name.len() + 40) {
            Some(left) => left,
            None => break,
        };
        let modified = stat.st_mtime as f64 + stat.st_mtime_nsec as f64 / 1e9;
        entries.extend(entry(stat.st_size as u64, modified, name));
    }
    Ok(newest_first(entries))
}

pub async fn list(backing: Backing) -> Result<Vec<FileEntry>, FileError> {
    blocking(move || list_folder(&backing)).await
}

#[cfg(test)]
#[path = "host_files_tests.rs"]
mod tests;
