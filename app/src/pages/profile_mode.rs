//! The dashboard's launch choice for workspaces with a persistent profile: enabled (the
//! default), disabled (a home for this session only) or reset (start from an empty profile).
//! Shown only where the workspace has a profile location and the user's groups allow it.
use crate::api::profile_workspaces;
use crate::AppError;
use leptos::prelude::*;

/// The workspaces with a profile for this user, fetched once per dashboard.
#[derive(Clone, Copy)]
struct ProfileWorkspaces(Resource<Result<Vec<String>, AppError>>);

pub fn provide_profile_workspaces() {
    provide_context(ProfileWorkspaces(Resource::new(
        || (),
        |_| profile_workspaces(),
    )));
}

/// The profile mode of one workspace's launch, into `mode` (empty: the default).
#[component]
pub fn ProfileModeSelect(image_id: String, mode: RwSignal<String>) -> impl IntoView {
    let Some(ProfileWorkspaces(with_profile)) = use_context::<ProfileWorkspaces>() else {
        return ().into_any();
    };
    let offered = move || {
        with_profile
            .get()
            .and_then(Result::ok)
            .is_some_and(|ids| ids.contains(&image_id))
    };
    view! {
        <Transition fallback=|| ()>
            <Show when=offered.clone()>
                <label class="profile-mode">
                    "Profile "
                    <select on:change=move |ev| mode.set(event_target_value(&ev))>
                        <option value="enabled">"Enabled"</option>
                        <option value="disabled">"Disabled"</option>
                        <option value="reset">"Reset (start empty)"</option>
                    </select>
                </label>
            </Show>
        </Transition>
    }
    .into_any()
}
