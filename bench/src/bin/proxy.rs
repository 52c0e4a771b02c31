//! bench/proxy: WebSocket throughput and per-message latency through Berth's session proxy,
//! beside a direct connection and nginx to the same echo server, interleaved in one run; then
//! the Berth process's memory and open descriptors before and after 100 concurrent streams.
//! See bench/README.md.
//!
//! Berth is the real release binary (`target/release/berth serve`) on a scratch database;
//! the "session" is a row pointing at an in-process WebSocket echo server. nginx is Debian's,
//! with a generated configuration. Every child is stopped at the end, also on errors and
//! Ctrl-C, and the scratch database is dropped.
use bench::guard::Guard;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use sqlx::postgres::PgPoolOptions;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Bytes, Message};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// A PostgreSQL URL whose user may create databases (a scratch one is made and dropped).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Redis for the Berth server.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:56379")]
    redis_url: String,
    /// The Berth server binary (a release build).
    #[arg(long, default_value = "target/release/berth")]
    berth: PathBuf,
    /// The nginx binary.
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// Measured runs of each path (the median is reported); one warm-up run is not counted.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// 64 KiB messages per throughput run.
    #[arg(long, default_value_t = 4000)]
    messages: usize,
    /// Messages in flight at most during a throughput run.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// 64-byte round trips per latency run.
    #[arg(long, default_value_t = 2000)]
    round_trips: usize,
    /// Concurrent streams in the soak.
    #[arg(long, default_value_t = 100)]
    streams: usize,
    /// Seconds of each soak.
    #[arg(long, default_value_t = 20)]
    soak_secs: u64,
    /// Measured soaks, back to back (after one warm-up soak of 5 s).
    #[arg(long, default_value_t = 2)]
    soak_rounds: usize,
    /// Keep Berth running this many seconds after the soak, to inspect it (gdb, /proc).
    #[arg(long, default_value_t = 0)]
    linger: u64,
}

const BIG: usize = 64 * 1024;
const SMALL: usize = 64;
/// Per message in the soak: about what a busy desktop's framebuffer updates look like.
const SOAK_MESSAGE: usize = 16 * 1024;
const SOAK_PAUSE: Duration = Duration::from_millis(20);
/// No single step may hang the bench.
const STEP: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Result<T, E = String> = std::result::Result<T, E>;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if !args.berth.is_file() {
        eprintln!(
            "bench/proxy: {} is missing; build it first: cargo build --release -p server --bin berth",
            args.berth.display()
        );
        std::process::exit(1);
    }
    if Command::new(&args.nginx)
        .arg("-v")
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "bench/proxy: nginx ({}) not found; install it: apt-get install -y nginx-light",
            args.nginx
        );
        std::process::exit(1);
    }
    let name = format!("berth_bench_proxy_{}", std::process::id());
    let admin = match PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database_url)
        .await
    {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("bench/proxy: cannot connect to DATABASE_URL: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
    {
        eprintln!("bench/proxy: cannot create the scratch database: {error}");
        std::process::exit(1);
    }
    let mut scratch = url::Url::parse(&args.database_url).expect("DATABASE_URL is a URL");
    scratch.set_path(&name);

    // The run is its own task: a panic in it still drops (and so stops) the children, and
    // Ctrl-C drops it the same way. Either way the scratch database goes afterwards.
    let args = Arc::new(args);
    let mut run = tokio::spawn(run(args.clone(), scratch.to_string()));
    let result = tokio::select! {
        joined = &mut run => joined.unwrap_or_else(|error| Err(format!("the run failed: {error}"))),
        _ = tokio::signal::ctrl_c() => {
            run.abort();
            // Resolves once the run is dropped, and with it its children stopped.
            let _ = run.await;
            Err("interrupted".into())
        }
    };
    if let Err(error) = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
    {
        eprintln!("bench/proxy: could not drop the scratch database {name}: {error}");
    }
    if let Err(error) = result {
        eprintln!("bench/proxy: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Arc<Args>, database_url: String) -> Result<()> {
    let work = TempDir::new("berth-bench-proxy")?;
    let echo = echo_server().await?;

    // Berth: the real server on the scratch database, signed in as admin.
    let berth_port = free_port()?;
    let password = Uuid::new_v4().simple().to_string();
    let log = std::fs::File::create(work.0.join("berth.log")).map_err(|e| e.to_string())?;
    let mut berth = Guard::spawn(
        "berth",
        Command::new(&args.berth)
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("REDIS_URL", &args.redis_url)
            .env("BERTH_ADDR", format!("127.0.0.1:{berth_port}"))
            .env("BERTH_ADMIN_PASSWORD", &password)
            .env("BERTH_NO_LOCAL_AGENT", "1")
            .env("BERTH_CONFIG", "/nonexistent")
            .env(
                "BERTH_REDIS_PREFIX",
                format!("bench-proxy-{}", std::process::id()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log),
        work.0.join("berth.log"),
    )?;
    let pid = berth.pid();
    let ports = Ports {
        berth: berth_port,
        echo: echo.port(),
        postgres: url_port(&args.database_url, 5432),
        redis: url_port(&args.redis_url, 6379),
    };
    let base = format!("http://127.0.0.1:{berth_port}");
    berth
        .wait_http(&format!("{base}/api/__healthcheck"))
        .await?;
    let rss_idle = Sample::take(pid, ports);
    let cookie = sign_in(&base, &password).await?;
    let kasm_id = session_row(&database_url, echo.port()).await?;

    // nginx in front of the same echo server.
    let (nginx_port, tuned_port) = (free_port()?, free_port()?);
    let mut nginx = start_nginx(&args.nginx, &work.0, nginx_port, tuned_port, echo)?;
    nginx.wait_tcp(nginx_port).await?;
    nginx.wait_tcp(tuned_port).await?;

    let version = nginx_version(&args.nginx);
    // The master forks its workers after it listens: wait for them.
    let mut nginx_pids = process_tree(nginx.pid());
    for _ in 0..100 {
        if nginx_pids.len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        nginx_pids = process_tree(nginx.pid());
    }
    let berth_url = format!("ws://127.0.0.1:{berth_port}/desktop/{kasm_id}/websockify");
    let berth_headers = vec![("cookie", cookie), ("origin", base.clone())];
    let paths = [
        Path_ {
            label: "direct (no proxy)".into(),
            url: format!("ws://{echo}/websockify"),
            headers: vec![],
            pids: vec![],
        },
        Path_ {
            label: format!("nginx {version}"),
            url: format!("ws://127.0.0.1:{nginx_port}/websockify"),
            headers: vec![],
            pids: nginx_pids.clone(),
        },
        Path_ {
            label: format!("nginx {version} + proxy_buffer_size 64k"),
            url: format!("ws://127.0.0.1:{tuned_port}/websockify"),
            headers: vec![],
            pids: nginx_pids,
        },
        Path_ {
            label: "Berth proxy".into(),
            url: berth_url.clone(),
            headers: berth_headers.clone(),
            pids: vec![pid],
        },
    ];
    // Does every path echo at all? (Clear errors before timing anything.)
    for path in &paths {
        let mut socket = path.connect().await?;
        latency(&mut socket, 1)
            .await
            .map_err(|e| format!("{}: {e}", path.label))?;
    }

    eprintln!(
        "throughput: {} × 64 KiB, ≤{} in flight; latency: {} round trips of 64 B; {} runs + 1 warm-up, interleaved",
        args.messages, args.window, args.round_trips, args.runs
    );
    let mut results: Vec<Runs> = paths.iter().map(|_| Runs::default()).collect();
    for run in 0..=args.runs {
        // Rotate the order so that no path always runs first (or right after another).
        for k in 0..paths.len() {
            let i = (k + run) % paths.len();
            let path = &paths[i];
            let mut socket = path.connect().await?;
            let cpu = cpu_ns(&path.pids);
            let mbps = throughput(&mut socket, args.messages, args.window)
                .await
                .map_err(|e| format!("{}: {e}", path.label))?;
            // The proxy's CPU seconds per GB of payload (every GB crosses it both ways).
            let cpu_per_gb =
                cpu_ns(&path.pids).saturating_sub(cpu) as f64 / ((args.messages * BIG) as f64);
            let _ = socket.close(None).await;
            let mut socket = path.connect().await?;
            let times = latency(&mut socket, args.round_trips)
                .await
                .map_err(|e| format!("{}: {e}", path.label))?;
            let _ = socket.close(None).await;
            let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
            eprintln!(
                "{} {:<40} {mbps:>6.0} MB/s {cpu_per_gb:>5.2} CPU s/GB   p50 {p50:>5.0} µs   p99 {p99:>5.0} µs",
                if run == 0 {
                    "warm-up".to_owned()
                } else {
                    format!("run {run:>3}")
                },
                path.label
            );
            if run > 0 {
                results[i].mbps.push(mbps);
                results[i].cpu.push(cpu_per_gb);
                results[i].p50.push(p50);
                results[i].p99.push(p99);
            }
        }
    }
    let rss_after_runs = Sample::take(pid, ports);

    println!(
        "\nWebSocket echo through each path, binary messages, loopback; median of {} runs",
        args.runs
    );
    println!(
        "| path | throughput, 64 KiB messages (≤{} in flight) | proxy CPU per GB echoed | latency p50, 64 B | latency p99, 64 B |",
        args.window
    );
    println!("|---|---|---|---|---|");
    let mut medians = Vec::new();
    for (path, runs) in paths.iter().zip(&results) {
        let m = (
            median(&runs.mbps),
            median(&runs.cpu),
            median(&runs.p50),
            median(&runs.p99),
        );
        let cpu = if path.pids.is_empty() {
            "—".to_owned()
        } else {
            format!("{:.2} s", m.1)
        };
        println!(
            "| {} | {:.0} MB/s | {cpu} | {:.0} µs | {:.0} µs |",
            path.label, m.0, m.2, m.3
        );
        medians.push(m);
    }
    let berth_m = medians[3];
    for (i, label) in [(1, "nginx"), (2, "nginx with 64k buffers")] {
        let nginx_m = medians[i];
        println!(
            "{}Berth / {label}: throughput {:.2}×, CPU per GB {:.2}×, latency p50 {:.2}×, p99 {:.2}×",
            if i == 1 { "\n" } else { "" },
            berth_m.0 / nginx_m.0,
            berth_m.1 / nginx_m.1,
            berth_m.2 / nginx_m.2,
            berth_m.3 / nginx_m.3
        );
    }
    drop(nginx);

    // Soak: a short warm-up with the same concurrency (pool connections, allocator arenas,
    // runtime buffers reach their working size), then the measured soak.
    eprintln!("soak: warm-up, {} streams for 5 s…", args.streams);
    soak(
        &berth_url,
        &berth_headers,
        args.streams,
        Duration::from_secs(5),
        pid,
        ports,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = Sample::take(pid, ports);
    // Measured soaks, back to back: growth that repeats from one to the next is a leak;
    // a one-off step is the allocator keeping its high-water mark.
    let mut rows = vec![
        ("started, idle".to_owned(), rss_idle),
        (
            "after the throughput and latency runs".to_owned(),
            rss_after_runs,
        ),
        (
            "before the soak (after a 5 s warm-up with the same streams)".to_owned(),
            before,
        ),
    ];
    let (mut echoes, mut failed) = (0, 0);
    let mut after = before;
    for round in 1..=args.soak_rounds {
        eprintln!(
            "soak {round}/{}: {} streams for {} s…",
            args.soak_rounds, args.streams, args.soak_secs
        );
        let outcome = soak(
            &berth_url,
            &berth_headers,
            args.streams,
            Duration::from_secs(args.soak_secs),
            pid,
            ports,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        after = Sample::take(pid, ports);
        echoes += outcome.echoes;
        failed += outcome.failed;
        rows.push((format!("peak during soak {round}"), outcome.peak));
        rows.push((format!("3 s after soak {round}'s streams closed"), after));
    }

    println!(
        "\nBerth process (`berth serve`, pid {pid}): {} × {} concurrent streams for {} s through the proxy, {} KiB messages every {} ms per stream ({echoes} echoes, {:.0} MB each way, {failed} failed streams)",
        args.soak_rounds,
        args.streams,
        args.soak_secs,
        SOAK_MESSAGE / 1024,
        SOAK_PAUSE.as_millis(),
        (echoes * SOAK_MESSAGE as u64) as f64 / 1e6,
    );
    println!(
        "| moment | RSS | open fds | client sockets | upstream sockets | PostgreSQL | Redis |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, sample) in &rows {
        println!("{}", sample.row(label));
    }
    println!(
        "\nafter the last soak − before the first: RSS {:+.1} MiB, fds {:+}",
        (after.rss_kib as f64 - before.rss_kib as f64) / 1024.0,
        after.fds as i64 - before.fds as i64
    );
    if args.linger > 0 {
        eprintln!(
            "Berth (pid {pid}, log {}) stays up for {} s",
            work.0.join("berth.log").display(),
            args.linger
        );
        tokio::time::sleep(Duration::from_secs(args.linger)).await;
    }
    if failed > 0 {
        return Err(format!("{failed} soak streams failed"));
    }
    drop(berth);
    Ok(())
}

/// One of the three ways to the echo server.
struct Path_ {
    label: String,
    url: String,
    headers: Vec<(&'static str, String)>,
    /// The proxy's processes, whose CPU time is counted (none for the direct path).
    pids: Vec<u32>,
}

impl Path_ {
    async fn connect(&self) -> Result<Socket> {
        connect(&self.url, &self.headers)
            .await
            .map_err(|e| format!("{}: {e}", self.label))
    }
}

#[derive(Default)]
struct Runs {
    mbps: Vec<f64>,
    cpu: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
}

async fn connect(url: &str, headers: &[(&'static str, String)]) -> Result<Socket> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().map_err(|_| "bad header")?);
    }
    // Nagle off on the client, as browsers do.
    let (socket, _) = timeout(
        STEP,
        tokio_tungstenite::connect_async_with_config(request, None, true),
    )
    .await
    .map_err(|_| format!("no WebSocket handshake from {url} within {STEP:?}"))?
    .map_err(|e| format!("WebSocket to {url}: {e}"))?;
    Ok(socket)
}

/// An echo server for binary WebSocket messages (it ignores the Authorization Berth adds).
async fn echo_server() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    match message {
                        Message::Binary(_) if socket.send(message).await.is_err() => break,
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// MB/s (10^6 bytes, one direction's payload) of 64 KiB messages sent over one connection
/// with at most `window` unanswered, until all `messages` are echoed.
async fn throughput(socket: &mut Socket, messages: usize, window: usize) -> Result<f64> {
    let payload = Bytes::from(vec![0x5a; BIG]);
    let (mut tx, mut rx) = socket.split();
    let credit = Arc::new(Semaphore::new(window));
    let started = Instant::now();
    let send = {
        let credit = credit.clone();
        async move {
            for _ in 0..messages {
                credit.acquire().await.map_err(|e| e.to_string())?.forget();
                tx.send(Message::Binary(payload.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }
    };
    let receive = async {
        for received in 0..messages {
            match timeout(STEP, rx.next()).await {
                Ok(Some(Ok(Message::Binary(bytes)))) if bytes.len() == BIG => credit.add_permits(1),
                Ok(Some(Ok(other))) => return Err(format!("unexpected message {:?}", other.len())),
                Ok(Some(Err(error))) => return Err(error.to_string()),
                Ok(None) => return Err(format!("closed after {received} echoes")),
                Err(_) => return Err(format!("no echo within {STEP:?}")),
            }
        }
        Ok(())
    };
    tokio::try_join!(send, receive)?;
    Ok((messages * BIG) as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Round-trip times (µs) of 64-byte messages, one at a time.
async fn latency(socket: &mut Socket, rounds: usize) -> Result<Vec<f64>> {
    let payload = Bytes::from(vec![0xa5; SMALL]);
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        socket
            .send(Message::Binary(payload.clone()))
            .await
            .map_err(|e| e.to_string())?;
        match timeout(STEP, socket.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) if bytes.len() == SMALL => {}
            Ok(other) => return Err(format!("unexpected answer {other:?}")),
            Err(_) => return Err(format!("no echo within {STEP:?}")),
        }
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(times)
}

struct SoakOutcome {
    echoes: u64,
    failed: usize,
    peak: Sample,
}

/// `streams` concurrent connections through Berth, each echoing a 16 KiB message every
/// 20 ms until `length` is over; samples the process every second meanwhile.
async fn soak(
    url: &str,
    headers: &[(&'static str, String)],
    streams: usize,
    length: Duration,
    pid: u32,
    ports: Ports,
) -> Result<SoakOutcome> {
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (url, headers) = (url.to_owned(), headers.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut socket = connect(&url, &headers).await?;
            let payload = Bytes::from(vec![0x33; SOAK_MESSAGE]);
            let mut echoes = 0u64;
            // Bounded: at most one message per pause for the soak's length.
            let most = length.as_millis() / SOAK_PAUSE.as_millis() + 1;
            for _ in 0..most {
                if Instant::now() >= until {
                    break;
                }
                socket
                    .send(Message::Binary(payload.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                match timeout(STEP, socket.next()).await {
                    Ok(Some(Ok(Message::Binary(b)))) if b.len() == SOAK_MESSAGE => echoes += 1,
                    other => return Err(format!("soak stream: unexpected {other:?}")),
                }
                tokio::time::sleep(SOAK_PAUSE).await;
            }
            let _ = timeout(STEP, socket.close(None)).await;
            // Drain to the server's close so the connection ends cleanly on both sides.
            let _ = timeout(Duration::from_secs(5), async {
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
            Ok::<u64, String>(echoes)
        }));
    }
    let mut peak = Sample::take(pid, ports);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak = peak.max(Sample::take(pid, ports));
    }
    let (mut echoes, mut failed) = (0, 0);
    for task in tasks {
        match task.await {
            Ok(Ok(count)) => echoes += count,
            Ok(Err(error)) => {
                failed += 1;
                eprintln!("soak stream failed: {error}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("soak stream failed: {error}");
            }
        }
    }
    Ok(SoakOutcome {
        echoes,
        failed,
        peak,
    })
}

/// The ports that tell the Berth process's TCP sockets apart.
#[derive(Clone, Copy)]
struct Ports {
    berth: u16,
    echo: u16,
    postgres: u16,
    redis: u16,
}

/// The Berth process at one moment: resident memory and open descriptors, with its TCP
/// sockets sorted by what they connect.
#[derive(Clone, Copy, Default)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    clients: usize,
    upstream: usize,
    postgres: usize,
    redis: usize,
}

impl Sample {
    fn take(pid: u32, ports: Ports) -> Sample {
        let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        // inode → (local port, remote port) of every TCP socket in the process's namespace.
        let mut sockets = HashMap::new();
        for table in ["tcp", "tcp6"] {
            let text =
                std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let port = |field: &str| {
                    field
                        .rsplit(':')
                        .next()
                        .and_then(|p| u16::from_str_radix(p, 16).ok())
                        .unwrap_or(0)
                };
                if let (Some(local), Some(remote), Some(inode)) =
                    (fields.get(1), fields.get(2), fields.get(9))
                {
                    sockets.insert(inode.to_string(), (port(local), port(remote)));
                }
            }
        }
        let mut sample = Sample {
            rss_kib,
            ..Sample::default()
        };
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            sample.fds += 1;
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            else {
                continue;
            };
            match sockets.get(inode) {
                Some(&(local, remote)) if local == ports.berth && remote != 0 => {
                    sample.clients += 1
                }
                Some(&(_, remote)) if remote == ports.echo => sample.upstream += 1,
                Some(&(_, remote)) if remote == ports.postgres => sample.postgres += 1,
                Some(&(_, remote)) if remote == ports.redis => sample.redis += 1,
                _ => {}
            }
        }
        sample
    }

    fn max(self, other: Sample) -> Sample {
        Sample {
            rss_kib: self.rss_kib.max(other.rss_kib),
            fds: self.fds.max(other.fds),
            clients: self.clients.max(other.clients),
            upstream: self.upstream.max(other.upstream),
            postgres: self.postgres.max(other.postgres),
            redis: self.redis.max(other.redis),
        }
    }

    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {:.1} MiB | {} | {} | {} | {} | {} |",
            self.rss_kib as f64 / 1024.0,
            self.fds,
            self.clients,
            self.upstream,
            self.postgres,
            self.redis
        )
    }
}

fn url_port(url: &str, default: u16) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(default)
}

/// POST /rpc/login as a form; the `berth_session` cookie of the answer.
async fn sign_in(base: &str, password: &str) -> Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .post(format!("{base}/rpc/login"))
        .form(&[("username", "admin"), ("password", password)])
        .send()
        .await
        .map_err(|e| format!("sign-in: {e}"))?;
    let status = answer.status();
    let cookie = answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("berth_session=") && c.len() > "berth_session=".len())
        .map(str::to_owned);
    match cookie {
        Some(cookie) => Ok(cookie),
        None => Err(format!(
            "sign-in answered {status} without a berth_session cookie: {}",
            answer.text().await.unwrap_or_default()
        )),
    }
}

/// A running session owned by admin whose container is the echo server.
async fn session_row(database_url: &str, echo_port: u16) -> Result<Uuid> {
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    let (image_id, kasm_id) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO images (image_id, name, friendly_name, cores, memory)
         VALUES ($1, 'bench/echo:latest', 'Bench echo', 1, 1)",
    )
    .bind(image_id)
    .execute(&db)
    .await
    .map_err(|e| format!("image row: {e}"))?;
    sqlx::query(
        "INSERT INTO kasms (kasm_id, user_id, image_id, session_secret, operational_status,
                            hostname, port, cores, memory, start_date, expiration_date)
         SELECT $1, user_id, $2, 'x', 'running', '127.0.0.1', $3, 1, 1, now(),
                now() + interval '1 hour'
         FROM users WHERE username = 'admin'",
    )
    .bind(kasm_id)
    .bind(image_id)
    .bind(echo_port as i32)
    .execute(&db)
    .await
    .map_err(|e| format!("session row: {e}"))?;
    db.close().await;
    Ok(kasm_id)
}

fn start_nginx(
    binary: &str,
    work: &Path,
    port: u16,
    tuned_port: u16,
    echo: SocketAddr,
) -> Result<Guard> {
    let dir = work.join("nginx");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let d = dir.display();
    // worker_processes auto: Berth's tokio runtime uses every core, so nginx may too.
    let conf = format!(
        "worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{echo};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection \"upgrade\";
      proxy_read_timeout 3600s;
      proxy_buffering off;
    }}
  }}
  # The same with a 64 KiB buffer: an upgraded connection is relayed through one
  # proxy_buffer_size buffer per direction, a page (4 KiB) by default.
  server {{
    listen 127.0.0.1:{tuned_port};
    location / {{
      proxy_pass http://{echo};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection \"upgrade\";
      proxy_read_timeout 3600s;
      proxy_buffering off;
      proxy_buffer_size 64k;
      proxy_buffers 4 64k;
    }}
  }}
}}
"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
    Guard::spawn(
        "nginx",
        Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log),
        dir.join("error.log"),
    )
}

/// A process and its children (nginx's master and workers).
fn process_tree(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // "pid (comm) state ppid …": the command may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(root) {
            pids.push(pid);
        }
    }
    pids
}

/// CPU time (ns) the processes have used so far, all threads (from schedstat).
fn cpu_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            total += std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .unwrap_or(0);
        }
    }
    total
}

/// "1.22.1" from `nginx -v`.
fn nginx_version(binary: &str) -> String {
    Command::new(binary)
        .arg("-v")
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.split('/').nth(1).map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}
