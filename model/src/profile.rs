//! What a launch does with the user's persistent profile (Kasm's `persistent_profile_mode`).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileMode {
    /// The profile is the session's home (when the image has one and the groups allow it).
    #[default]
    Enabled,
    /// A home of its own for this session only; the profile is left as it is.
    Disabled,
    /// The profile is emptied first, then used as with `Enabled`.
    Reset,
}

impl ProfileMode {
    /// Kasm's names (any case): Enabled, Disabled, Reset.
    pub fn parse(text: &str) -> Option<ProfileMode> {
        match text.to_ascii_lowercase().as_str() {
            "enabled" => Some(ProfileMode::Enabled),
            "disabled" => Some(ProfileMode::Disabled),
            "reset" => Some(ProfileMode::Reset),
            _ => None,
        }
    }
}
