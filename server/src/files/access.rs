//! Who may move files in and out of a session: its owner only, while it runs, as the owner's
//! groups allow (`allow_kasm_uploads` / `allow_kasm_downloads`). Pure, so every combination is
//! tested here; the routes gather the facts.
use app::model::{CurrentUser, SessionStatus};
use axum::http::StatusCode;
use store::policy::Policy;
use store::sharing::Access;

/// The group setting allowing uploads.
pub const ALLOW_UPLOADS: &str = "allow_kasm_uploads";
/// The group setting allowing downloads.
pub const ALLOW_DOWNLOADS: &str = "allow_kasm_downloads";
/// The group setting bounding one upload, in MB (0: no limit).
pub const UPLOAD_LIMIT: &str = store::policy::UPLOAD_SIZE_LIMIT_MB;

/// Which way the file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upload,
    Download,
}

impl Direction {
    pub fn setting(self) -> &'static str {
        match self {
            Direction::Upload => ALLOW_UPLOADS,
            Direction::Download => ALLOW_DOWNLOADS,
        }
    }
}

/// The facts about one request.
pub struct Facts<'a> {
    pub user: Option<&'a CurrentUser>,
    /// The session's owner and status; None when there is no such session.
    pub session: Option<(uuid::Uuid, SessionStatus)>,
    /// The asker's access to it (owner, viewer, none).
    pub access: Option<Access>,
    /// The owner's effective group settings (loaded for the owner only).
    pub policy: Option<&'a Policy>,
}

/// Anonymous: 401. No such session: 404. Someone else's session: 403 (viewers of a shared
/// session included).
pub fn owner_only(facts: &Facts<'_>) -> Result<(), (StatusCode, String)> {
    let refuse = |status, message: &str| Err((status, message.to_owned()));
    let Some(user) = facts.user else {
        return refuse(StatusCode::UNAUTHORIZED, "Please sign in.");
    };
    let Some((owner, _)) = facts.session else {
        return refuse(StatusCode::NOT_FOUND, "No such session.");
    };
    match facts.access {
        Some(Access::Owner) if owner == user.user_id => Ok(()),
        Some(Access::Viewer { .. }) => refuse(
            StatusCode::FORBIDDEN,
            "Viewers of a shared session cannot upload or download files.",
        ),
        _ => refuse(
            StatusCode::FORBIDDEN,
            "This session belongs to someone else.",
        ),
    }
}

/// `owner_only`, then: the owner's groups do not allow it: 403 naming the setting; the
/// session is not running: 409.
pub fn authorize(facts: &Facts<'_>, direction: Direction) -> Result<(), (StatusCode, String)> {
    owner_only(facts)?;
    let status = facts.session.map(|(_, status)| status);
    let setting = direction.setting();
    if !facts.policy.is_some_and(|policy| policy.allows(setting)) {
        let what = match direction {
            Direction::Upload => "Uploads",
            Direction::Download => "Downloads",
        };
        return Err((
            StatusCode::FORBIDDEN,
            format!("{what} are turned off for your groups ({setting})."),
        ));
    }
    match status {
        Some(SessionStatus::Running) => Ok(()),
        Some(status) => Err((
            StatusCode::CONFLICT,
            format!("The session is {status}; files move only while it runs."),
        )),
        None => Err((StatusCode::NOT_FOUND, "No such session.".into())),
    }
}

/// The most one upload may be, in bytes, by the owner's groups (None: no limit).
pub fn upload_limit(policy: &Policy) -> Option<u64> {
    let megabytes = policy.number(UPLOAD_LIMIT);
    (megabytes > 0).then(|| megabytes as u64 * 1_000_000)
}

/// Refuses an upload of `size` bytes over `limit`: 413 naming the limit.
pub fn check_size(size: u64, limit: Option<u64>) -> Result<(), (StatusCode, String)> {
    match limit {
        Some(limit) if size > limit => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The file is {} MB; your groups allow uploads of at most {} MB ({UPLOAD_LIMIT}).",
                size.div_ceil(1_000_000),
                limit / 1_000_000
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
