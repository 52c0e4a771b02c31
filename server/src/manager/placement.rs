//! Least-load placement: among the agents that can take a session, the one with the most
//! capacity left afterwards, except that an agent holding the user's persistent profile for
//! the session comes first when it can take it (a profile lives on one host: placed elsewhere,
//! the user would find an empty home). When none can, the error says why each was passed over.
use uuid::Uuid;

/// An agent as placement sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub server_id: Uuid,
    pub hostname: String,
    pub online: bool,
    pub enabled: bool,
    pub draining: bool,
    pub has_image: bool,
    /// Capacity (overrides applied) and what live sessions already hold.
    pub cores: f64,
    pub memory: i64,
    pub cores_used: f64,
    pub memory_used: i64,
    /// It holds the persistent profile the session mounts.
    pub holds_profile: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PassedOver {
    Offline,
    Disabled,
    Draining,
    ImageMissing,
    ShortOfCores(f64),
    ShortOfMemory(i64),
}

impl std::fmt::Display for PassedOver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassedOver::Offline => write!(f, "offline"),
            PassedOver::Disabled => write!(f, "disabled"),
            PassedOver::Draining => write!(f, "draining"),
            PassedOver::ImageMissing => write!(f, "image missing"),
            PassedOver::ShortOfCores(n) => write!(f, "short by {n} cores"),
            PassedOver::ShortOfMemory(n) => write!(f, "short by {n} bytes of memory"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoCapacity {
    pub reasons: Vec<(String, PassedOver)>,
}

impl std::fmt::Display for NoCapacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "No resources are available to create the requested Kasm")?;
        if self.reasons.is_empty() {
            return write!(f, ": no agent is registered");
        }
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(host, why)| format!("{host}: {why}"))
            .collect();
        write!(f, " ({})", reasons.join("; "))
    }
}

fn why_not(candidate: &Candidate, cores: f64, memory: i64) -> Option<PassedOver> {
    if !candidate.online {
        return Some(PassedOver::Offline);
    }
    if !candidate.enabled {
        return Some(PassedOver::Disabled);
    }
    if candidate.draining {
        return Some(PassedOver::Draining);
    }
    if !candidate.has_image {
        return Some(PassedOver::ImageMissing);
    }
    let cores_short = candidate.cores_used + cores - candidate.cores;
    if cores_short > 1e-9 {
        return Some(PassedOver::ShortOfCores(
            (cores_short * 100.0).round() / 100.0,
        ));
    }
    let memory_short = candidate.memory_used + memory - candidate.memory;
    if memory_short > 0 {
        return Some(PassedOver::ShortOfMemory(memory_short));
    }
    None
}

/// Chooses the agent with the most capacity left after the session (cores first, as the
/// scarcer resource, then memory; ties broken by hostname for determinism), one holding the
/// session's profile before any other.
pub fn choose(candidates: &[Candidate], cores: f64, memory: i64) -> Result<Uuid, NoCapacity> {
    let mut fitting: Vec<&Candidate> = Vec::new();
    let mut reasons = Vec::new();
    for candidate in candidates {
        match why_not(candidate, cores, memory) {
            None => fitting.push(candidate),
            Some(reason) => reasons.push((candidate.hostname.clone(), reason)),
        }
    }
    let left = |c: &Candidate| {
        let cores_left = (c.cores - c.cores_used - cores) / c.cores.max(f64::EPSILON);
        let memory_left = (c.memory - c.memory_used - memory) as f64 / (c.memory.max(1) as f64);
        cores_left.min(memory_left)
    };
    fitting
        .into_iter()
        .max_by(|a, b| {
            a.holds_profile
                .cmp(&b.holds_profile)
                .then_with(|| {
                    left(a)
                        .partial_cmp(&left(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .then_with(|| b.hostname.cmp(&a.hostname))
        })
        .map(|c| c.server_id)
        .ok_or(NoCapacity { reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: i64 = 1 << 30;

    fn agent(name: &str, cores: f64, memory: i64, cores_used: f64, memory_used: i64) -> Candidate {
        Candidate {
            server_id: Uuid::new_v4(),
            hostname: name.into(),
            online: true,
            enabled: true,
            draining: false,
            has_image: true,
            cores,
            memory,
            cores_used,
            memory_used,
            holds_profile: false,
        }
    }

    #[test]
    fn picks_the_agent_with_most_room_left() {
        let busy = agent("busy", 8.0, 16 * GIB, 6.0, 4 * GIB);
        let idle = agent("idle", 4.0, 8 * GIB, 0.0, 0);
        assert_eq!(
            choose(&[busy, idle.clone()], 1.0, GIB).unwrap(),
            idle.server_id
        );
    }

    #[test]
    fn the_agent_holding_the_profile_comes_first_when_it_fits() {
        let busy = agent("busy", 8.0, 16 * GIB, 6.0, 4 * GIB);
        let idle = agent("idle", 4.0, 8 * GIB, 0.0, 0);
        let holder = Candidate {
            holds_profile: true,
            ..busy.clone()
        };
        assert_eq!(
            choose(&[idle.clone(), holder.clone()], 1.0, GIB).unwrap(),
            holder.server_id
        );
        // Full, or offline: the session goes where there is room.
        assert_eq!(
            choose(&[idle.clone(), holder], 3.0, GIB).unwrap(),
            idle.server_id
        );
        let offline_holder = Candidate {
            holds_profile: true,
            online: false,
            ..busy
        };
        assert_eq!(
            choose(&[offline_holder, idle.clone()], 1.0, GIB).unwrap(),
            idle.server_id
        );
    }

    #[test]
    fn explains_why_each_agent_was_passed_over() {
        let mut offline = agent("a", 8.0, 16 * GIB, 0.0, 0);
        offline.online = false;
        let mut disabled = agent("b", 8.0, 16 * GIB, 0.0, 0);
        disabled.enabled = false;
        let mut draining = agent("c", 8.0, 16 * GIB, 0.0, 0);
        draining.draining = true;
        let mut no_image = agent("d", 8.0, 16 * GIB, 0.0, 0);
        no_image.has_image = false;
        let few_cores = agent("e", 2.0, 16 * GIB, 1.5, 0);
        let little_memory = agent("f", 8.0, 2 * GIB, 0.0, GIB + GIB / 2);
        let error = choose(
            &[
                offline,
                disabled,
                draining,
                no_image,
                few_cores,
                little_memory,
            ],
            1.0,
            GIB,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("No resources are available to create the requested Kasm"),
            "{text}"
        );
        assert_eq!(
            error
                .reasons
                .iter()
                .map(|(_, why)| why.clone())
                .collect::<Vec<_>>(),
            vec![
                PassedOver::Offline,
                PassedOver::Disabled,
                PassedOver::Draining,
                PassedOver::ImageMissing,
                PassedOver::ShortOfCores(0.5),
                PassedOver::ShortOfMemory(GIB / 2),
            ]
        );
        assert!(text.contains("e: short by 0.5 cores"), "{text}");
    }

    #[test]
    fn no_agents_at_all_is_said_so() {
        assert!(choose(&[], 1.0, GIB)
            .unwrap_err()
            .to_string()
            .contains("no agent is registered"));
    }

    #[test]
    fn an_exact_fit_is_accepted() {
        let exact = agent("x", 2.0, 2 * GIB, 1.0, GIB);
        assert_eq!(
            choose(std::slice::from_ref(&exact), 1.0, GIB).unwrap(),
            exact.server_id
        );
    }
}
