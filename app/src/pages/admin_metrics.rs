//! Admin → Metrics: the deployment at a glance (sessions by state, agents and their free
//! capacity) and the last hour's launches as a chart (launches per five minutes, those that
//! never streamed, the median time to a desktop), refreshed every 30 seconds. Prometheus
//! scrapes the full set at /metrics.
use super::layout::{AdminNav, Forbidden, Layout};
use crate::api::metrics_overview;
use crate::model::{format_bytes, LaunchWindow, MetricsOverview};
use crate::AppError;
use leptos::prelude::*;
use std::time::Duration;

#[component]
pub fn AdminMetricsPage() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    super::session::every(Duration::from_secs(30), move || tick.update(|t| *t += 1));
    let overview = Resource::new(move || tick.get(), |_| metrics_overview());
    view! {
        <Layout>
            <AdminNav current="metrics" />
            <h1>"Metrics"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading the figures…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(overview) => view! { <Figures overview /> }.into_any(),
                    }
                })}
            </Transition>
            <p class="muted small">
                "Prometheus reads every metric at " <code>"/metrics"</code>
                " (with the token of BERTH_METRICS_TOKEN_FILE; see the README)."
            </p>
        </Layout>
    }
}

#[component]
fn Figures(overview: MetricsOverview) -> impl IntoView {
    let online = overview.agents.iter().filter(|agent| agent.online).count();
    let free_cores: f64 = overview
        .agents
        .iter()
        .filter(|a| a.online)
        .map(|a| a.free_cores)
        .sum();
    let free_memory: i64 = overview
        .agents
        .iter()
        .filter(|a| a.online)
        .map(|a| a.free_memory)
        .sum();
    let starting =
        overview.count("requested") + overview.count("provisioning") + overview.count("starting");
    view! {
        <div class="figures" id="metrics-figures">
            <Figure id="sessions-running" label="Sessions running" value=overview.count("running").to_string() />
            <Figure id="sessions-starting" label="Starting" value=starting.to_string() />
            <Figure id="sessions-paused" label="Paused or stopped" value=(overview.count("paused") + overview.count("stopped")).to_string() />
            <Figure id="agents-online" label="Agents online" value=format!("{online} / {}", overview.agents.len()) />
            <Figure id="free-capacity" label="Free capacity" value=format!("{free_cores:.1} cores, {}", format_bytes(free_memory)) />
            <Figure id="launches-hour" label="Launches, last hour" value=overview.launches_last_hour().to_string() />
            <Figure id="not-started-hour" label="Never streamed" value=overview.not_started_last_hour().to_string() />
        </div>
        <section class="card">
            <h2>"Launches, last hour"</h2>
            <LaunchChart windows=overview.launches />
        </section>
    }
}

#[component]
fn Figure(id: &'static str, label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="figure" id=id>
            <span class="figure-value">{value}</span>
            <span class="figure-label muted small">{label}</span>
        </div>
    }
}

/// Chart geometry, in SVG units.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// Bars: launches per window (the part that never streamed in red); line: the median time to
/// a desktop, on its own scale (the highest median labelled).
#[component]
fn LaunchChart(windows: Vec<LaunchWindow>) -> impl IntoView {
    let most = windows.iter().map(|w| w.launches).max().unwrap_or(0).max(1) as f64;
    let slowest = windows
        .iter()
        .filter_map(|w| w.median_seconds)
        .fold(0.0_f64, f64::max);
    let slot = (WIDTH - 2.0 * PAD) / windows.len().max(1) as f64;
    let bar_height = |count: i64| (count as f64 / most) * (HEIGHT - 2.0 * PAD);
    let bars = windows
        .iter()
        .enumerate()
        .map(|(i, window)| {
            let x = PAD + i as f64 * slot + slot * 0.15;
            let total = bar_height(window.launches);
            let failed = bar_height(window.not_started);
            let title = format!(
                "{} to {} min ago: {} launches, {} never streamed",
                window.minutes_ago,
                (window.minutes_ago - 5).max(0),
                window.launches,
                window.not_started
            );
            view! {
                <g class="window">
                    <title>{title}</title>
                    <rect class="bar" x=x y=HEIGHT - PAD - total width=slot * 0.7 height=total></rect>
                    <rect class="bar-failed" x=x y=HEIGHT - PAD - failed width=slot * 0.7 height=failed></rect>
                </g>
            }
        })
        .collect_view();
    let points = windows
        .iter()
        .enumerate()
        .filter_map(|(i, window)| {
            let seconds = window.median_seconds?;
            let x = PAD + (i as f64 + 0.5) * slot;
            let y = HEIGHT - PAD - seconds / slowest.max(f64::EPSILON) * (HEIGHT - 2.0 * PAD);
            Some(format!("{x:.1},{y:.1}"))
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="chart" id="launch-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-label="Launches per five minutes over the last hour, with the median time to a desktop">
            <line class="axis" x1=PAD y1=HEIGHT - PAD x2=WIDTH - PAD y2=HEIGHT - PAD></line>
            {bars}
            <polyline class="median" points=points></polyline>
            <text class="chart-label" x=PAD y=PAD - 8.0>{format!("{} launches", most as i64)}</text>
            <text class="chart-label median-label" x=WIDTH - PAD y=PAD - 8.0 text-anchor="end">
                {if slowest > 0.0 { format!("median to desktop, up to {slowest:.2} s") } else { String::new() }}
            </text>
            <text class="chart-label" x=PAD y=HEIGHT - 6.0>"60 min ago"</text>
            <text class="chart-label" x=WIDTH - PAD y=HEIGHT - 6.0 text-anchor="end">"now"</text>
        </svg>
    }
}
