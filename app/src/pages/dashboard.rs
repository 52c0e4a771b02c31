use super::layout::Layout;
use crate::api::list_workspaces;
use crate::model::Workspace;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let workspaces = Resource::new(|| (), |_| list_workspaces());
    view! {
        <Layout>
            <h1>"Workspaces"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading workspaces…"</p> }>
                {move || Suspend::new(async move {
                    match workspaces.await {
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty" id="no-workspaces">
                                <h2>"No workspaces yet"</h2>
                                <p>"No workspace is available to you. An administrator registers workspace images under Admin → Images."</p>
                            </div>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="tiles" id="workspaces">
                                {list.into_iter().map(|workspace| view! { <WorkspaceTile workspace /> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn WorkspaceTile(workspace: Workspace) -> impl IntoView {
    let thumbnail = (!workspace.image_src.is_empty()).then(|| {
        view! { <img src=workspace.image_src.clone() alt="" loading="lazy" /> }
    });
    view! {
        <li class="tile" data-image-id=workspace.image_id.to_string()>
            <div class="thumb">{thumbnail}</div>
            <h3>{workspace.friendly_name}</h3>
            <p class="muted">{workspace.description}</p>
            <p class="tags">
                {workspace.categories.into_iter().map(|category| view! { <span class="tag">{category}</span> }).collect_view()}
            </p>
        </li>
    }
}
