//! The manager's side of persistent profiles and volume mappings: what a launch mounts (the
//! image's profile location resolved for the user when their groups allow it and the request
//! wants it; the image's and the groups' volume mappings, checked), the profile's claim under
//! the placement lock (one session per profile), and deleting a user's profiles through the
//! agents that hold them.
use super::Manager;
use crate::protocol::{DeleteProfiles, SessionStorage};
use berth_model::{ControlError, ProfileMode};
use std::collections::BTreeMap;
use store::mounts::{self, VolumeMapping};
use store::policy::Policy;
use store::profiles::{ClaimRefused, ImageStorage};
use uuid::Uuid;

/// The group setting that allows persistent profiles.
pub const ALLOW_PERSISTENT_PROFILE: &str = "allow_persistent_profile";
/// The group setting of volume mappings (merged across groups).
pub const VOLUME_MAPPING: &str = "volume_mapping";

fn wants_profile(storage: &ImageStorage, policy: &Policy, mode: ProfileMode) -> bool {
    !storage.persistent_profile_path.is_empty()
        && policy.allows(ALLOW_PERSISTENT_PROFILE)
        && mode != ProfileMode::Disabled
}

/// What a launch mounts, checked: refused (400, naming the problem) when the profile location
/// does not resolve to a safe folder for this user or a mapping is malformed.
pub(super) async fn plan(
    manager: &Manager,
    user_id: Uuid,
    image_id: Uuid,
    policy: &Policy,
    mode: ProfileMode,
) -> Result<SessionStorage, ControlError> {
    let storage = store::profiles::image_storage(&manager.db, image_id).await?;
    let profile = if wants_profile(&storage, policy, mode) {
        let username = store::users::username_of(&manager.db, user_id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("No user {user_id}.")))?;
        let path = mounts::resolve_profile(
            &storage.persistent_profile_path,
            &username,
            user_id,
            image_id,
        )
        .map_err(|message| ControlError::invalid("persistent_profile_path", message))?;
        Some(path)
    } else {
        None
    };
    let image_volumes = mounts::parse_mappings(&storage.volume_mappings)
        .map_err(|message| ControlError::invalid("volume_mappings", message))?;
    let group_volumes = match policy.get(VOLUME_MAPPING) {
        Some(resolved) => mounts::parse_mappings(&resolved.value)
            .map_err(|message| ControlError::invalid(VOLUME_MAPPING, message))?,
        None => Vec::new(),
    };
    Ok(SessionStorage {
        reset_profile: profile.is_some() && mode == ProfileMode::Reset,
        profile,
        volumes: mounts::merge(image_volumes, group_volumes),
        binds: Vec::new(),
    })
}

/// The answer when a profile cannot be claimed.
pub(super) fn refused(refusal: ClaimRefused) -> ControlError {
    match refusal {
        ClaimRefused::InUse { session_id, image } => ControlError::Conflict(format!(
            "Your persistent profile is in use by your session {session_id} ({image}): one \
             session at a time uses a profile. Delete that session first, or launch with the \
             profile disabled."
        )),
        ClaimRefused::OtherOwner => ControlError::Conflict(
            "This workspace's profile location resolves to a profile folder of another user on \
             that server; ask an administrator to delete it or to use {user_id} in the \
             workspace's profile location."
                .into(),
        ),
    }
}

/// A volume mapping's host paths checked against the roots agents reported (when saved).
pub async fn check_roots(
    db: &sqlx::PgPool,
    mappings: &[VolumeMapping],
) -> Result<(), ControlError> {
    if mappings.is_empty() {
        return Ok(());
    }
    let roots = store::profiles::volume_roots(db).await?;
    mounts::check_under_roots(mappings, &roots)
        .map_err(|message| ControlError::invalid("volume_mappings", message))
}

/// Profile folders grouped by the server that holds them.
fn by_server(folders: impl Iterator<Item = (Uuid, String)>) -> BTreeMap<Uuid, Vec<String>> {
    let mut grouped: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for (server_id, path) in folders {
        grouped.entry(server_id).or_default().push(path);
    }
    grouped
}

impl Manager {
    /// Deletes every profile folder of the user on each agent host that has one; refused
    /// while a session uses one. Answers how many were deleted.
    pub async fn delete_profiles_of(&self, user_id: Uuid) -> Result<usize, ControlError> {
        let profiles = store::profiles::of_user(&self.db, user_id).await?;
        if let Some(busy) = profiles.iter().find(|p| p.in_use_by.is_some()) {
            return Err(ControlError::Conflict(format!(
                "The profile {} on {} is in use by session {}: delete that session first.",
                busy.profile_path,
                busy.hostname,
                busy.in_use_by.unwrap_or_default()
            )));
        }
        let by_server = by_server(profiles.into_iter().map(|p| (p.server_id, p.profile_path)));
        let mut deleted = 0;
        for (server_id, paths) in by_server {
            deleted += self.delete_on_agent(server_id, paths).await?;
        }
        Ok(deleted)
    }

    /// Deletes the folders on the server's agent and forgets those it deleted.
    async fn delete_on_agent(
        &self,
        server_id: Uuid,
        paths: Vec<String>,
    ) -> Result<usize, ControlError> {
        let agent = self.agent_of(server_id).await?;
        let done = self
            .agents
            .delete_profiles(&agent, &DeleteProfiles { paths })
            .await?;
        store::profiles::forget(&self.db, server_id, &done.deleted).await?;
        Ok(done.deleted.len())
    }

    /// Deletes the profile folders of deleted users once no session uses them: their files
    /// are not kept, and a new user of the same name never finds them. A server that cannot
    /// be reached now is asked again at a later sweep.
    pub(super) async fn delete_orphaned_profiles(&self) {
        let orphans = match store::profiles::orphaned(&self.db).await {
            Ok(orphans) => orphans,
            Err(error) => {
                tracing::warn!(%error, "could not look for deleted users' profiles");
                return;
            }
        };
        let orphans = orphans.into_iter().map(|o| (o.server_id, o.profile_path));
        for (server_id, paths) in by_server(orphans) {
            match self.delete_on_agent(server_id, paths).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(%server_id, deleted, "deleted deleted users' profiles")
                }
                Err(error) => {
                    tracing::debug!(%server_id, %error, "deleted users' profiles wait for their server")
                }
            }
        }
    }
}
