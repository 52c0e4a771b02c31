//! Admin → Sessions: every session with its user, image, server, state and age; destroy.
use super::layout::{AdminNav, Forbidden, Layout};
use crate::api::{list_all_sessions, DestroyAnySession};
use crate::AppError;
use leptos::prelude::*;

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[component]
pub fn AdminSessionsPage() -> impl IntoView {
    let destroy = ServerAction::<DestroyAnySession>::new();
    let include_deleted = RwSignal::new(false);
    let sessions = Resource::new(
        move || (include_deleted.get(), destroy.version().get()),
        |(include_deleted, _)| list_all_sessions(include_deleted),
    );
    view! {
        <Layout>
            <AdminNav current="sessions" />
            <h1>"Sessions"</h1>
            <label class="checkbox">
                <input type="checkbox" id="include-deleted" on:change=move |event| include_deleted.set(event_target_checked(&event)) />
                " Include ended sessions"
            </label>
            {move || match destroy.value().get() {
                Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }),
                _ => None,
            }}
            <Suspense fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! { <p class="muted" id="no-sessions">"No sessions."</p> }.into_any(),
                        Ok(rows) => view! {
                            <table class="table" id="sessions">
                                <thead><tr>
                                    <th>"User"</th><th>"Workspace"</th><th>"Server"</th><th>"State"</th><th>"Age"</th><th>"Expires in"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|session| {
                                        let id = session.kasm_id.to_string();
                                        let row_id = id.clone();
                                        let over = session.status == "deleted";
                                        view! {
                                            <tr data-kasm-id=row_id>
                                                <td>{session.username}</td>
                                                <td>{session.image_name}</td>
                                                <td>{session.hostname}</td>
                                                <td title=session.message.clone()>{format!("{} ({}%)", session.status, session.progress)}</td>
                                                <td>{age(session.age_secs)}</td>
                                                <td>{if over { "—".to_owned() } else { age(session.expires_in_secs) }}</td>
                                                <td>{(!over).then(|| view! {
                                                    <button class="link danger destroy" on:click=move |_| {
                                                        destroy.dispatch(DestroyAnySession { kasm_id: id.clone() });
                                                    }>"Destroy"</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
