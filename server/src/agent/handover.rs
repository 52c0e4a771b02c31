//! A staged session's hand-over: its VNC password replaced by the new owner's secret inside
//! the container, on the launch's critical path (issue #16: a staged launch within 100 ms).
//!
//! Starting a `docker exec` costs tens of milliseconds (more on a busy host), so the agent
//! starts the replacing script as soon as a staged session streams ("arms" it): the script
//! waits for one line on its standard input. The hand-over then writes the new password file
//! there (made by the agent, as `vncpasswd -f` would) and waits for the script's exit, a few
//! milliseconds. The password reaches the script only through that pipe (never a command line
//! nor the environment). Without an armed script (the agent
//! restarted, the container was restarted, the pipe broke) the same script is started and fed
//! at once: slower, the same result.
use super::docker::DockerRuntime;
use super::exec::stderr_to_end;
use super::runtime::RuntimeError;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use uuid::Uuid;

/// Finds the desktop's VNC password file (what Xvnc checks each connection against) first,
/// then waits for one line on standard input: the new password file's bytes as octal escapes
/// (`password_line`), which it writes over the old one and marks so that the image's
/// entrypoint keeps it on a later start of the container. Once it has the line, it uses only
/// the shell's builtins: no process starts on the hand-over's path. The file is written in
/// place: nobody connects to a staged desktop while it is handed over.
const REPLACE_PASSWORD: &str = "unset BERTH_SESSION_SECRET; umask 077; \
    d=\"/tmp/runtime-$(id -u)/vnc\"; [ -f \"$d/passwd\" ] || exit 66; \
    IFS= read -r s || exit 65; printf \"$s\" > \"$d/passwd\" && : > \"$d/handed-over\"";
/// How long the script may take once it has the secret.
const REPLACE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of the script's error output kept for the message.
const MESSAGE_MAX: usize = 4096;

type Output =
    Pin<Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
type Input = Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// A started replacing script, waiting for the secret.
pub struct ArmedScript {
    exec_id: String,
    output: Output,
    input: Input,
}

/// The armed scripts of this agent's staged sessions.
#[derive(Default)]
pub struct Armed(Mutex<HashMap<Uuid, ArmedScript>>);

impl Armed {
    /// Forgets the session's script (its container is going away; the script ends with it).
    pub async fn forget(&self, session_id: Uuid) {
        self.0.lock().await.remove(&session_id);
    }
}

impl DockerRuntime {
    /// Starts the replacing script in the session's container, waiting for a secret.
    async fn start_replacing(&self, session_id: Uuid) -> Result<ArmedScript, RuntimeError> {
        let options = CreateExecOptions::<String> {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            cmd: Some(vec!["sh".into(), "-c".into(), REPLACE_PASSWORD.into()]),
            privileged: Some(false),
            ..Default::default()
        };
        let exec_id = self.create_exec_in(session_id, options).await?;
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        match self.docker.start_exec(&exec_id, Some(start)).await? {
            StartExecResults::Attached { output, input } => Ok(ArmedScript {
                exec_id,
                output,
                input,
            }),
            StartExecResults::Detached => Err(RuntimeError::Failed("exec started detached".into())),
        }
    }

    /// Arms the session's hand-over (see the module's header).
    pub(super) async fn arm(&self, session_id: Uuid) -> Result<(), RuntimeError> {
        let script = self.start_replacing(session_id).await?;
        self.armed.0.lock().await.insert(session_id, script);
        Ok(())
    }

    /// Replaces the session's VNC password with `secret`: through its armed script when it has
    /// one that still listens, else through one started now.
    pub(super) async fn replace_secret(
        &self,
        session_id: Uuid,
        secret: &str,
    ) -> Result<(), RuntimeError> {
        // Any bytes may follow: only the password file made from them reaches the script.
        if secret.is_empty() {
            return Err(RuntimeError::Refused("the secret is empty".into()));
        }
        let armed = self.armed.0.lock().await.remove(&session_id);
        if let Some(script) = armed {
            match self.feed(script, secret).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::info!(%session_id, %error, "the armed hand-over did not answer; replacing the secret anew");
                }
            }
        }
        let script = self.start_replacing(session_id).await?;
        self.feed(script, secret).await
    }

    /// Gives the script the secret's password file and waits for it to succeed.
    async fn feed(&self, mut script: ArmedScript, secret: &str) -> Result<(), RuntimeError> {
        let line = password_line(secret);
        script
            .input
            .write_all(line.as_bytes())
            .await
            .map_err(|error| RuntimeError::Failed(format!("the script's input: {error}")))?;
        let _ = script.input.shutdown().await;
        let Some(message) = stderr_to_end(&mut script.output, MESSAGE_MAX, REPLACE_TIMEOUT).await
        else {
            return Err(RuntimeError::Failed(
                "replacing the secret did not finish".into(),
            ));
        };
        match self.exit_of(&script.exec_id).await {
            Some(0) => Ok(()),
            code => Err(RuntimeError::Failed(format!(
                "replacing the secret exited with {code:?}: {}",
                message.trim()
            ))),
        }
    }
}

/// The password file of `secret` as one line of octal escapes for the script's `printf`
/// (which turns them back into bytes, NUL included; nothing else reaches its format).
fn password_line(secret: &str) -> String {
    let mut line: String = crate::rfb::auth::password_file(secret)
        .iter()
        .map(|byte| format!("\\{byte:03o}"))
        .collect();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_line_is_octal_escapes_only() {
        assert_eq!(
            password_line("Berth-42"),
            "\\130\\260\\317\\000\\356\\107\\066\\305\n"
        );
    }

    #[test]
    fn a_hostile_secret_still_makes_one_line_of_escapes() {
        for secret in ["a\nb; rm -rf ~", "\0\0\0\0\0\0\0\0", "%s%n\\", "ünïcödé-😀"] {
            let line = password_line(secret);
            let body = line.strip_suffix('\n').unwrap();
            assert_eq!(body.len(), 32, "{secret:?}: {line:?}");
            assert!(
                body.as_bytes()
                    .chunks(4)
                    .all(|c| c[0] == b'\\' && c[1..].iter().all(|d| (b'0'..=b'7').contains(d))),
                "{secret:?}: {line:?}"
            );
        }
    }
}
