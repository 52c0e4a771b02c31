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
use uuid::Uuid;

/// Where profiles live when BERTH_PROFILE_ROOT is not set.
pub const DEFAULT_PROFILE_ROOT: &str = "/var/lib/berth/profiles";
/// Where sessions' transfer folders live when BERTH_TRANSFER_ROOT is not set.
pub const DEFAULT_TRANSFER_ROOT: &str = "/var/lib/berth/transfers";

/// This host's storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// Every profile folder is under it.
    pub profile_root: PathBuf,
    /// Host folders volume mappings may use (empty: none).
    pub volume_roots: Vec<PathBuf>,
    /// Where each session without a profile gets the host folders behind its `~/Uploads`
    /// and `~/Downloads` (`agent::host_files`); None (`off`): those stay in the container and
    /// transfers go through `docker exec`, at about half the speed.
    pub transfer_root: Option<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            profile_root: PathBuf::from(DEFAULT_PROFILE_ROOT),
            volume_roots: Vec::new(),
            transfer_root: Some(PathBuf::from(DEFAULT_TRANSFER_ROOT)),
        }
    }
}

impl StorageConfig {
    /// From the settings' text: the profile root (empty: the default), the volume roots,
    /// comma-separated absolute paths, and the transfer root (empty: the default; `off`:
    /// none).
    pub fn parse(
        profile_root: Option<&Path>,
        volume_roots: &str,
        transfer_root: Option<&str>,
    ) -> Result<Self, String> {
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
        let transfer_root = match transfer_root.map(str::trim) {
            None | Some("") => Some(PathBuf::from(DEFAULT_TRANSFER_ROOT)),
            Some("off") => None,
            Some(root) if Path::new(root).is_absolute() => Some(PathBuf::from(root)),
            Some(root) => {
                return Err(format!(
                    "BERTH_TRANSFER_ROOT '{root}' must be an absolute path (or off)"
                ))
            }
        };
        Ok(StorageConfig {
            profile_root,
            volume_roots: roots,
            transfer_root,
        })
    }

    /// The embedded agent's: BERTH_PROFILE_ROOT, BERTH_VOLUME_ROOTS and BERTH_TRANSFER_ROOT
    /// from the environment.
    pub fn from_env() -> Result<Self, String> {
        let root = std::env::var_os("BERTH_PROFILE_ROOT").map(PathBuf::from);
        let volumes = std::env::var("BERTH_VOLUME_ROOTS").unwrap_or_default();
        let transfers = std::env::var("BERTH_TRANSFER_ROOT").ok();
        Self::parse(root.as_deref(), &volumes, transfers.as_deref())
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
    if let (None, Some(root)) = (&spec.storage.profile, &config.transfer_root) {
        let taken: Vec<String> = binds.iter().map(|bind| bind.target.clone()).collect();
        match transfer_binds(root, spec.session_id, &taken) {
            Ok(transfer) => binds.extend(transfer),
            // The session still starts, its folders in the container (`docker exec`).
            Err(refusal) => tracing::warn!(session_id = %spec.session_id, "{}", refusal.message),
        }
    }
    spec.storage.binds = binds;
    Ok(())
}

/// `config` as the agent can use it: with its transfer root only when the root can be made
/// and given to the session's user (the agent runs as root, or as uid 1000). Otherwise the
/// sessions' folders stay in their containers (transfers through `docker exec`), with a
/// warning that says how to fix it: a launch never fails for file transfer's sake.
pub fn with_usable_transfer_root(mut config: StorageConfig) -> StorageConfig {
    let Some(root) = config.transfer_root.clone() else {
        return config;
    };
    let probe = root.join(format!(".probe-{}", Uuid::new_v4().simple()));
    let usable = std::fs::create_dir_all(&probe)
        .and_then(|()| give_to_session_user(&probe, 0o755))
        .and_then(|()| std::fs::remove_dir(&probe));
    if let Err(error) = usable {
        let _ = std::fs::remove_dir(&probe);
        tracing::warn!(
            root = %root.display(),
            %error,
            "transfer folders are off: the agent cannot make folders for uid 1000 under BERTH_TRANSFER_ROOT \
             (run the agent as root, or set BERTH_TRANSFER_ROOT to a folder it can use; `off` silences this); \
             uploads and downloads go through docker exec, slower"
        );
        config.transfer_root = None;
    }
    config
}

/// The session's own folders behind `~/Uploads` and `~/Downloads` (those a volume mapping
/// does not take): `<root>/<session_id>/{Uploads,Downloads}`, the session's folder the
/// agent's, the two inside it the session user's. Being mount points, they cannot be
/// replaced from inside the container, so the agent finds them where it made them.
fn transfer_binds(root: &Path, session_id: Uuid, taken: &[String]) -> Result<Vec<Bind>, Refusal> {
    let folder = root.join(session_id.to_string());
    let failed = |error: std::io::Error| {
        refuse(
            "storage",
            format!(
                "The transfer folder '{}' (BERTH_TRANSFER_ROOT) cannot be made: {error}.",
                folder.display()
            ),
        )
    };
    let mut binds = Vec::new();
    for name in ["Uploads", "Downloads"] {
        let target = format!("{SESSION_HOME}/{name}");
        if taken.contains(&target) {
            continue;
        }
        let source = folder.join(name);
        std::fs::create_dir_all(&source).map_err(failed)?;
        give_to_session_user(&source, 0o755).map_err(failed)?;
        binds.push(Bind {
            source,
            target,
            read_only: false,
        });
    }
    Ok(binds)
}

/// Removes a session's transfer folders (links inside are removed, never followed).
pub fn remove_transfer_folder(config: &StorageConfig, session_id: Uuid) -> std::io::Result<()> {
    let Some(root) = &config.transfer_root else {
        return Ok(());
    };
    match std::fs::remove_dir_all(root.join(session_id.to_string())) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// How long ago the session's transfer folder was made (None: it has none).
pub fn transfer_folder_age(
    config: &StorageConfig,
    session_id: Uuid,
) -> Option<std::time::Duration> {
    let root = config.transfer_root.as_ref()?;
    let metadata = std::fs::symlink_metadata(root.join(session_id.to_string())).ok()?;
    metadata.modified().ok()?.elapsed().ok()
}

/// The sessions that have transfer folders on this host.
pub fn transfer_folders(config: &StorageConfig) -> Vec<Uuid> {
    let Some(root) = &config.transfer_root else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
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
    give_to_session_user(&resolved, 0o700).map_err(|error| {
        failed(
            "given to uid 1000 (the agent must run as root or as uid 1000)",
            error,
        )
    })?;
    Ok(resolved)
}

fn give_to_session_user(folder: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let metadata = std::fs::metadata(folder)?;
    if metadata.uid() != SESSION_UID || metadata.gid() != SESSION_UID {
        std::os::unix::fs::chown(folder, Some(SESSION_UID), Some(SESSION_UID))?;
    }
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(mode))
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
