//! Admin → Images: register, edit, enable/disable and delete workspace images.
use super::layout::{confirm, field_error, other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_images, DeleteImage, SaveImage, SetImageEnabled};
use crate::model::{format_bytes, memory_text, ImageRow};
use crate::AppError;
use leptos::prelude::*;

const FIELDS: &[&str] = &[
    "friendly_name",
    "name",
    "description",
    "image_src",
    "categories",
    "cores",
    "memory",
    "network_mode",
    "run_config",
];

#[component]
pub fn AdminImagesPage() -> impl IntoView {
    let save = ServerAction::<SaveImage>::new();
    let toggle = ServerAction::<SetImageEnabled>::new();
    let delete = ServerAction::<DeleteImage>::new();
    let editing = RwSignal::new(None::<ImageRow>);
    let images = Resource::new(
        move || {
            (
                save.version().get(),
                toggle.version().get(),
                delete.version().get(),
            )
        },
        |_| list_images(),
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
        }
    });
    let row_error = move || {
        [
            toggle.value().get().and_then(|r| r.err()),
            delete.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <Layout>
            <AdminNav current="images" />
            <h1>"Images"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading images…"</p> }>
                {move || Suspend::new(async move {
                    match images.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) => view! { <ImagesTable rows toggle delete editing /> }.into_any(),
                    }
                })}
            </Suspense>
            {move || row_error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <section class="card">
                <h2>{move || if editing.get().is_some() { "Edit image" } else { "Register an image" }}</h2>
                {move || view! { <ImageForm save image=editing.get() /> }}
                <Show when=move || editing.get().is_some()>
                    <button class="link" on:click=move |_| editing.set(None)>"Cancel editing"</button>
                </Show>
                {move || editing.get().map(|image| view! { <super::admin_storage::ImageStorageForm image_id=image.image_id /> }.into_any())}
            </section>
        </Layout>
    }
}

/// The registered images, a row each, with edit, enable/disable and delete.
#[component]
fn ImagesTable(
    rows: Vec<ImageRow>,
    toggle: ServerAction<SetImageEnabled>,
    delete: ServerAction<DeleteImage>,
    editing: RwSignal<Option<ImageRow>>,
) -> impl IntoView {
    view! {
        <table class="table" id="images">
            <thead><tr>
                <th>"Name"</th><th>"Container image"</th><th>"Cores"</th><th>"Memory"</th>
                <th>"Network"</th><th>"Categories"</th><th>"Sessions"</th><th>"Status"</th><th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|image| view! { <ImageRowView image toggle delete editing /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ImageRowView(
    image: ImageRow,
    toggle: ServerAction<SetImageEnabled>,
    delete: ServerAction<DeleteImage>,
    editing: RwSignal<Option<ImageRow>>,
) -> impl IntoView {
    let id = image.image_id.to_string();
    let (toggle_id, delete_id) = (id.clone(), id.clone());
    let enabled = image.enabled;
    let edit = image.clone();
    let name = image.friendly_name.clone();
    view! {
        <tr data-name=image.friendly_name.clone() class:disabled=!enabled>
            <td>{image.friendly_name.clone()}</td>
            <td><code>{image.name.clone()}</code></td>
            <td>{image.cores}</td>
            <td>{format_bytes(image.memory)}</td>
            <td>{image.network_mode.clone()}</td>
            <td>{image.categories.join(", ")}</td>
            <td>{image.live_sessions}</td>
            <td class="status">{if enabled { "Enabled" } else { "Disabled" }}</td>
            <td class="row-actions">
                <button class="link edit" on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button>
                <button class="link toggle" on:click=move |_| {
                    toggle.dispatch(SetImageEnabled { image_id: toggle_id.clone(), enabled: !enabled });
                }>{if enabled { "Disable" } else { "Enable" }}</button>
                <button class="link danger delete" on:click=move |_| {
                    if confirm(&format!("Delete image {name}? This cannot be undone.")) {
                        delete.dispatch(DeleteImage { image_id: delete_id.clone() });
                    }
                }>"Delete"</button>
            </td>
        </tr>
    }
}

#[component]
fn ImageForm(save: ServerAction<SaveImage>, image: Option<ImageRow>) -> impl IntoView {
    let value = save.value();
    let image = image.unwrap_or(ImageRow {
        image_id: uuid::Uuid::nil(),
        friendly_name: String::new(),
        name: String::new(),
        description: String::new(),
        image_src: String::new(),
        categories: Vec::new(),
        cores: 1.0,
        memory: 2 << 30,
        network_mode: "bridge".into(),
        enabled: true,
        run_config: "{}".into(),
        live_sessions: 0,
    });
    let id = if image.image_id.is_nil() {
        String::new()
    } else {
        image.image_id.to_string()
    };
    let bridge = image.network_mode != "none";
    view! {
        <ActionForm action=save attr:id="image-form" attr:class="grid-form">
            <input type="hidden" name="image_id" value=id />
            <label>"Name" <input name="friendly_name" value=image.friendly_name required /></label>
            <ErrorText message=Signal::derive(field_error(value, "friendly_name")) />
            <label>"Container image" <input name="name" value=image.name placeholder="berth/desktop:latest" required /></label>
            <ErrorText message=Signal::derive(field_error(value, "name")) />
            <label>"Description" <input name="description" value=image.description /></label>
            <ErrorText message=Signal::derive(field_error(value, "description")) />
            <label>"Thumbnail URL" <input name="image_src" value=image.image_src placeholder="/img/desktop.svg" /></label>
            <ErrorText message=Signal::derive(field_error(value, "image_src")) />
            <label>"Categories (comma-separated)" <input name="categories" value=image.categories.join(", ") /></label>
            <ErrorText message=Signal::derive(field_error(value, "categories")) />
            <label>"Cores" <input name="cores" inputmode="decimal" value=image.cores.to_string() required /></label>
            <ErrorText message=Signal::derive(field_error(value, "cores")) />
            <label>"Memory (bytes, or e.g. 2g, 512m)" <input name="memory" value=memory_text(image.memory) required /></label>
            <ErrorText message=Signal::derive(field_error(value, "memory")) />
            <label>
                "Network"
                <select name="network_mode">
                    <option value="bridge" selected=bridge>"bridge"</option>
                    <option value="none" selected=!bridge>"none"</option>
                </select>
            </label>
            <ErrorText message=Signal::derive(field_error(value, "network_mode")) />
            <label class="checkbox"><input type="checkbox" name="enabled" checked=image.enabled />" Enabled"</label>
            <label class="wide">
                "run_config (JSON: environment, hostname, shm_size)"
                <textarea name="run_config" rows="3" spellcheck="false">{image.run_config}</textarea>
            </label>
            <ErrorText message=Signal::derive(field_error(value, "run_config")) />
            <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save image"</button>
        </ActionForm>
    }
}
