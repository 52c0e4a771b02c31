//! bench/burst: N simulated users each ask for a Desktop at the same moment through the
//! Developer API (`POST /api/public/request_kasm`) of a real `berth serve`, whose embedded agent
//! starts the containers on this machine's Docker; each then polls `get_kasm_status` until its
//! session runs, as an integration would. Meanwhile one more user's running session is read with
//! `get_kasm_status` in a loop and `/readyz` (a pool acquire and `SELECT 1`) is probed, to show
//! whether reads stay fast; PostgreSQL's view of the server's connections (`pg_stat_activity`)
//! is sampled too, since Berth exposes no pool metrics. See bench/README.md.
//!
//! Each round (N = 10, 50, 100 by default, `--users`) gets a fresh scratch database and a fresh
//! server, with the local server's core and memory overrides raised so that capacity is never
//! the limit and `max_kasms_per_user` off; each simulated user is its own Berth user. A round is
//! bounded by a deadline, ends by destroying every session with `destroy_kasm` and checks that
//! no session container is left (`docker ps -a --filter label=berth.session_id`). A round that
//! would obviously exhaust the machine's memory is refused, and a round stops early should
//! memory run low. Every child is stopped and every container of the round removed at the end,
//! also on errors and Ctrl-C, and the scratch databases are dropped. All traffic stays on
//! 127.0.0.1.
use bench::devapi::{Api, CALL_TIMEOUT, PERMISSIONS};
use bench::serve::TempDir;
use bollard::container::{
    ListContainersOptions, MemoryStatsStats, RemoveContainerOptions, StatsOptions,
};
use bollard::Docker;
use clap::Parser;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Barrier, Semaphore};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: bench::serve::ServerArgs,
    /// Simulated users per round, one round each, in this order.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 50, 100])]
    users: Vec<usize>,
    /// The workspace every user asks for (friendly name of a default image).
    #[arg(long, default_value = "Desktop")]
    image: String,
    /// Seconds a round may take from the burst to the last session running.
    #[arg(long, default_value_t = 600)]
    deadline: u64,
    /// Milliseconds between one user's get_kasm_status polls.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// Milliseconds between the status reader's get_kasm_status calls.
    #[arg(long, default_value_t = 50)]
    read_ms: u64,
    /// Memory one running session is assumed to take (MiB) until a round has measured it; later
    /// rounds assume twice what the previous one measured.
    #[arg(long, default_value_t = 150)]
    session_mib: u64,
    /// Memory (MiB) to leave available: a round that would go below it is refused, and a round
    /// stops early when less than half of it is left.
    #[arg(long, default_value_t = 3072)]
    reserve_mib: u64,
    /// Keep each round's server log (its path is printed) instead of removing it.
    #[arg(long)]
    keep_logs: bool,
}

/// Reads before the burst: the idle baseline.
const IDLE: Duration = Duration::from_secs(3);
/// The sampler's and /readyz prober's period.
const SAMPLE: Duration = Duration::from_millis(100);
/// Concurrent destroy_kasm calls while cleaning up.
const DESTROYERS: usize = 8;
/// Marks the bench's own PostgreSQL connections, so that only the server's are counted.
const APPLICATION: &str = "bench-burst";

type Result<T, E = String> = std::result::Result<T, E>;

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let (docker, image_name) = match preflight(&args).await {
        Ok(found) => found,
        Err(error) => {
            eprintln!("bench/burst: {error}");
            std::process::exit(1);
        }
    };
    let admin = args.server.admin_pool("burst").await;
    let machine = machine(&docker).await;
    eprintln!("{machine}");

    let mut outcomes = Vec::new();
    let mut session_mib = args.session_mib as f64;
    for &users in &args.users {
        let available = mem_available_mib();
        let needed = users as f64 * session_mib + args.reserve_mib as f64;
        if needed > available {
            let reason = format!(
                "{users} × {session_mib:.0} MiB per session + {} MiB reserve = {needed:.0} MiB, but only {available:.0} MiB are available",
                args.reserve_mib
            );
            eprintln!("N = {users}: refused: {reason}");
            outcomes.push((users, Outcome::Refused(reason)));
            continue;
        }
        eprintln!("\nN = {users}: {available:.0} MiB available, about {needed:.0} MiB needed");
        let name = format!("berth_bench_burst_{}_{users}", std::process::id());
        let scratch = args.server.scratch_database(&admin, "burst", &name).await;

        // The round is its own task: a panic in it still drops (and so stops) the server, and
        // Ctrl-C drops it the same way. Either way its containers and database go afterwards.
        let owner = Arc::new(Mutex::new(None::<String>));
        let mut task = tokio::spawn(round(
            args.clone(),
            admin.clone(),
            docker.clone(),
            image_name.clone(),
            Scratch {
                url: scratch,
                name: name.clone(),
            },
            users,
            owner.clone(),
        ));
        let mut interrupted = false;
        let result = tokio::select! {
            joined = &mut task => joined.unwrap_or_else(|error| Err(format!("the round failed: {error}"))),
            _ = tokio::signal::ctrl_c() => {
                interrupted = true;
                task.abort();
                let _ = task.await;
                Err("interrupted".into())
            }
        };
        let owner = owner.lock().unwrap().clone();
        if let Some(owner) = owner {
            let removed = remove_containers(&docker, &owner).await;
            if removed > 0 {
                eprintln!("removed {removed} container(s) the round left behind");
            }
        }
        bench::serve::drop_scratch_database(&admin, "burst", &name).await;
        match result {
            Ok(report) => {
                // Later rounds are judged by what this one measured, with a margin for the
                // desktops' growth and what Docker spends per container outside it.
                if let Some(measured) = report.mib_per_session {
                    session_mib = measured * 2.0;
                }
                outcomes.push((users, Outcome::Done(Box::new(report))));
            }
            Err(error) => {
                eprintln!("N = {users}: {error}");
                outcomes.push((users, Outcome::Failed(error)));
            }
        }
        if interrupted {
            break;
        }
    }
    print_report(&args, &image_name, &machine, &outcomes);
    if outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Failed(_)))
    {
        std::process::exit(1);
    }
}

/// The server binary, Docker and the image are there; the image's Docker name.
async fn preflight(args: &Args) -> Result<(Docker, String)> {
    if !args.server.berth.is_file() {
        return Err(format!(
            "{} is missing; build it first: cargo build --release -p server --bin berth",
            args.server.berth.display()
        ));
    }
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| e.to_string())?
        .negotiate_version()
        .await
        .map_err(|e| {
            format!("Docker is not reachable ({e}); start it: source scripts/lib.sh && berth_ensure_docker")
        })?;
    let image = berth::manager::images::DEFAULT_IMAGES
        .iter()
        .find(|image| image.friendly_name == args.image)
        .ok_or_else(|| format!("no default image called {}", args.image))?;
    docker.inspect_image(image.name).await.map_err(|_| {
        format!(
            "the image {} is missing; build it: source scripts/lib.sh && berth_build_images",
            image.name
        )
    })?;
    if args.users.is_empty() || args.users.contains(&0) {
        return Err("--users wants positive counts, e.g. 10,50,100".into());
    }
    Ok((docker, image.name.to_owned()))
}

struct Scratch {
    url: String,
    name: String,
}

enum Outcome {
    Done(Box<Report>),
    Refused(String),
    Failed(String),
}

/// Errors grouped by HTTP status (0: no answer) and message.
type Errors = BTreeMap<(u16, String), usize>;

#[derive(Default)]
struct Report {
    /// request_kasm answers that were not a session.
    request_errors: Errors,
    /// Sessions accepted whose launch then failed (the session's last message).
    launch_failures: BTreeMap<String, usize>,
    /// Accepted sessions still not running at the deadline (or when the round stopped).
    unfinished: Vec<String>,
    /// Failed get_kasm_status polls of the users (they kept polling).
    poll_errors: Errors,
    /// request_kasm answer times (all answers).
    request_answer: Vec<f64>,
    /// Burst start → each session seen running.
    to_running: Vec<f64>,
    /// Burst start → the last session seen running, when all did.
    all_running: Option<f64>,
    stopped_early: Option<String>,
    /// The status reader before the burst and during it.
    reads_idle: Vec<f64>,
    reads_burst: Vec<f64>,
    read_errors: Errors,
    /// /readyz during the burst.
    readyz: Vec<f64>,
    readyz_errors: Errors,
    /// pg_stat_activity maxima over the burst, for the server's connections to its database.
    pg_connections: i64,
    pg_lock_waiters: i64,
    pg_idle_in_transaction: i64,
    /// What the server logged.
    log: LogSummary,
    /// /proc/loadavg's 1-minute average just before the burst (other work on the machine).
    load_before: String,
    /// Memory: available before the burst, lowest during it, and what one container uses.
    mem_before: f64,
    mem_lowest: f64,
    mib_per_session: Option<f64>,
    /// Clean-up.
    destroyed: usize,
    destroy_errors: Errors,
    /// Sessions that existed although their request_kasm had failed: their state then.
    orphans: Vec<String>,
    sessions_left: usize,
    containers_left: usize,
    containers_left_all: usize,
}

async fn round(
    args: Arc<Args>,
    admin: PgPool,
    docker: Docker,
    image_name: String,
    scratch: Scratch,
    users: usize,
    owner_slot: Arc<Mutex<Option<String>>>,
) -> Result<Report> {
    let mut work = TempDir::new("berth-bench-burst")?;
    work.keep = args.keep_logs;
    let (mut berth, base) = bench::serve::start(
        &args.server.berth,
        &scratch.url,
        &args.server.redis_url,
        &format!("bench-burst-{}-{users}", std::process::id()),
        &work.path,
    )
    .await?;

    // The bench's own connections to the scratch database (marked, so as not to be counted).
    let options = PgConnectOptions::from_str(&scratch.url)
        .map_err(|e| e.to_string())?
        .application_name(APPLICATION);
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| e.to_string())?;
    let deployment: String =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(&db)
            .await
            .map_err(|e| format!("deployment id: {e}"))?;
    let owner = format!("{}@{deployment}", berth::host::host_name());
    *owner_slot.lock().unwrap() = Some(owner.clone());

    // The local agent online with the image; then capacity and the per-user limit out of the way.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready: Option<bool> = sqlx::query_scalar(
            "SELECT bool_or(status = 'online' AND $1 = ANY(images_present)) FROM servers",
        )
        .bind(&image_name)
        .fetch_one(&db)
        .await
        .map_err(|e| e.to_string())?;
        if ready == Some(true) {
            break;
        }
        berth.check()?;
        if Instant::now() > deadline {
            return Err(format!(
                "the local agent did not come online with {image_name} within 60 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sqlx::query("UPDATE servers SET cores_override = 100000, memory_override = $1")
        .bind(1i64 << 50)
        .execute(&db)
        .await
        .map_err(|e| format!("server overrides: {e}"))?;
    sqlx::query("UPDATE settings SET value = '0' WHERE name = 'max_kasms_per_user'")
        .execute(&db)
        .await
        .map_err(|e| format!("max_kasms_per_user: {e}"))?;

    // N users plus the status reader's, and a key.
    let ids: Vec<Uuid> = (0..=users).map(|_| Uuid::new_v4()).collect();
    let names: Vec<String> = (0..=users)
        .map(|i| {
            if i == users {
                "burst-reader".to_owned()
            } else {
                format!("burst-{i:03}")
            }
        })
        .collect();
    sqlx::query(
        "INSERT INTO users (user_id, username) SELECT * FROM unnest($1::uuid[], $2::text[])",
    )
    .bind(&ids)
    .bind(&names)
    .execute(&db)
    .await
    .map_err(|e| format!("users: {e}"))?;
    let admin_id: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'admin'")
        .fetch_one(&db)
        .await
        .map_err(|e| format!("admin: {e}"))?;
    let permissions: Vec<String> = PERMISSIONS.iter().map(|p| p.to_string()).collect();
    let (key, secret) =
        app::backend::api_keys::create(&db, "bench-burst", &permissions, false, None, admin_id)
            .await
            .map_err(|e| format!("API key: {e}"))?;
    let api = Api::new(&base, key, secret)?;

    // As an integration starts: get_images (which also verifies the key once, so the burst
    // does not pay for N Argon2 verifications of a cold key).
    let images = api.call("get_images", json!({})).await;
    if images.status != 200 {
        return Err(format!(
            "get_images: {} {}",
            images.status,
            images.message()
        ));
    }
    let image_id = images.body["images"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|image| image["friendly_name"] == args.image.as_str())
        .and_then(|image| image["image_id"].as_str())
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| format!("get_images does not list {}", args.image))?;

    // The status reader's session, running before anything else starts.
    let reader_user = ids[users];
    let reader_kasm = launch_one(&api, reader_user, image_id).await?;
    eprintln!(
        "status reader's session {} is running",
        reader_kasm.simple()
    );

    let mut report = Report {
        load_before: load_average(),
        mem_before: mem_available_mib(),
        ..Default::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let low_memory = Arc::new(AtomicBool::new(false));
    let reader = Task::spawn(status_reader(
        api.clone(),
        reader_user,
        reader_kasm,
        Duration::from_millis(args.read_ms),
        stop.clone(),
    ));
    let prober = Task::spawn(readyz_prober(base.clone(), stop.clone()));
    let sampler = Task::spawn(sampler(
        admin.clone(),
        scratch.name.clone(),
        args.reserve_mib as f64 / 2.0,
        stop.clone(),
        low_memory.clone(),
    ));
    tokio::time::sleep(IDLE).await;

    // The burst: every user's request_kasm at once, then its polls.
    let barrier = Arc::new(Barrier::new(users + 1));
    let round_deadline = Duration::from_secs(args.deadline);
    let mut tasks = Vec::with_capacity(users);
    for &user_id in &ids[..users] {
        tasks.push(Task::spawn(simulated_user(
            api.clone(),
            user_id,
            image_id,
            barrier.clone(),
            Duration::from_millis(args.poll_ms),
            round_deadline,
            low_memory.clone(),
        )));
    }
    barrier.wait().await;
    let started = Instant::now();
    eprintln!(
        "burst: {users} × request_kasm sent; polling every {} ms",
        args.poll_ms
    );
    let mut outcomes = Vec::with_capacity(users);
    let mut progress = Instant::now();
    for task in tasks {
        // Users stop by themselves at the deadline; this only guards against a hung task.
        let left =
            (started + round_deadline + CALL_TIMEOUT * 2).saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, task.join()).await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(error)) => return Err(format!("a simulated user failed: {error}")),
            Err(_) => return Err("a simulated user hung past the deadline".into()),
        }
        if progress.elapsed() > Duration::from_secs(10) {
            progress = Instant::now();
            eprintln!(
                "  {:.0} s: {} of {users} users done",
                started.elapsed().as_secs_f64(),
                outcomes.len()
            );
        }
    }
    let finished = Instant::now();
    let mem_running = mem_available_mib();
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().await?;
    let probes = prober.join().await?;
    let samples = sampler.join().await?;
    if low_memory.load(Ordering::SeqCst) {
        report.stopped_early = Some(format!(
            "available memory fell below {} MiB",
            args.reserve_mib / 2
        ));
    }

    // What the users saw.
    let mut accepted = HashSet::new();
    let mut running = 0;
    let mut last_running = None;
    for outcome in &outcomes {
        report.request_answer.push(ms(outcome.answered));
        for error in &outcome.poll_errors {
            *report.poll_errors.entry(error.clone()).or_default() += 1;
        }
        match &outcome.request {
            Err(error) => *report.request_errors.entry(error.clone()).or_default() += 1,
            Ok(session_id) => {
                accepted.insert(*session_id);
                match outcome.end {
                    End::Running(at) => {
                        running += 1;
                        let since = at.saturating_duration_since(started);
                        report.to_running.push(ms(since));
                        last_running = last_running.max(Some(since));
                    }
                    End::Gone => {
                        let message: Option<String> = sqlx::query_scalar(
                            "SELECT operational_status || ': ' || operational_message FROM sessions WHERE session_id = $1",
                        )
                        .bind(session_id)
                        .fetch_optional(&db)
                        .await
                        .map_err(|e| e.to_string())?;
                        let message = message.unwrap_or_else(|| "no such session".into());
                        *report.launch_failures.entry(message).or_default() += 1;
                    }
                    End::Status(ref status) => {
                        *report
                            .launch_failures
                            .entry(format!("operational_status {status}"))
                            .or_default() += 1;
                    }
                    End::Unfinished => report
                        .unfinished
                        .push(session_state(&db, *session_id).await?),
                }
            }
        }
    }
    if running == users {
        report.all_running = last_running.map(ms);
    }
    // Per session: what the containers use, or what MemAvailable lost, whichever is more.
    let containers = container_mib(&docker, &owner).await;
    let lost = (report.mem_before - mem_running.min(samples.mem_lowest)) / running.max(1) as f64;
    report.mib_per_session = match containers {
        Some(mib) => Some(mib.max(lost)),
        None if running > 0 && lost > 0.0 => Some(lost),
        None => None,
    };
    // Latencies count every answer, failed ones too (a 503 comes after a 5 s pool timeout).
    for (at, latency, error) in reads {
        if at < started {
            report.reads_idle.push(ms(latency));
        } else if at <= finished {
            report.reads_burst.push(ms(latency));
            if let Some(error) = error {
                *report.read_errors.entry(error).or_default() += 1;
            }
        }
    }
    for (at, latency, error) in probes {
        if at < started || at > finished {
            continue;
        }
        report.readyz.push(ms(latency));
        if let Some(error) = error {
            *report.readyz_errors.entry(error).or_default() += 1;
        }
    }
    report.pg_connections = samples.connections;
    report.pg_lock_waiters = samples.lock_waiters;
    report.pg_idle_in_transaction = samples.idle_in_transaction;
    report.mem_lowest = samples.mem_lowest.min(mem_running);
    eprintln!(
        "{running} of {users} running after {:.1} s; cleaning up",
        finished.duration_since(started).as_secs_f64()
    );

    // Clean-up: every session the server lists goes through destroy_kasm (this finds sessions
    // whose request_kasm failed but which exist anyway), then nothing may be left.
    accepted.insert(reader_kasm);
    let listed = list_sessions(&api).await?;
    for (session_id, _) in listed.iter().filter(|(id, _)| !accepted.contains(id)) {
        report.orphans.push(session_state(&db, *session_id).await?);
    }
    let (destroyed, destroy_errors) = destroy_all(&api, &listed).await;
    report.destroyed = destroyed;
    report.destroy_errors = destroy_errors;
    report.sessions_left = list_sessions(&api).await?.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        report.containers_left = count_containers(&docker, Some(&owner)).await?;
        if report.containers_left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.containers_left_all = count_containers(&docker, None).await?;

    report.log = LogSummary::read(&work.path.join("berth.log"));
    db.close().await;
    drop(berth);
    Ok(report)
}

/// "provisioning (Placing the session)", from the database.
async fn session_state(db: &PgPool, session_id: Uuid) -> Result<String> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT operational_status || ' (' || operational_message || ')' FROM sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_optional(db)
    .await
    .map_err(|e| e.to_string())?;
    Ok(state.unwrap_or_else(|| "not in the database".into()))
}

/// request_kasm for one user, then get_kasm_status until it runs (60 s at most).
async fn launch_one(api: &Api, user_id: Uuid, image_id: Uuid) -> Result<Uuid> {
    let answer = api
        .call(
            "request_kasm",
            json!({ "user_id": user_id.simple().to_string(), "image_id": image_id.simple().to_string() }),
        )
        .await;
    let session_id = answer
        .session_id()
        .ok_or_else(|| format!("request_kasm: {} {}", answer.status, answer.message()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let status = api.status(user_id, session_id).await;
        match status.operational_status().as_deref() {
            Some("running") => return Ok(session_id),
            Some("requested" | "provisioning" | "starting") => {}
            _ if status.status >= 500 => {}
            _ => {
                return Err(format!(
                    "the status reader's session did not start: {} {}",
                    status.status,
                    status.message()
                ))
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the status reader's session did not run within 60 s".into())
}

enum End {
    Running(Instant),
    /// get_kasm_status answered 404: the session was deleted (its launch failed).
    Gone,
    /// Neither starting nor running (e.g. deleting).
    Status(String),
    Unfinished,
}

struct UserOutcome {
    answered: Duration,
    request: Result<Uuid, (u16, String)>,
    end: End,
    poll_errors: Vec<(u16, String)>,
}

async fn simulated_user(
    api: Api,
    user_id: Uuid,
    image_id: Uuid,
    barrier: Arc<Barrier>,
    poll: Duration,
    deadline: Duration,
    stop: Arc<AtomicBool>,
) -> UserOutcome {
    barrier.wait().await;
    let sent = Instant::now();
    let deadline = sent + deadline;
    let answer = api
        .call(
            "request_kasm",
            json!({ "user_id": user_id.simple().to_string(), "image_id": image_id.simple().to_string() }),
        )
        .await;
    let mut outcome = UserOutcome {
        answered: sent.elapsed(),
        request: answer
            .session_id()
            .ok_or_else(|| (answer.status, answer.message())),
        end: End::Unfinished,
        poll_errors: Vec::new(),
    };
    let Ok(session_id) = outcome.request else {
        return outcome;
    };
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(poll).await;
        let status = api.status(user_id, session_id).await;
        let seen = Instant::now();
        match (status.status, status.operational_status()) {
            (200, Some(state)) => match state.as_str() {
                "running" => {
                    outcome.end = End::Running(seen);
                    break;
                }
                "requested" | "provisioning" | "starting" => {}
                other => {
                    outcome.end = End::Status(other.to_owned());
                    break;
                }
            },
            (404, _) => {
                outcome.end = End::Gone;
                break;
            }
            (code, _) => outcome.poll_errors.push((code, status.message())),
        }
    }
    outcome
}

/// (when, latency, error) of each read.
type Timings = Vec<(Instant, Duration, Option<(u16, String)>)>;

/// get_kasm_status of one running session, one call at a time, until stopped.
async fn status_reader(
    api: Api,
    user_id: Uuid,
    session_id: Uuid,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> Timings {
    // Its own connection: the users' traffic does not queue in front of it in the client.
    let api = api.fresh_client();
    let mut timings = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let at = Instant::now();
        let answer = api.status(user_id, session_id).await;
        let error = (answer.operational_status().as_deref() != Some("running"))
            .then(|| (answer.status, answer.message()));
        timings.push((at, answer.elapsed, error));
        tokio::time::sleep(pause).await;
    }
    timings
}

/// GET /readyz (a pool acquire and `SELECT 1`, with Redis PING) every 100 ms, until stopped.
async fn readyz_prober(base: String, stop: Arc<AtomicBool>) -> Timings {
    let client = reqwest::Client::new();
    let mut timings = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let at = Instant::now();
        let answer = client
            .get(format!("{base}/readyz"))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let elapsed = at.elapsed();
        let error = match answer {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                Some((
                    status,
                    body["error"].as_str().unwrap_or_default().to_owned(),
                ))
            }
            Err(error) => Some((0, error.to_string())),
        };
        timings.push((at, elapsed, error));
        tokio::time::sleep(SAMPLE).await;
    }
    timings
}

#[derive(Default)]
struct Samples {
    connections: i64,
    lock_waiters: i64,
    idle_in_transaction: i64,
    mem_lowest: f64,
}

/// Every 100 ms until stopped: the server's connections to its database as PostgreSQL sees them
/// (all, those waiting for a lock, those idle inside a transaction), and available memory;
/// raises `low_memory` when less than `floor_mib` is left.
async fn sampler(
    admin: PgPool,
    database: String,
    floor_mib: f64,
    stop: Arc<AtomicBool>,
    low_memory: Arc<AtomicBool>,
) -> Samples {
    let mut samples = Samples {
        mem_lowest: f64::MAX,
        ..Default::default()
    };
    while !stop.load(Ordering::SeqCst) {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT count(*),
                    count(*) FILTER (WHERE wait_event_type = 'Lock'),
                    count(*) FILTER (WHERE state = 'idle in transaction')
             FROM pg_stat_activity
             WHERE datname = $1 AND application_name <> $2",
        )
        .bind(&database)
        .bind(APPLICATION)
        .fetch_optional(&admin)
        .await
        .ok()
        .flatten();
        if let Some((connections, waiting, idle)) = row {
            samples.connections = samples.connections.max(connections);
            samples.lock_waiters = samples.lock_waiters.max(waiting);
            samples.idle_in_transaction = samples.idle_in_transaction.max(idle);
        }
        let available = mem_available_mib();
        samples.mem_lowest = samples.mem_lowest.min(available);
        if available < floor_mib && !low_memory.swap(true, Ordering::SeqCst) {
            eprintln!("only {available:.0} MiB of memory left: stopping the round");
        }
        tokio::time::sleep(SAMPLE).await;
    }
    samples
}

/// What the server's log (JSON lines) tells about its database pool and its launches.
#[derive(Default)]
struct LogSummary {
    /// sqlx warns when a connection took over 2 s to acquire: how often, and the longest.
    slow_acquires: usize,
    slow_acquire_max: f64,
    /// Acquisitions that gave up (after 5 s): each one is an error somewhere.
    pool_timeouts: usize,
    /// sqlx warns about statements over 1 s: the longest wait for the placement lock.
    placement_lock_max: f64,
    launch_failed: usize,
    checkins_refused: usize,
    agents_offline: usize,
}

impl LogSummary {
    fn read(path: &Path) -> LogSummary {
        let mut summary = LogSummary::default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let field = |name: &str| event[name].as_str().unwrap_or_default();
            let message = field("message");
            if message.starts_with("acquired connection, but time to acquire exceeded") {
                summary.slow_acquires += 1;
                // sqlx 0.8 spells the field "aquired_after_secs".
                let secs = event["aquired_after_secs"]
                    .as_f64()
                    .or_else(|| event["acquired_after_secs"].as_f64())
                    .unwrap_or(0.0);
                summary.slow_acquire_max = summary.slow_acquire_max.max(secs);
            }
            if message.starts_with("slow statement") && field("summary").contains("advisory") {
                let secs = event["elapsed_secs"].as_f64().unwrap_or(0.0);
                summary.placement_lock_max = summary.placement_lock_max.max(secs);
            }
            if field("error").contains("pool timed out") {
                summary.pool_timeouts += 1;
            }
            match message {
                "launch failed" => summary.launch_failed += 1,
                "could not record a check-in" => summary.checkins_refused += 1,
                m if m.contains("marked offline") => summary.agents_offline += 1,
                _ => {}
            }
        }
        summary
    }
}

/// The sessions the server lists (get_kasms): session_id and owner.
async fn list_sessions(api: &Api) -> Result<Vec<(Uuid, Uuid)>> {
    let mut last = String::new();
    for _ in 0..5 {
        let answer = api.call("get_kasms", json!({})).await;
        if answer.status == 200 {
            return Ok(answer.body["kasms"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kasm| {
                    let session_id = Uuid::parse_str(kasm["kasm_id"].as_str()?).ok()?;
                    let user_id = Uuid::parse_str(kasm["user_id"].as_str()?).ok()?;
                    Some((session_id, user_id))
                })
                .collect());
        }
        last = format!("{} {}", answer.status, answer.message());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Err(format!("get_kasms kept failing: {last}"))
}

/// destroy_kasm for each, a few at a time, each retried on a server error; how many went, and
/// the errors of those that did not.
async fn destroy_all(api: &Api, sessions: &[(Uuid, Uuid)]) -> (usize, Errors) {
    let gate = Arc::new(Semaphore::new(DESTROYERS));
    let mut tasks = Vec::new();
    for &(session_id, user_id) in sessions {
        let (api, gate) = (api.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut last = (0, String::new());
            for _ in 0..3 {
                let answer = api
                    .call(
                        "destroy_kasm",
                        json!({ "user_id": user_id.simple().to_string(), "kasm_id": session_id.simple().to_string() }),
                    )
                    .await;
                if answer.status == 200 {
                    return Ok(());
                }
                last = (answer.status, answer.message());
                if answer.status != 0 && answer.status < 500 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(last)
        }));
    }
    let (mut destroyed, mut errors) = (0, Errors::new());
    for task in tasks {
        match task.await {
            Ok(Ok(())) => destroyed += 1,
            Ok(Err(error)) => *errors.entry(error).or_default() += 1,
            Err(error) => *errors.entry((0, error.to_string())).or_default() += 1,
        }
    }
    (destroyed, errors)
}

/// Session containers on this Docker host: `docker ps -a --filter label=berth.session_id`, or only
/// those of one agent and deployment (`--filter label=berth.agent=<owner>`).
async fn count_containers(docker: &Docker, owner: Option<&str>) -> Result<usize> {
    Ok(list_containers(docker, owner).await?.len())
}

async fn list_containers(docker: &Docker, owner: Option<&str>) -> Result<Vec<String>> {
    let mut labels = vec!["berth.kasm_id".to_owned()];
    if let Some(owner) = owner {
        labels.push(format!("berth.agent={owner}"));
    }
    let found = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: HashMap::from([("label".to_owned(), labels)]),
            ..Default::default()
        }))
        .await
        .map_err(|e| format!("docker ps: {e}"))?;
    Ok(found.into_iter().filter_map(|c| c.id).collect())
}

/// The memory the round's containers use, as `docker stats` counts it (usage less inactive
/// page cache), MiB per container on average.
async fn container_mib(docker: &Docker, owner: &str) -> Option<f64> {
    let (mut total, mut counted) = (0.0, 0);
    for id in list_containers(docker, Some(owner)).await.ok()? {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let Some(Ok(stats)) = docker.stats(&id, Some(options)).next().await else {
            continue;
        };
        let usage = stats.memory_stats.usage.unwrap_or(0);
        let inactive = match stats.memory_stats.stats {
            Some(MemoryStatsStats::V1(v1)) => v1.total_inactive_file,
            Some(MemoryStatsStats::V2(v2)) => v2.inactive_file,
            None => 0,
        };
        if usage > 0 {
            total += usage.saturating_sub(inactive) as f64 / (1024.0 * 1024.0);
            counted += 1;
        }
    }
    (counted > 0).then(|| total / counted as f64)
}

/// Force-removes the containers of one agent and deployment; how many.
async fn remove_containers(docker: &Docker, owner: &str) -> usize {
    let mut removed = 0;
    for id in list_containers(docker, Some(owner))
        .await
        .unwrap_or_default()
    {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        if docker.remove_container(&id, Some(options)).await.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The Developer API with one key.
/// A spawned task that is aborted if it is dropped before being joined, so that a round that
/// ends early leaves nothing running behind it.
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T: Send + 'static> Task<T> {
    fn spawn(future: impl std::future::Future<Output = T> + Send + 'static) -> Task<T> {
        Task(tokio::spawn(future))
    }

    async fn join(mut self) -> Result<T> {
        (&mut self.0).await.map_err(|e| e.to_string())
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn print_report(args: &Args, image: &str, machine: &str, outcomes: &[(usize, Outcome)]) {
    println!(
        "\nburst: N users' request_kasm at once ({} = {image}), then get_kasm_status every {} ms until running; {machine}",
        args.image, args.poll_ms
    );
    println!("| users | request_kasm errors | launches failed | running | all running after | request → running p50 | p99 | max | request_kasm answer p50 / max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (users, outcome) in outcomes {
        match outcome {
            Outcome::Refused(reason) => {
                println!("| {users} | refused: {reason} | | | | | | | |")
            }
            Outcome::Failed(error) => println!("| {users} | failed: {error} | | | | | | | |"),
            Outcome::Done(r) => println!(
                "| {users} | {} | {} | {} of {users} | {} | {} | {} | {} | {} / {} |",
                by_status(&r.request_errors),
                r.launch_failures.values().sum::<usize>(),
                r.to_running.len(),
                r.all_running
                    .map(seconds)
                    .unwrap_or_else(|| "— (not all)".into()),
                stat(&r.to_running, 50.0, seconds),
                stat(&r.to_running, 99.0, seconds),
                stat(&r.to_running, 100.0, seconds),
                stat(&r.request_answer, 50.0, seconds),
                stat(&r.request_answer, 100.0, seconds),
            ),
        }
    }
    println!(
        "\nreads during the burst: get_kasm_status of one running session (one at a time, {} ms apart; latencies include failed reads), /readyz every 100 ms (a pool acquire and SELECT 1, 2 s at most); the server's connections as PostgreSQL sees them (its pool's, 16 at most, and any it opens outside the pool), sampled every 100 ms; pool waits as the server logged them (sqlx warns past 2 s, gives up at 5 s)",
        args.read_ms
    );
    println!("| users | get_kasm_status idle p50 / p99 | during burst p50 | p99 | max | read errors | /readyz p50 / p99 / max | /readyz errors | PG connections max | waiting on a lock max | pool waits > 2 s (longest) | pool timeouts |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (users, outcome) in outcomes {
        let Outcome::Done(r) = outcome else {
            continue;
        };
        println!(
            "| {users} | {} / {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} |",
            stat(&r.reads_idle, 50.0, millis),
            stat(&r.reads_idle, 99.0, millis),
            stat(&r.reads_burst, 50.0, millis),
            stat(&r.reads_burst, 99.0, millis),
            stat(&r.reads_burst, 100.0, millis),
            by_status(&r.read_errors),
            stat(&r.readyz, 50.0, millis),
            stat(&r.readyz, 99.0, millis),
            stat(&r.readyz, 100.0, millis),
            by_status(&r.readyz_errors),
            r.pg_connections,
            r.pg_lock_waiters,
            if r.log.slow_acquires > 0 {
                format!("{} ({:.1} s)", r.log.slow_acquires, r.log.slow_acquire_max)
            } else {
                "0".into()
            },
            r.log.pool_timeouts,
        );
    }
    for (users, outcome) in outcomes {
        let Outcome::Done(r) = outcome else {
            continue;
        };
        println!("\nN = {users}:");
        let lines = [
            ("request_kasm errors", messages(&r.request_errors)),
            (
                "launches that failed after request_kasm",
                r.launch_failures
                    .iter()
                    .map(|(message, n)| format!("{n} × {message}"))
                    .collect(),
            ),
            (
                "users' get_kasm_status polls that failed (they kept polling)",
                messages(&r.poll_errors),
            ),
            ("status reader errors", messages(&r.read_errors)),
            ("/readyz errors", messages(&r.readyz_errors)),
            ("destroy_kasm errors", messages(&r.destroy_errors)),
        ];
        for (label, list) in lines {
            if !list.is_empty() {
                println!("- {label}: {}", list.join("; "));
            }
        }
        if !r.unfinished.is_empty() {
            println!(
                "- accepted but not running at the deadline: {} ({})",
                r.unfinished.len(),
                r.unfinished.join("; ")
            );
        }
        if let Some(why) = &r.stopped_early {
            println!("- stopped early: {why}");
        }
        println!(
            "- server log: {} pool acquisitions over 2 s (longest {:.1} s), {} timed out; longest wait for the placement lock (pg_advisory_xact_lock) {:.1} s; {} \"launch failed\"; {} agent check-ins refused; {} agents marked offline",
            r.log.slow_acquires,
            r.log.slow_acquire_max,
            r.log.pool_timeouts,
            r.log.placement_lock_max,
            r.log.launch_failed,
            r.log.checkins_refused,
            r.log.agents_offline
        );
        println!(
            "- PostgreSQL: at most {} connections of the server, {} of them waiting on a lock, {} idle inside a transaction",
            r.pg_connections, r.pg_lock_waiters, r.pg_idle_in_transaction
        );
        println!(
            "- load average (1 min) just before the burst: {}",
            r.load_before
        );
        println!(
            "- memory: {:.0} MiB available before the burst, {:.0} MiB at the lowest{}",
            r.mem_before,
            r.mem_lowest,
            r.mib_per_session
                .map(|m| format!(
                    ", about {m:.0} MiB per session once all had started (the more of docker stats and the drop of MemAvailable)"
                ))
                .unwrap_or_default()
        );
        println!(
            "- clean-up: {} sessions destroyed with destroy_kasm (the status reader's included), {} existed although their request_kasm had failed{}, {} still listed afterwards; containers left: {} of this round, {} with label berth.kasm_id on the host{}",
            r.destroyed,
            r.orphans.len(),
            if r.orphans.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.orphans.join("; "))
            },
            r.sessions_left,
            r.containers_left,
            r.containers_left_all,
            if r.containers_left_all > r.containers_left {
                " (the others belong to other Berth deployments, e.g. a test run)"
            } else {
                ""
            }
        );
    }
}

/// "503 × 14, 0 × 1" (0: no answer), or 0.
fn by_status(errors: &Errors) -> String {
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    for ((status, _), n) in errors {
        *counts.entry(*status).or_default() += n;
    }
    if counts.is_empty() {
        return "0".into();
    }
    counts
        .iter()
        .map(|(status, n)| format!("{n} × {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn messages(errors: &Errors) -> Vec<String> {
    errors
        .iter()
        .map(|((status, message), n)| format!("{n} × {status} \"{message}\""))
        .collect()
}

fn stat(values: &[f64], p: f64, show: fn(f64) -> String) -> String {
    if values.is_empty() {
        return "—".into();
    }
    show(percentile(values, p))
}

fn millis(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn seconds(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// MemAvailable from /proc/meminfo, MiB.
fn mem_available_mib() -> f64 {
    meminfo("MemAvailable:")
}

fn meminfo(field: &str) -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// "2 vCPUs, 23.4 GiB, Docker 28.2.2 (overlay2)".
async fn machine(docker: &Docker) -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let (version, driver) = match docker.info().await {
        Ok(info) => (
            info.server_version.unwrap_or_default(),
            info.driver.unwrap_or_default(),
        ),
        Err(_) => Default::default(),
    };
    format!(
        "machine: {cpus} vCPUs, {:.1} GiB, Docker {version} ({driver})",
        meminfo("MemTotal:") / 1024.0
    )
}
