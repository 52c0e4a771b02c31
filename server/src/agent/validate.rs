//! What an agent checks in the manager's requests before it acts on them. The manager is
//! trusted to ask, not to ask anything: a session's container gets only the isolated session
//! network or none (never the host's network or another container's, `isolation`), and sizes
//! Docker can honour. A refusal names the field at fault.
use super::isolation;
use crate::protocol::CreateSession;

/// A request refused, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal {
        field,
        message: message.into(),
    })
}

/// The most cores and memory one session may ask for (far above any host).
const MAX_CORES: f64 = 4096.0;
const MAX_MEMORY: i64 = 64 << 40;
/// Docker refuses containers with less memory than this.
const MIN_MEMORY: i64 = 6 << 20;

/// Whether the agent may create this session's container.
pub fn create_session(spec: &CreateSession) -> Result<(), Refusal> {
    if let Err(refused) = isolation::session_network(&spec.network_mode) {
        return refuse("network_mode", refused.to_string());
    }
    let image_ok = !spec.image.is_empty()
        && spec.image.len() <= 255
        && spec
            .image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if !image_ok {
        return refuse("image", "image is not a container image reference");
    }
    if !(spec.cores.is_finite() && spec.cores > 0.0 && spec.cores <= MAX_CORES) {
        return refuse(
            "cores",
            format!("cores must be above 0 and at most {MAX_CORES}"),
        );
    }
    if !(MIN_MEMORY..=MAX_MEMORY).contains(&spec.memory) {
        return refuse(
            "memory",
            format!("memory must be between {MIN_MEMORY} and {MAX_MEMORY} bytes"),
        );
    }
    if let Some(shm_size) = spec.run_config.get("shm_size") {
        if !shm_size
            .as_i64()
            .is_some_and(|size| size > 0 && size <= MAX_MEMORY)
        {
            return refuse(
                "run_config.shm_size",
                "run_config.shm_size must be a positive number of bytes",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(network_mode: &str) -> CreateSession {
        CreateSession::example("berth/desktop:latest", network_mode)
    }

    #[test]
    fn sessions_get_only_the_session_network_or_none() {
        for allowed in ["bridge", "none"] {
            assert_eq!(create_session(&spec(allowed)), Ok(()));
        }
        for refused in [
            "host",
            "HOST",
            "container:berth-session-1",
            "Container:abc",
            "some-other-network",
            "bridge ",
        ] {
            let refusal = create_session(&spec(refused)).unwrap_err();
            assert_eq!(refusal.field, "network_mode", "{refused}");
            assert!(refusal.message.contains(refused), "{refusal:?}");
        }
    }

    /// A change to a valid request, and the field its refusal must name.
    type Case = (fn(&mut CreateSession), &'static str);

    #[test]
    fn sizes_and_images_are_checked_naming_the_field() {
        let cases: [Case; 9] = [
            (|s| s.cores = 0.0, "cores"),
            (|s| s.cores = f64::NAN, "cores"),
            (|s| s.cores = 1e9, "cores"),
            (|s| s.memory = 1024, "memory"),
            (|s| s.memory = -1, "memory"),
            (|s| s.image = String::new(), "image"),
            (|s| s.image = "berth/desktop --privileged".into(), "image"),
            (
                |s| s.run_config = serde_json::json!({ "shm_size": -1 }),
                "run_config.shm_size",
            ),
            (
                |s| s.run_config = serde_json::json!({ "shm_size": "lots" }),
                "run_config.shm_size",
            ),
        ];
        for (change, field) in cases {
            let mut request = spec("bridge");
            change(&mut request);
            assert_eq!(create_session(&request).unwrap_err().field, field);
        }
    }
}
