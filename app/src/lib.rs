//! Berth's web app: the pages, the server functions behind them, and (with the `ssr`
//! feature) the server-side logic those functions call.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod error;
pub mod model;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path,
};

pub use error::AppError;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="theme-color" content="#14213d" />
                <link rel="manifest" href="/manifest.webmanifest" />
                <link rel="icon" type="image/png" sizes="32x32" href="/icons/favicon-32.png" />
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png" />
                // The service worker caches the app shell only (see public/sw.js).
                <script src="/sw-register.js" defer></script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    pages::UserResource::provide();
    // Effects run only in the browser: this marks the page once the WASM has hydrated it.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="berth" href="/pkg/berth.css" />
        <Title text="Berth" />
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::LoginPage />
                <Route path=path!("/") view=pages::DashboardPage />
                <Route path=path!("/account") view=pages::AccountPage />
                <Route path=path!("/session/:session_id") view=pages::SessionPage />
                <Route path=path!("/join/:share_id") view=pages::JoinPage />
                <Route path=path!("/admin") view=|| view! { <Redirect path="/admin/users" /> } />
                <Route path=path!("/admin/users") view=pages::AdminUsersPage />
                <Route path=path!("/admin/users/:user_id") view=pages::AdminUserPolicyPage />
                <Route path=path!("/admin/groups") view=pages::AdminGroupsPage />
                <Route path=path!("/admin/groups/:group_id") view=pages::AdminGroupPage />
                <Route path=path!("/admin/images") view=pages::AdminImagesPage />
                <Route path=path!("/admin/servers") view=pages::AdminServersPage />
                <Route path=path!("/admin/metrics") view=pages::AdminMetricsPage />
                <Route path=path!("/admin/staging") view=pages::AdminStagingPage />
                <Route path=path!("/admin/sessions") view=pages::AdminSessionsPage />
                <Route path=path!("/admin/developers") view=pages::AdminDevelopersPage />
                <Route path=path!("/admin/audit") view=pages::AdminAuditPage />
            </Routes>
        </Router>
    }
}
