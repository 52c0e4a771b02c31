//! Persistent profiles and volume mappings as values, checked (pure: no database and no file
//! system here; the agent checks the host's side again, `server::agent::storage`).
//!
//! A profile location is a template relative to each agent's profile root, e.g.
//! `{username}/{image_id}`; a volume mapping is Kasm's object `{"<host path>": {"bind":
//! "<container path>", "mode": "rw" | "ro"}}`, on an image or merged across groups.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use uuid::Uuid;

/// The session user's home in Berth's images (uid/gid 1000): where a profile is mounted.
pub const SESSION_HOME: &str = "/home/berth";
/// The session user's uid and gid, who owns a profile folder.
pub const SESSION_UID: u32 = 1000;

const PLACEHOLDERS: [&str; 3] = ["{username}", "{user_id}", "{image_id}"];

/// Container folders a mapping may not cover: the system's own (isolation and the session's
/// start depend on them) and the home, which is the profile's.
const SYSTEM_PATHS: [&str; 16] = [
    "/proc", "/sys", "/dev", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/usr", "/boot", "/run", "/var", "/root", "/tmp",
];

/// One host folder seen in a session's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMapping {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

/// Whether `component` may name one folder of a profile path: letters, digits and `._@+-_`,
/// not starting with a dot (so never `.` or `..`), at most 255 bytes.
pub fn safe_component(component: &str) -> bool {
    !component.is_empty()
        && component.len() <= 255
        && !component.starts_with('.')
        && component
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-_".contains(c))
}

/// Whether `path` is a profile path as the agent accepts it: relative, `/`-separated safe
/// components (at most 16).
pub fn is_safe_relative(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= 16 && parts.iter().all(|part| safe_component(part))
}

/// Checks an image's profile location as an administrator saves it (empty: no profile).
pub fn check_profile_template(template: &str) -> Result<(), String> {
    if template.is_empty() {
        return Ok(());
    }
    if template.starts_with('/') {
        return Err(format!(
            "The profile location '{template}' must be relative to each agent's profile root \
             (BERTH_PROFILE_ROOT), e.g. {{username}}/{{image_id}}."
        ));
    }
    if !(template.contains("{username}") || template.contains("{user_id}")) {
        return Err(format!(
            "The profile location '{template}' must contain {{username}} or {{user_id}}: each \
             user has a profile of their own."
        ));
    }
    let mut rest = template.to_owned();
    for placeholder in PLACEHOLDERS {
        rest = rest.replace(placeholder, "x");
    }
    if rest.contains('{') || rest.contains('}') {
        return Err(format!(
            "The profile location '{template}' may only use {{username}}, {{user_id}} and {{image_id}}."
        ));
    }
    if template.len() > 1024 || !is_safe_relative(&rest) {
        return Err(format!(
            "The profile location '{template}' must be folder names of letters, digits and ._@+-_ \
             separated by / (no '..', no empty or hidden folders)."
        ));
    }
    Ok(())
}

/// The profile path of `username` (`user_id`) for `image_id`, relative to the profile root;
/// refused when the template or the username could name anything but a folder under the root.
pub fn resolve_profile(
    template: &str,
    username: &str,
    user_id: Uuid,
    image_id: Uuid,
) -> Result<String, String> {
    check_profile_template(template)?;
    if template.contains("{username}") && !safe_component(username) {
        return Err(format!(
            "The username '{}' cannot name a profile folder (letters, digits and ._@+-_ only, not \
             starting with a dot); ask an administrator to use {{user_id}} in the workspace's \
             profile location.",
            username.escape_debug()
        ));
    }
    let path = template
        .replace("{username}", username)
        .replace("{user_id}", &user_id.to_string())
        .replace("{image_id}", &image_id.to_string());
    if !is_safe_relative(&path) {
        return Err(format!(
            "The profile location resolves to '{path}', which is refused."
        ));
    }
    Ok(path)
}

/// Checks a path as a volume mapping gives it: absolute, normalised (no `.`, `..` or empty
/// components, no trailing `/`), no NUL or control characters.
fn check_absolute(path: &str, what: &str) -> Result<(), String> {
    let shown = path.escape_debug();
    if !path.starts_with('/') {
        return Err(format!("The {what} '{shown}' must be an absolute path."));
    }
    if path.len() > 4096 || path.chars().any(char::is_control) {
        return Err(format!(
            "The {what} '{shown}' has control characters or is too long."
        ));
    }
    if path != "/"
        && path[1..]
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "The {what} '{shown}' must be a plain path (no '..', '.', '//' or trailing '/')."
        ));
    }
    Ok(())
}

/// Checks where a mapping appears in the container: absolute, and not a system folder nor the
/// home itself (nor anything holding one).
pub fn check_container_path(path: &str) -> Result<(), String> {
    check_absolute(path, "container path")?;
    let refused = path == "/"
        || path == "/home"
        || path == SESSION_HOME
        || SYSTEM_PATHS
            .iter()
            .any(|system| Path::new(path).starts_with(system));
    if refused {
        return Err(format!(
            "The container path '{path}' is a system folder or the session's home: map to e.g. \
             /mnt/<name> or {SESSION_HOME}/<name>."
        ));
    }
    Ok(())
}

/// Checks a host path's syntax (the roots are checked by `check_under_roots` and the agent).
pub fn check_host_path(path: &str) -> Result<(), String> {
    check_absolute(path, "host path")?;
    if path == "/" {
        return Err("The host path '/' cannot be mapped.".into());
    }
    Ok(())
}

/// Reads and checks a volume mapping object (Kasm's form); the error names the path at fault.
pub fn parse_mappings(value: &Value) -> Result<Vec<VolumeMapping>, String> {
    let entries = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(entries) => entries,
        _ => return Err("Volume mappings must be a JSON object: {\"/host/path\": {\"bind\": \"/container/path\", \"mode\": \"rw\"}}.".into()),
    };
    let mut mappings: Vec<VolumeMapping> = Vec::new();
    for (host_path, target) in entries {
        check_host_path(host_path)?;
        let container_path = target.get("bind").and_then(Value::as_str).ok_or_else(|| {
            format!("The volume mapping of '{host_path}' needs \"bind\": the container path.")
        })?;
        check_container_path(container_path)?;
        let read_only = match target.get("mode").and_then(Value::as_str).unwrap_or("rw") {
            "rw" => false,
            "ro" => true,
            other => {
                return Err(format!(
                    "The volume mapping of '{host_path}' has mode '{other}': use \"rw\" or \"ro\"."
                ))
            }
        };
        if mappings.iter().any(|m| m.container_path == container_path) {
            return Err(format!(
                "The container path '{container_path}' is mapped twice."
            ));
        }
        mappings.push(VolumeMapping {
            host_path: host_path.clone(),
            container_path: container_path.to_owned(),
            read_only,
        });
    }
    Ok(mappings)
}

/// A session's mappings: the image's, then the groups' on container paths the image leaves.
pub fn merge(image: Vec<VolumeMapping>, groups: Vec<VolumeMapping>) -> Vec<VolumeMapping> {
    let mut merged = image;
    for mapping in groups {
        if !merged
            .iter()
            .any(|m| m.container_path == mapping.container_path)
        {
            merged.push(mapping);
        }
    }
    merged
}

/// Whether `path` is `root` or inside it (by whole components, as written).
pub fn is_under(path: &str, root: &str) -> bool {
    Path::new(path).starts_with(Path::new(root))
}

/// Refuses a mapping whose host path is under none of `roots` (the folders agents allow),
/// naming it.
pub fn check_under_roots(mappings: &[VolumeMapping], roots: &[String]) -> Result<(), String> {
    for mapping in mappings {
        if !roots.iter().any(|root| is_under(&mapping.host_path, root)) {
            let allowed = if roots.is_empty() {
                "no agent allows any (set BERTH_VOLUME_ROOTS on the agent)".to_owned()
            } else {
                format!("agents allow {}", roots.join(", "))
            };
            return Err(format!(
                "The host path '{}' is not under a folder volume mappings may use: {allowed}.",
                mapping.host_path
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
