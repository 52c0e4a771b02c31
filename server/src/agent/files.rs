//! Files in and out of a session's container whose `~/Uploads` and `~/Downloads` are in the
//! container itself (the agent's transfer folders switched off, or a session made before
//! them; otherwise `agent::host_files`), streamed through `docker exec` as the container's own
//! (unprivileged) user: whatever the user did to their folders (a symbolic
//! link for `~/Uploads`, `~/Downloads/x` pointing at `/etc/shadow`), Berth reads and writes
//! only what that user could, and the scripts below refuse links out of the folder with a
//! message. Uploads go to a temporary file renamed when complete; downloads are opened once
//! and their size taken from the open file.
use super::docker::DockerRuntime;
use super::exec::{stderr_to_end, Bounded};
use super::runtime::RuntimeError;
use crate::files::chunks::{coalesced, PIECE};
use crate::files::{ByteStream, FileEntry, FileError};
use crate::protocol::ExecRequest;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The shared start of every script: `fail CODE MESSAGE`; the real home folder.
const PRELUDE: &str = r#"unset BERTH_SESSION_SECRET
fail() { printf '%s\n' "$2" >&2; exit "$1"; }
home=$(realpath -e -- "$HOME") || fail 70 "The session's home folder is missing."
"#;

/// `$1` name, `$2` size. Prints `ready` once the target is checked, then takes standard input
/// until it ends (the agent sends at most `$2` bytes; `cat` reads a pipe in large blocks where
/// `head -c` took 8 KiB at a time) and keeps the file only if it has exactly `$2` bytes.
const UPLOAD: &str = r#"d="$home/Uploads"
[ -L "$d" ] && fail 65 "~/Uploads is a symbolic link; files are written only into a real folder."
mkdir -p -- "$d" 2>/dev/null || fail 65 "~/Uploads cannot be created."
[ -d "$d" ] || fail 65 "~/Uploads is not a folder."
t="$d/$1"
[ -L "$t" ] && fail 65 "~/Uploads/$1 is a symbolic link; it is not written through."
[ -d "$t" ] && fail 65 "~/Uploads/$1 is a folder."
tmp=$(mktemp -- "$d/.berth-upload.XXXXXX") || fail 70 "Cannot write into ~/Uploads."
trap 'rm -f -- "$tmp"' EXIT
echo ready
cat > "$tmp" || fail 70 "Writing ~/Uploads/$1 failed (is the disk full?)."
[ "$(stat -c %s -- "$tmp")" = "$2" ] || fail 66 "The upload ended before the whole file arrived."
mv -fT -- "$tmp" "$t" || fail 70 "Cannot write ~/Uploads/$1."
trap - EXIT
"#;

/// `$1` name. Prints the file's size and a newline, then the file.
const DOWNLOAD: &str = r#"d="$home/Downloads"
[ -L "$d" ] && fail 65 "~/Downloads is a symbolic link; files are read only from a real folder."
t="$d/$1"
[ -e "$t" ] || [ -L "$t" ] || fail 64 "There is no file ~/Downloads/$1."
r=$(realpath -e -- "$t") || fail 65 "~/Downloads/$1 is a broken symbolic link."
case "$r" in "$d"/*) ;; *) fail 65 "~/Downloads/$1 is a symbolic link to outside ~/Downloads." ;; esac
[ -f "$r" ] || fail 65 "~/Downloads/$1 is not a regular file."
exec 3< "$r" || fail 65 "~/Downloads/$1 cannot be read."
size=$(stat -L -c %s /dev/fd/3) || fail 70 "Cannot read ~/Downloads/$1."
printf '%s\n' "$size"
exec cat <&3
"#;

/// Lists `~/Downloads` (created if missing): "size mtime name" NUL-terminated, regular files
/// only.
const LIST: &str = r#"d="$home/Downloads"
[ -L "$d" ] && fail 65 "~/Downloads is a symbolic link; files are read only from a real folder."
mkdir -p -- "$d" 2>/dev/null || fail 65 "~/Downloads cannot be created."
exec find "$d" -mindepth 1 -maxdepth 1 -type f -printf '%s %T@ %f\0'
"#;

/// The most a listing may print (some 10,000 files).
pub(super) const LIST_MAX_OUTPUT: usize = 4 << 20;
/// The most a script's messages are kept.
const MESSAGE_MAX: usize = 4096;
/// After the last byte of an upload, how long renaming it may take.
const FINISH: std::time::Duration = std::time::Duration::from_secs(60);

fn script(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

impl From<RuntimeError> for FileError {
    fn from(error: RuntimeError) -> FileError {
        match error {
            RuntimeError::NotFound(_) | RuntimeError::NotRunning(_) => {
                FileError::NotRunning("The session's desktop is not running.".into())
            }
            other => FileError::Failed(other.to_string()),
        }
    }
}

fn docker_failed(error: bollard::errors::Error) -> FileError {
    FileError::from(RuntimeError::from(error))
}

/// What a script's exit code and message mean.
fn script_failure(code: Option<i64>, message: String) -> FileError {
    let message = message.trim().to_owned();
    match code {
        Some(64) => FileError::Missing(message),
        Some(65) | Some(66) => FileError::Refused(message),
        _ if message.is_empty() => FileError::Failed(format!(
            "The transfer failed in the container (exit code {code:?})."
        )),
        _ => FileError::Failed(message),
    }
}

/// The entries of a listing (see `LIST`), newest first; lines that do not parse are skipped.
pub fn parse_listing(output: &str) -> Vec<FileEntry> {
    let entries = output
        .split('\0')
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let size = parts.next()?.parse().ok()?;
            let modified: f64 = parts.next()?.parse().ok()?;
            entry(size, modified, parts.next()?.to_owned())
        })
        .collect();
    newest_first(entries)
}

/// One listed file, with its modification time (Unix seconds) kept for sorting.
pub(super) fn entry(size: u64, modified: f64, name: String) -> Option<(f64, FileEntry)> {
    let time = chrono::DateTime::from_timestamp(modified.trunc() as i64, 0)?;
    let modified_text = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Some((
        modified,
        FileEntry {
            name,
            size,
            modified: modified_text,
        },
    ))
}

/// The files newest first, then by name.
pub(super) fn newest_first(mut entries: Vec<(f64, FileEntry)>) -> Vec<FileEntry> {
    entries.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    entries.into_iter().map(|(_, entry)| entry).collect()
}

type Output = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
>;
type Input = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// How much of the exec's output is read at once.
const READ_CAPACITY: usize = 256 << 10;

impl DockerRuntime {
    /// Starts `body` (after `PRELUDE`) with `args` as the container's user, attached.
    async fn start_script(
        &self,
        session_id: Uuid,
        body: &str,
        args: Vec<String>,
        stdin: bool,
    ) -> Result<(String, Output, Input), FileError> {
        let container = self
            .find(session_id)
            .await?
            .ok_or(RuntimeError::NotFound(session_id))?;
        let mut cmd = vec!["sh".to_owned(), "-c".into(), script(body), "sh".into()];
        cmd.extend(args);
        let options = CreateExecOptions {
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            cmd: Some(cmd),
            privileged: Some(false),
            ..Default::default()
        };
        let exec_id = match self.docker.create_exec(&container, options).await {
            Ok(created) => created.id,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => return Err(RuntimeError::NotRunning(session_id).into()),
            Err(error) => return Err(docker_failed(error)),
        };
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(READ_CAPACITY),
        };
        match self
            .docker
            .start_exec(&exec_id, Some(start))
            .await
            .map_err(docker_failed)?
        {
            StartExecResults::Attached { output, input } => Ok((exec_id, output, input)),
            StartExecResults::Detached => {
                Err(FileError::Failed("the exec started detached".into()))
            }
        }
    }

    /// The exit code of an exec whose output ended (Docker may say "running" a moment longer).
    pub(super) async fn exit_of(&self, exec_id: &str) -> Option<i64> {
        for _ in 0..100 {
            match self.docker.inspect_exec(exec_id).await {
                Ok(inspected) if inspected.running != Some(true) => return inspected.exit_code,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                Err(_) => return None,
            }
        }
        None
    }

    /// The script's first line on standard output and what followed it in the same read; its
    /// failure when it ended without one.
    async fn first_line(
        &self,
        exec_id: &str,
        output: &mut Output,
    ) -> Result<(String, Bytes), FileError> {
        let mut head = Vec::new();
        let mut messages = Bounded::new(MESSAGE_MAX);
        while let Some(item) = output.next().await {
            match item.map_err(docker_failed)? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    head.extend_from_slice(&message);
                    if let Some(at) = head.iter().position(|b| *b == b'\n') {
                        let rest = Bytes::copy_from_slice(&head[at + 1..]);
                        head.truncate(at);
                        return Ok((String::from_utf8_lossy(&head).into_owned(), rest));
                    }
                    if head.len() > 64 {
                        return Err(FileError::Failed(
                            "The container answered the transfer badly.".into(),
                        ));
                    }
                }
                LogOutput::StdErr { message } => messages.push(&message),
                _ => {}
            }
        }
        let (message, _) = messages.finish();
        Err(script_failure(self.exit_of(exec_id).await, message))
    }

    /// Writes `body` (exactly `size` bytes) to `~/Uploads/name`.
    pub(super) async fn upload_file(
        &self,
        session_id: Uuid,
        name: &str,
        size: u64,
        body: ByteStream,
    ) -> Result<u64, FileError> {
        // Docker's exec input costs a write and a wake-up per piece at each of its hops.
        let mut body = coalesced(body, PIECE);
        let args = vec![name.to_owned(), size.to_string()];
        let (exec_id, mut output, mut input) =
            self.start_script(session_id, UPLOAD, args, true).await?;
        let (ready, _) = self.first_line(&exec_id, &mut output).await?;
        if ready != "ready" {
            return Err(FileError::Failed(
                "The container answered the upload badly.".into(),
            ));
        }
        let mut sent = 0u64;
        while let Some(chunk) = body.next().await {
            // An interrupted upload: dropping the exec's connection ends its input, and the
            // script removes the partial file.
            let chunk = chunk.map_err(|error| {
                FileError::Refused(format!("The upload was interrupted: {error}"))
            })?;
            if input.write_all(&chunk).await.is_err() {
                break; // the script ended: its message below
            }
            sent += chunk.len() as u64;
        }
        let _ = input.shutdown().await;
        let Some(message) = stderr_to_end(&mut output, MESSAGE_MAX, FINISH).await else {
            return Err(FileError::Failed(
                "The upload did not finish in the container.".into(),
            ));
        };
        match self.exit_of(&exec_id).await {
            Some(0) if sent == size => Ok(sent),
            code => Err(script_failure(code, message)),
        }
    }

    /// `~/Downloads/name`: its size, and its bytes as they are read.
    pub(super) async fn download_file(
        &self,
        session_id: Uuid,
        name: &str,
    ) -> Result<(u64, ByteStream), FileError> {
        let (exec_id, mut output, _input) = self
            .start_script(session_id, DOWNLOAD, vec![name.to_owned()], false)
            .await?;
        let (header, first) = self.first_line(&exec_id, &mut output).await?;
        let size: u64 = header
            .trim()
            .parse()
            .map_err(|_| FileError::Failed("The container answered the download badly.".into()))?;
        let stream = Box::pin(exactly(output, size, first));
        Ok((size, coalesced(stream, PIECE)))
    }

    pub(super) async fn list_download_files(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<FileEntry>, FileError> {
        let request = ExecRequest {
            cmd: script(LIST),
            workdir: None,
            environment: Vec::new(),
            user: None,
            timeout_secs: 30,
            max_output: LIST_MAX_OUTPUT,
        };
        let output = self.run_exec(session_id, &request).await?;
        match output.exit_code {
            Some(0) => Ok(parse_listing(&output.stdout)),
            code => Err(script_failure(code, output.stderr)),
        }
    }
}

/// The standard output of `output` after `first`, cut at `size` bytes; an error if it ends
/// before (the file shrank while read), so a short body is never taken for the file.
fn exactly(
    output: Output,
    size: u64,
    first: Bytes,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(
        (output, size, Some(first)),
        |(mut output, left, first)| async move {
            if left == 0 {
                return None;
            }
            let next = match first.filter(|bytes| !bytes.is_empty()) {
                Some(bytes) => Ok(bytes),
                None => loop {
                    match output.next().await {
                        Some(Ok(LogOutput::StdOut { message })) => break Ok(message),
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => break Err(std::io::Error::other(error)),
                        None => {
                            break Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "the file ended before its size",
                            ))
                        }
                    }
                },
            };
            match next {
                Ok(mut bytes) => {
                    bytes.truncate(bytes.len().min(left as usize));
                    let left = left - bytes.len() as u64;
                    Some((Ok(bytes), (output, left, None)))
                }
                Err(error) => Some((Err(error), (output, 0, None))),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_parse_newest_first_and_skip_garbage() {
        let output = [
            "12 1700000000.5 a.txt",
            "3 1800000000.0000000000 b c",
            "garbage",
            "x 1 y",
            "5 1700000000 with\nnewline",
            "",
        ]
        .join("\0");
        let entries = parse_listing(&output);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b c", "a.txt", "with\nnewline"]);
        assert_eq!(entries[0].size, 3);
        assert_eq!(entries[0].modified, "2027-01-15T08:00:00Z");
        assert_eq!(entries[1].modified, "2023-11-14T22:13:20Z");
    }

    #[test]
    fn script_failures_map_to_the_right_kind() {
        assert_eq!(
            script_failure(Some(65), "~/Uploads is a symbolic link\n".into()),
            FileError::Refused("~/Uploads is a symbolic link".into())
        );
        assert_eq!(
            script_failure(Some(64), "no file".into()),
            FileError::Missing("no file".into())
        );
        assert!(
            matches!(script_failure(Some(1), String::new()), FileError::Failed(m) if m.contains("exit code"))
        );
        assert!(matches!(
            script_failure(None, "x".into()),
            FileError::Failed(_)
        ));
    }
}
