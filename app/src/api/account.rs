//! Server functions of the signed-in user's own account: who am I, sign in, sign out, change
//! my password.
use crate::model::CurrentUser;
use crate::AppError;
use leptos::prelude::*;

/// Who is signed in, if anyone.
#[server(prefix = "/rpc", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::backend::auth::current_user().await
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<CurrentUser, AppError> {
    crate::backend::auth::login_from_context(username, password).await
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::backend::auth::logout_from_context().await
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    crate::backend::auth::change_password_from_context(
        current_password,
        new_password,
        confirm_password,
    )
    .await
}
