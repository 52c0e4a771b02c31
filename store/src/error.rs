//! The store's one error: what callers act on (not found, a conflict naming the field, text
//! the database cannot hold, the database unreachable), never the driver's details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value already taken; `field` names it when the constraint is known.
    #[error("{}", conflict_message(.field.as_deref()))]
    Conflict { field: Option<String> },
    /// Text PostgreSQL cannot store (a NUL character) that got past the inputs' checks.
    #[error("The text contains a character that cannot be stored (NUL).")]
    Unstorable,
    /// The database is down, restarting or the connection was lost: try again shortly.
    #[error("The database is not answering; try again shortly.")]
    Unavailable,
    /// A fault of the query or the data (logged where it happened).
    #[error("database error")]
    Internal,
}

fn conflict_message(field: Option<&str>) -> String {
    match field {
        Some("username") => "That username is already taken.".to_owned(),
        Some(field) => format!("That {field} is already taken."),
        None => "That already exists.".to_owned(),
    }
}

/// The field a unique constraint guards, as forms name it.
fn unique_field(constraint: Option<&str>) -> Option<String> {
    let field = match constraint? {
        "users_username_key" => "username",
        "images_friendly_name_key" => "friendly_name",
        "groups_name_key" => "name",
        "groups_priority_key" => "priority",
        "staging_configs_image_id_server_id_key" => "image_id",
        _ => return None,
    };
    Some(field.to_owned())
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                return StoreError::Conflict {
                    field: unique_field(db.constraint()),
                };
            }
            if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) {
                return StoreError::Unstorable;
            }
        }
        if database_unavailable(&error) {
            tracing::error!(%error, "database unavailable");
            metrics::counter!("berth_db_unavailable_total").increment(1);
            return StoreError::Unavailable;
        }
        tracing::error!(%error, "database error");
        StoreError::Internal
    }
}

/// A data failure as the manager reports it to whoever asked it for a session change.
impl From<StoreError> for berth_model::ControlError {
    fn from(error: StoreError) -> Self {
        use berth_model::ControlError;
        let message = error.to_string();
        match error {
            StoreError::NotFound(_) => ControlError::NotFound(message),
            StoreError::Conflict { .. } => ControlError::Conflict(message),
            StoreError::Unstorable => ControlError::Invalid {
                field: None,
                message,
            },
            StoreError::Unavailable => ControlError::Unavailable(message),
            StoreError::Internal => ControlError::Internal(message),
        }
    }
}

/// Whether `error` says the database cannot be reached now (down, restarting, the connection
/// lost), as opposed to a fault of the query.
pub fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P01-57P03 (shut down, crashed, starting).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_name_their_field_in_the_message() {
        let taken = StoreError::Conflict {
            field: unique_field(Some("users_username_key")),
        };
        assert_eq!(taken.to_string(), "That username is already taken.");
        let friendly = StoreError::Conflict {
            field: unique_field(Some("images_friendly_name_key")),
        };
        assert_eq!(friendly.to_string(), "That friendly_name is already taken.");
        let unknown = StoreError::Conflict {
            field: unique_field(Some("something_else")),
        };
        assert_eq!(unknown.to_string(), "That already exists.");
    }

    #[test]
    fn a_closed_pool_is_unavailable_not_internal() {
        assert_eq!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Unavailable
        );
        assert_eq!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Internal
        );
    }
}
