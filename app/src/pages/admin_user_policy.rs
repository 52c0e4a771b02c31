//! Admin → Users → one user: their groups (by priority) and every effective setting with the
//! group (or default) it came from.
use super::layout::{AdminNav, Forbidden, Layout};
use crate::api::user_policy;
use crate::model::UserPolicyView;
use crate::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminUserPolicyPage() -> impl IntoView {
    let params = use_params_map();
    let user_id = params.read_untracked().get("user_id").unwrap_or_default();
    let profiles_of = user_id.clone();
    let policy = Resource::new(|| (), move |_| user_policy(user_id.clone()));
    view! {
        <Layout>
            <AdminNav current="users" />
            <p><a href="/admin/users">"← All users"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match policy.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(policy) => view! { <Effective policy /> }.into_any(),
                    }
                })}
            </Suspense>
            <super::admin_storage::UserProfiles user_id=profiles_of />
        </Layout>
    }
}

#[component]
fn Effective(policy: UserPolicyView) -> impl IntoView {
    let rows = policy
        .settings
        .into_iter()
        .map(|s| {
            let row_name = s.name.clone();
            view! {
                <tr data-setting=row_name>
                    <td><code>{s.name}</code></td>
                    <td class="value">{s.value}</td>
                    <td class="source">{s.source}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>{policy.username}</h1>
        <section class="card" id="user-groups">
            <h2>"Groups"</h2>
            <p>{policy.groups.join(", ")}</p>
        </section>
        <section class="card">
            <h2>"Effective settings"</h2>
            <table class="table" id="effective-settings">
                <thead><tr><th>"Setting"</th><th>"Value"</th><th>"From"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}
