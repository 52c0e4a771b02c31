//! Sessions isolated from each other and from the host. Every session container joins one
//! Docker bridge network, [`SESSION_NETWORK`] (Linux bridge [`SESSION_BRIDGE`]), made with
//! inter-container traffic off, so no session reaches another. Two iptables chains keep its
//! containers away from the Docker host's own services (traffic to the host's addresses, the
//! INPUT chain) and from link-local addresses such as 169.254.169.254, where cloud hosts hand
//! out instance credentials (forwarded traffic, through Docker's DOCKER-USER chain). Replies
//! to connections the host opened (the published session port, the agent's readiness probe)
//! pass; the rest of the world stays reachable (a browser session needs the web).
//!
//! The agent puts this in place when it starts and checks it at every check-in (a firewall
//! reload or a removed network is repaired); it starts no session while it is missing.
use bollard::network::{CreateNetworkOptions, InspectNetworkOptions};
use bollard::Docker;
use std::collections::HashMap;
use tokio::process::Command;

/// The Docker network of every session container.
pub const SESSION_NETWORK: &str = "berth-sessions";
/// Its Linux bridge, named so that the firewall rules can match it.
pub const SESSION_BRIDGE: &str = "berth0";
/// Docker's option that turns traffic between containers of one bridge network on or off.
const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";
const HOST_CHAIN: &str = "BERTH-SESSIONS-HOST";
const FORWARD_CHAIN: &str = "BERTH-SESSIONS-FORWARD";
/// Where Docker lets an administrator filter forwarded container traffic.
const DOCKER_USER: &str = "DOCKER-USER";
/// Link-local addresses (cloud metadata services live at 169.254.169.254).
const LINK_LOCAL: &str = "169.254.0.0/16";

/// Why sessions cannot be isolated on this host (kept as the agent's state, so comparable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolationError {
    #[error("not checked yet")]
    NotCheckedYet,
    #[error("Docker: {0}")]
    Docker(String),
    #[error(
        "the Docker network {SESSION_NETWORK} exists but lets sessions reach each other (or is \
         not on bridge {SESSION_BRIDGE}); remove it (`docker network rm {SESSION_NETWORK}`) and \
         Berth makes it again"
    )]
    NetworkNotIsolated,
    #[error("cannot create the Docker network {SESSION_NETWORK}: {0}")]
    CreateNetwork(String),
    #[error(
        "cannot run iptables ({0}): the agent isolates sessions with it; install it \
         (apt-get install iptables) and run the agent as root or with CAP_NET_ADMIN"
    )]
    NoIptables(String),
    #[error("iptables {command}: {stderr}{hint}")]
    Iptables {
        command: String,
        stderr: String,
        hint: &'static str,
    },
}

/// An image's `network_mode` that would undo the isolation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network_mode '{0}' is not allowed: sessions run on Berth's isolated session network \
     (\"bridge\") or without a network (\"none\")"
)]
pub struct RefusedNetworkMode(pub String);

/// The network and the firewall rules, created or repaired as needed.
pub async fn ensure(docker: &Docker) -> Result<(), IsolationError> {
    ensure_network(docker).await?;
    ensure_firewall().await
}

/// How a session's `network_mode` (an image setting) is run: the isolated session network,
/// or no network at all. Anything else — the host's network, another container's
/// (`container:<id>`), some other Docker network — would undo the isolation, and is refused.
pub fn session_network(mode: &str) -> Result<&'static str, RefusedNetworkMode> {
    match mode {
        "" | "bridge" | "default" | SESSION_NETWORK => Ok(SESSION_NETWORK),
        "none" => Ok("none"),
        other => Err(RefusedNetworkMode(other.to_owned())),
    }
}

async fn ensure_network(docker: &Docker) -> Result<(), IsolationError> {
    let found = docker
        .inspect_network(SESSION_NETWORK, None::<InspectNetworkOptions<String>>)
        .await;
    let network = match found {
        Ok(network) => network,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            create_network(docker).await?;
            return Ok(());
        }
        Err(error) => return Err(IsolationError::Docker(error.to_string())),
    };
    let options = network.options.unwrap_or_default();
    let isolated = options.get(ICC_OPTION).is_some_and(|v| v == "false")
        && options
            .get("com.docker.network.bridge.name")
            .is_some_and(|v| v == SESSION_BRIDGE);
    if isolated {
        Ok(())
    } else {
        Err(IsolationError::NetworkNotIsolated)
    }
}

async fn create_network(docker: &Docker) -> Result<(), IsolationError> {
    let options = CreateNetworkOptions {
        name: SESSION_NETWORK,
        check_duplicate: true,
        driver: "bridge",
        options: HashMap::from([
            ("com.docker.network.bridge.name", SESSION_BRIDGE),
            (ICC_OPTION, "false"),
        ]),
        labels: HashMap::from([("berth.network", "sessions")]),
        ..Default::default()
    };
    match docker.create_network(options).await {
        Ok(_) => {
            tracing::info!(
                network = SESSION_NETWORK,
                bridge = SESSION_BRIDGE,
                "created the session network"
            );
            Ok(())
        }
        // Another agent on this host made it at the same moment.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(error) => Err(IsolationError::CreateNetwork(error.to_string())),
    }
}

/// One rule: the chain it goes in, the rule's match and target.
type Rule = (&'static str, Vec<&'static str>);

/// The rules in order; each chain is entered only for traffic from the session bridge.
fn rules() -> Vec<Rule> {
    let reject_tcp = ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"];
    let reject = ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"];
    let mut to_link_local_tcp = vec!["-d", LINK_LOCAL];
    to_link_local_tcp.extend(reject_tcp);
    let mut to_link_local = vec!["-d", LINK_LOCAL];
    to_link_local.extend(reject);
    vec![
        // To the host: replies to what the host opened pass, nothing else.
        (
            HOST_CHAIN,
            vec![
                "-m",
                "conntrack",
                "--ctstate",
                "ESTABLISHED,RELATED",
                "-j",
                "RETURN",
            ],
        ),
        (HOST_CHAIN, reject_tcp.to_vec()),
        (HOST_CHAIN, reject.to_vec()),
        // Through the host: not to link-local addresses.
        (FORWARD_CHAIN, to_link_local_tcp),
        (FORWARD_CHAIN, to_link_local),
    ]
}

/// The jumps into Berth's chains from the built-in (and Docker's) chains.
fn jumps() -> [(&'static str, &'static str); 2] {
    [("INPUT", HOST_CHAIN), (DOCKER_USER, FORWARD_CHAIN)]
}

/// Creates what is missing, never removes: several agents (tests, or `berth serve` beside a
/// `berth agent`) may do this at once, and check-then-append keeps every rule's first copy in
/// order. One process does it one caller at a time.
async fn ensure_firewall() -> Result<(), IsolationError> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    for chain in [HOST_CHAIN, FORWARD_CHAIN] {
        if !iptables(&["-n", "-L", chain]).await? {
            // Created by someone else in between is as good.
            iptables(&["-N", chain]).await?;
        }
    }
    for (chain, rule) in rules() {
        let mut check = vec!["-C", chain];
        check.extend(&rule);
        if !iptables(&check).await? {
            let mut append = vec!["-A", chain];
            append.extend(&rule);
            expect_success(&append, "").await?;
        }
    }
    for (parent, chain) in jumps() {
        let jump = ["-i", SESSION_BRIDGE, "-j", chain];
        let mut check = vec!["-C", parent];
        check.extend(jump);
        if !iptables(&check).await? {
            let mut insert = vec!["-I", parent, "1"];
            insert.extend(jump);
            let hint = if parent == DOCKER_USER {
                " (Docker makes the DOCKER-USER chain when it starts with its iptables support on)"
            } else {
                ""
            };
            expect_success(&insert, hint).await?;
        }
    }
    Ok(())
}

/// Runs `iptables -w <args>`: Ok(true) when it succeeded, Ok(false) when it said no (a check
/// that did not match), Err when iptables cannot run at all.
async fn iptables(args: &[&str]) -> Result<bool, IsolationError> {
    Ok(run(args).await?.status.success())
}

/// Runs iptables; a refusal is an error, with `hint` on how to fix it.
async fn expect_success(args: &[&str], hint: &'static str) -> Result<(), IsolationError> {
    let output = run(args).await?;
    if output.status.success() {
        Ok(())
    } else {
        Err(IsolationError::Iptables {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            hint,
        })
    }
}

async fn run(args: &[&str]) -> Result<std::process::Output, IsolationError> {
    Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .await
        .map_err(|error| IsolationError::NoIptables(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_isolated_network_or_none_is_allowed() {
        for allowed in ["", "bridge", "default", SESSION_NETWORK] {
            assert_eq!(session_network(allowed), Ok(SESSION_NETWORK), "{allowed}");
        }
        assert_eq!(session_network("none"), Ok("none"));
        for refused in [
            "host",
            "container:0123abcd",
            "container:berth-0123",
            "berth-sessions2",
            "other-network",
            "Bridge",
            "bridge ",
        ] {
            let error = session_network(refused).unwrap_err();
            assert_eq!(error, RefusedNetworkMode(refused.to_owned()));
            assert!(
                error.to_string().contains("network_mode"),
                "{refused}: {error}"
            );
        }
    }

    #[test]
    fn replies_pass_before_anything_to_the_host_is_refused() {
        let host: Vec<_> = rules()
            .into_iter()
            .filter(|(chain, _)| *chain == HOST_CHAIN)
            .map(|(_, rule)| rule)
            .collect();
        assert_eq!(host.len(), 3);
        assert!(host[0].contains(&"ESTABLISHED,RELATED") && host[0].contains(&"RETURN"));
        assert!(host[1..].iter().all(|rule| rule.contains(&"REJECT")));
        assert!(rules()
            .iter()
            .filter(|(chain, _)| *chain == FORWARD_CHAIN)
            .all(|(_, rule)| rule.contains(&LINK_LOCAL) && rule.contains(&"REJECT")));
    }
}
