//! The agent's side of persistent profiles and volume mappings. The operator decides, on each
//! agent host, where profiles live (BERTH_PROFILE_ROOT) and which host folders sessions may
//! see (BERTH_VOLUME_ROOTS, none by default); the manager only asks. Every path the manager
//! sends is checked again here, then resolved on the host (symlinks included) and refused
//! unless it stays inside its root; a profile folder is created for the session's user
//! (uid 1000) and, for `reset`, emptied first.
use super::validate::Refusal;
use crate::protocol::{Bind, CreateSession};
use std::path::{Path, PathBuf};
use store::mounts::{self, SESSION_HOME, SESSION_UID};

/// Where profiles live when BERTH_PROFILE_ROOT is not set.
pub const DEFAULT_PROFILE_ROOT: &str = "/var/lib/berth/profiles";

/// This host's storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// Every profile folder is under it.
    pub profile_root: PathBuf,
    /// Host folders volume mappings may use (empty: none).
    pub volume_roots: Vec<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            profile_root: PathBuf::from(DEFAULT_PROFILE_ROOT),
            volume_roots: Vec::new(),
        }
    }
}

impl StorageConfig {
    /// From the settings' text: the profile root (empty: the default) and the volume roots,
    /// comma-separated absolute paths.
    pub fn parse(profile_root: Option<&Path>, volume_roots: &str) -> Result<Self, String> {
        let profile_root = match profile_root {
            Some(root) if !root.as_os_str().is_empty() => root.to_owned(),
            _ => PathBuf::from(DEFAULT_PROFILE_ROOT),
        };
        if !profile_root.is_absolute() {
            return Err(format!(
                "BERTH_PROFILE_ROOT '{}' must be an absolute path",
                profile_root.display()
            ));
        }
        let mut roots = Vec::new();
        for root in volume_roots
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            mounts::check_host_path(root)
                .map_err(|error| format!("BERTH_VOLUME_ROOTS: {error}"))?;
            roots.push(PathBuf::from(root));
        }
        Ok(StorageConfig {
            profile_root,
            volume_roots: roots,
        })
    }

    /// The embedded agent's: BERTH_PROFILE_ROOT and BERTH_VOLUME_ROOTS from the environment.
    pub fn from_env() -> Result<Self, String> {
        let root = std::env::var_os("BERTH_PROFILE_ROOT").map(PathBuf::from);
        let volumes = std::env::var("BERTH_VOLUME_ROOTS").unwrap_or_default();
        Self::parse(root.as_deref(), &volumes)
    }

    /// The volume roots as check-ins report them.
    pub fn reported_roots(&self) -> Vec<String> {
        self.volume_roots
            .iter()
            .map(|root| root.display().to_string())
            .collect()
    }
}

fn refuse(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        field,
        message: message.into(),
    }
}

/// Checks the session's profile and mappings against this host's configuration and fills in
/// `spec.storage.binds` (blocking file system work: run it off the async threads).
pub fn prepare(config: &StorageConfig, spec: &mut CreateSession) -> Result<(), Refusal> {
    let mut binds = Vec::new();
    if let Some(profile) = spec.storage.profile.clone() {
        let source = profile_folder(config, &profile, spec.storage.reset_profile)?;
        binds.push(Bind {
            source,
            target: SESSION_HOME.to_owned(),
            read_only: false,
        });
    }
    for volume in &spec.storage.volumes {
        mounts::check_host_path(&volume.host_path)
            .and_then(|()| mounts::check_container_path(&volume.container_path))
            .map_err(|error| refuse("storage.volumes", error))?;
        binds.push(Bind {
            source: inside_volume_roots(config, &volume.host_path)?,
            target: volume.container_path.clone(),
            read_only: volume.read_only,
        });
    }
    spec.storage.binds = binds;
    Ok(())
}

/// The canonical host folder of a mapping, refused unless it exists inside a volume root.
fn inside_volume_roots(config: &StorageConfig, host_path: &str) -> Result<PathBuf, Refusal> {
    let resolved = std::fs::canonicalize(host_path).map_err(|error| {
        refuse(
            "storage.volumes",
            format!("The host path '{host_path}' of a volume mapping cannot be used on this host: {error}."),
        )
    })?;
    let inside = config
        .volume_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .any(|root| resolved.starts_with(root));
    if !inside {
        return Err(refuse(
            "storage.volumes",
            format!(
                "The host path '{host_path}' (resolved to '{}') is not under this agent's volume roots (BERTH_VOLUME_ROOTS: {}).",
                resolved.display(),
                if config.volume_roots.is_empty() { "none".to_owned() } else { config.reported_roots().join(", ") }
            ),
        ));
    }
    Ok(resolved)
}

/// The root, created if needed, as the host resolves it.
fn profile_root(config: &StorageConfig) -> Result<PathBuf, Refusal> {
    std::fs::create_dir_all(&config.profile_root)
        .and_then(|()| std::fs::canonicalize(&config.profile_root))
        .map_err(|error| {
            refuse(
                "storage.profile",
                format!(
                    "The profile root '{}' (BERTH_PROFILE_ROOT) cannot be used: {error}.",
                    config.profile_root.display()
                ),
            )
        })
}

/// The session's profile folder: checked, emptied for a reset, created, resolved inside the
/// root and owned by the session's user.
fn profile_folder(config: &StorageConfig, profile: &str, reset: bool) -> Result<PathBuf, Refusal> {
    if !mounts::is_safe_relative(profile) {
        return Err(refuse(
            "storage.profile",
            format!("The profile path '{}' is refused.", profile.escape_debug()),
        ));
    }
    let root = profile_root(config)?;
    let folder = root.join(profile);
    let failed = |what: &str, error: std::io::Error| {
        refuse(
            "storage.profile",
            format!(
                "The profile folder '{}' cannot be {what}: {error}.",
                folder.display()
            ),
        )
    };
    if reset {
        remove_profile(&folder).map_err(|error| failed("reset", error))?;
    }
    std::fs::create_dir_all(&folder).map_err(|error| failed("created", error))?;
    let resolved = std::fs::canonicalize(&folder).map_err(|error| failed("resolved", error))?;
    if !resolved.starts_with(&root) || resolved == root {
        return Err(refuse(
            "storage.profile",
            format!(
                "The profile folder '{}' resolves to '{}', outside the profile root.",
                folder.display(),
                resolved.display()
            ),
        ));
    }
    give_to_session_user(&resolved).map_err(|error| {
        failed(
            "given to uid 1000 (the agent must run as root or as uid 1000)",
            error,
        )
    })?;
    Ok(resolved)
}

fn give_to_session_user(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let metadata = std::fs::metadata(folder)?;
    if metadata.uid() != SESSION_UID || metadata.gid() != SESSION_UID {
        std::os::unix::fs::chown(folder, Some(SESSION_UID), Some(SESSION_UID))?;
    }
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))
}

/// Removes a profile folder (a symlink in its place is removed, never followed).
fn remove_profile(folder: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(folder) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(folder),
        Ok(_) => std::fs::remove_file(folder),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Deletes profile folders (paths relative to the root); answers those deleted or absent.
pub fn delete_profiles(config: &StorageConfig, paths: &[String]) -> Result<Vec<String>, Refusal> {
    let root = profile_root(config)?;
    let mut deleted = Vec::new();
    for path in paths {
        if !mounts::is_safe_relative(path) {
            return Err(refuse(
                "paths",
                format!("The profile path '{}' is refused.", path.escape_debug()),
            ));
        }
        remove_profile(&root.join(path)).map_err(|error| {
            refuse(
                "paths",
                format!("The profile folder '{path}' cannot be deleted: {error}."),
            )
        })?;
        deleted.push(path.clone());
    }
    Ok(deleted)
}

/// The binds as Docker mounts (bind type: Docker refuses a source that does not exist rather
/// than creating it).
pub fn docker_mounts(binds: &[Bind]) -> Vec<bollard::models::Mount> {
    binds
        .iter()
        .map(|bind| bollard::models::Mount {
            target: Some(bind.target.clone()),
            source: Some(bind.source.display().to_string()),
            typ: Some(bollard::models::MountTypeEnum::BIND),
            read_only: Some(bind.read_only),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
