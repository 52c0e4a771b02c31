//! Admin → Staging: the warm pool. Per image (and optionally per server) how many sessions to
//! keep ready and how long one may wait; for each, what is ready, starting and handed over,
//! refreshed every five seconds (a pool fills and drains while the page is open).
use super::layout::{confirm, field_error, other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_images, list_servers, list_staging, DeleteStaging, SaveStaging};
use crate::model::{format_duration, StagingRow};
use crate::AppError;
use leptos::prelude::*;
use std::time::Duration;

const FIELDS: &[&str] = &["image_id", "server_id", "desired", "expiry"];

#[component]
pub fn AdminStagingPage() -> impl IntoView {
    let save = ServerAction::<SaveStaging>::new();
    let delete = ServerAction::<DeleteStaging>::new();
    let editing = RwSignal::new(None::<StagingRow>);
    let tick = RwSignal::new(0u32);
    super::session::every(Duration::from_secs(5), move || tick.update(|t| *t += 1));
    let configs = Resource::new(
        move || (save.version().get(), delete.version().get(), tick.get()),
        |_| list_staging(),
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
        }
    });
    let row_error = move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <Layout>
            <AdminNav current="staging" />
            <h1>"Staging"</h1>
            <p class="muted">
                "Sessions started ahead of demand and handed to the users who launch their image. "
                "A staged session cannot take a persistent profile, per-user volume mappings, or a launch's own environment or start URL: such launches start cold."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading staging…"</p> }>
                {move || Suspend::new(async move {
                    match configs.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! {
                            <p class="muted" id="no-staging">"No image is staged: every launch starts its desktop cold."</p>
                        }.into_any(),
                        Ok(rows) => view! { <StagingTable rows delete editing /> }.into_any(),
                    }
                })}
            </Transition>
            {move || row_error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <section class="card">
                <h2>{move || if editing.get().is_some() { "Edit staging" } else { "Stage an image" }}</h2>
                {move || view! { <StagingForm save config=editing.get() /> }.into_any()}
                <Show when=move || editing.get().is_some()>
                    <button class="link" on:click=move |_| editing.set(None)>"Cancel editing"</button>
                </Show>
            </section>
        </Layout>
    }
}

#[component]
fn StagingTable(
    rows: Vec<StagingRow>,
    delete: ServerAction<DeleteStaging>,
    editing: RwSignal<Option<StagingRow>>,
) -> impl IntoView {
    view! {
        <table class="table" id="staging">
            <thead><tr>
                <th>"Image"</th><th>"Server"</th><th>"Desired"</th><th>"Expiry"</th>
                <th>"Ready"</th><th>"Starting"</th><th title="handed over, not yet deleted">"Used"</th><th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|config| view! { <StagingRowView config delete editing /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn StagingRowView(
    config: StagingRow,
    delete: ServerAction<DeleteStaging>,
    editing: RwSignal<Option<StagingRow>>,
) -> impl IntoView {
    let id = config.staging_config_id.to_string();
    let edit = config.clone();
    let name = config.image_name.clone();
    view! {
        <tr data-image=config.image_name.clone()>
            <td>{config.image_name.clone()}</td>
            <td>{config.server_name.clone().unwrap_or_else(|| "any".into())}</td>
            <td class="desired">{config.desired}</td>
            <td>{format_duration(i64::from(config.expiry_secs))}</td>
            <td class="ready">{config.ready}</td>
            <td class="starting">{config.starting}</td>
            <td class="used">{config.used}</td>
            <td class="row-actions">
                <button class="link edit" on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button>
                <button class="link danger delete" on:click=move |_| {
                    if confirm(&format!("Stop staging {name}? Its ready sessions are recycled.")) {
                        delete.dispatch(DeleteStaging { staging_config_id: id.clone() });
                    }
                }>"Delete"</button>
            </td>
        </tr>
    }
}

#[component]
fn StagingForm(save: ServerAction<SaveStaging>, config: Option<StagingRow>) -> impl IntoView {
    let value = save.value();
    let choices = Resource::new(
        || (),
        |_| async { (list_images().await, list_servers().await) },
    );
    let id = config
        .as_ref()
        .map(|c| c.staging_config_id.to_string())
        .unwrap_or_default();
    let image = config.as_ref().map(|c| c.image_id);
    let server = config.as_ref().and_then(|c| c.server_id);
    let desired = config.as_ref().map_or(1, |c| c.desired).to_string();
    let expiry = config.as_ref().map_or(3600, |c| c.expiry_secs).to_string();
    view! {
        <ActionForm action=save attr:id="staging-form" attr:class="grid-form">
            <input type="hidden" name="staging_config_id" value=id />
            <Suspense fallback=|| view! { <p class="muted">"Loading images and servers…"</p> }>
                {move || Suspend::new(async move {
                    let (images, servers) = choices.await;
                    let images = images.unwrap_or_default();
                    let servers = servers.unwrap_or_default();
                    view! {
                        <label>"Image"
                            <select name="image_id" required>
                                {images.into_iter().map(|i| view! {
                                    <option value=i.image_id.to_string() selected=image == Some(i.image_id)>{i.friendly_name}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label>"Server"
                            <select name="server_id">
                                <option value="" selected=server.is_none()>"any (placement chooses)"</option>
                                {servers.into_iter().map(|s| view! {
                                    <option value=s.server_id.to_string() selected=server == Some(s.server_id)>{s.hostname}</option>
                                }).collect_view()}
                            </select>
                        </label>
                    }.into_any()
                })}
            </Suspense>
            <ErrorText message=Signal::derive(field_error(value, "image_id")) />
            <ErrorText message=Signal::derive(field_error(value, "server_id")) />
            <label>"Ready sessions" <input name="desired" inputmode="numeric" value=desired required /></label>
            <ErrorText message=Signal::derive(field_error(value, "desired")) />
            <label>"Expiry (seconds, or 30m, 2h, 1d)" <input name="expiry" value=expiry required /></label>
            <ErrorText message=Signal::derive(field_error(value, "expiry")) />
            <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save"</button>
        </ActionForm>
    }
}
