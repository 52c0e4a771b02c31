//! The container runtime on Docker (bollard): session containers made from
//! `container_spec`, found by name and label, paused, removed, listed for reconciliation;
//! images and the host's resources. Commands in a session are in `exec`.
use super::container_spec::{environment, host_config};
use super::host_files::{self, Backing, Folder};
use super::isolation;
use super::runtime::{
    Action, ContainerRuntime, HostResources, RuntimeError, LABEL_AGENT, LABEL_IMAGE, LABEL_SESSION,
    LABEL_USER, STREAM_CONTAINER_PORT, STREAM_PORT,
};
use crate::files::FileError;
use crate::protocol::{ContainerReport, CreateSession, ExecOutput, ExecRequest};
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::image::CreateImageOptions;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use uuid::Uuid;

pub struct DockerRuntime {
    pub(super) docker: Docker,
    /// Staged sessions' hand-overs, ready to take a secret (`handover`).
    pub(super) armed: super::handover::Armed,
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
        Ok(DockerRuntime {
            docker,
            armed: Default::default(),
        })
    }

    fn container_name(session_id: Uuid) -> String {
        format!("berth-{}", session_id.simple())
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
        session_id: Uuid,
    ) -> Result<ContainerInspectResponse, RuntimeError> {
        let by_name = self
            .docker
            .inspect_container(&Self::container_name(session_id), None)
            .await;
        let inspected = match by_name {
            Ok(inspected) => inspected,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                let id = self
                    .find(session_id)
                    .await?
                    .ok_or(RuntimeError::NotFound(session_id))?;
                self.docker.inspect_container(&id, None).await?
            }
            Err(error) => return Err(error.into()),
        };
        let labelled = inspected
            .config
            .as_ref()
            .and_then(|config| config.labels.as_ref())
            .and_then(|labels| labels.get(LABEL_SESSION))
            .is_some_and(|label| *label == session_id.to_string());
        if labelled {
            Ok(inspected)
        } else {
            Err(RuntimeError::NotFound(session_id))
        }
    }

    pub(super) async fn find(&self, session_id: Uuid) -> Result<Option<String>, RuntimeError> {
        Ok(self.labelled(session_id).await?.and_then(|c| c.id))
    }

    /// The session's container as Docker lists it (found by its label).
    async fn labelled(&self, session_id: Uuid) -> Result<Option<ContainerSummary>, RuntimeError> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{LABEL_SESSION}={session_id}")],
        )]);
        let found = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters,
                ..Default::default()
            }))
            .await?;
        Ok(found.into_iter().next())
    }

    /// The host folder behind the running session's `folder`, from its container's mounts;
    /// None when the folder is in the container's own file system (sessions made without
    /// transfer folders: their transfers go through `docker exec`).
    async fn backing(
        &self,
        session_id: Uuid,
        folder: Folder,
    ) -> Result<Option<Backing>, FileError> {
        let Some(container) = self.labelled(session_id).await? else {
            return Err(RuntimeError::NotFound(session_id).into());
        };
        // As for an exec: a stopped or paused desktop's files are not reached.
        if container.state.as_deref() != Some("running") {
            return Err(RuntimeError::NotRunning(session_id).into());
        }
        let mounts: Vec<(String, PathBuf)> = container
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|mount| Some((mount.destination?, PathBuf::from(mount.source?))))
            .collect();
        Ok(host_files::backing(&mounts, &folder.container_path()))
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
        isolation::session_network(&spec.network_mode)
            .map_err(|refused| RuntimeError::Refused(refused.to_string()))?;
        let labels = HashMap::from([
            (LABEL_SESSION.to_owned(), spec.session_id.to_string()),
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
        let name = Self::container_name(spec.session_id);
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

    async fn published(&self, session_id: Uuid) -> Result<(String, u16), RuntimeError> {
        let inspected = self.inspect_session(session_id).await?;
        let port = published_port(&inspected)?;
        Ok((
            inspected.id.ok_or(RuntimeError::NotFound(session_id))?,
            port,
        ))
    }

    async fn isolate(&self) -> Result<(), isolation::IsolationError> {
        isolation::ensure(&self.docker).await
    }

    async fn arm_hand_over(&self, session_id: Uuid) -> Result<(), RuntimeError> {
        self.arm(session_id).await
    }

    async fn replace_secret(&self, session_id: Uuid, secret: &str) -> Result<(), RuntimeError> {
        DockerRuntime::replace_secret(self, session_id, secret).await
    }

    async fn streaming(&self, session_id: Uuid) -> Result<(String, u16), RuntimeError> {
        let inspected = self.inspect_session(session_id).await?;
        if !inspected
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false)
        {
            return Err(RuntimeError::NotRunning(session_id));
        }
        let port = published_port(&inspected)?;
        Ok((
            inspected.id.ok_or(RuntimeError::NotFound(session_id))?,
            port,
        ))
    }

    async fn remove_session(&self, session_id: Uuid) -> Result<bool, RuntimeError> {
        self.armed.forget(session_id).await;
        let Some(id) = self.find(session_id).await? else {
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

    async fn act(&self, session_id: Uuid, action: Action) -> Result<(), RuntimeError> {
        let id = self
            .find(session_id)
            .await?
            .ok_or(RuntimeError::NotFound(session_id))?;
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
        let filters = HashMap::from([("label".to_owned(), vec![LABEL_SESSION.to_owned()])]);
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
                let session_id = labels.get(LABEL_SESSION)?.parse().ok()?;
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
                    session_id,
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

    async fn exec(
        &self,
        session_id: Uuid,
        request: &ExecRequest,
    ) -> Result<ExecOutput, RuntimeError> {
        self.run_exec(session_id, request).await
    }

    async fn upload(
        &self,
        session_id: Uuid,
        name: &str,
        size: u64,
        body: crate::files::ByteStream,
    ) -> Result<u64, crate::files::FileError> {
        match self.backing(session_id, Folder::Uploads).await? {
            Some(backing) => host_files::upload(backing, name, size, body).await,
            None => self.upload_file(session_id, name, size, body).await,
        }
    }

    async fn download(
        &self,
        session_id: Uuid,
        name: &str,
    ) -> Result<(u64, crate::files::ByteStream), crate::files::FileError> {
        match self.backing(session_id, Folder::Downloads).await? {
            Some(backing) => host_files::download(backing, name).await,
            None => self.download_file(session_id, name).await,
        }
    }

    async fn list_downloads(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<crate::files::FileEntry>, crate::files::FileError> {
        match self.backing(session_id, Folder::Downloads).await? {
            Some(backing) => host_files::list(backing).await,
            None => self.list_download_files(session_id).await,
        }
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
