//! Admin → Servers: every agent with its state, resources and allocation; enable, disable,
//! drain, capacity overrides, and each agent's own credential (add, replace, revoke).
use super::agent_credentials::{AddServerCard, NewCredentialCard};
use super::layout::{AdminNav, Forbidden, Layout};
use crate::api::{
    list_servers, AddServer, IssueServerCredential, RevokeServerCredential, SetServerFlags,
    SetServerOverrides,
};
use crate::model::{format_bytes, format_duration, memory_text, NewAgentCredential, ServerRow};
use crate::AppError;
use leptos::prelude::*;

#[component]
pub fn AdminServersPage() -> impl IntoView {
    let flags = ServerAction::<SetServerFlags>::new();
    let overrides = ServerAction::<SetServerOverrides>::new();
    let credentials = Credentials {
        add: ServerAction::<AddServer>::new(),
        issue: ServerAction::<IssueServerCredential>::new(),
        revoke: ServerAction::<RevokeServerCredential>::new(),
    };
    let servers = Resource::new(
        move || {
            (
                flags.version().get(),
                overrides.version().get(),
                credentials.add.version().get(),
                credentials.issue.version().get(),
                credentials.revoke.version().get(),
            )
        },
        |_| list_servers(),
    );
    // The credential issued last (by adding a server or replacing one's), shown once.
    let issued = RwSignal::new(None::<NewAgentCredential>);
    Effect::new(move |_| {
        if let Some(Ok(new)) = credentials.add.value().get() {
            issued.set(Some(new));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(new)) = credentials.issue.value().get() {
            issued.set(Some(new));
        }
    });
    let error = move || {
        [
            flags.value().get().and_then(|r| r.err()),
            overrides.value().get().and_then(|r| r.err()),
            credentials.issue.value().get().and_then(|r| r.err()),
            credentials.revoke.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <Layout>
            <AdminNav current="servers" />
            <h1>"Servers"</h1>
            {move || issued.get().map(|issued| view! { <NewCredentialCard issued /> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading servers…"</p> }>
                {move || Suspend::new(async move {
                    match servers.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! {
                            <p class="muted" id="no-servers">"No agent has checked in yet. Is Docker running on this host?"</p>
                        }.into_any(),
                        Ok(rows) => view! {
                            <table class="table" id="servers">
                                <thead><tr>
                                    <th>"Host"</th><th>"Status"</th><th>"Last check-in"</th>
                                    <th title="allocated / total">"Cores used"</th><th title="allocated / total">"Memory used"</th><th>"GPUs"</th><th>"Disk free"</th>
                                    <th>"Sessions"</th><th>"Images"</th><th title="cores, memory; empty clears">"Overrides"</th><th>"Credential"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|server| view! { <ServerRowView server flags overrides credentials /> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            {move || error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <AddServerCard add=credentials.add />
        </Layout>
    }
}

/// The actions on agents' credentials.
#[derive(Clone, Copy)]
struct Credentials {
    add: ServerAction<AddServer>,
    issue: ServerAction<IssueServerCredential>,
    revoke: ServerAction<RevokeServerCredential>,
}

/// "3 present" or "2 present, missing: berth/firefox:latest".
fn images_text(server: &ServerRow) -> String {
    if server.images_missing.is_empty() {
        format!("{} present", server.images_present.len())
    } else {
        format!(
            "{} present, missing: {}",
            server.images_present.len(),
            server.images_missing.join(", ")
        )
    }
}

/// The server's agent credential: when it was issued (or that there is none, so the agent
/// cannot check in), a new one, revoking it.
#[component]
fn CredentialCell(
    server_id: String,
    issued: Option<String>,
    credentials: Credentials,
) -> impl IntoView {
    let revoke_id = server_id.clone();
    let has_credential = issued.is_some();
    view! {
        <td class="small credential">
            {match issued {
                Some(issued) => view! { <span title="issued">{issued}</span> }.into_any(),
                None => view! { <span class="error">"none: cannot check in"</span> }.into_any(),
            }}
            <br />
            <button class="link new-credential" on:click=move |_| {
                credentials.issue.dispatch(IssueServerCredential { server_id: server_id.clone() });
            }>"New credential"</button>
            {has_credential.then(|| view! {
                " "
                <button class="link danger revoke" on:click=move |_| {
                    credentials.revoke.dispatch(RevokeServerCredential { server_id: revoke_id.clone() });
                }>"Revoke"</button>
            })}
        </td>
    }
}

#[component]
fn ServerRowView(
    server: ServerRow,
    flags: ServerAction<SetServerFlags>,
    overrides: ServerAction<SetServerOverrides>,
    credentials: Credentials,
) -> impl IntoView {
    let id = server.server_id.to_string();
    let (enabled, draining) = (server.enabled, server.draining);
    let (enable_id, drain_id, form_id) = (id.clone(), id.clone(), id.clone());
    let placement = match (enabled, draining) {
        (false, _) => "disabled",
        (true, true) => "draining",
        (true, false) => "enabled",
    };
    let checkin = match server.seconds_since_checkin {
        Some(seconds) => format!("{} ago", format_duration(seconds)),
        None => "never".to_owned(),
    };
    let images = images_text(&server);
    let overridden = |set: bool| if set { " (override)" } else { "" };
    view! {
        <tr data-hostname=server.hostname.clone() data-status=server.status.clone() class:disabled=!enabled>
            <td class="nowrap">{server.hostname.clone()}<br /><span class="muted small">{server.version.clone()}</span></td>
            <td>
                <span class="status">{server.status.clone()}</span><br />
                <span class="placement muted small">{placement}</span>
            </td>
            <td title=server.last_checkin.clone().unwrap_or_default()>{checkin}</td>
            <td class="nowrap">{format!("{} / {}{}", server.cores_allocated, server.cores, overridden(server.cores_override.is_some()))}</td>
            <td class="nowrap">{format!(
                "{} / {}{}",
                format_bytes(server.memory_allocated),
                format_bytes(server.memory),
                overridden(server.memory_override.is_some()),
            )}</td>
            <td class="gpus">{server.gpus}</td>
            <td class="nowrap disk-free">{format_bytes(server.disk_free)}</td>
            <td>{server.sessions}</td>
            <td class="small">{images}</td>
            <td>
                <ActionForm action=overrides attr:class="inline-form overrides">
                    <input type="hidden" name="server_id" value=form_id />
                    <input name="cores" aria-label="Cores override" placeholder="cores" value=server.cores_override.map(|c| c.to_string()).unwrap_or_default() />
                    <input name="memory" aria-label="Memory override" placeholder="e.g. 16g" value=server.memory_override.map(memory_text).unwrap_or_default() />
                    <button type="submit" class="link">"Set"</button>
                </ActionForm>
            </td>
            <CredentialCell server_id=id.clone() issued=server.credential_issued.clone() credentials />
            <td class="nowrap">
                <button class="link toggle" on:click=move |_| {
                    flags.dispatch(SetServerFlags { server_id: enable_id.clone(), enabled: !enabled, draining });
                }>{if enabled { "Disable" } else { "Enable" }}</button>
                <br />
                <button class="link drain" on:click=move |_| {
                    flags.dispatch(SetServerFlags { server_id: drain_id.clone(), enabled, draining: !draining });
                }>{if draining { "Undrain" } else { "Drain" }}</button>
            </td>
        </tr>
    }
}
