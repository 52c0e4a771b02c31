//! Admin → Groups: every group with its priority and member count, create, delete (refused
//! for the system groups); each group's own page is admin_group.rs.
use super::layout::{confirm, field_error, other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_groups, DeleteGroup, SaveGroup};
use crate::model::GroupRow;
use crate::AppError;
use leptos::prelude::*;

const FIELDS: &[&str] = &["name", "description", "priority"];

#[component]
pub fn AdminGroupsPage() -> impl IntoView {
    let create = ServerAction::<SaveGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_groups(),
    );
    let delete_error = Signal::derive(move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    });
    view! {
        <Layout>
            <AdminNav current="groups" />
            <h1>"Groups"</h1>
            <p class="muted">
                "A user's settings come from their groups: among those that set a value, the lowest priority number wins (volume mappings are merged). Users see the workspaces assigned to their groups."
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading groups…"</p> }>
                {move || Suspend::new(async move {
                    match groups.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(rows) => view! { <GroupsTable rows delete /> }.into_any(),
                    }
                })}
            </Suspense>
            <ErrorText message=delete_error />
            <CreateGroupForm create />
        </Layout>
    }
}

#[component]
fn GroupsTable(rows: Vec<GroupRow>, delete: ServerAction<DeleteGroup>) -> impl IntoView {
    view! {
        <table class="table" id="groups">
            <thead>
                <tr>
                    <th>"Priority"</th>
                    <th>"Name"</th>
                    <th>"Description"</th>
                    <th>"Members"</th>
                    <th>"Workspaces"</th>
                    <th>"Settings"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|group| view! { <GroupRowView group delete /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn GroupRowView(group: GroupRow, delete: ServerAction<DeleteGroup>) -> impl IntoView {
    let id = group.group_id.to_string();
    let name = group.name.clone();
    let remove = {
        let id = id.clone();
        move |_| {
            if confirm(&format!(
                "Delete group {name}? Its members keep their accounts."
            )) {
                delete.dispatch(DeleteGroup {
                    group_id: id.clone(),
                });
            }
        }
    };
    view! {
        <tr data-group=group.name.clone()>
            <td class="priority">{group.priority}</td>
            <td class="name">
                <a href=format!("/admin/groups/{id}")>{group.name.clone()}</a>
                {group.is_system.then(|| view! { <span class="badge">" system"</span> })}
            </td>
            <td>{group.description.clone()}</td>
            <td class="members">{group.members}</td>
            <td class="images">{group.images}</td>
            <td class="settings">{group.settings}</td>
            <td class="row-actions">
                <button class="link danger delete" on:click=remove disabled=group.is_system>"Delete"</button>
            </td>
        </tr>
    }
}

/// The form that creates a group; the new group's page opens once it exists.
#[component]
fn CreateGroupForm(create: ServerAction<SaveGroup>) -> impl IntoView {
    let value = create.value();
    Effect::new(move |_| {
        if let Some(Ok(id)) = value.get() {
            super::layout::go_to(&format!("/admin/groups/{id}"));
        }
    });
    view! {
        <section class="card">
            <h2>"Create a group"</h2>
            <ActionForm action=create attr:id="create-group-form" attr:class="grid-form">
                <input type="hidden" name="group_id" value="" />
                <label>"Name" <input name="name" required /></label>
                <ErrorText message=Signal::derive(field_error(value, "name")) />
                <label>"Description" <input name="description" /></label>
                <ErrorText message=Signal::derive(field_error(value, "description")) />
                <label>"Priority" <input name="priority" inputmode="numeric" placeholder="next free from 100" /></label>
                <ErrorText message=Signal::derive(field_error(value, "priority")) />
                <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create group"</button>
            </ActionForm>
        </section>
    }
}
