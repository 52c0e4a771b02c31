//! The admin pages' parts for persistent profiles and volume mappings: an image's profile
//! location and volume mappings (Admin → Images, while editing an image) and a user's
//! profiles with their deletion (Admin → Users → one user).
use super::layout::{confirm, field_error, other_error, ErrorText};
use crate::api::{image_storage, user_profiles, DeleteUserProfiles, SaveImageStorage};
use crate::model::{ImageStorageRow, ProfileRow};
use leptos::prelude::*;

const FIELDS: &[&str] = &["persistent_profile_path", "volume_mappings"];

/// An image's profile location and volume mappings, saved on their own.
#[component]
pub fn ImageStorageForm(image_id: uuid::Uuid) -> impl IntoView {
    let save = ServerAction::<SaveImageStorage>::new();
    let loaded = Resource::new(|| (), move |_| image_storage(image_id.to_string()));
    view! {
        <h3>"Persistent profile and volume mappings"</h3>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(storage) => storage_form(save, image_id, storage),
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn storage_form(
    save: ServerAction<SaveImageStorage>,
    image_id: uuid::Uuid,
    storage: ImageStorageRow,
) -> AnyView {
    let value = save.value();
    view! {
        <ActionForm action=save attr:id="image-storage-form" attr:class="grid-form">
            <input type="hidden" name="image_id" value=image_id.to_string() />
            <label class="wide">
                "Profile location (relative to each agent's BERTH_PROFILE_ROOT; {username}, {user_id}, {image_id}; empty: none)"
                <input name="persistent_profile_path" value=storage.persistent_profile_path placeholder="{username}/{image_id}" />
            </label>
            <ErrorText message=Signal::derive(field_error(value, "persistent_profile_path")) />
            <label class="wide">
                "Volume mappings (JSON: {\"/host/path\": {\"bind\": \"/container/path\", \"mode\": \"ro\"}}; host paths under an agent's BERTH_VOLUME_ROOTS)"
                <textarea name="volume_mappings" rows="3" spellcheck="false">{storage.volume_mappings}</textarea>
            </label>
            <ErrorText message=Signal::derive(field_error(value, "volume_mappings")) />
            <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
            <button type="submit" class="primary" disabled=move || save.pending().get()>"Save storage"</button>
            <Show when=move || matches!(value.get(), Some(Ok(())))>
                <span class="muted" id="image-storage-saved">"Saved."</span>
            </Show>
        </ActionForm>
    }
    .into_any()
}

/// A user's profiles on each agent host, and a button that deletes them all.
#[component]
pub fn UserProfiles(user_id: String) -> impl IntoView {
    let delete = ServerAction::<DeleteUserProfiles>::new();
    let id = user_id.clone();
    let profiles = Resource::new(
        move || delete.version().get(),
        move |_| user_profiles(id.clone()),
    );
    let outcome = move || {
        match delete.value().get() {
        Some(Ok(count)) => Some(view! { <p class="muted" id="profiles-deleted">{format!("{count} profile(s) deleted.")}</p> }.into_any()),
        Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()),
        None => None,
    }
    };
    view! {
        <section class="card" id="user-profiles">
            <h2>"Persistent profiles"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match profiles.await {
                        Ok(rows) => profile_table(rows),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            {outcome}
            <button
                class="danger"
                id="delete-profiles"
                disabled=move || delete.pending().get()
                on:click=move |_| {
                    if confirm("Delete every persistent profile of this user, on every server?") {
                        delete.dispatch(DeleteUserProfiles { user_id: user_id.clone() });
                    }
                }
            >
                "Delete profiles"
            </button>
        </section>
    }
}

fn profile_table(rows: Vec<ProfileRow>) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted">"No profiles."</p> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td>{row.hostname}</td>
                    <td><code>{row.profile_path}</code></td>
                    <td>{row.image}</td>
                    <td>{row.last_used}</td>
                    <td>{row.in_use_by.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table">
            <thead><tr><th>"Server"</th><th>"Folder"</th><th>"Workspace"</th><th>"Last used"</th><th>"In use by"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
