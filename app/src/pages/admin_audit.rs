//! Admin → Audit: the audit log, filtered by actor, action, target, time and outcome, newest
//! first, a page at a time (older entries through "Older"); and how many days it is kept.
use super::layout::{other_error, AdminNav, ErrorText, Forbidden, Layout};
use crate::api::{audit_log, SetAuditRetention};
use crate::model::{AuditFilter, AuditRow};
use crate::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let retention = ServerAction::<SetAuditRetention>::new();
    let filter = move || {
        query.with(|q| AuditFilter {
            actor: q.get("actor").unwrap_or_default(),
            action: q.get("action").unwrap_or_default(),
            target: q.get("target").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            until: q.get("until").unwrap_or_default(),
            outcome: q.get("outcome").unwrap_or_default(),
            before: q.get("before").unwrap_or_default(),
        })
    };
    let page = Resource::new(
        move || (filter(), retention.version().get()),
        |(f, _)| {
            audit_log(
                f.actor, f.action, f.target, f.from, f.until, f.outcome, f.before,
            )
        },
    );
    view! {
        <Layout>
            <AdminNav current="audit" />
            <h1>"Audit log"</h1>
            <FilterForm filter=Signal::derive(filter) />
            <Suspense fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error" id="audit-error">{error.to_string()}</p> }.into_any(),
                        Ok(page) => {
                            let older = page.next_before.map(|before| older_link(&filter(), before));
                            view! {
                                <AuditTable rows=page.rows />
                                {older.map(|href| view! { <a id="audit-older" class="button" href=href>"Older"</a> })}
                                <RetentionForm retention days=page.retention_days />
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// The link to the page after this one: the same filters, older than its last entry.
fn older_link(filter: &AuditFilter, before: i64) -> String {
    let pairs = [
        ("actor", filter.actor.as_str()),
        ("action", &filter.action),
        ("target", &filter.target),
        ("from", &filter.from),
        ("until", &filter.until),
        ("outcome", &filter.outcome),
    ];
    let mut query: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", urlencoding(value)))
        .collect();
    query.push(format!("before={before}"));
    format!("/admin/audit?{}", query.join("&"))
}

/// Percent-encodes everything but unreserved characters.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[component]
fn FilterForm(filter: Signal<AuditFilter>) -> impl IntoView {
    let value = move |pick: fn(&AuditFilter) -> String| move || pick(&filter.get());
    view! {
        <form method="get" action="/admin/audit" id="audit-filters" class="grid-form">
            <label>"Actor" <input name="actor" prop:value=value(|f| f.actor.clone()) placeholder="username or key" /></label>
            <label>"Action" <input name="action" prop:value=value(|f| f.action.clone()) placeholder="e.g. api:request_kasm" /></label>
            <label>"Target" <input name="target" prop:value=value(|f| f.target.clone()) /></label>
            <label>"From (UTC)" <input name="from" prop:value=value(|f| f.from.clone()) placeholder="YYYY-MM-DD [HH:MM]" /></label>
            <label>"Until (UTC)" <input name="until" prop:value=value(|f| f.until.clone()) placeholder="YYYY-MM-DD [HH:MM]" /></label>
            <label>"Outcome"
                <select name="outcome" prop:value=value(|f| f.outcome.clone())>
                    <option value="">"any"</option>
                    <option value="ok">"ok"</option>
                    <option value="denied">"denied"</option>
                    <option value="error">"error"</option>
                </select>
            </label>
            <button type="submit" class="primary">"Filter"</button>
            <a href="/admin/audit">"Clear"</a>
        </form>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" id="no-audit-entries">"No entries match."</p> }.into_any();
    }
    view! {
        <table class="table" id="audit-entries">
            <thead><tr>
                <th>"When (UTC)"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Outcome"</th><th>"Calls"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr class="audit-entry">
                        <td>{row.at}</td>
                        <td>{if row.actor.is_empty() { "unknown".to_owned() } else { row.actor }}</td>
                        <td><code>{row.action}</code></td>
                        <td class="small">{row.target}</td>
                        <td class=format!("outcome-{}", row.outcome)>{row.outcome.clone()}</td>
                        <td>{if row.counted { format!("{} in the minute", row.calls) } else { String::new() }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn RetentionForm(retention: ServerAction<SetAuditRetention>, days: i64) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Retention"</h2>
            <p class="muted">"Entries older than this are deleted once a day."</p>
            <ActionForm action=retention attr:id="audit-retention-form" attr:class="grid-form">
                <label>"Keep entries for (days)" <input name="days" type="number" min="1" max="3650" value=days.to_string() /></label>
                <ErrorText message=Signal::derive(other_error(retention.value(), &[])) />
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
        </section>
    }
}
