//! Session containers through the Docker API (bollard), behind a trait so the agent's logic
//! does not depend on Docker itself.
use super::isolation;
use crate::protocol::{ContainerReport, CreateSession, ExecOutput, ExecRequest};
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::image::CreateImageOptions;
use bollard::models::{ContainerInspectResponse, HostConfig, PortBinding, ResourcesUlimits};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use uuid::Uuid;

/// The session's RFB port inside its container (Xvnc, VNC authentication; images/README.md).
pub const STREAM_PORT: &str = "5901/tcp";
const STREAM_CONTAINER_PORT: u16 = 5901;
/// Session ports are published on the host's loopback only: no other machine reaches a
/// session's VNC server; a remote manager's proxy tunnels through this agent's API.
pub const PUBLISH_ADDRESS: &str = "127.0.0.1";
pub const LABEL_KASM: &str = "berth.kasm_id";
pub const LABEL_USER: &str = "berth.user_id";
pub const LABEL_IMAGE: &str = "berth.image_id";
/// The agent (and deployment) that owns a container, "<agent>@<deployment_id>": each agent
/// reconciles only its own.
pub const LABEL_AGENT: &str = "berth.agent";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("Docker is not reachable: {0}")]
    Unreachable(String),
    #[error("image {0} is not present on this host")]
    ImageMissing(String),
    #[error("no session container for {0}")]
    NotFound(Uuid),
    #[error("the session container of {0} is not running")]
    NotRunning(Uuid),
    #[error("the container {0}")]
    Failed(String),
    /// The request asks for something sessions may not have.
    #[error("{0}")]
    Refused(String),
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

#[derive(Debug, Clone, Default)]
pub struct HostResources {
    pub cores: f64,
    pub memory: i64,
    pub disk_free: i64,
    pub hostname: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Pause,
    Resume,
    Stop,
    Start,
}

#[async_trait::async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Creates and starts a session container; returns its id and published host port.
    async fn create_session(
        &self,
        spec: &CreateSession,
        owner: &str,
    ) -> Result<(String, u16), RuntimeError>;
    /// Removes the session's container (true if there was one).
    async fn remove_session(&self, kasm_id: Uuid) -> Result<bool, RuntimeError>;
    async fn act(&self, kasm_id: Uuid, action: Action) -> Result<(), RuntimeError>;
    /// The session's container id and the host port its stream is published on now.
    async fn published(&self, kasm_id: Uuid) -> Result<(String, u16), RuntimeError>;
    /// Like `published`, for a container that must be running now (`NotRunning` otherwise):
    /// what the proxy's check before each connection asks.
    async fn streaming(&self, kasm_id: Uuid) -> Result<(String, u16), RuntimeError>;
    /// Whether the session's container is still running (for launch failure detection).
    async fn is_running(&self, container_id: &str) -> Result<bool, RuntimeError>;
    async fn logs_tail(&self, container_id: &str) -> String;
    /// Every session container on this host (any owner), with its owner label.
    async fn list_sessions(&self) -> Result<Vec<ContainerReport>, RuntimeError>;
    async fn has_image(&self, name: &str) -> Result<bool, RuntimeError>;
    async fn pull_image(&self, name: &str) -> Result<(), RuntimeError>;
    async fn resources(&self) -> Result<HostResources, RuntimeError>;
    /// Runs a command in the session's running container and collects its output (bounded).
    async fn exec(&self, kasm_id: Uuid, request: &ExecRequest) -> Result<ExecOutput, RuntimeError>;
    /// Puts the session network and its firewall rules in place (see `isolation`).
    async fn isolate(&self) -> Result<(), String>;
}

pub struct DockerRuntime {
    docker: Docker,
}

impl DockerRuntime {
    /// Connects to the local Docker daemon and agrees on an API version.
    pub async fn connect() -> Result<DockerRuntime, RuntimeError> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| RuntimeError::Unreachable(e.to_string()))?;
        Ok(DockerRuntime { docker })
    }

    fn container_name(kasm_id: Uuid) -> String {
        format!("berth-{}", kasm_id.simple())
    }

    /// The host port a started container's stream port is published on (Docker picks a new
    /// one each time the container starts).
    async fn stream_port(&self, container_id: &str) -> Result<u16, RuntimeError> {
        let inspected = self.docker.inspect_container(container_id, None).await?;
        published_port(&inspected)
    }

    /// The session's container as Docker describes it now, in one call: looked up by the
    /// name Berth gives it and checked against its label (a container named so by hand is
    /// not the session's); by the label alone for one created under another name.
    async fn inspect_session(
        &self,
        kasm_id: Uuid,
    ) -> Result<ContainerInspectResponse, RuntimeError> {
        let by_name = self
            .docker
            .inspect_container(&Self::container_name(kasm_id), None)
            .await;
        let inspected = match by_name {
            Ok(inspected) => inspected,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                let id = self
                    .find(kasm_id)
                    .await?
                    .ok_or(RuntimeError::NotFound(kasm_id))?;
                self.docker.inspect_container(&id, None).await?
            }
            Err(error) => return Err(error.into()),
        };
        let labelled = inspected
            .config
            .as_ref()
            .and_then(|config| config.labels.as_ref())
            .and_then(|labels| labels.get(LABEL_KASM))
            .is_some_and(|label| *label == kasm_id.to_string());
        if labelled {
            Ok(inspected)
        } else {
            Err(RuntimeError::NotFound(kasm_id))
        }
    }

    async fn find(&self, kasm_id: Uuid) -> Result<Option<String>, RuntimeError> {
        let filters =
            HashMap::from([("label".to_owned(), vec![format!("{LABEL_KASM}={kasm_id}")])]);
        let found = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters,
                ..Default::default()
            }))
            .await?;
        Ok(found.into_iter().find_map(|c| c.id))
    }
}

/// The host port of the stream port in an inspected container.
fn published_port(inspected: &ContainerInspectResponse) -> Result<u16, RuntimeError> {
    inspected
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .and_then(|ports| ports.get(STREAM_PORT).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
        .and_then(|port| port.parse::<u16>().ok())
        .ok_or_else(|| RuntimeError::Failed("started without a published stream port".into()))
}

/// The exit code in Docker's status text of an exited container ("Exited (143) 5 seconds ago").
pub fn exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest[..rest.find(')')?].parse().ok()
}

/// Environment of a session container: run_config's, then Berth's own (which win).
fn environment(spec: &CreateSession) -> Vec<String> {
    let mut env: Vec<String> = spec
        .run_config
        .get("environment")
        .and_then(|e| e.as_object())
        .map(|vars| {
            vars.iter()
                .filter(|(name, _)| !name.starts_with("BERTH_"))
                .filter_map(|(name, value)| value.as_str().map(|v| format!("{name}={v}")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(url) = &spec.start_url {
        env.push(format!("BERTH_START_URL={url}"));
    }
    env.push(format!("BERTH_SESSION_SECRET={}", spec.secret));
    env
}

/// The container's limits and isolation: the image's cores and memory, no swap beyond it, no
/// capabilities, no privilege escalation, the stream port published on loopback only.
/// Open files per session process: the soft limit as desktop systems have it, the hard one a
/// browser may raise it to.
pub const OPEN_FILES_SOFT: i64 = 4096;
pub const OPEN_FILES_HARD: i64 = 16384;

pub fn host_config(spec: &CreateSession) -> HostConfig {
    let shm_size = spec
        .run_config
        .get("shm_size")
        .and_then(|v| v.as_i64())
        .unwrap_or(256 << 20);
    HostConfig {
        nano_cpus: Some((spec.cores * 1e9).round() as i64),
        memory: Some(spec.memory),
        memory_swap: Some(spec.memory),
        pids_limit: Some(4096),
        shm_size: Some(shm_size),
        privileged: Some(false),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        // Refused before the container is made (create_session); never the host's or another
        // container's network.
        network_mode: Some(
            isolation::session_network(&spec.network_mode)
                .unwrap_or("none")
                .to_owned(),
        ),
        // Docker's default is the daemon's own limit (about a million): one session could
        // pin that much kernel memory in open files.
        ulimits: Some(vec![ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(OPEN_FILES_SOFT),
            hard: Some(OPEN_FILES_HARD),
        }]),
        port_bindings: Some(HashMap::from([(
            STREAM_PORT.to_owned(),
            Some(vec![PortBinding {
                host_ip: Some(PUBLISH_ADDRESS.to_owned()),
                host_port: Some(String::new()),
            }]),
        )])),
        ..Default::default()
    }
}

impl DockerRuntime {
    /// Freezes the container's processes. The kernel's freezer gives up when a process stays
    /// in an uninterruptible wait (heavy I/O on a loaded host: "unable to freeze"); that is
    /// retried a few times before it counts as a failure.
    async fn pause(&self, id: &str) -> Result<(), bollard::errors::Error> {
        let mut attempt = 0;
        loop {
            match self.docker.pause_container(id).await {
                Err(error) if attempt < 3 && error.to_string().contains("unable to freeze") => {
                    attempt += 1;
                    tracing::warn!(
                        container = id,
                        attempt,
                        "the freezer gave up; pausing again"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
    }
}

#[async_trait::async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn create_session(
        &self,
        spec: &CreateSession,
        owner: &str,
    ) -> Result<(String, u16), RuntimeError> {
        isolation::session_network(&spec.network_mode).map_err(RuntimeError::Refused)?;
        let labels = HashMap::from([
            (LABEL_KASM.to_owned(), spec.kasm_id.to_string()),
            (LABEL_USER.to_owned(), spec.user_id.to_string()),
            (LABEL_IMAGE.to_owned(), spec.image_id.to_string()),
            (LABEL_AGENT.to_owned(), owner.to_owned()),
        ]);
        let config = Config {
            image: Some(spec.image.clone()),
            env: Some(environment(spec)),
            labels: Some(labels),
            hostname: spec
                .run_config
                .get("hostname")
                .and_then(|h| h.as_str())
                .map(str::to_owned),
            exposed_ports: Some(HashMap::from([(STREAM_PORT.to_owned(), HashMap::new())])),
            host_config: Some(host_config(spec)),
            ..Default::default()
        };
        let name = Self::container_name(spec.kasm_id);
        // No presence check first (a Docker call on every launch): Docker's 404 on create
        // says the same.
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: name.as_str(),
                    platform: None,
                }),
                config,
            )
            .await
            .map_err(|error| match error {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => RuntimeError::ImageMissing(spec.image.clone()),
                other => other.into(),
            })?;
        self.docker
            .start_container::<String>(&created.id, None)
            .await?;
        let port = self.stream_port(&created.id).await?;
        Ok((created.id, port))
    }

    async fn published(&self, kasm_id: Uuid) -> Result<(String, u16), RuntimeError> {
        let inspected = self.inspect_session(kasm_id).await?;
        let port = published_port(&inspected)?;
        Ok((inspected.id.ok_or(RuntimeError::NotFound(kasm_id))?, port))
    }

    async fn isolate(&self) -> Result<(), String> {
        isolation::ensure(&self.docker).await
    }

    async fn streaming(&self, kasm_id: Uuid) -> Result<(String, u16), RuntimeError> {
        let inspected = self.inspect_session(kasm_id).await?;
        if !inspected
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false)
        {
            return Err(RuntimeError::NotRunning(kasm_id));
        }
        let port = published_port(&inspected)?;
        Ok((inspected.id.ok_or(RuntimeError::NotFound(kasm_id))?, port))
    }

    async fn remove_session(&self, kasm_id: Uuid) -> Result<bool, RuntimeError> {
        let Some(id) = self.find(kasm_id).await? else {
            return Ok(false);
        };
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(&id, Some(options)).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn act(&self, kasm_id: Uuid, action: Action) -> Result<(), RuntimeError> {
        let id = self
            .find(kasm_id)
            .await?
            .ok_or(RuntimeError::NotFound(kasm_id))?;
        match action {
            Action::Pause => self.pause(&id).await?,
            Action::Resume => self.docker.unpause_container(&id).await?,
            Action::Stop => {
                self.docker
                    .stop_container(&id, Some(StopContainerOptions { t: 5 }))
                    .await?
            }
            Action::Start => self.docker.start_container::<String>(&id, None).await?,
        }
        Ok(())
    }

    async fn is_running(&self, container_id: &str) -> Result<bool, RuntimeError> {
        let inspected = self.docker.inspect_container(container_id, None).await?;
        Ok(inspected.state.and_then(|s| s.running).unwrap_or(false))
    }

    async fn logs_tail(&self, container_id: &str) -> String {
        let options = bollard::container::LogsOptions::<String> {
            stdout: true,
            stderr: true,
            tail: "20".into(),
            ..Default::default()
        };
        let mut logs = self.docker.logs(container_id, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&chunk.to_string());
        }
        text.trim().to_owned()
    }

    async fn list_sessions(&self) -> Result<Vec<ContainerReport>, RuntimeError> {
        let filters = HashMap::from([("label".to_owned(), vec![LABEL_KASM.to_owned()])]);
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters,
                ..Default::default()
            }))
            .await?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.as_ref()?;
                let kasm_id = labels.get(LABEL_KASM)?.parse().ok()?;
                let owner = labels.get(LABEL_AGENT).cloned().unwrap_or_default();
                let state = c.state.clone().unwrap_or_default();
                let running = state == "running" || state == "paused";
                let port = c
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.private_port == STREAM_CONTAINER_PORT && p.public_port.is_some())
                    .and_then(|p| p.public_port);
                Some(ContainerReport {
                    kasm_id,
                    container_id: c.id.clone().unwrap_or_default(),
                    running,
                    paused: state == "paused",
                    owner,
                    port: port.filter(|_| running),
                    exit_code: exit_code(c.status.as_deref().unwrap_or_default()),
                })
            })
            .collect())
    }

    async fn has_image(&self, name: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(name).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn pull_image(&self, name: &str) -> Result<(), RuntimeError> {
        let options = CreateImageOptions {
            from_image: name,
            ..Default::default()
        };
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step?;
        }
        Ok(())
    }

    async fn resources(&self) -> Result<HostResources, RuntimeError> {
        let info = self.docker.info().await?;
        let root = info
            .docker_root_dir
            .clone()
            .unwrap_or_else(|| "/var/lib/docker".into());
        Ok(HostResources {
            cores: info.ncpu.unwrap_or(0) as f64,
            memory: info.mem_total.unwrap_or(0),
            disk_free: disk_free(&root).unwrap_or(0),
            hostname: info.name.unwrap_or_default(),
        })
    }

    async fn exec(&self, kasm_id: Uuid, request: &ExecRequest) -> Result<ExecOutput, RuntimeError> {
        self.run_exec(kasm_id, request).await
    }
}

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

    async fn run_exec(
        &self,
        kasm_id: Uuid,
        request: &ExecRequest,
    ) -> Result<ExecOutput, RuntimeError> {
        let id = self
            .find(kasm_id)
            .await?
            .ok_or(RuntimeError::NotFound(kasm_id))?;
        let timeout = request.timeout_secs.clamp(1, EXEC_MAX_TIMEOUT_SECS);
        let limit = request.max_output.min(EXEC_MAX_OUTPUT);
        let options = CreateExecOptions::<String> {
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
        };
        let created = match self.docker.create_exec(&id, options).await {
            Ok(created) => created,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => return Err(RuntimeError::NotRunning(kasm_id)),
            Err(error) => return Err(error.into()),
        };
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&created.id, Some(start)).await?
        else {
            return Err(RuntimeError::Failed("exec started detached".into()));
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let (mut stdout, mut stderr) = (Bounded::new(limit), Bounded::new(limit));
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(250));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain_until: Option<tokio::time::Instant> = None;
        let mut timed_out = false;
        loop {
            let stop_at = drain_until.map_or(deadline, |until| until.min(deadline));
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(bollard::container::LogOutput::StdErr { message })) => {
                        stderr.push(&message)
                    }
                    Some(Ok(bollard::container::LogOutput::StdOut { message }))
                    | Some(Ok(bollard::container::LogOutput::Console { message })) => {
                        stdout.push(&message)
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => break,
                },
                _ = tokio::time::sleep_until(stop_at) => {
                    timed_out = drain_until.is_none();
                    break;
                }
                _ = poll.tick(), if drain_until.is_none() => {
                    let inspected = self.docker.inspect_exec(&created.id).await?;
                    if inspected.running == Some(false) {
                        drain_until = Some(tokio::time::Instant::now() + EXEC_DRAIN);
                    }
                }
            }
        }
        drop(output);
        let exit_code = if timed_out {
            None
        } else {
            self.exit_code(&created.id, deadline).await?
        };
        let (stdout, stdout_truncated) = stdout.finish();
        let (stderr, stderr_truncated) = stderr.finish();
        Ok(ExecOutput {
            timed_out: exit_code.is_none(),
            exit_code,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
        })
    }
}

/// Free bytes on the filesystem holding `path`.
pub fn disk_free(path: &str) -> Option<i64> {
    let path = std::ffi::CString::new(path).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stats` a writable statvfs.
    let result = unsafe { libc::statvfs(path.as_ptr(), &mut stats) };
    (result == 0).then(|| (stats.f_bavail as i64).saturating_mul(stats.f_frsize as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> CreateSession {
        CreateSession {
            kasm_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            image_id: Uuid::new_v4(),
            image: "berth/desktop:latest".into(),
            cores: 1.5,
            memory: 2 << 30,
            network_mode: "bridge".into(),
            secret: "s".into(),
            run_config: json!({"environment": {"LANG": "C.UTF-8", "BERTH_SESSION_SECRET": "spoof", "BERTH_START_URL": "spoof"}, "shm_size": 1024}),
            start_url: Some("https://example.com/start".into()),
        }
    }

    #[test]
    fn limits_and_isolation_follow_the_image() {
        let config = host_config(&spec());
        assert_eq!(config.nano_cpus, Some(1_500_000_000));
        assert_eq!(config.memory, Some(2 << 30));
        assert_eq!(config.memory_swap, Some(2 << 30));
        assert_eq!(config.privileged, Some(false));
        assert_eq!(config.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(config.shm_size, Some(1024));
        let binding = &config.port_bindings.unwrap()[STREAM_PORT].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn the_session_secret_cannot_be_overridden_by_run_config() {
        let env = environment(&spec());
        assert!(env.contains(&"LANG=C.UTF-8".to_owned()));
        assert_eq!(
            env.iter()
                .filter(|v| v.starts_with("BERTH_SESSION_SECRET="))
                .count(),
            1
        );
        assert!(env.contains(&"BERTH_SESSION_SECRET=s".to_owned()));
        assert_eq!(
            env.iter()
                .filter(|v| v.starts_with("BERTH_START_URL="))
                .collect::<Vec<_>>(),
            ["BERTH_START_URL=https://example.com/start"]
        );
    }

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

    #[test]
    fn exit_codes_are_read_from_the_status_text() {
        assert_eq!(exit_code("Exited (143) 5 seconds ago"), Some(143));
        assert_eq!(exit_code("Exited (0) About a minute ago"), Some(0));
        assert_eq!(exit_code("Up 3 minutes"), None);
        assert_eq!(exit_code("Exited (x)"), None);
        assert_eq!(exit_code(""), None);
    }

    #[test]
    fn disk_free_reads_the_filesystem() {
        assert!(disk_free("/").unwrap() > 0);
        assert!(disk_free("/nonexistent/path").is_none());
    }
}
