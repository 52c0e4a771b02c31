//! Group settings under Kasm's names, and their resolution for one user (pure: no database
//! here). Each setting's type, meaning and built-in default are in [`DEFINITIONS`] and nowhere
//! else.
//!
//! A user's effective value of a setting: among the user's groups (All Users included) that
//! set it, the one with the lowest priority number wins; a mapping (`volume_mapping`) is
//! merged from all of them instead, key by key, the lowest priority number first. When no
//! group sets a value, the deployment's own setting decides where one exists (the older
//! deployment-wide `settings` rows: `max_kasms_per_user`, `allow_kasm_sharing`,
//! `keepalive_seconds`), else the built-in default.
use serde_json::{Map, Value};
use uuid::Uuid;

/// What values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// true or false.
    Flag,
    /// A whole number from 0 (a count, seconds or minutes; 0 is "no limit" where it says so).
    Number,
    /// Minutes from 0, fractions allowed (0.5 is thirty seconds; 0 is "never").
    Minutes,
    /// A workspace's image id, or null for none.
    Image,
    /// A JSON object, merged across groups.
    Mapping,
    /// One of these words.
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
enum Fallback {
    Flag(bool),
    Number(i64),
    Null,
    Empty,
    Word(&'static str),
}

/// One setting: its name, type, meaning and built-in default.
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub name: &'static str,
    pub kind: Kind,
    pub meaning: &'static str,
    fallback: Fallback,
}

impl Definition {
    /// The built-in default.
    pub fn default_value(&self) -> Value {
        match self.fallback {
            Fallback::Flag(on) => Value::Bool(on),
            Fallback::Number(n) => Value::from(n),
            Fallback::Null => Value::Null,
            Fallback::Empty => Value::Object(Map::new()),
            Fallback::Word(word) => Value::from(word),
        }
    }

    /// Whether `value` is of this setting's type.
    pub fn accepts(&self, value: &Value) -> bool {
        match self.kind {
            Kind::Flag => value.is_boolean(),
            Kind::Number => value
                .as_i64()
                .is_some_and(|n| (0..=i32::MAX as i64).contains(&n)),
            Kind::Minutes => value
                .as_f64()
                .is_some_and(|n| n.is_finite() && (0.0..=i32::MAX as f64).contains(&n)),
            Kind::Image => {
                value.is_null() || value.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok())
            }
            Kind::Mapping => value.is_object(),
            Kind::Choice(words) => value.as_str().is_some_and(|word| words.contains(&word)),
        }
    }
}

pub const MAX_KASMS_PER_USER: &str = "max_kasms_per_user";
pub const SESSION_TIME_LIMIT: &str = "session_time_limit";
pub const IDLE_DISCONNECT: &str = "idle_disconnect";
/// Berth's own: what follows an idle disconnect besides closing the streams.
pub const IDLE_DISCONNECT_ACTION: &str = "idle_disconnect_action";
/// The values of [`IDLE_DISCONNECT_ACTION`].
pub const IDLE_ACTIONS: &[&str] = &["disconnect", "pause", "stop"];
pub const KEEPALIVE_EXPIRATION: &str = "keepalive_expiration";
pub const ALLOW_KASM_SHARING: &str = "allow_kasm_sharing";
pub const ALLOW_KASM_DELETE: &str = "allow_kasm_delete";
pub const ALLOW_KASM_PAUSE: &str = "allow_kasm_pause";
pub const ALLOW_KASM_STOP: &str = "allow_kasm_stop";
pub const ALLOW_KASM_CLIPBOARD_UP: &str = "allow_kasm_clipboard_up";
pub const ALLOW_KASM_CLIPBOARD_DOWN: &str = "allow_kasm_clipboard_down";
pub const DEFAULT_IMAGE: &str = "default_image";
/// Berth's own setting (Kasm has no group setting for it): the largest file one upload may
/// be, in MB (10^6 bytes); 0 is no limit.
pub const UPLOAD_SIZE_LIMIT_MB: &str = "upload_size_limit_mb";

const fn flag(name: &'static str, on: bool, meaning: &'static str) -> Definition {
    Definition {
        name,
        kind: Kind::Flag,
        meaning,
        fallback: Fallback::Flag(on),
    }
}

const fn number(name: &'static str, n: i64, meaning: &'static str) -> Definition {
    Definition {
        name,
        kind: Kind::Number,
        meaning,
        fallback: Fallback::Number(n),
    }
}

/// Every group setting Berth knows, by name.
pub const DEFINITIONS: &[Definition] = &[
    flag(
        "allow_2fa_self_enrollment",
        true,
        "Users may enrol a second factor themselves.",
    ),
    flag(
        "allow_kasm_audio",
        true,
        "Audio streaming from the session.",
    ),
    flag(
        "allow_kasm_clipboard_down",
        true,
        "Copy from the session to the local computer.",
    ),
    flag(
        "allow_kasm_clipboard_seamless",
        true,
        "Clipboard without the control panel.",
    ),
    flag(
        "allow_kasm_clipboard_up",
        true,
        "Paste from the local computer into the session.",
    ),
    flag(
        "allow_kasm_delete",
        true,
        "Users may delete their sessions.",
    ),
    flag(
        "allow_kasm_downloads",
        true,
        "Download files from the session.",
    ),
    flag(
        "allow_kasm_microphone",
        false,
        "Microphone passthrough into the session.",
    ),
    flag("allow_kasm_pause", true, "Users may pause their sessions."),
    flag("allow_kasm_printing", false, "Print to local printers."),
    flag(
        "allow_kasm_sharing",
        true,
        "Users may share their sessions with others.",
    ),
    flag("allow_kasm_stop", true, "Users may stop their sessions."),
    flag("allow_kasm_uploads", true, "Upload files to the session."),
    flag(
        "allow_kasm_webcam",
        false,
        "Webcam passthrough into the session.",
    ),
    flag(
        "allow_persistent_profile",
        false,
        "Persistent profiles where the workspace has one.",
    ),
    Definition {
        name: DEFAULT_IMAGE,
        kind: Kind::Image,
        meaning: "The workspace launched on sign-in (an image id, or none).",
        fallback: Fallback::Null,
    },
    Definition {
        name: IDLE_DISCONNECT,
        kind: Kind::Minutes,
        meaning: "Minutes without input before disconnecting (0: never; fractions allowed).",
        fallback: Fallback::Number(0),
    },
    Definition {
        name: IDLE_DISCONNECT_ACTION,
        kind: Kind::Choice(IDLE_ACTIONS),
        meaning: "Berth's own: after an idle disconnect, also pause or stop the session \
                  (disconnect: only close its streams).",
        fallback: Fallback::Word("disconnect"),
    },
    number(
        "keepalive_expiration",
        3600,
        "Seconds a session lives after its last keepalive.",
    ),
    number(
        "max_kasms_per_user",
        2,
        "Sessions one user may have at once (0: no limit).",
    ),
    flag(
        "require_2fa",
        false,
        "Users must sign in with a second factor.",
    ),
    number(
        "session_time_limit",
        0,
        "Longest a session may live, in seconds (0: no limit).",
    ),
    number(
        UPLOAD_SIZE_LIMIT_MB,
        1024,
        "Largest file one upload may be, in MB (0: no limit).",
    ),
    Definition {
        name: "volume_mapping",
        kind: Kind::Mapping,
        meaning: "Host path → container path and mode (merged across groups).",
        fallback: Fallback::Empty,
    },
];

/// The definition of `name`, if Berth knows the setting.
pub fn definition(name: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.name == name)
}

/// Checks a value an administrator gives a setting; the error names the problem.
pub fn check(name: &str, value: &Value) -> Result<(), String> {
    let definition = definition(name).ok_or_else(|| format!("There is no setting {name}."))?;
    if definition.accepts(value) {
        return Ok(());
    }
    Err(match definition.kind {
        Kind::Flag => format!("{name} must be true or false."),
        Kind::Number => format!("{name} must be a whole number from 0 to {}.", i32::MAX),
        Kind::Minutes => format!("{name} must be a number of minutes from 0 (fractions allowed)."),
        Kind::Image => format!("{name} must be an image id, or empty for none."),
        Kind::Mapping => format!("{name} must be a JSON object."),
        Kind::Choice(words) => format!("{name} must be one of: {}.", words.join(", ")),
    })
}

/// One group of the user's, with the settings it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupValues {
    pub group_id: Uuid,
    pub name: String,
    pub priority: i32,
    pub values: Vec<(String, Value)>,
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The group, with the lowest priority number among those setting it.
    Group { group_id: Uuid, name: String },
    /// Merged from these groups (by priority).
    Merged(Vec<String>),
    /// The deployment-wide setting (no group sets it).
    Deployment,
    /// Berth's built-in default (no group sets it).
    Default,
}

/// One setting's effective value for a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub name: &'static str,
    pub value: Value,
    pub source: Source,
}

/// Every setting's effective value for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub resolved: Vec<Resolved>,
}

impl Policy {
    /// Resolves every setting from the user's groups (in any order) over the deployment's
    /// values (`deployment`: setting name and value; those of the wrong type are ignored).
    pub fn resolve(groups: &[GroupValues], deployment: &[(&str, Value)]) -> Policy {
        let mut ordered: Vec<&GroupValues> = groups.iter().collect();
        ordered.sort_by_key(|g| g.priority);
        let resolved = DEFINITIONS
            .iter()
            .map(|definition| match definition.kind {
                Kind::Mapping => merged(definition, &ordered),
                _ => single(definition, &ordered, deployment),
            })
            .collect();
        Policy { resolved }
    }

    /// The effective value and source of `name`.
    pub fn get(&self, name: &str) -> Option<&Resolved> {
        self.resolved.iter().find(|r| r.name == name)
    }

    /// A flag's effective value (false for a name that is no flag).
    pub fn allows(&self, name: &str) -> bool {
        self.get(name)
            .and_then(|r| r.value.as_bool())
            .unwrap_or(false)
    }

    /// A number's effective value (0 for a name that is no number).
    pub fn number(&self, name: &str) -> i64 {
        self.get(name).and_then(|r| r.value.as_i64()).unwrap_or(0)
    }

    /// How long the owner may send no input before their streams are disconnected
    /// (`idle_disconnect`, in minutes); None when it is 0 (never).
    pub fn idle_limit(&self) -> Option<std::time::Duration> {
        let minutes = self
            .get(IDLE_DISCONNECT)
            .and_then(|r| r.value.as_f64())
            .unwrap_or(0.0);
        (minutes > 0.0).then(|| std::time::Duration::from_secs_f64(minutes * 60.0))
    }

    /// What follows an idle disconnect besides closing the streams
    /// (`idle_disconnect_action`): pausing or stopping the session, or nothing.
    pub fn idle_action(&self) -> Option<berth_model::SessionChange> {
        match self.get(IDLE_DISCONNECT_ACTION)?.value.as_str()? {
            "pause" => Some(berth_model::SessionChange::Pause),
            "stop" => Some(berth_model::SessionChange::Stop),
            _ => None,
        }
    }

    /// Every flag and number, by name: what a session's `client_settings` shows.
    pub fn client_settings(&self) -> Map<String, Value> {
        self.resolved
            .iter()
            .filter(|r| r.value.is_boolean() || r.value.is_number())
            .map(|r| (r.name.to_owned(), r.value.clone()))
            .collect()
    }
}

fn value_in<'a>(group: &'a GroupValues, definition: &Definition) -> Option<&'a Value> {
    group
        .values
        .iter()
        .find(|(name, value)| name == definition.name && definition.accepts(value))
        .map(|(_, value)| value)
}

fn single(
    definition: &Definition,
    groups: &[&GroupValues],
    deployment: &[(&str, Value)],
) -> Resolved {
    let (value, source) = if let Some((group, value)) = groups
        .iter()
        .find_map(|g| value_in(g, definition).map(|v| (g, v)))
    {
        let source = Source::Group {
            group_id: group.group_id,
            name: group.name.clone(),
        };
        (value.clone(), source)
    } else if let Some((_, value)) = deployment
        .iter()
        .find(|(name, value)| *name == definition.name && definition.accepts(value))
    {
        (value.clone(), Source::Deployment)
    } else {
        (definition.default_value(), Source::Default)
    };
    Resolved {
        name: definition.name,
        value,
        source,
    }
}

fn merged(definition: &Definition, groups: &[&GroupValues]) -> Resolved {
    let mut value = Map::new();
    let mut from = Vec::new();
    for group in groups {
        if let Some(Value::Object(entries)) = value_in(group, definition) {
            from.push(group.name.clone());
            for (key, entry) in entries {
                value.entry(key.clone()).or_insert_with(|| entry.clone());
            }
        }
    }
    let source = if from.is_empty() {
        Source::Default
    } else {
        Source::Merged(from)
    };
    Resolved {
        name: definition.name,
        value: Value::Object(value),
        source,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
