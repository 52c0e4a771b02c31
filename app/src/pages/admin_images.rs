//! Admin → Images: register, edit, enable/disable and delete workspace images.
use super::layout::{field_error, other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_images, DeleteImage, SaveImage, SetImageEnabled};
use crate::model::{format_bytes, ImageRow};
use crate::AppError;
use leptos::prelude::*;

const FIELDS: &[&str] = &[
    "friendly_name",
    "name",
    "description",
    "image_src",
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
                        Ok(rows) => view! {
                            <table class="table" id="images">
                                <thead><tr>
                                    <th>"Name"</th><th>"Container image"</th><th>"Cores"</th><th>"Memory"</th>
                                    <th>"Categories"</th><th>"Sessions"</th><th>"Status"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|image| {
                                        let id = image.image_id.to_string();
                                        let (toggle_id, delete_id) = (id.clone(), id.clone());
                                        let enabled = image.enabled;
                                        let edit = image.clone();
                                        view! {
                                            <tr data-name=image.friendly_name.clone() class:disabled=!enabled>
                                                <td>{image.friendly_name.clone()}</td>
                                                <td><code>{image.name.clone()}</code></td>
                                                <td>{image.cores}</td>
                                                <td>{format_bytes(image.memory)}</td>
                                                <td>{image.categories.join(", ")}</td>
                                                <td>{image.live_sessions}</td>
                                                <td>{if enabled { "Enabled" } else { "Disabled" }}</td>
                                                <td class="row-actions">
                                                    <button class="link" on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button>
                                                    <button class="link toggle" on:click=move |_| {
                                                        toggle.dispatch(SetImageEnabled { image_id: toggle_id.clone(), enabled: !enabled });
                                                    }>{if enabled { "Disable" } else { "Enable" }}</button>
                                                    <button class="link danger delete" on:click=move |_| {
                                                        delete.dispatch(DeleteImage { image_id: delete_id.clone() });
                                                    }>"Delete"</button>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
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
            </section>
        </Layout>
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
            <label>"Thumbnail URL" <input name="image_src" value=image.image_src /></label>
            <label>"Categories (comma-separated)" <input name="categories" value=image.categories.join(", ") /></label>
            <label>"Cores" <input name="cores" value=image.cores.to_string() /></label>
            <ErrorText message=Signal::derive(field_error(value, "cores")) />
            <label>"Memory (e.g. 2g, 512m)" <input name="memory" value=format!("{}m", image.memory >> 20) /></label>
            <ErrorText message=Signal::derive(field_error(value, "memory")) />
            <label>
                "Network"
                <select name="network_mode">
                    <option value="bridge" selected=bridge>"bridge"</option>
                    <option value="none" selected=!bridge>"none"</option>
                </select>
            </label>
            <label class="checkbox"><input type="checkbox" name="enabled" checked=image.enabled />" Enabled"</label>
            <label>"run_config (JSON)" <input name="run_config" value=image.run_config /></label>
            <ErrorText message=Signal::derive(field_error(value, "run_config")) />
            <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
            <button type="submit" class="primary">"Save image"</button>
        </ActionForm>
    }
}
