//! Admin → Users: list with search, create, edit, disable, delete, reset password.
use super::layout::{confirm, field_error, other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{list_users, CreateUser, DeleteUser, ResetPassword, SetUserDisabled, UpdateUser};
use crate::model::{Role, UserRow};
use crate::AppError;
use leptos::prelude::*;
use uuid::Uuid;

const CREATE_FIELDS: &[&str] = &[
    "username",
    "password",
    "first_name",
    "last_name",
    "organization",
    "role",
];

/// The actions a row can trigger, shared by every row.
#[derive(Clone, Copy)]
struct RowActions {
    update: ServerAction<UpdateUser>,
    set_disabled: ServerAction<SetUserDisabled>,
    delete: ServerAction<DeleteUser>,
    reset: ServerAction<ResetPassword>,
    editing: RwSignal<Option<Uuid>>,
    resetting: RwSignal<Option<Uuid>>,
}

impl RowActions {
    /// The row actions, each row's inline forms closing once their change went through.
    fn new() -> RowActions {
        let actions = RowActions {
            update: ServerAction::new(),
            set_disabled: ServerAction::new(),
            delete: ServerAction::new(),
            reset: ServerAction::new(),
            editing: RwSignal::new(None),
            resetting: RwSignal::new(None),
        };
        Effect::new(move |_| {
            if let Some(Ok(())) = actions.update.value().get() {
                actions.editing.set(None);
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(())) = actions.reset.value().get() {
                actions.resetting.set(None);
            }
        });
        actions
    }

    /// The latest refusal of any row action, shown above the table.
    fn first_error(self) -> Signal<Option<String>> {
        Signal::derive(move || {
            [
                error_of(self.set_disabled.value().get()),
                error_of(self.delete.value().get()),
                error_of(self.reset.value().get()),
                error_of(self.update.value().get()),
            ]
            .into_iter()
            .flatten()
            .next()
        })
    }
}

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let create = ServerAction::<CreateUser>::new();
    let actions = RowActions::new();
    let users = Resource::new(
        move || {
            (
                search.get(),
                create.version().get(),
                actions.update.version().get(),
                actions.set_disabled.version().get(),
                actions.delete.version().get(),
            )
        },
        |(search, ..)| list_users(search),
    );
    let row_error = actions.first_error();
    let reset_done = move || matches!(actions.reset.value().get(), Some(Ok(())));

    view! {
        <Layout>
            <AdminNav current="users" />
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(rows) => view! { <UsersTable rows actions /> }.into_any(),
                    }
                })}
            </Suspense>
            <div class="toolbar">
                <input
                    type="search"
                    id="user-search"
                    placeholder="Search users"
                    aria-label="Search users"
                    prop:value=move || search.get()
                    on:input=move |event| search.set(event_target_value(&event))
                />
            </div>
            <ErrorText message=row_error />
            <Show when=reset_done>
                <p class="ok" role="status">"Password reset. The user's sign-ins have ended."</p>
            </Show>

            <CreateUserForm create />
        </Layout>
    }
}

/// The form that creates a user; emptied once the user exists.
#[component]
fn CreateUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let create_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (create.value().get(), create_form.get_untracked()) {
            form.reset();
        }
    });
    let value = create.value();
    view! {
        <section class="card">
            <h2>"Create a user"</h2>
            <ActionForm action=create node_ref=create_form attr:id="create-user-form" attr:class="grid-form">
                <label>"Username" <input name="username" required /></label>
                <ErrorText message=Signal::derive(field_error(value, "username")) />
                <label>"Password" <input type="password" name="password" autocomplete="new-password" required /></label>
                <ErrorText message=Signal::derive(field_error(value, "password")) />
                <label>"First name" <input name="first_name" /></label>
                <ErrorText message=Signal::derive(field_error(value, "first_name")) />
                <label>"Last name" <input name="last_name" /></label>
                <ErrorText message=Signal::derive(field_error(value, "last_name")) />
                <label>"Organization" <input name="organization" /></label>
                <ErrorText message=Signal::derive(field_error(value, "organization")) />
                <label>
                    "Role"
                    <select name="role">
                        <option value="user" selected>"User"</option>
                        <option value="admin">"Administrator"</option>
                    </select>
                </label>
                <ErrorText message=Signal::derive(other_error(value, CREATE_FIELDS)) />
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create user"</button>
            </ActionForm>
        </section>
    }
}

fn error_of<T>(value: Option<Result<T, AppError>>) -> Option<String> {
    match value {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    }
}

#[component]
fn UsersTable(rows: Vec<UserRow>, actions: RowActions) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" id="no-users">"No user matches."</p> }.into_any();
    }
    view! {
        <table class="table" id="users">
            <thead>
                <tr>
                    <th>"Username"</th>
                    <th>"Name"</th>
                    <th>"Organization"</th>
                    <th>"Role"</th>
                    <th>"Groups"</th>
                    <th>"Status"</th>
                    <th>"Last sign-in"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|user| view! { <UserRowView user actions /> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn UserRowView(user: UserRow, actions: RowActions) -> impl IntoView {
    let id = user.user_id;
    let id_text = id.to_string();
    let disabled = user.disabled;
    let name = format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_owned();
    let username = user.username.clone();
    let toggle = {
        let id_text = id_text.clone();
        move |_| {
            actions.set_disabled.dispatch(SetUserDisabled {
                user_id: id_text.clone(),
                disabled: !disabled,
            });
        }
    };
    let remove = {
        let id_text = id_text.clone();
        let username = username.clone();
        move |_| {
            if confirm(&format!("Delete user {username}? This cannot be undone.")) {
                actions.delete.dispatch(DeleteUser {
                    user_id: id_text.clone(),
                });
            }
        }
    };
    view! {
        <tr data-username=user.username.clone() class:disabled=disabled>
            <td class="username">{user.username.clone()}</td>
            <td>{name}</td>
            <td>{user.organization.clone()}</td>
            <td>{if user.role == Role::Admin { "Administrator" } else { "User" }}</td>
            <td class="groups">{groups_cell(&user.groups)}</td>
            <td class="status">{if disabled { "Disabled" } else { "Active" }}</td>
            <td>{user.last_session.clone().unwrap_or_else(|| "never".into())}</td>
            <td class="row-actions">
                <button class="link edit" on:click=move |_| actions.editing.set(Some(id))>"Edit"</button>
                <button class="link reset" on:click=move |_| actions.resetting.set(Some(id))>"Reset password"</button>
                <button class="link toggle" on:click=toggle>{if disabled { "Enable" } else { "Disable" }}</button>
                <button class="link danger delete" on:click=remove>"Delete"</button>
            </td>
        </tr>
        <Show when=move || actions.editing.get() == Some(id)>
            <EditRow user=user.clone() actions />
        </Show>
        <Show when=move || actions.resetting.get() == Some(id)>
            <ResetRow user_id=id actions />
        </Show>
    }
}

#[component]
fn EditRow(user: UserRow, actions: RowActions) -> impl IntoView {
    let is_admin = user.role == Role::Admin;
    view! {
        <tr class="edit-row">
            <td colspan="8">
                <ActionForm action=actions.update attr:class="inline-form">
                    <input type="hidden" name="user_id" value=user.user_id.to_string() />
                    <label>"First name" <input name="first_name" value=user.first_name /></label>
                    <label>"Last name" <input name="last_name" value=user.last_name /></label>
                    <label>"Organization" <input name="organization" value=user.organization /></label>
                    <label>
                        "Role"
                        <select name="role">
                            <option value="user" selected=!is_admin>"User"</option>
                            <option value="admin" selected=is_admin>"Administrator"</option>
                        </select>
                    </label>
                    <button type="submit" class="primary">"Save"</button>
                    <button type="button" class="link" on:click=move |_| actions.editing.set(None)>"Cancel"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn ResetRow(user_id: Uuid, actions: RowActions) -> impl IntoView {
    view! {
        <tr class="edit-row">
            <td colspan="8">
                <ActionForm action=actions.reset attr:class="inline-form">
                    <input type="hidden" name="user_id" value=user_id.to_string() />
                    <label>"New password" <input type="password" name="new_password" autocomplete="new-password" required /></label>
                    <button type="submit" class="primary">"Set password"</button>
                    <button type="button" class="link" on:click=move |_| actions.resetting.set(None)>"Cancel"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// A user's groups as the list shows them: everyone is in All Users, so it is named only when
/// the user is in no other group.
fn groups_cell(groups: &[String]) -> String {
    if groups.is_empty() {
        "All Users".to_owned()
    } else {
        groups.join(", ")
    }
}
