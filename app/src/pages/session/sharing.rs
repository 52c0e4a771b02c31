//! The owner's sharing controls: turn sharing on or off, the link, a new link (revoking the
//! old one), the viewers with Remove and control hand-over.
use crate::api::{get_sharing, RemoveViewer, RevokeShare, SetControl, SetSharing};
use crate::model::SharingView;
use leptos::prelude::*;
use std::time::Duration;

#[component]
pub fn SharingControls(session_id: String) -> impl IntoView {
    let session_id = StoredValue::new(session_id);
    let set = ServerAction::<SetSharing>::new();
    let revoke = ServerAction::<RevokeShare>::new();
    let remove = ServerAction::<RemoveViewer>::new();
    let control = ServerAction::<SetControl>::new();
    let tick = RwSignal::new(0u32);
    // Viewers come and go: refresh the list every few seconds.
    super::every(Duration::from_secs(4), move || tick.update(|t| *t += 1));
    // Client-side only: it is polled, and it sits under the page's async boundary, where a
    // server-side fetch would outlive the request's context.
    let view = LocalResource::new(move || {
        tick.track();
        set.version().track();
        revoke.version().track();
        remove.version().track();
        control.version().track();
        get_sharing(session_id.get_value())
    });
    let error = move || {
        [
            set.value().get().and_then(|r| r.err()),
            revoke.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(|r| r.err()),
            control.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <section class="sharing" id="sharing">
            <h3>"Sharing"</h3>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match view.await {
                        Ok(sharing) => view! { <SharingBody sharing session_id set revoke remove control /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            {move || error().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        </section>
    }
}

#[component]
fn SharingBody(
    sharing: SharingView,
    session_id: StoredValue<String>,
    set: ServerAction<SetSharing>,
    revoke: ServerAction<RevokeShare>,
    remove: ServerAction<RemoveViewer>,
    control: ServerAction<SetControl>,
) -> impl IntoView {
    if !sharing.allowed && sharing.share_id.is_none() {
        return view! { <p class="muted small">"Sharing is turned off by the administrator."</p> }
            .into_any();
    }
    let Some(share_id) = sharing.share_id else {
        return view! {
            <button class="panel-button" id="share-on" on:click=move |_| {
                set.dispatch(SetSharing { session_id: session_id.get_value(), enabled: true });
            }>"Share this session"</button>
        }
        .into_any();
    };
    let link = format!("/join/{share_id}");
    view! {
        <p class="small">"Anyone signed in with this link can watch (view only):"</p>
        <input class="share-link" id="share-link" readonly value=link.clone() />
        <div class="row-actions">
            <button class="link" id="share-revoke" on:click=move |_| {
                revoke.dispatch(RevokeShare { session_id: session_id.get_value() });
            }>"New link"</button>
            <button class="link danger" id="share-off" on:click=move |_| {
                set.dispatch(SetSharing { session_id: session_id.get_value(), enabled: false });
            }>"Stop sharing"</button>
        </div>
        <ul class="viewers" id="viewers">
            {sharing.viewers.into_iter().map(|viewer| {
                let id = viewer.user_id.to_string();
                let (remove_id, control_id) = (id.clone(), id.clone());
                let has_control = viewer.has_control;
                let name = viewer.username.clone();
                view! {
                    <li class="viewer" data-username=name>
                        <span>{viewer.username}</span>
                        {has_control.then(|| view! { <span class="tag">"in control"</span> })}
                        <button class="link control" on:click=move |_| {
                            let user_id = if has_control { String::new() } else { control_id.clone() };
                            control.dispatch(SetControl { session_id: session_id.get_value(), user_id });
                        }>{if has_control { "Take back control" } else { "Give control" }}</button>
                        <button class="link danger remove" on:click=move |_| {
                            remove.dispatch(RemoveViewer { session_id: session_id.get_value(), user_id: remove_id.clone() });
                        }>"Remove"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
