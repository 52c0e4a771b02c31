//! bench/launch: from a launch request to the first framebuffer in the browser's place, through
//! a real `berth serve` as an integration drives it: `request_kasm` (Developer API), polling
//! `get_kasm_status` until it answers with `kasm_url`, opening that link (the sign-in cookie),
//! then the WebSocket to `/desktop/<session_id>/websockify` through Berth's proxy (which does the
//! VNC authentication with the container) and the desktop's first framebuffer update. Beside
//! it, interleaved run by run so that all see the same machine:
//!
//! - **image**: `docker run` of the same image with the same limits (through the Docker API),
//!   then the first framebuffer from the published port (VNC authentication, connection retried
//!   every 10 ms): the container's own start, without Berth;
//! - **floor**: `docker run` of the same image with Xvnc alone as its entrypoint (no session,
//!   security None): what no launch can beat.
//!
//! One warm-up launch of each kind is not counted; each session is destroyed (`destroy_kasm`)
//! and each container removed before the next. The scratch database is created and dropped;
//! every child and container is removed at the end, also on errors. See bench/README.md.
use bench::devapi::{Api, PERMISSIONS};
use bench::serve::TempDir;
use bench::stats::{mean, ms, percentile};
use berth::agent::container_spec::host_config;
use berth::agent::runtime::STREAM_PORT;
use berth::protocol::CreateSession;
use berth::rfb;
use bollard::container::{Config, CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use clap::Parser;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;

use std::time::{Duration, Instant};
use uuid::Uuid;

type Result<T, E = String> = std::result::Result<T, E>;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: bench::serve::ServerArgs,
    /// The workspace to launch (friendly name of a default image).
    #[arg(long, default_value = "Desktop")]
    image: String,
    /// Measured launches of each kind.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Milliseconds between get_kasm_status polls.
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    /// Berth launches only, each taking a staged session: a pool of `--pool` ready ones is
    /// configured and filled before each launch (bench/src/staging.rs).
    #[arg(long)]
    staged: bool,
    #[arg(long, default_value_t = 2)]
    pool: i32,
    /// Keep the server's log (its path is printed): the agent's "session streaming" lines
    /// time each launch's container start and readiness.
    #[arg(long)]
    keep_logs: bool,
}

/// One launch (any kind) may take this long.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let name = format!("berth_bench_launch_{}", std::process::id());
    let admin = args.server.admin_pool("launch").await;
    let url = args.server.scratch_database(&admin, "launch", &name).await;
    let result = match bench::serve::migrated_pool(&url).await {
        Ok(db) => {
            let result = run(&args, &url, db.clone()).await;
            db.close().await;
            result
        }
        Err(error) => Err(error),
    };
    bench::serve::drop_scratch_database(&admin, "launch", &name).await;
    if let Err(error) = result {
        eprintln!("bench/launch: {error}");
        std::process::exit(1);
    }
}

/// The Berth side: a server, a user and a key, and where each launch's time went.
struct Berth {
    api: Api,
    base: String,
    user_id: Uuid,
    image_id: Uuid,
    phases: std::sync::Mutex<Vec<[Duration; PHASES.len()]>>,
}

/// A Berth launch's steps, each timed from the end of the one before.
const PHASES: [&str; 4] = [
    "request_kasm answered",
    "get_kasm_status gave kasm_url",
    "kasm_url signed in",
    "first framebuffer through the proxy",
];

async fn run(args: &Args, database_url: &str, db: PgPool) -> Result<()> {
    let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
    let mut work = TempDir::new("berth-bench-launch")?;
    work.keep = args.keep_logs;
    let (mut server, base) = bench::serve::start(
        &args.server.berth,
        database_url,
        &args.server.redis_url,
        &format!("bench-launch-{}", std::process::id()),
        &work.path,
    )
    .await?;
    let (image_id, image, cores, memory): (Uuid, String, f64, i64) =
        sqlx::query_as("SELECT image_id, name, cores, memory FROM images WHERE friendly_name = $1")
            .bind(&args.image)
            .fetch_one(&db)
            .await
            .map_err(|_| format!("no default image called {}", args.image))?;
    wait_for_agent(&db, &image, &mut server).await?;
    let berth = Berth {
        api: api_key(&db, &base).await?,
        base,
        user_id: Uuid::new_v4(),
        image_id,
        phases: Default::default(),
    };
    sqlx::query("INSERT INTO users (user_id, username) VALUES ($1, 'bench-launch')")
        .bind(berth.user_id)
        .execute(&db)
        .await
        .map_err(|e| format!("user: {e}"))?;
    let spec = CreateSession {
        session_id: Uuid::nil(),
        user_id: Uuid::nil(),
        image_id: Uuid::nil(),
        image: image.clone(),
        cores,
        memory,
        network_mode: "bridge".into(),
        secret: String::new(),
        run_config: json!({}),
        start_url: None,
        storage: Default::default(),
        staged: false,
    };

    println!(
        "\nlaunch request → first framebuffer, {} ({image}), {} runs each (after one warm-up)",
        args.image, args.runs
    );
    if args.staged {
        bench::staging::configure(&db, image_id, args.pool).await?;
    }
    let mut times: [Vec<Duration>; 3] = Default::default();
    for run in 0..=args.runs {
        // Rotate the order so that no kind always follows another (staged: Berth only).
        let kinds = if args.staged { 1 } else { 3 };
        for kind in (0..kinds).map(|k| (k + run) % kinds) {
            if args.staged {
                bench::staging::wait_full(&db, Duration::from_secs(120)).await?;
            }
            let took = match kind {
                0 => berth_launch(&berth, args.poll_ms).await,
                1 => docker_launch(&docker, &spec, Stand::Image).await,
                _ => docker_launch(&docker, &spec, Stand::Floor).await,
            }
            .map_err(|e| format!("{} launch {run}: {e}", KINDS[kind]))?;
            if run > 0 {
                times[kind].push(took);
            }
        }
        server.check()?;
    }
    if args.staged {
        let (handed, of) = bench::staging::handed_over(&db, berth.user_id).await?;
        println!("(staged: {handed} of {of} launches took a staged session)");
    }
    report(&times);
    report_phases(&berth.phases.lock().unwrap()[1..]);
    Ok(())
}

const KINDS: [&str; 3] = [
    "Berth (Developer API + proxy)",
    "image (docker run)",
    "floor (docker run, Xvnc alone)",
];

fn report(times: &[Vec<Duration>; 3]) {
    println!("| path | p50 | p95 | p99 | max | mean |");
    println!("|---|---|---|---|---|---|");
    for (kind, runs) in KINDS.iter().zip(times).filter(|(_, runs)| !runs.is_empty()) {
        println!(
            "| {kind} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            ms(percentile(runs, 50)),
            ms(percentile(runs, 95)),
            ms(percentile(runs, 99)),
            ms(percentile(runs, 100)),
            ms(mean(runs)),
        );
    }
    let [berth, image, floor] = times;
    if image.is_empty() || floor.is_empty() {
        return; // --staged: Berth only
    }
    let p50 = ms(percentile(berth, 50));
    let p99 = ms(percentile(berth, 99));
    let max = ms(percentile(berth, 100));
    println!(
        "\nBerth: p99 / p50 {:.2} (target ≤ 1.5), max {max:.0} ms (target ≤ 1500), p50 / floor p50 {:.2} (target ≤ 1.3), p50 / image p50 {:.2}",
        p99 / p50,
        p50 / ms(percentile(floor, 50)),
        p50 / ms(percentile(image, 50)),
    );
}

/// The median of each step of the measured Berth launches.
fn report_phases(phases: &[[Duration; PHASES.len()]]) {
    println!("\nBerth launches, median time of each step:");
    println!("| step | p50 | max |");
    println!("|---|---|---|");
    for (index, name) in PHASES.iter().enumerate() {
        let times: Vec<Duration> = phases.iter().map(|phase| phase[index]).collect();
        println!(
            "| {name} | {:.0} ms | {:.0} ms |",
            ms(percentile(&times, 50)),
            ms(percentile(&times, 100))
        );
    }
}

async fn wait_for_agent(db: &PgPool, image: &str, server: &mut bench::guard::Guard) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready: Option<bool> = sqlx::query_scalar(
            "SELECT bool_or(status = 'online' AND $1 = ANY(images_present)) FROM servers",
        )
        .bind(image)
        .fetch_one(db)
        .await
        .map_err(|e| e.to_string())?;
        if ready == Some(true) {
            return Ok(());
        }
        server.check()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the server's agent did not come online with {image} (build the images first)"
    ))
}

async fn api_key(db: &PgPool, base: &str) -> Result<Api> {
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'admin'")
        .fetch_one(db)
        .await
        .map_err(|e| format!("admin: {e}"))?;
    let permissions: Vec<String> = PERMISSIONS.iter().map(|p| p.to_string()).collect();
    let (key, secret) =
        app::backend::api_keys::create(db, "bench-launch", &permissions, false, None, admin)
            .await
            .map_err(|e| format!("API key: {e}"))?;
    let api = Api::new(base, key, secret)?;
    // The first call verifies the key (Argon2); later ones hit the server's cache.
    api.call("get_images", json!({})).await;
    Ok(api)
}

/// request_kasm → get_kasm_status until kasm_url → the link's cookie → the proxied stream's
/// first framebuffer; then destroy_kasm.
async fn berth_launch(berth: &Berth, poll_ms: u64) -> Result<Duration> {
    let started = Instant::now();
    let user = berth.user_id.simple().to_string();
    let requested = berth
        .api
        .call(
            "request_kasm",
            json!({ "user_id": user, "image_id": berth.image_id.simple().to_string() }),
        )
        .await;
    let session_id = requested
        .session_id()
        .ok_or_else(|| format!("request_kasm: {} {}", requested.status, requested.message()))?;
    let mut marks = vec![started.elapsed()];
    let launched = async {
        let link = loop {
            let status = berth.api.status(berth.user_id, session_id).await;
            if let Some(link) = status.body["kasm_url"].as_str() {
                break link.to_owned();
            }
            if status.status != 200 || started.elapsed() > LAUNCH_TIMEOUT {
                return Err(format!(
                    "get_kasm_status: {} {}",
                    status.status,
                    status.message()
                ));
            }
            tokio::time::sleep(Duration::from_millis(poll_ms)).await;
        };
        marks.push(started.elapsed());
        let cookie = sign_in(&berth.base, &link).await?;
        marks.push(started.elapsed());
        let url = format!(
            "{}/desktop/{session_id}/websockify",
            berth.base.replacen("http", "ws", 1)
        );
        let headers = [("cookie", cookie), ("origin", berth.base.clone())];
        rfb::first_framebuffer(&url, &headers, LAUNCH_TIMEOUT)
            .await
            .map_err(|error| error.to_string())?;
        marks.push(started.elapsed());
        Ok(started.elapsed())
    }
    .await;
    if let Ok(marks) = <[Duration; PHASES.len()]>::try_from(marks) {
        let mut steps = marks;
        for index in (1..steps.len()).rev() {
            steps[index] -= marks[index - 1];
        }
        berth.phases.lock().unwrap().push(steps);
    }
    let destroyed = berth
        .api
        .call(
            "destroy_kasm",
            json!({ "user_id": user, "kasm_id": session_id.simple().to_string() }),
        )
        .await;
    if destroyed.status != 200 {
        return Err(format!("destroy_kasm: {}", destroyed.message()));
    }
    launched
}

/// Opens the kasm_url as a browser would (its first answer sets the sign-in cookie).
async fn sign_in(base: &str, link: &str) -> Result<String> {
    let url = if link.starts_with('/') {
        format!("{base}{link}")
    } else {
        link.to_owned()
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    if cookie.is_empty() {
        return Err(format!(
            "the link answered {} without a cookie",
            response.status()
        ));
    }
    Ok(cookie)
}

#[derive(Clone, Copy)]
enum Stand {
    /// The image's own entrypoint, with a secret.
    Image,
    /// Xvnc alone, security None.
    Floor,
}

/// `docker run` with the image's limits → the first framebuffer (retrying connects); then
/// remove.
async fn docker_launch(docker: &Docker, spec: &CreateSession, stand: Stand) -> Result<Duration> {
    let secret = Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let (entrypoint, cmd) = match stand {
        Stand::Image => (None, None),
        Stand::Floor => (
            Some(vec!["Xvnc".to_owned()]),
            Some(
                ":1 -geometry 1280x720 -depth 24 -dpi 96 -rfbport 5901 -SecurityTypes None -nolisten tcp -extension GLX"
                    .split(' ')
                    .map(str::to_owned)
                    .collect(),
            ),
        ),
    };
    let config = Config {
        image: Some(spec.image.clone()),
        env: Some(vec![format!("BERTH_SESSION_SECRET={secret}")]),
        entrypoint,
        cmd,
        exposed_ports: Some(HashMap::from([(STREAM_PORT.to_owned(), HashMap::new())])),
        host_config: Some(host_config(spec)),
        ..Default::default()
    };
    let name = format!("berth-bench-{}", Uuid::new_v4().simple());
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: name.as_str(),
                platform: None,
            }),
            config,
        )
        .await
        .map_err(|e| e.to_string())?;
    let result = async {
        docker
            .start_container::<String>(&created.id, None)
            .await
            .map_err(|e| e.to_string())?;
        let port = published_port(docker, &created.id).await?;
        let password = match stand {
            Stand::Image => Some(secret.as_str()),
            Stand::Floor => None,
        };
        framebuffer(port, password).await?;
        Ok(started.elapsed())
    }
    .await;
    let _ = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    result
}

async fn published_port(docker: &Docker, id: &str) -> Result<u16> {
    docker
        .inspect_container(id, None)
        .await
        .ok()
        .and_then(|c| {
            c.network_settings?
                .ports?
                .get(STREAM_PORT)?
                .clone()?
                .first()?
                .host_port
                .clone()
        })
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| "no published port".to_owned())
}

async fn framebuffer(port: u16, password: Option<&str>) -> Result<()> {
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        let attempt =
            rfb::first_framebuffer_at("127.0.0.1", port, password, Duration::from_secs(10)).await;
        match attempt {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() > deadline => return Err(error.to_string()),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
