//! Admin → Audit: the audit log, filtered and paged, and its retention.
use crate::model::AuditPage;
use crate::AppError;
use leptos::prelude::*;

/// One page of the audit log; every filter may be empty (see `AuditFilter`).
#[server(prefix = "/rpc", endpoint = "admin/audit_log")]
pub async fn audit_log(
    actor: String,
    action: String,
    target: String,
    from: String,
    until: String,
    outcome: String,
    before: String,
) -> Result<AuditPage, AppError> {
    use crate::backend;
    use crate::model::AuditFilter;
    backend::auth::require_admin().await?;
    let filter = AuditFilter {
        actor,
        action,
        target,
        from,
        until,
        outcome,
        before,
    };
    backend::audit::page(&backend::app_state().db, &filter).await
}

/// Sets how many days entries are kept (1 to 3650).
#[server(prefix = "/rpc", endpoint = "admin/set_audit_retention")]
pub async fn set_audit_retention(days: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let days: i64 = days
        .trim()
        .parse()
        .ok()
        .filter(|days| (1..=backend::audit::MAX_RETENTION_DAYS).contains(days))
        .ok_or_else(|| {
            AppError::invalid(
                "days",
                format!(
                    "Give the retention as a whole number of days from 1 to {}.",
                    backend::audit::MAX_RETENTION_DAYS
                ),
            )
        })?;
    let db = backend::app_state().db;
    store::settings::set_audit_retention_days(&db, days).await?;
    backend::audit::ok(&db, admin.user_id, "set_audit_retention", days.to_string()).await;
    Ok(())
}
