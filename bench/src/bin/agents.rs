//! bench/agents: what the control plane costs. N simulated agents (default 1,000) check in with
//! a real `berth serve` on 127.0.0.1 every 5 s, each with its credential (issued as Admin →
//! Servers does) and a report of its 10 running sessions (10,000 session rows, matching the
//! reports, so nothing changes). After a warm-up (every agent checked in twice), two phases of
//! `--duration` seconds each: check-ins alone, then check-ins with `get_kasm_status` calls at
//! `--status-rate` per second on random sessions. Each phase reports Berth's and PostgreSQL's
//! CPU (from /proc: the server process; the cluster's postmaster and its children), check-in
//! and get_kasm_status latency, and the rows PostgreSQL wrote (pg_stat_user_tables). See
//! bench/README.md.
//!
//! A scratch database is created and dropped; the server is stopped at the end, also on errors.
use bench::cpu::{self, Meter};
use bench::devapi::Api;
use bench::serve::TempDir;
use clap::Parser;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: bench::serve::ServerArgs,
    /// Simulated agents.
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Running sessions per agent (rows in the database, containers in its reports).
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    /// Seconds between one agent's check-ins.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Seconds each measured phase lasts.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// get_kasm_status calls per second in the second phase.
    #[arg(long, default_value_t = 1000)]
    status_rate: u64,
    /// Keep the server's log (its path is printed).
    #[arg(long)]
    keep_logs: bool,
}

/// get_kasm_status calls in flight at most; a call due while all are busy is skipped (and
/// reported), so a slow server cannot pile up an unbounded queue.
const STATUS_IN_FLIGHT: usize = 256;
/// Users owning the sessions.
const USERS: usize = 100;

type Result<T, E = String> = std::result::Result<T, E>;

/// One simulated agent: its credential and its check-in, serialized once (it never changes).
struct Agent {
    credential: String,
    body: Vec<u8>,
}

/// Latencies gathered while a phase runs.
#[derive(Default)]
struct Samples {
    check_ins: Mutex<Vec<Duration>>,
    check_in_failures: AtomicU64,
    statuses: Mutex<Vec<Duration>>,
    status_failures: AtomicU64,
    status_skipped: AtomicU64,
}

struct Phase {
    name: &'static str,
    seconds: f64,
    berth_cpu: f64,
    postgres_cpu: f64,
    check_ins: Vec<Duration>,
    check_in_failures: u64,
    statuses: Vec<Duration>,
    status_failures: u64,
    status_skipped: u64,
    rows_written: i64,
    servers_updated: i64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let admin = args.server.admin_pool("agents").await;
    let name = format!("berth_bench_agents_{}", std::process::id());
    let scratch = args.server.scratch_database(&admin, "agents", &name).await;
    let result = tokio::select! {
        result = run(&args, &scratch) => result,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    bench::serve::drop_scratch_database(&admin, "agents", &name).await;
    match result {
        Ok(phases) => print_report(&args, &phases),
        Err(error) => {
            eprintln!("bench/agents: {error}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args, database_url: &str) -> Result<Vec<Phase>> {
    let mut work = TempDir::new("berth-bench-agents")?;
    work.keep = args.keep_logs;
    let prefix = format!("bench-agents-{}:", std::process::id());
    let (mut berth, base) = bench::serve::start(
        &args.server.berth,
        database_url,
        &args.server.redis_url,
        &prefix,
        &work.path,
    )
    .await?;
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "setting up {} agents × {} sessions",
        args.agents, args.sessions
    );
    let (agents, sessions) = set_up(args, &db).await?;
    let api = status_key(&db, &base).await?;
    let postmaster = postmaster(&db).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;

    let samples = Arc::new(Mutex::new(Arc::new(Samples::default())));
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{base}/api/agent/checkin");
    for (index, agent) in agents.into_iter().enumerate() {
        let offset = Duration::from_secs(args.interval).mul_f64(index as f64 / args.agents as f64);
        tokio::spawn(check_in_loop(
            client.clone(),
            url.clone(),
            agent,
            offset,
            Duration::from_secs(args.interval),
            samples.clone(),
            stop.clone(),
        ));
    }
    eprintln!("warming up: every agent checks in twice");
    tokio::time::sleep(Duration::from_secs(args.interval * 2 + 1)).await;
    berth.check()?;
    let warm = std::mem::take(&mut *samples.lock().unwrap());
    let failures = warm.check_in_failures.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!("{failures} check-ins failed during the warm-up"));
    }

    let berth_pid = berth.pid();
    let mut phases = Vec::new();
    for (name, rate) in [
        ("check-ins", 0),
        ("check-ins + get_kasm_status", args.status_rate),
    ] {
        eprintln!("phase: {name} for {} s", args.duration);
        let phase_samples = Arc::new(Samples::default());
        *samples.lock().unwrap() = phase_samples.clone();
        let written_before = rows_written(&db).await?;
        let berth_meter = Meter::start(move || cpu::process_seconds(berth_pid));
        let postgres_meter = Meter::start(move || cpu::tree_seconds(postmaster));
        let deadline = Instant::now() + Duration::from_secs(args.duration);
        if rate > 0 {
            status_load(&api, &sessions, rate, deadline, &phase_samples).await;
        } else {
            tokio::time::sleep_until(deadline.into()).await;
        }
        let (berth_cpu, elapsed) = berth_meter.percent();
        let (postgres_cpu, _) = postgres_meter.percent();
        let written_after = rows_written(&db).await?;
        berth.check()?;
        phases.push(phase(
            name,
            elapsed,
            berth_cpu,
            postgres_cpu,
            &phase_samples,
            written_before,
            written_after,
        ));
    }
    stop.store(true, Ordering::Relaxed);
    Ok(phases)
}

fn phase(
    name: &'static str,
    elapsed: Duration,
    berth_cpu: f64,
    postgres_cpu: f64,
    samples: &Samples,
    before: (i64, i64),
    after: (i64, i64),
) -> Phase {
    let sorted = |list: &Mutex<Vec<Duration>>| {
        let mut list = list.lock().unwrap().clone();
        list.sort();
        list
    };
    Phase {
        name,
        seconds: elapsed.as_secs_f64(),
        berth_cpu,
        postgres_cpu,
        check_ins: sorted(&samples.check_ins),
        check_in_failures: samples.check_in_failures.load(Ordering::Relaxed),
        statuses: sorted(&samples.statuses),
        status_failures: samples.status_failures.load(Ordering::Relaxed),
        status_skipped: samples.status_skipped.load(Ordering::Relaxed),
        rows_written: after.0 - before.0,
        servers_updated: after.1 - before.1,
    }
}

/// Agents with credentials, the users, one image and the sessions' rows; answers the agents
/// and every (user, session).
async fn set_up(args: &Args, db: &PgPool) -> Result<(Vec<Agent>, Vec<(Uuid, Uuid)>)> {
    let deployment: String =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(db)
            .await
            .map_err(|e| format!("deployment id: {e}"))?;
    let image_id: Uuid = sqlx::query_scalar("SELECT image_id FROM images ORDER BY name LIMIT 1")
        .fetch_one(db)
        .await
        .map_err(|e| format!("no image registered: {e}"))?;
    let users: Vec<Uuid> = (0..USERS).map(|_| Uuid::new_v4()).collect();
    let names: Vec<String> = (0..USERS).map(|i| format!("bench-agents-{i:03}")).collect();
    sqlx::query(
        "INSERT INTO users (user_id, username) SELECT * FROM unnest($1::uuid[], $2::text[])",
    )
    .bind(&users)
    .bind(&names)
    .execute(db)
    .await
    .map_err(|e| format!("users: {e}"))?;
    let mut agents = Vec::new();
    let mut all_sessions = Vec::new();
    for index in 0..args.agents {
        let name = format!("bench-agent-{index:05}");
        let credential = app::backend::agent_credentials::issue_for_embedded(db, &name)
            .await
            .map_err(|e| format!("credential of {name}: {e}"))?;
        let server_id = app::backend::agent_credentials::parse(&credential)
            .ok_or("a credential names its server")?
            .0;
        let kasms: Vec<Uuid> = (0..args.sessions).map(|_| Uuid::new_v4()).collect();
        let owners: Vec<Uuid> = (0..args.sessions)
            .map(|s| users[(index * args.sessions + s) % USERS])
            .collect();
        let containers: Vec<String> = kasms.iter().map(|k| format!("c-{}", k.simple())).collect();
        let ports: Vec<i32> = (0..args.sessions as i32).map(|s| 20000 + s).collect();
        sqlx::query(
            "INSERT INTO sessions (session_id, user_id, image_id, server_id, session_secret, operational_status,
                                operational_progress, cores, memory, expiration_date, container_id, hostname, port)
             SELECT k, u, $3, $4, 'bench-secret', 'running', 100, 1, 1073741824, now() + interval '1 day', c, '127.0.0.1', p
             FROM unnest($1::uuid[], $2::uuid[], $5::text[], $6::int[]) AS t(k, u, c, p)",
        )
        .bind(&kasms)
        .bind(&owners)
        .bind(image_id)
        .bind(server_id)
        .bind(&containers)
        .bind(&ports)
        .execute(db)
        .await
        .map_err(|e| format!("sessions of {name}: {e}"))?;
        let reports: Vec<_> = (0..args.sessions)
            .map(|s| {
                json!({"session_id": kasms[s], "container_id": containers[s], "running": true,
                       "paused": false, "owner": format!("{name}@{deployment}"), "port": ports[s]})
            })
            .collect();
        let body = json!({
            "name": name, "hostname": name, "agent_url": format!("http://127.0.0.1:1/{name}"),
            "address": "127.0.0.1", "cores": 64.0, "memory": 256_i64 << 30, "gpus": 0,
            "disk_free": 100_i64 << 30, "sessions": reports, "images_present": [],
            "images_missing": [], "version": "bench", "interval_secs": args.interval,
            "instance_id": Uuid::new_v4(), "api_secret": format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
        });
        agents.push(Agent {
            credential,
            body: serde_json::to_vec(&body).map_err(|e| e.to_string())?,
        });
        all_sessions.extend(owners.into_iter().zip(kasms));
    }
    Ok((agents, all_sessions))
}

/// A key for get_kasm_status (verified once here, as an integration's first call would).
async fn status_key(db: &PgPool, base: &str) -> Result<Api> {
    let admin_id: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'admin'")
        .fetch_one(db)
        .await
        .map_err(|e| format!("admin: {e}"))?;
    let permissions = vec!["User".to_owned(), "Users Auth Session".to_owned()];
    let (key, secret) =
        app::backend::api_keys::create(db, "bench-agents", &permissions, false, None, admin_id)
            .await
            .map_err(|e| format!("API key: {e}"))?;
    Api::new(base, key, secret)
}

/// The cluster's postmaster: the parent of this bench's own backend.
async fn postmaster(db: &PgPool) -> Result<u32> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(db)
        .await
        .map_err(|e| format!("PostgreSQL's backend: {e}"))?;
    cpu::parent(backend as u32)
        .ok_or_else(|| "PostgreSQL runs elsewhere: its processes are not in /proc".into())
}

/// Rows inserted, updated or deleted in the database so far, and updates of `servers`.
async fn rows_written(db: &PgPool) -> Result<(i64, i64)> {
    // The statistics reach the views within a second of the writes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sqlx::query_as(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int8,
                coalesce(sum(n_tup_upd) FILTER (WHERE relname = 'servers'), 0)::int8
         FROM pg_stat_user_tables",
    )
    .fetch_one(db)
    .await
    .map_err(|e| format!("pg_stat_user_tables: {e}"))
}

async fn check_in_loop(
    client: reqwest::Client,
    url: String,
    agent: Agent,
    offset: Duration,
    interval: Duration,
    samples: Arc<Mutex<Arc<Samples>>>,
    stop: Arc<AtomicBool>,
) {
    tokio::time::sleep(offset).await;
    let mut ticks = tokio::time::interval(interval);
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let started = Instant::now();
        let answer = client
            .post(&url)
            .bearer_auth(&agent.credential)
            .header("content-type", "application/json")
            .body(agent.body.clone())
            .send()
            .await;
        let ok = match answer {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        };
        let elapsed = started.elapsed();
        let samples = samples.lock().unwrap().clone();
        if ok {
            samples.check_ins.lock().unwrap().push(elapsed);
        } else {
            samples.check_in_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// get_kasm_status on random sessions at `rate` per second until `deadline`.
async fn status_load(
    api: &Api,
    sessions: &[(Uuid, Uuid)],
    rate: u64,
    deadline: Instant,
    samples: &Arc<Samples>,
) {
    let slots = Arc::new(Semaphore::new(STATUS_IN_FLIGHT));
    let started = Instant::now();
    let mut sent = 0u64;
    while Instant::now() < deadline {
        let due = started + Duration::from_secs_f64(sent as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        sent += 1;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            samples.status_skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        // A pseudo-random session: a multiplicative hash of the call's number.
        let (user, kasm) =
            sessions[(sent.wrapping_mul(2_654_435_761) % sessions.len() as u64) as usize];
        let (api, samples) = (api.clone(), samples.clone());
        tokio::spawn(async move {
            let answer = api.status(user, kasm).await;
            if answer.status == 200 {
                samples.statuses.lock().unwrap().push(answer.elapsed);
            } else {
                samples.status_failures.fetch_add(1, Ordering::Relaxed);
            }
            drop(slot);
        });
    }
    // The calls still in flight finish (or time out) before the phase is measured.
    let _ = slots.acquire_many(STATUS_IN_FLIGHT as u32).await;
}

fn print_report(args: &Args, phases: &[Phase]) {
    println!(
        "bench/agents: {} agents × {} sessions, check-in every {} s, {} s per phase, get_kasm_status at {}/s in the second\n",
        args.agents, args.sessions, args.interval, args.duration, args.status_rate
    );
    println!("| phase | Berth CPU | PostgreSQL CPU | both | check-ins/s | check-in p50 | check-in p99 | failed | get_kasm_status/s | status p50 | status p99 | failed / skipped | rows written/s | servers updates/s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for phase in phases {
        let per_second = |n: f64| n / phase.seconds;
        println!(
            "| {} | {:.1} % | {:.1} % | {:.1} % | {:.0} | {:.1} ms | {:.1} ms | {} | {:.0} | {:.1} ms | {:.1} ms | {} / {} | {:.1} | {:.1} |",
            phase.name,
            phase.berth_cpu,
            phase.postgres_cpu,
            phase.berth_cpu + phase.postgres_cpu,
            per_second(phase.check_ins.len() as f64),
            cpu::quantile_ms(&phase.check_ins, 0.5),
            cpu::quantile_ms(&phase.check_ins, 0.99),
            phase.check_in_failures,
            per_second(phase.statuses.len() as f64),
            cpu::quantile_ms(&phase.statuses, 0.5),
            cpu::quantile_ms(&phase.statuses, 0.99),
            phase.status_failures,
            phase.status_skipped,
            per_second(phase.rows_written as f64),
            per_second(phase.servers_updated as f64),
        );
    }
}
