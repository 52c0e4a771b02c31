//! Commands run in a session's container on behalf of the Developer API (`exec_command_kasm`):
//! without the session secret, under a timeout, with each output stream bounded.
use super::docker::DockerRuntime;
use super::runtime::RuntimeError;
use crate::protocol::{ExecOutput, ExecRequest};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use uuid::Uuid;

/// Runs `$1` (the command) through `sh -c` without the session secret in its environment, under
/// `timeout` where the image has one (GNU or busybox): `$2` seconds, one more than the agent
/// waits, so that a command the agent gave up on is killed with its process group rather than
/// left running.
const EXEC_WRAPPER: &str = "unset BERTH_SESSION_SECRET; \
    if timeout -k 1 1 true 2>/dev/null; then exec timeout -k 1 \"$2\" sh -c \"$1\"; fi; \
    exec sh -c \"$1\"";
/// The most an exec may run and keep of each output stream, whatever is asked.
pub const EXEC_MAX_TIMEOUT_SECS: u64 = 300;
pub const EXEC_MAX_OUTPUT: usize = 8 << 20;
/// The session images' X display (images/README.md): X clients an exec starts reach it.
const SESSION_DISPLAY: &str = ":1";
/// After the command's process exits, how long output still held open by its background
/// children is read before answering (`app &` returns at once, not when `app` ends).
const EXEC_DRAIN: std::time::Duration = std::time::Duration::from_millis(200);

/// One output stream of an exec, kept up to `limit` bytes; the rest is counted as dropped.
#[derive(Debug)]
pub struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Bounded {
    pub fn new(limit: usize) -> Bounded {
        Bounded {
            bytes: Vec::new(),
            limit,
            truncated: false,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.bytes.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// The text kept (invalid UTF-8 replaced by U+FFFD, a character cut by the limit dropped)
    /// and whether anything was dropped.
    pub fn finish(self) -> (String, bool) {
        let mut bytes = self.bytes;
        if self.truncated {
            // A multi-byte character the limit cut in two: drop its first bytes.
            let tail = bytes.len().saturating_sub(3);
            if let Some(start) = (tail..bytes.len()).rev().find(|&i| bytes[i] & 0xc0 != 0x80) {
                let needed = match bytes[start] {
                    0xf0.. => 4,
                    0xe0.. => 3,
                    0xc0.. => 2,
                    _ => 1,
                };
                if bytes.len() - start < needed {
                    bytes.truncate(start);
                }
            }
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
        };
        (text, self.truncated)
    }
}

/// Reads an attached exec's output to its end, keeping (up to `limit` bytes of) its standard
/// error for a failure's message; None when it did not end `within`.
pub async fn stderr_to_end<S>(
    output: &mut S,
    limit: usize,
    within: std::time::Duration,
) -> Option<String>
where
    S: futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
{
    let mut messages = Bounded::new(limit);
    let drained = tokio::time::timeout(within, async {
        while let Some(item) = output.next().await {
            if let Ok(LogOutput::StdErr { message }) = item {
                messages.push(&message);
            }
        }
    })
    .await;
    drained.ok().map(|()| messages.finish().0)
}

/// The environment an exec adds to the container's: the session's display unless given, then
/// the caller's.
pub fn exec_environment(request: &ExecRequest) -> Vec<String> {
    let mut env = Vec::new();
    if !request
        .environment
        .iter()
        .any(|(name, _)| name == "DISPLAY")
    {
        env.push(format!("DISPLAY={SESSION_DISPLAY}"));
    }
    env.extend(
        request
            .environment
            .iter()
            .map(|(name, value)| format!("{name}={value}")),
    );
    env
}

impl DockerRuntime {
    /// The exit code of a finished exec; None if it still runs at `deadline`.
    async fn exit_code(
        &self,
        exec_id: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Option<i64>, RuntimeError> {
        loop {
            let inspected = self.docker.inspect_exec(exec_id).await?;
            if inspected.running != Some(true) {
                return Ok(inspected.exit_code);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Creates an exec in the session's container: its id (`NotRunning` when the container
    /// is not running, `NotFound` when there is none).
    pub(super) async fn create_exec_in(
        &self,
        session_id: Uuid,
        options: CreateExecOptions<String>,
    ) -> Result<String, RuntimeError> {
        let container = self
            .find(session_id)
            .await?
            .ok_or(RuntimeError::NotFound(session_id))?;
        match self.docker.create_exec(&container, options).await {
            Ok(created) => Ok(created.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Err(RuntimeError::NotRunning(session_id)),
            Err(error) => Err(error.into()),
        }
    }

    pub(super) async fn run_exec(
        &self,
        session_id: Uuid,
        request: &ExecRequest,
    ) -> Result<ExecOutput, RuntimeError> {
        let timeout = request.timeout_secs.clamp(1, EXEC_MAX_TIMEOUT_SECS);
        let limit = request.max_output.min(EXEC_MAX_OUTPUT);
        let exec_id = self
            .create_exec_in(session_id, exec_options(request, timeout))
            .await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let collected = self.collect_output(&exec_id, deadline, limit).await?;
        let exit_code = if collected.timed_out {
            None
        } else {
            self.exit_code(&exec_id, deadline).await?
        };
        let (stdout, stdout_truncated) = collected.stdout.finish();
        let (stderr, stderr_truncated) = collected.stderr.finish();
        Ok(ExecOutput {
            timed_out: exit_code.is_none(),
            exit_code,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
        })
    }

    /// Starts the exec attached and reads both streams until the command's process exited
    /// (and `EXEC_DRAIN` more, for its background children's last output) or `deadline`.
    async fn collect_output(
        &self,
        exec_id: &str,
        deadline: tokio::time::Instant,
        limit: usize,
    ) -> Result<Collected, RuntimeError> {
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(exec_id, Some(start)).await?
        else {
            return Err(RuntimeError::Failed("exec started detached".into()));
        };
        let mut collected = Collected {
            stdout: Bounded::new(limit),
            stderr: Bounded::new(limit),
            timed_out: false,
        };
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(250));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain_until: Option<tokio::time::Instant> = None;
        loop {
            let stop_at = drain_until.map_or(deadline, |until| until.min(deadline));
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(LogOutput::StdErr { message })) => collected.stderr.push(&message),
                    Some(Ok(LogOutput::StdOut { message }))
                    | Some(Ok(LogOutput::Console { message })) => collected.stdout.push(&message),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => break,
                },
                _ = tokio::time::sleep_until(stop_at) => {
                    collected.timed_out = drain_until.is_none();
                    break;
                }
                _ = poll.tick(), if drain_until.is_none() => {
                    let inspected = self.docker.inspect_exec(exec_id).await?;
                    if inspected.running == Some(false) {
                        drain_until = Some(tokio::time::Instant::now() + EXEC_DRAIN);
                    }
                }
            }
        }
        Ok(collected)
    }
}

/// What an exec wrote, and whether it was still running at its deadline.
struct Collected {
    stdout: Bounded,
    stderr: Bounded,
    timed_out: bool,
}

/// The exec: `EXEC_WRAPPER` running the caller's command, with the session's display, as the
/// caller's user and directory, never privileged.
fn exec_options(request: &ExecRequest, timeout: u64) -> CreateExecOptions<String> {
    CreateExecOptions {
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: Some(exec_environment(request)),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            EXEC_WRAPPER.into(),
            "sh".into(),
            request.cmd.clone(),
            (timeout + 1).to_string(),
        ]),
        privileged: Some(false),
        user: request.user.clone(),
        working_dir: request.workdir.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_output_is_bounded_on_character_boundaries() {
        let mut out = Bounded::new(5);
        out.push(b"abc");
        out.push(b"de");
        assert_eq!(out.finish(), ("abcde".to_owned(), false));

        let mut out = Bounded::new(5);
        out.push(b"abc");
        out.push(b"defgh");
        out.push(b"ijk");
        assert_eq!(out.finish(), ("abcde".to_owned(), true));

        // "é" is two bytes: cut after its first, it is dropped rather than mangled.
        let mut out = Bounded::new(4);
        out.push("abcé".as_bytes());
        assert_eq!(out.finish(), ("abc".to_owned(), true));
        let mut out = Bounded::new(4);
        out.push("ab€x".as_bytes()); // € is three bytes: 2 of its 3 kept, then dropped
        assert_eq!(out.finish(), ("ab".to_owned(), true));
        let mut out = Bounded::new(5);
        out.push("ab€x".as_bytes());
        assert_eq!(out.finish(), ("ab€".to_owned(), true));
        let mut out = Bounded::new(5);
        out.push("abc€".as_bytes());
        assert_eq!(out.finish(), ("abc".to_owned(), true));
        let mut out = Bounded::new(6);
        out.push("abc€".as_bytes()); // fits exactly
        assert_eq!(out.finish(), ("abc€".to_owned(), false));

        // Invalid UTF-8 is replaced, not refused.
        let mut out = Bounded::new(10);
        out.push(&[b'a', 0xff, b'b']);
        assert_eq!(out.finish(), ("a\u{fffd}b".to_owned(), false));

        let mut out = Bounded::new(0);
        out.push(b"x");
        assert_eq!(out.finish(), (String::new(), true));
    }

    #[test]
    fn exec_environment_defaults_the_display_and_keeps_the_callers() {
        let mut request = ExecRequest {
            cmd: "true".into(),
            workdir: None,
            environment: vec![("FOO".into(), "a=b".into())],
            user: None,
            timeout_secs: 30,
            max_output: 1024,
        };
        assert_eq!(
            exec_environment(&request),
            vec!["DISPLAY=:1".to_owned(), "FOO=a=b".to_owned()]
        );
        request.environment.push(("DISPLAY".into(), ":7".into()));
        assert_eq!(
            exec_environment(&request),
            vec!["FOO=a=b".to_owned(), "DISPLAY=:7".to_owned()]
        );
    }
}
