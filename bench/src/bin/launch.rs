//! bench/launch: time from a launch request to the first framebuffer through Berth (manager +
//! agent + Docker), beside a bare `docker run` of the same image to its first framebuffer,
//! interleaved in one run. See bench/README.md.
use berth::agent::{
    self,
    docker::{host_config, STREAM_PORT},
    AgentConfig,
};
use berth::protocol::CreateSession;
use berth::rfb;
use bollard::container::{Config, CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// A PostgreSQL URL whose user may create databases (a scratch one is made and dropped).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The workspace to launch (friendly name of a default image).
    #[arg(long, default_value = "Desktop")]
    image: String,
    /// Measured launches of each kind.
    #[arg(long, default_value_t = 10)]
    runs: usize,
}

const TOKEN: &str = "bench-agent-token";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (admin, name) = (
        args.database_url.clone(),
        format!("berth_bench_{}", std::process::id()),
    );
    let db = scratch_database(&admin, &name).await;
    let result = run(&args, db.clone()).await;
    db.close().await;
    let admin_pool = PgPoolOptions::new().connect(&admin).await.unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin_pool)
        .await;
    if let Err(error) = result {
        eprintln!("bench/launch: {error}");
        std::process::exit(1);
    }
}

async fn scratch_database(admin: &str, name: &str) -> PgPool {
    let pool = PgPoolOptions::new()
        .connect(admin)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create the scratch database");
    let mut url = url::Url::parse(admin).expect("DATABASE_URL");
    url.set_path(name);
    let db = PgPoolOptions::new().connect(url.as_str()).await.unwrap();
    berth::startup::MIGRATOR.run(&db).await.unwrap();
    db
}

async fn run(args: &Args, db: PgPool) -> Result<(), String> {
    berth::manager::images::register_defaults(&db)
        .await
        .map_err(|e| e.to_string())?;
    let user = app::backend::users::create(
        &db,
        app::backend::users::NewUser {
            username: "bench".into(),
            password: "bench-password".into(),
            role: "user".into(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query("UPDATE settings SET value = '100' WHERE name = 'max_kasms_per_user'")
        .execute(&db)
        .await
        .unwrap();
    let (image_id, image_name, cores, memory): (Uuid, String, f64, i64) =
        sqlx::query_as("SELECT image_id, name, cores, memory FROM images WHERE friendly_name = $1")
            .bind(&args.image)
            .fetch_one(&db)
            .await
            .map_err(|_| format!("no default image called {}", args.image))?;

    // The manager's check-in endpoint and an agent, as in `berth serve`.
    let manager = berth::startup::manager(db.clone(), TOKEN.into(), Duration::from_secs(1));
    let router = axum::Router::new()
        .route(
            "/api/agent/checkin",
            axum::routing::post(berth::manager::checkin::handle),
        )
        .with_state(manager.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    tokio::spawn(agent::run(AgentConfig {
        name: "bench-agent".into(),
        manager_url: format!("http://{addr}"),
        token: TOKEN.into(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_url: None,
        interval: Duration::from_secs(1),
        start_timeout: Duration::from_secs(90),
        instance_id: uuid::Uuid::new_v4(),
    }));
    wait_for_agent(&db, &image_name).await?;
    let docker = Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();

    eprintln!("warming up (one launch of each kind, not counted)…");
    berth_launch(&manager, &db, user, image_id).await?;
    bare_launch(&docker, &image_name, cores, memory).await?;

    let (mut berth_times, mut bare_times) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let berth = berth_launch(&manager, &db, user, image_id).await?;
        let bare = bare_launch(&docker, &image_name, cores, memory).await?;
        eprintln!(
            "run {run:>2}: berth {:>6.0} ms   bare {:>6.0} ms",
            ms(berth),
            ms(bare)
        );
        berth_times.push(berth);
        bare_times.push(bare);
    }
    println!(
        "\nlaunch request → first framebuffer, {} ({image_name}), {} runs each",
        args.image, args.runs
    );
    println!("| path | p50 | p95 | p99 | max | mean |\n|---|---|---|---|---|---|");
    for (label, times) in [
        ("Berth (manager + agent)", &berth_times),
        ("bare docker run", &bare_times),
    ] {
        println!(
            "| {label} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            ms(percentile(times, 50)),
            ms(percentile(times, 95)),
            ms(percentile(times, 99)),
            ms(percentile(times, 100)),
            ms(mean(times))
        );
    }
    println!(
        "\nBerth / bare: p50 {:.2}, p95 {:.2}",
        ms(percentile(&berth_times, 50)) / ms(percentile(&bare_times, 50)),
        ms(percentile(&berth_times, 95)) / ms(percentile(&bare_times, 95)),
    );
    Ok(())
}

async fn wait_for_agent(db: &PgPool, image: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready: Option<bool> = sqlx::query_scalar(
            "SELECT status = 'online' AND $1 = ANY(images_present) FROM servers",
        )
        .bind(image)
        .fetch_optional(db)
        .await
        .unwrap();
        if ready == Some(true) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the agent did not come online with {image} (build it: ./images/build.sh)"
    ))
}

/// Request → running (polled as a client would) → first framebuffer; then destroy.
async fn berth_launch(
    manager: &std::sync::Arc<berth::manager::Manager>,
    db: &PgPool,
    user: Uuid,
    image: Uuid,
) -> Result<Duration, String> {
    let started = Instant::now();
    let kasm_id = manager
        .request_session(user, image)
        .await
        .map_err(|e| e.to_string())?;
    let (port, secret) = loop {
        let (status, message, port, secret): (String, String, Option<i32>, String) =
            sqlx::query_as("SELECT operational_status, operational_message, port, session_secret FROM kasms WHERE kasm_id = $1")
                .bind(kasm_id)
                .fetch_one(db)
                .await
                .unwrap();
        match status.as_str() {
            "running" => break (port.unwrap() as u16, secret),
            "deleted" => return Err(format!("launch failed: {message}")),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    framebuffer(port, &secret).await?;
    let elapsed = started.elapsed();
    manager
        .destroy_session(kasm_id, "bench")
        .await
        .map_err(|e| e.to_string())?;
    Ok(elapsed)
}

/// `docker run` with the same limits → first framebuffer (retrying connects); then remove.
async fn bare_launch(
    docker: &Docker,
    image: &str,
    cores: f64,
    memory: i64,
) -> Result<Duration, String> {
    let secret = Uuid::new_v4().simple().to_string();
    let spec = CreateSession {
        kasm_id: Uuid::new_v4(),
        user_id: Uuid::nil(),
        image_id: Uuid::nil(),
        image: image.into(),
        cores,
        memory,
        network_mode: "bridge".into(),
        secret: secret.clone(),
        run_config: serde_json::json!({}),
        start_url: None,
    };
    let started = Instant::now();
    let config = Config {
        image: Some(image.to_owned()),
        env: Some(vec![format!("BERTH_SESSION_SECRET={secret}")]),
        exposed_ports: Some(HashMap::from([(STREAM_PORT.to_owned(), HashMap::new())])),
        host_config: Some(host_config(&spec)),
        ..Default::default()
    };
    let name = format!("berth-bench-{}", spec.kasm_id.simple());
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
    docker
        .start_container::<String>(&created.id, None)
        .await
        .map_err(|e| e.to_string())?;
    let port: u16 = docker
        .inspect_container(&created.id, None)
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
        .ok_or("no published port")?;
    let result = framebuffer(port, &secret).await.map(|()| started.elapsed());
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

async fn framebuffer(port: u16, secret: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rfb::first_framebuffer_at("127.0.0.1", port, secret, Duration::from_secs(10)).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() > deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((p as f64 / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len().max(1) as u32
}
