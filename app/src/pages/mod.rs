//! The pages of the web UI.
mod account;
mod admin_audit;
mod admin_developers;
mod admin_group;
mod admin_groups;
mod admin_images;
mod admin_metrics;
mod admin_servers;
mod admin_sessions;
mod admin_staging;
mod admin_storage;
mod admin_user_policy;
mod admin_users;
mod agent_credentials;
mod dashboard;
mod join;
mod layout;
mod login;
mod profile_mode;
mod session;

pub use account::AccountPage;
pub use admin_audit::AdminAuditPage;
pub use admin_developers::AdminDevelopersPage;
pub use admin_group::AdminGroupPage;
pub use admin_groups::AdminGroupsPage;
pub use admin_images::AdminImagesPage;
pub use admin_metrics::AdminMetricsPage;
pub use admin_servers::AdminServersPage;
pub use admin_sessions::AdminSessionsPage;
pub use admin_staging::AdminStagingPage;
pub use admin_user_policy::AdminUserPolicyPage;
pub use admin_users::AdminUsersPage;
pub use dashboard::DashboardPage;
pub use join::JoinPage;
pub use layout::{Layout, UserResource};
pub use login::LoginPage;
pub use session::SessionPage;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="centered">
            <div class="card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <a href="/">"Back to your workspaces"</a>
            </div>
        </main>
    }
}
