//! The account page: the signed-in user's details and the form to change their password.
use super::layout::{field_error, other_error, ErrorText, Layout};
use crate::api::ChangePassword;
use leptos::prelude::*;

const FIELDS: &[&str] = &["current_password", "new_password", "confirm_password"];

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let value = change.value();
    let done = move || matches!(value.get(), Some(Ok(())));
    view! {
        <Layout>
            <h1>"Your account"</h1>
            <section class="card narrow">
                <h2>"Change password"</h2>
                <ActionForm action=change attr:id="change-password-form">
                    <label>
                        "Current password"
                        <input type="password" name="current_password" autocomplete="current-password" required />
                    </label>
                    <ErrorText message=Signal::derive(field_error(value, "current_password")) />
                    <label>
                        "New password"
                        <input type="password" name="new_password" autocomplete="new-password" required />
                    </label>
                    <ErrorText message=Signal::derive(field_error(value, "new_password")) />
                    <label>
                        "Repeat the new password"
                        <input type="password" name="confirm_password" autocomplete="new-password" required />
                    </label>
                    <ErrorText message=Signal::derive(field_error(value, "confirm_password")) />
                    <ErrorText message=Signal::derive(other_error(value, FIELDS)) />
                    <Show when=done>
                        <p class="ok" role="status">"Password changed. Your other sign-ins have ended."</p>
                    </Show>
                    <button type="submit" class="primary" disabled=move || change.pending().get()>
                        "Change password"
                    </button>
                </ActionForm>
            </section>
        </Layout>
    }
}
