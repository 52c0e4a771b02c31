//! Admin → Developers: create API keys (the secret is shown once) and revoke them.
use super::layout::{other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_api_keys, CreateApiKey, RevokeApiKey};
use crate::AppError;
use leptos::prelude::*;

#[component]
pub fn AdminDevelopersPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let created = move || create.value().get().and_then(|r| r.ok());
    let all = crate::model::API_PERMISSIONS.join(", ");
    view! {
        <Layout>
            <AdminNav current="developers" />
            <h1>"Developer API keys"</h1>
            <p class="muted">"Integrations call POST /api/public/<endpoint> with api_key and api_key_secret (Kasm's Developer API)."</p>
            {move || created().map(|key| view! {
                <div class="card" id="new-key">
                    <h2>"New key"</h2>
                    <p>"Copy the secret now: it is not shown again."</p>
                    <p>"api_key: " <code id="new-api-key">{key.api_key}</code></p>
                    <p>"api_key_secret: " <code id="new-api-secret">{key.api_key_secret}</code></p>
                </div>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) => view! {
                            <table class="table" id="api-keys">
                                <thead><tr><th>"Name"</th><th>"Key"</th><th>"Permissions"</th><th>"Read-only"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|key| {
                                        let id = key.api_key_id.to_string();
                                        view! {
                                            <tr class:disabled=key.revoked>
                                                <td>{key.name}</td>
                                                <td><code>{key.api_key}</code></td>
                                                <td class="small">{key.permissions.join(", ")}</td>
                                                <td>{if key.read_only { "yes" } else { "no" }}</td>
                                                <td>{key.expires.unwrap_or_else(|| "never".into())}</td>
                                                <td>{key.last_used.unwrap_or_else(|| "never".into())}</td>
                                                <td>{if key.revoked {
                                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                                } else {
                                                    view! { <button class="link danger" on:click=move |_| {
                                                        revoke.dispatch(RevokeApiKey { api_key_id: id.clone() });
                                                    }>"Revoke"</button> }.into_any()
                                                }}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <section class="card">
                <h2>"Create a key"</h2>
                <ActionForm action=create attr:id="api-key-form" attr:class="grid-form">
                    <label>"Name" <input name="name" required /></label>
                    <label>"Permissions (comma-separated)" <input name="permissions" value=all /></label>
                    <label class="checkbox"><input type="checkbox" name="read_only" />" Read-only"</label>
                    <label>"Expires (YYYY-MM-DD, optional)" <input name="expires" /></label>
                    <ErrorText message=Signal::derive(other_error(create.value(), &[])) />
                    <button type="submit" class="primary">"Create key"</button>
                </ActionForm>
            </section>
        </Layout>
    }
}
