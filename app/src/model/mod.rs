//! Data shared by the browser and the server.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The session vocabulary lives below the app (the manager and the store use it too).
pub use berth_model::{SessionChange, SessionStatus};

mod groups;
mod monitoring;
mod staging;
mod storage;
pub use groups::{
    EffectiveSetting, GroupDetail, GroupImageRow, GroupMember, GroupRow, GroupSettingRow,
    UserPolicyView,
};
pub use monitoring::{AgentFigures, LaunchWindow, MetricsOverview};
pub use staging::StagingRow;
pub use storage::{ImageStorageRow, ProfileRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A user as the admin pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub user_id: Uuid,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
    pub role: Role,
    pub disabled: bool,
    pub created: String,
    pub last_session: Option<String>,
    /// Their groups besides All Users, by priority.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A workspace tile on the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub image_id: Uuid,
    pub friendly_name: String,
    pub description: String,
    pub image_src: String,
    pub categories: Vec<String>,
}

/// One of the signed-in user's sessions, as the dashboard and session page show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub session_id: Uuid,
    pub image_name: String,
    pub status: SessionStatus,
    pub message: String,
    pub progress: i32,
    pub created: String,
    /// Seconds until the session expires without keepalive.
    pub expires_in_secs: i64,
    /// Seconds before the desktop is disconnected for want of the owner's input, when the
    /// owner's `idle_disconnect` is set and their input has been recorded (0: disconnected).
    #[serde(default)]
    pub idle_in_secs: Option<i64>,
    /// How many seconds before the idle disconnect the page warns.
    #[serde(default)]
    pub idle_warn_secs: i64,
    /// What the owner's groups let them do with it (the page shows only these buttons; the
    /// server refuses the rest whatever the page shows).
    #[serde(default)]
    pub allowed: SessionAllowances,
}

/// The actions on a session that group settings can switch off, as resolved for its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAllowances {
    pub delete: bool,
    pub pause: bool,
    pub stop: bool,
    pub clipboard_up: bool,
    pub clipboard_down: bool,
}

impl Default for SessionAllowances {
    /// Everything allowed: Kasm's defaults, and what a page shows before it knows better.
    fn default() -> Self {
        Self {
            delete: true,
            pause: true,
            stop: true,
            clipboard_up: true,
            clipboard_down: true,
        }
    }
}

impl SessionAllowances {
    /// Whether the owner may make `change` (resuming is always allowed).
    pub fn permits(&self, change: SessionChange) -> bool {
        match change {
            SessionChange::Pause => self.pause,
            SessionChange::Stop => self.stop,
            SessionChange::Resume => true,
        }
    }
}

impl SessionView {
    pub fn is_starting(&self) -> bool {
        self.status.is_starting()
    }

    pub fn is_over(&self) -> bool {
        self.status.is_over()
    }
}

/// Someone watching a shared session, as its owner sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewerRow {
    pub user_id: Uuid,
    pub username: String,
    pub has_control: bool,
    pub joined: String,
}

/// The owner's view of a session's sharing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharingView {
    pub allowed: bool,
    /// Set while sharing is on.
    pub share_id: Option<String>,
    pub viewers: Vec<ViewerRow>,
}

/// What a viewer gets on joining a shared session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinedSession {
    pub session_id: Uuid,
    pub owner: String,
    pub image_name: String,
    pub status: SessionStatus,
    pub has_control: bool,
}

/// One chat message of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: i64,
    pub user: String,
    pub text: String,
    pub sent: String,
}

/// What the server sends on a chat socket (JSON, tagged by "type").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChatEvent {
    /// The latest messages, on joining.
    History {
        messages: Vec<ChatMessage>,
    },
    Message {
        message: ChatMessage,
    },
    /// Who is connected now.
    Presence {
        users: Vec<String>,
    },
    /// Addressed to one participant: why their message was not posted.
    Error {
        message: String,
    },
    /// The participant lost access (link revoked, removed, session over).
    Ended,
}

/// What a participant sends on a chat socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatPost {
    pub text: String,
}

/// A registered image, as Admin → Images shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRow {
    pub image_id: Uuid,
    pub friendly_name: String,
    pub name: String,
    pub description: String,
    pub image_src: String,
    pub categories: Vec<String>,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub enabled: bool,
    pub run_config: String,
    pub live_sessions: i64,
}

/// An agent host, as Admin → Servers shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerRow {
    pub server_id: Uuid,
    pub hostname: String,
    pub status: String,
    pub enabled: bool,
    pub draining: bool,
    pub last_checkin: Option<String>,
    pub seconds_since_checkin: Option<i64>,
    /// Capacity with overrides applied.
    pub cores: f64,
    pub memory: i64,
    pub cores_override: Option<f64>,
    pub memory_override: Option<i64>,
    pub cores_allocated: f64,
    pub memory_allocated: i64,
    pub gpus: i32,
    pub disk_free: i64,
    pub sessions: i64,
    pub images_present: Vec<String>,
    pub images_missing: Vec<String>,
    pub version: String,
    /// When its credential was issued; None when it has none (revoked, or registered before
    /// agents had their own), and then it cannot check in.
    pub credential_issued: Option<String>,
}

/// Any session, as Admin → Sessions shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminSessionRow {
    pub session_id: Uuid,
    pub username: String,
    pub image_name: String,
    pub hostname: String,
    pub status: SessionStatus,
    pub message: String,
    pub progress: i32,
    /// When it was requested and when it expires without keepalive (UTC).
    pub created: String,
    pub expires: String,
    pub age_secs: i64,
    /// 0 once expired.
    pub expires_in_secs: i64,
}

/// Bytes as a short human-readable size (binary units).
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration as a short human-readable text: "42 s", "5 min", "3 h 12 min", "2 d 4 h".
pub fn format_duration(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Bytes as form text that reads back exactly: "2g", "512m" or plain bytes.
pub fn memory_text(bytes: i64) -> String {
    if bytes > 0 && bytes % (1 << 30) == 0 {
        format!("{}g", bytes >> 30)
    } else if bytes > 0 && bytes % (1 << 20) == 0 {
        format!("{}m", bytes >> 20)
    } else {
        bytes.to_string()
    }
}

/// A developer API key as the admin sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub api_key_id: Uuid,
    pub name: String,
    pub api_key: String,
    pub permissions: Vec<String>,
    pub read_only: bool,
    pub expires: Option<String>,
    pub revoked: bool,
    pub last_used: Option<String>,
}

/// An agent's new credential, shown this once (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAgentCredential {
    pub server_id: Uuid,
    /// The name the agent must check in under.
    pub name: String,
    /// What the agent presents: give it in a file (`berth agent --token-file`) or in
    /// BERTH_AGENT_TOKEN.
    pub credential: String,
}

/// A new key, with its secret shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub api_key: String,
    pub api_key_secret: String,
}

/// The permissions an API key can be granted (Kasm's names).
pub const API_PERMISSIONS: &[&str] = &[
    "User",
    "Users Auth Session",
    "Users View",
    "Users Create",
    "Users Modify",
    // Acting on administrators at all (change, delete, sign out, sign in as, their sessions).
    "Users Modify Admin",
    "Users Delete",
    "Sessions View",
    "Sessions Modify",
    // Berth's own: exec_command_kasm as root (user "root" or uid 0) inside the session.
    "Sessions Exec Root",
    "Images View",
    "Groups View",
    "Groups Create",
    "Groups Modify",
    // Changing a system group (All Users, Administrators) besides Groups Modify.
    "Groups Modify System",
    "Groups Delete",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(format_bytes(2 << 30), "2 GiB");
        assert_eq!(format_bytes(768 << 20), "768 MiB");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
        assert_eq!(memory_text(2 << 30), "2g");
        assert_eq!(memory_text(768 << 20), "768m");
        assert_eq!(memory_text(1000), "1000");
        assert_eq!(format_duration(42), "42 s");
        assert_eq!(format_duration(300), "5 min");
        assert_eq!(format_duration(3 * 3600 + 720), "3 h 12 min");
        assert_eq!(format_duration(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}

/// Admin → Audit's filters, as typed (empty: not filtered). `from` and `until` are UTC
/// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`; `before` is the page's bound (an entry id), empty for
/// the newest page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub from: String,
    pub until: String,
    pub outcome: String,
    pub before: String,
}

/// One audit log entry as Admin → Audit shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub audit_id: i64,
    pub at: String,
    /// The username, `key <name>`, or empty when nobody known acted.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    /// Whether this entry counts a key's read calls of one minute (`calls` of them).
    pub counted: bool,
    pub calls: i64,
}

/// A page of the audit log: its entries, the bound of the next (older) page if there is one,
/// and the retention setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub next_before: Option<i64>,
    pub retention_days: i64,
}
