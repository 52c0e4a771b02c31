//! Agents' own credentials. Each is bound to one server row: an administrator issues it in
//! Admin → Servers (or `berth serve` issues one to its embedded agent as it starts), it is
//! shown once, and only the SHA-256 of its secret is kept. A credential reads
//! `<server_id>.<secret>`: the id finds the row, and the secret is compared with the row's
//! hash in constant time. The secret is 256 random bits, so a fast hash is enough. The rows
//! are `store::agent_credentials`'; making and checking credentials is here.
use super::auth;
use crate::model::NewAgentCredential;
use crate::AppError;
use sqlx::PgPool;
use store::StoreError;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// An agent that presented a live credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub server_id: Uuid,
    /// The only name the agent may check in under.
    pub hostname: String,
    /// The hash it matched: the check-in updates the row only while it is still this one,
    /// so a revocation racing a check-in wins.
    pub credential_hash: Vec<u8>,
}

/// The longest agent name (a DNS name's limit).
const MAX_NAME_LEN: usize = 253;

/// An agent's name: what its check-ins carry and Admin → Servers shows.
pub fn name(value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid(
            "name",
            "Give the agent's name (its host name, or its --name).",
        ));
    }
    if value.len() > MAX_NAME_LEN
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(AppError::invalid(
            "name",
            format!("A name has at most {MAX_NAME_LEN} letters, digits and . _ -"),
        ));
    }
    Ok(value.to_owned())
}

/// The credential as the agent presents it.
fn credential(server_id: Uuid, secret: &str) -> String {
    format!("{}.{secret}", server_id.simple())
}

/// The server id and secret of a presented credential (None when it has not that form).
pub fn parse(presented: &str) -> Option<(Uuid, &str)> {
    let (id, secret) = presented.trim().split_once('.')?;
    let server_id = Uuid::try_parse(id).ok()?;
    (!secret.is_empty()).then_some((server_id, secret))
}

/// The server id a presented credential names and the hash of its secret, which the row must
/// hold (None when the credential has not that form). The check-in compares the hash in the
/// statement that records it.
pub fn presented(presented: &str) -> Option<(Uuid, Vec<u8>)> {
    let (server_id, secret) = parse(presented)?;
    Some((server_id, auth::token_hash(secret)))
}

/// Whether `secret` is the one whose hash is `stored`, in constant time.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    auth::token_hash(secret).ct_eq(stored).into()
}

/// Registers a new agent by name and issues its credential.
pub async fn add(db: &PgPool, name: &str) -> Result<NewAgentCredential, AppError> {
    let name = self::name(name)?;
    let secret = auth::new_token();
    let server_id = Uuid::new_v4();
    let registered =
        store::agent_credentials::register(db, server_id, &name, &auth::token_hash(&secret))
            .await?;
    if !registered {
        return Err(AppError::conflict(
            "name",
            format!("A server named {name} is registered: issue it a new credential on its row."),
        ));
    }
    Ok(NewAgentCredential {
        server_id,
        name,
        credential: credential(server_id, &secret),
    })
}

/// Issues a new credential to a registered agent; the one it had stops working at once.
pub async fn reissue(db: &PgPool, server_id: Uuid) -> Result<NewAgentCredential, AppError> {
    let secret = auth::new_token();
    let name = store::agent_credentials::replace(db, server_id, &auth::token_hash(&secret))
        .await
        .map_err(no_such_server)?;
    Ok(NewAgentCredential {
        server_id,
        name,
        credential: credential(server_id, &secret),
    })
}

/// Takes an agent's credential away: its check-ins are refused and, offline at once, it gets
/// no new sessions. Its sessions stay where they are (the manager still reaches them at the
/// address the agent last reported, which nobody can change without a credential).
pub async fn revoke(db: &PgPool, server_id: Uuid) -> Result<(), AppError> {
    store::agent_credentials::revoke(db, server_id)
        .await
        .map_err(no_such_server)
}

/// The store's "not found" in the words Admin → Servers has always shown.
fn no_such_server(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound(_) => AppError::NotFound("No such server.".into()),
        other => other.into(),
    }
}

/// A fresh credential for the agent inside `berth serve`, registered under `name` if it is
/// not yet (its server row, and so its sessions, are kept across restarts).
pub async fn issue_for_embedded(db: &PgPool, name: &str) -> Result<String, StoreError> {
    let secret = auth::new_token();
    let hash = auth::token_hash(&secret);
    let server_id =
        store::agent_credentials::register_or_replace(db, Uuid::new_v4(), name, &hash).await?;
    Ok(credential(server_id, &secret))
}

/// The agent a presented credential belongs to, if it is live (None for unknown, malformed
/// or revoked ones alike).
pub async fn authenticate(
    db: &PgPool,
    presented: &str,
) -> Result<Option<Authenticated>, StoreError> {
    let Some((server_id, secret)) = parse(presented) else {
        return Ok(None);
    };
    let row = store::agent_credentials::of_server(db, server_id).await?;
    Ok(row.and_then(|row| {
        let stored = row.credential_hash?;
        secret_matches(secret, &stored).then_some(Authenticated {
            server_id,
            hostname: row.hostname,
            credential_hash: stored,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_names_its_server_and_carries_a_secret() {
        let id = Uuid::new_v4();
        let presented = credential(id, "s3cret");
        assert_eq!(parse(&presented), Some((id, "s3cret")));
        assert_eq!(parse(&format!("{presented}\n")), Some((id, "s3cret")));
        for malformed in [
            "",
            "s3cret",
            "not-a-uuid.s3cret",
            &format!("{}.", id.simple()),
            "test-agent-token",
        ] {
            assert_eq!(parse(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn only_the_issued_secret_matches_its_hash() {
        let stored = auth::token_hash("the-secret");
        assert!(secret_matches("the-secret", &stored));
        assert!(!secret_matches("the-secreT", &stored));
        assert!(!secret_matches("", &stored));
        assert!(!secret_matches("the-secret", &[]));
    }

    #[test]
    fn names_are_plain_host_names() {
        assert_eq!(name("  gpu-host.example_1 ").unwrap(), "gpu-host.example_1");
        for bad in ["", "   ", "a b", "host;rm", "hôte", &"x".repeat(254)] {
            let error = name(bad).unwrap_err();
            assert!(
                matches!(&error, AppError::Invalid { field: Some(f), .. } if f == "name"),
                "{bad}: {error:?}"
            );
        }
    }
}
