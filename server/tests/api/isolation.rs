//! Sessions isolated from each other and the host (issue #12): two real session containers
//! on the agent's session network, a service on the Docker host, and a stand-in metadata
//! service at 169.254.169.254 in a network namespace of the test's own, reached through a
//! veth pair (with a private address beside it, to show that the session does reach the
//! world through the host, just not those).
use berth::agent::container_spec::{OPEN_FILES_HARD, OPEN_FILES_SOFT};
use berth::agent::docker::DockerRuntime;
use berth::agent::isolation::SESSION_NETWORK;
use berth::agent::runtime::{ContainerRuntime, RuntimeError};
use berth::protocol::CreateSession;
use bollard::Docker;
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

const METADATA: &str = "169.254.169.254";
const SERVICE_PORT: u16 = 8080;

fn spec(network_mode: &str) -> CreateSession {
    CreateSession::example("berth/desktop:latest", network_mode)
}

/// Removes what the test made, also when it fails.
struct Cleanup {
    namespace: String,
    service: Option<std::process::Child>,
    session_ids: Vec<Uuid>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut service) = self.service.take() {
            let _ = service.kill();
            let _ = service.wait();
        }
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.namespace])
            .status();
        for session_id in &self.session_ids {
            let _ = Command::new("docker")
                .args(["rm", "-f", &format!("berth-{}", session_id.simple())])
                .output();
        }
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("iproute2");
    assert!(output.status.success(), "ip {args:?}: {output:?}");
}

/// A namespace with `METADATA` and `private` on a veth pair to the host (`host_side` on the
/// host's end), and a TCP service on SERVICE_PORT in it.
fn stand_in_world(cleanup: &mut Cleanup, tag: &str, private: &str, host_side: &str) {
    let ns = cleanup.namespace.clone();
    let (outer, inner) = (format!("bo{tag}"), format!("bi{tag}"));
    ip(&["netns", "add", &ns]);
    ip(&[
        "link", "add", &outer, "type", "veth", "peer", "name", &inner,
    ]);
    ip(&["link", "set", &inner, "netns", &ns]);
    ip(&["addr", "add", "169.254.169.1/24", "dev", &outer]);
    ip(&["addr", "add", &format!("{host_side}/24"), "dev", &outer]);
    ip(&["link", "set", &outer, "up"]);
    for args in [
        vec!["addr", "add", "169.254.169.254/24", "dev", &inner],
        vec!["addr", "add", &format!("{private}/24"), "dev", &inner],
        vec!["link", "set", &inner, "up"],
        vec!["link", "set", "lo", "up"],
    ] {
        let mut full = vec!["netns", "exec", &ns, "ip"];
        full.extend(args);
        ip(&full);
    }
    let route = Command::new("ip")
        .args(["route", "get", METADATA])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&route.stdout).contains(&outer),
        "this host routes {METADATA} elsewhere; the test needs it on its own veth: {route:?}"
    );
    let service = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c"])
        .arg(format!(
            "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('0.0.0.0', {SERVICE_PORT}))\ns.listen(16)\nwhile True:\n    s.accept()[0].close()"
        ))
        .spawn()
        .expect("python3");
    cleanup.service = Some(service);
}

/// Whether a TCP connection from inside `container` to `address`:`port` succeeds (bash's
/// /dev/tcp, three seconds at most).
async fn reaches(container: &str, address: &str, port: u16) -> bool {
    let probe = format!(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}' 2>/dev/null && echo open || echo closed"
    );
    let output = tokio::process::Command::new("docker")
        .args(["exec", container, "bash", "-c", &probe])
        .output()
        .await
        .expect("docker CLI");
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        answer == "open" || answer == "closed",
        "probe in {container}: {output:?}"
    );
    answer == "open"
}

/// Whether the host itself connects to `address`:`port` (the positive controls).
async fn host_reaches(address: &str, port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect((address, port));
    matches!(
        tokio::time::timeout(Duration::from_secs(3), connect).await,
        Ok(Ok(_))
    )
}

async fn session_address(docker: &Docker, container: &str) -> String {
    docker
        .inspect_container(container, None)
        .await
        .unwrap()
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|networks| networks.get(SESSION_NETWORK).cloned())
        .and_then(|network| network.ip_address)
        .filter(|address| !address.is_empty())
        .expect("the session container is on the session network")
}

async fn gateway(docker: &Docker) -> String {
    docker
        .inspect_network::<String>(SESSION_NETWORK, None)
        .await
        .unwrap()
        .ipam
        .and_then(|ipam| ipam.config)
        .and_then(|configs| configs.into_iter().find_map(|c| c.gateway))
        .expect("the session network has a gateway")
}

#[tokio::test]
async fn sessions_reach_neither_each_other_nor_the_host_nor_link_local_addresses() {
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let mut cleanup = Cleanup {
        namespace: format!("berth-test-{tag}"),
        service: None,
        session_ids: Vec::new(),
    };
    // A private address of the test's own (10.251.x.y, a byte of the tag apart per run).
    let third = u8::from_str_radix(&tag[..2], 16).unwrap();
    let private = format!("10.251.{third}.2");
    stand_in_world(&mut cleanup, tag, &private, &format!("10.251.{third}.1"));

    let runtime = DockerRuntime::connect().await.unwrap();
    runtime.isolate().await.unwrap();
    let docker = Docker::connect_with_local_defaults().unwrap();

    // A service of the Docker host's, on every address.
    let host_service = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let host_port = host_service.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = host_service.accept().await {
            drop(socket);
        }
    });

    let (a, b) = (spec("bridge"), spec(""));
    cleanup.session_ids.extend([a.session_id, b.session_id]);
    let (container_a, _) = runtime.create_session(&a, "test@isolation").await.unwrap();
    let (container_b, _) = runtime.create_session(&b, "test@isolation").await.unwrap();
    let address_b = session_address(&docker, &container_b).await;
    let gateway = gateway(&docker).await;

    // The controls: B's desktop listens, the host's service and the stand-ins answer the
    // host, and session A does reach the world through the host.
    let mut listening = false;
    for _ in 0..100 {
        if host_reaches(&address_b, 5901).await {
            listening = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listening, "session B's VNC server never listened");
    assert!(host_reaches(&gateway, host_port).await);
    assert!(host_reaches(METADATA, SERVICE_PORT).await);
    assert!(host_reaches(&private, SERVICE_PORT).await);
    assert!(
        reaches(&container_a, &private, SERVICE_PORT).await,
        "a session reaches addresses beyond the host"
    );

    // What a session must not reach.
    assert!(
        !reaches(&container_a, &address_b, 5901).await,
        "session A reached session B's VNC server"
    );
    assert!(
        !reaches(&container_a, &gateway, host_port).await,
        "session A reached a service of the Docker host"
    );
    assert!(
        !reaches(&container_a, METADATA, SERVICE_PORT).await,
        "session A reached the link-local metadata address"
    );

    // File descriptors are limited: read from the container's first process, whose limits
    // every desktop process inherits. (Not `ulimit` in a `docker exec`: Debian's runc sets an
    // exec'd process's soft limit racily, opencontainers/runc#4195, so it sometimes shows the
    // hard limit there; the hard limit bounds it all the same.)
    let limits = tokio::process::Command::new("docker")
        .args(["exec", &container_a, "cat", "/proc/1/limits"])
        .output()
        .await
        .unwrap();
    let limits = String::from_utf8_lossy(&limits.stdout);
    let open_files = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .unwrap_or_else(|| panic!("no open files limit in /proc/1/limits: {limits}"));
    assert_eq!(
        open_files.split_whitespace().take(2).collect::<Vec<_>>(),
        [OPEN_FILES_SOFT.to_string(), OPEN_FILES_HARD.to_string()],
        "{limits}"
    );

    // Another network is refused before anything is made.
    for mode in ["host", &format!("container:{container_a}"), "other-network"] {
        let refused = spec(mode);
        let error = runtime
            .create_session(&refused, "test@isolation")
            .await
            .unwrap_err();
        assert!(
            matches!(error, RuntimeError::Refused(_)),
            "{mode}: {error:?}"
        );
        assert!(matches!(
            runtime.published(refused.session_id).await,
            Err(RuntimeError::NotFound(_))
        ));
    }
}
