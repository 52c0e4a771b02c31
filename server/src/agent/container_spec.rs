//! What a session container is made of: its environment (the image's run_config, then
//! Berth's own variables, which win) and its limits and isolation (Docker's HostConfig).
use super::isolation;
use super::runtime::{PUBLISH_ADDRESS, STREAM_PORT};
use crate::protocol::CreateSession;
use bollard::models::{HostConfig, PortBinding, ResourcesUlimits};
use std::collections::HashMap;

/// Environment of a session container: run_config's, then Berth's own (which win).
pub fn environment(spec: &CreateSession) -> Vec<String> {
    let mut env: Vec<String> = spec
        .run_config
        .get("environment")
        .and_then(|e| e.as_object())
        .map(|vars| {
            vars.iter()
                .filter(|(name, _)| !name.starts_with("BERTH_"))
                .filter_map(|(name, value)| value.as_str().map(|v| format!("{name}={v}")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(url) = &spec.start_url {
        env.push(format!("BERTH_START_URL={url}"));
    }
    env.push(format!("BERTH_SESSION_SECRET={}", spec.secret));
    env
}

/// The container's limits and isolation: the image's cores and memory, no swap beyond it, no
/// capabilities, no privilege escalation, the stream port published on loopback only.
/// Open files per session process: the soft limit as desktop systems have it, the hard one a
/// browser may raise it to.
pub const OPEN_FILES_SOFT: i64 = 4096;
pub const OPEN_FILES_HARD: i64 = 16384;

pub fn host_config(spec: &CreateSession) -> HostConfig {
    let shm_size = spec
        .run_config
        .get("shm_size")
        .and_then(|v| v.as_i64())
        .unwrap_or(256 << 20);
    HostConfig {
        nano_cpus: Some((spec.cores * 1e9).round() as i64),
        memory: Some(spec.memory),
        memory_swap: Some(spec.memory),
        pids_limit: Some(4096),
        shm_size: Some(shm_size),
        privileged: Some(false),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        // Refused before the container is made (create_session); never the host's or another
        // container's network.
        network_mode: Some(
            isolation::session_network(&spec.network_mode)
                .unwrap_or("none")
                .to_owned(),
        ),
        // Docker's default is the daemon's own limit (about a million): one session could
        // pin that much kernel memory in open files.
        ulimits: Some(vec![ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(OPEN_FILES_SOFT),
            hard: Some(OPEN_FILES_HARD),
        }]),
        port_bindings: Some(HashMap::from([(
            STREAM_PORT.to_owned(),
            Some(vec![PortBinding {
                host_ip: Some(PUBLISH_ADDRESS.to_owned()),
                host_port: Some(String::new()),
            }]),
        )])),
        mounts: Some(super::storage::docker_mounts(&spec.storage.binds)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn spec() -> CreateSession {
        CreateSession {
            session_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            image_id: Uuid::new_v4(),
            image: "berth/desktop:latest".into(),
            cores: 1.5,
            memory: 2 << 30,
            network_mode: "bridge".into(),
            secret: "s".into(),
            run_config: json!({"environment": {"LANG": "C.UTF-8", "BERTH_SESSION_SECRET": "spoof", "BERTH_START_URL": "spoof"}, "shm_size": 1024}),
            start_url: Some("https://example.com/start".into()),
            storage: Default::default(),
            staged: false,
        }
    }

    #[test]
    fn limits_and_isolation_follow_the_image() {
        let config = host_config(&spec());
        assert_eq!(config.nano_cpus, Some(1_500_000_000));
        assert_eq!(config.memory, Some(2 << 30));
        assert_eq!(config.memory_swap, Some(2 << 30));
        assert_eq!(config.privileged, Some(false));
        assert_eq!(config.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(config.shm_size, Some(1024));
        let binding = &config.port_bindings.unwrap()[STREAM_PORT].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn the_session_secret_cannot_be_overridden_by_run_config() {
        let env = environment(&spec());
        assert!(env.contains(&"LANG=C.UTF-8".to_owned()));
        assert_eq!(
            env.iter()
                .filter(|v| v.starts_with("BERTH_SESSION_SECRET="))
                .count(),
            1
        );
        assert!(env.contains(&"BERTH_SESSION_SECRET=s".to_owned()));
        assert_eq!(
            env.iter()
                .filter(|v| v.starts_with("BERTH_START_URL="))
                .collect::<Vec<_>>(),
            ["BERTH_START_URL=https://example.com/start"]
        );
    }
}
