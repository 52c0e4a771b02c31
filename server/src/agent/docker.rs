//! Session containers through the Docker API (bollard), behind a trait so the agent's logic
//! does not depend on Docker itself.
use crate::protocol::{ContainerReport, CreateSession};
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::image::CreateImageOptions;
use bollard::models::{HostConfig, PortBinding};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use uuid::Uuid;

pub const STREAM_PORT: &str = "6901/tcp";
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
    #[error("the container {0}")]
    Failed(String),
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
        publish_ip: &str,
        owner: &str,
    ) -> Result<(String, u16), RuntimeError>;
    /// Removes the session's container (true if there was one).
    async fn remove_session(&self, kasm_id: Uuid) -> Result<bool, RuntimeError>;
    async fn act(&self, kasm_id: Uuid, action: Action) -> Result<(), RuntimeError>;
    /// Whether the session's container is still running (for launch failure detection).
    async fn is_running(&self, container_id: &str) -> Result<bool, RuntimeError>;
    async fn logs_tail(&self, container_id: &str) -> String;
    /// The session containers labelled as `owner`'s.
    async fn list_sessions(&self, owner: &str) -> Result<Vec<ContainerReport>, RuntimeError>;
    async fn has_image(&self, name: &str) -> Result<bool, RuntimeError>;
    async fn pull_image(&self, name: &str) -> Result<(), RuntimeError>;
    async fn resources(&self) -> Result<HostResources, RuntimeError>;
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
    env.push(format!("BERTH_SESSION_SECRET={}", spec.secret));
    env
}

/// The container's limits and isolation: the image's cores and memory, no swap beyond it, no
/// capabilities, no privilege escalation, the stream port published on `publish_ip` only.
pub fn host_config(spec: &CreateSession, publish_ip: &str) -> HostConfig {
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
        network_mode: Some(spec.network_mode.clone()),
        port_bindings: Some(HashMap::from([(
            STREAM_PORT.to_owned(),
            Some(vec![PortBinding {
                host_ip: Some(publish_ip.to_owned()),
                host_port: Some(String::new()),
            }]),
        )])),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn create_session(
        &self,
        spec: &CreateSession,
        publish_ip: &str,
        owner: &str,
    ) -> Result<(String, u16), RuntimeError> {
        if !self.has_image(&spec.image).await? {
            return Err(RuntimeError::ImageMissing(spec.image.clone()));
        }
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
            host_config: Some(host_config(spec, publish_ip)),
            ..Default::default()
        };
        let name = Self::container_name(spec.kasm_id);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: name.as_str(),
                    platform: None,
                }),
                config,
            )
            .await?;
        self.docker
            .start_container::<String>(&created.id, None)
            .await?;
        let inspected = self.docker.inspect_container(&created.id, None).await?;
        let port = inspected
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(STREAM_PORT).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|port| port.parse::<u16>().ok())
            .ok_or_else(|| {
                RuntimeError::Failed("started without a published stream port".into())
            })?;
        Ok((created.id, port))
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
            Action::Pause => self.docker.pause_container(&id).await?,
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

    async fn list_sessions(&self, owner: &str) -> Result<Vec<ContainerReport>, RuntimeError> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![LABEL_KASM.to_owned(), format!("{LABEL_AGENT}={owner}")],
        )]);
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
                let kasm_id = c.labels.as_ref()?.get(LABEL_KASM)?.parse().ok()?;
                let state = c.state.unwrap_or_default();
                Some(ContainerReport {
                    kasm_id,
                    container_id: c.id.unwrap_or_default(),
                    running: state == "running" || state == "paused",
                    paused: state == "paused",
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
            run_config: json!({"environment": {"LANG": "C.UTF-8", "BERTH_SESSION_SECRET": "spoof"}, "shm_size": 1024}),
        }
    }

    #[test]
    fn limits_and_isolation_follow_the_image() {
        let config = host_config(&spec(), "127.0.0.1");
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
    }

    #[test]
    fn disk_free_reads_the_filesystem() {
        assert!(disk_free("/").unwrap() > 0);
        assert!(disk_free("/nonexistent/path").is_none());
    }
}
