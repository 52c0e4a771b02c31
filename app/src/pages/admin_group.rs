//! Admin → Groups → one group: its name, description and priority; members (added by
//! username, with suggestions, and removed); settings (Kasm's names, one value each, empty
//! for none); and the workspaces assigned to it.
use super::layout::{other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{
    group_candidates, load_group, SaveGroup, SetGroupImage, SetGroupMember, SetGroupSetting,
};
use crate::model::{GroupDetail, GroupImageRow, GroupMember, GroupSettingRow};
use crate::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// What the sections of the page change.
#[derive(Clone, Copy)]
struct Actions {
    save: ServerAction<SaveGroup>,
    member: ServerAction<SetGroupMember>,
    setting: ServerAction<SetGroupSetting>,
    image: ServerAction<SetGroupImage>,
}

#[component]
pub fn AdminGroupPage() -> impl IntoView {
    let params = use_params_map();
    let group_id = params.read_untracked().get("group_id").unwrap_or_default();
    let actions = Actions {
        save: ServerAction::new(),
        member: ServerAction::new(),
        setting: ServerAction::new(),
        image: ServerAction::new(),
    };
    let detail = Resource::new(
        move || {
            (
                actions.save.version().get(),
                actions.member.version().get(),
                actions.setting.version().get(),
                actions.image.version().get(),
            )
        },
        move |_| load_group(group_id.clone()),
    );
    view! {
        <Layout>
            <AdminNav current="groups" />
            <p><a href="/admin/groups">"← All groups"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading the group…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(detail) => view! { <Group detail actions /> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn Group(detail: GroupDetail, actions: Actions) -> impl IntoView {
    let GroupDetail {
        group,
        members,
        settings,
        images,
    } = detail;
    let id = group.group_id.to_string();
    let (members_id, settings_id, images_id) = (id.clone(), id.clone(), id.clone());
    let all_users = group.is_system && group.name == "All Users";
    view! {
        <h1 id="group-name">{group.name.clone()}</h1>
        <section class="card">
            <h2>"Group"</h2>
            <ActionForm action=actions.save attr:id="edit-group-form" attr:class="inline-form">
                <input type="hidden" name="group_id" value=id />
                <label>"Name" <input name="name" value=group.name.clone() readonly=group.is_system /></label>
                <label>"Description" <input name="description" value=group.description.clone() /></label>
                <label>"Priority" <input name="priority" value=group.priority.to_string() /></label>
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
            <ErrorText message=Signal::derive(other_error(actions.save.value(), &[])) />
        </section>
        {if all_users {
            view! { <section class="card"><h2>"Members"</h2><p class="muted">"Every user is a member of All Users."</p></section> }.into_any()
        } else {
            view! { <Members group_id=members_id members actions /> }.into_any()
        }}
        <Settings group_id=settings_id settings actions />
        <Workspaces group_id=images_id images actions />
    }
    .into_any()
}

#[component]
fn Members(group_id: String, members: Vec<GroupMember>, actions: Actions) -> impl IntoView {
    let search = RwSignal::new(String::new());
    // Client-side only: it follows the typing, and it sits under the page's async boundary,
    // where a server-side fetch would outlive the request's context.
    let candidates = {
        let group_id = group_id.clone();
        LocalResource::new(move || group_candidates(group_id.clone(), search.get()))
    };
    let rows = members
        .into_iter()
        .map(|member| {
            let (group_id, username) = (group_id.clone(), member.username.clone());
            let remove = move |_| {
                actions.member.dispatch(SetGroupMember {
                    group_id: group_id.clone(),
                    username: username.clone(),
                    member: false,
                });
            };
            view! {
                <li data-member=member.username.clone()>
                    <a href=format!("/admin/users/{}", member.user_id)>{member.username.clone()}</a>" "
                    <button class="link danger remove-member" on:click=remove>"Remove"</button>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="members">
            <h2>"Members"</h2>
            <ul class="members">{rows}</ul>
            <ActionForm action=actions.member attr:id="add-member-form" attr:class="inline-form">
                <input type="hidden" name="group_id" value=group_id />
                <input type="hidden" name="member" value="true" />
                <label>
                    "Add a user"
                    <input name="username" list="member-candidates" autocomplete="off" required
                        on:input=move |event| search.set(event_target_value(&event)) />
                </label>
                <datalist id="member-candidates">
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            candidates.await.unwrap_or_default().into_iter()
                                .map(|c| view! { <option value=c.username.clone()></option> })
                                .collect_view()
                        })}
                    </Transition>
                </datalist>
                <button type="submit" class="primary">"Add"</button>
            </ActionForm>
            <ErrorText message=Signal::derive(other_error(actions.member.value(), &[])) />
        </section>
    }
    .into_any()
}

#[component]
fn Settings(group_id: String, settings: Vec<GroupSettingRow>, actions: Actions) -> impl IntoView {
    let rows = settings
        .into_iter()
        .map(|setting| {
            let group_id = group_id.clone();
            let GroupSettingRow {
                name,
                meaning,
                value,
                default,
            } = setting;
            let (row_name, shown_name) = (name.clone(), name.clone());
            let value = value.unwrap_or_default();
            let placeholder = format!("not set (default {default})");
            view! {
                <tr data-setting=row_name>
                    <td><code>{shown_name}</code><br /><span class="muted small">{meaning}</span></td>
                    <td>
                        <ActionForm action=actions.setting attr:class="inline-form">
                            <input type="hidden" name="group_id" value=group_id />
                            <input type="hidden" name="name" value=name />
                            <input name="value" class="setting-value" value=value placeholder=placeholder />
                            <button type="submit" class="link save-setting">"Save"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="group-settings">
            <h2>"Settings"</h2>
            <p class="muted small">"true/false, a number, or JSON; empty: the group does not set it."</p>
            <ErrorText message=Signal::derive(other_error(actions.setting.value(), &[])) />
            <table class="table"><tbody>{rows}</tbody></table>
        </section>
    }
    .into_any()
}

#[component]
fn Workspaces(group_id: String, images: Vec<GroupImageRow>, actions: Actions) -> impl IntoView {
    let rows = images
        .into_iter()
        .map(|image| {
            let (group_id, image_id) = (group_id.clone(), image.image_id.to_string());
            let toggle = move |event: leptos::ev::Event| {
                actions.image.dispatch(SetGroupImage {
                    group_id: group_id.clone(),
                    image_id: image_id.clone(),
                    assigned: event_target_checked(&event),
                });
            };
            view! {
                <li data-image=image.friendly_name.clone()>
                    <label>
                        <input type="checkbox" class="assign-image" checked=image.assigned on:change=toggle />
                        " "{image.friendly_name.clone()}
                    </label>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="group-workspaces">
            <h2>"Workspaces"</h2>
            <ul class="workspaces">{rows}</ul>
            <ErrorText message=Signal::derive(other_error(actions.image.value(), &[])) />
        </section>
    }
    .into_any()
}
