//! bench/proxy: throughput and latency of a desktop stream through Berth's session proxy,
//! beside the path it replaced, interleaved in one run; then the Berth process's memory and
//! open descriptors before and after 100 concurrent streams. See bench/README.md.
//!
//! The session's "container" is an in-process stand-in for its Xvnc: a TCP server that does
//! the server's side of the RFB 3.8 handshake with VNC authentication (by the session's
//! secret) and then echoes every byte. The paths to it:
//! - **direct**: plain TCP, the client authenticating itself (the floor);
//! - **Berth**: the real release binary (`target/release/berth serve`) on a scratch
//!   database, with a running session row pointing at the stand-in; the client opens
//!   `/desktop/<session_id>/websockify` as the browser's viewer does and shakes hands with Berth
//!   (security type None), Berth having authenticated with the stand-in;
//! - **websockify**: Debian's, as a child relaying its WebSocket to the stand-in's port, the
//!   client authenticating through it (what every container ran before Berth spoke RFB);
//! - **nginx + websockify**: Debian's nginx (64 KiB proxy buffers, a generated
//!   configuration) in front of that websockify, about the old whole path: browser →
//!   Berth's byte relay (measured at parity with nginx-64k) → websockify → Xvnc.
//!
//! Echoed bytes come back in chunks that need not match what was sent, so bytes are
//! counted, not messages. Every child is stopped at the end, also on errors and Ctrl-C, and
//! the scratch database is dropped.
use bench::guard::Guard;
use bench::serve::{free_port, TempDir};
use berth::rfb::auth::{self, CHALLENGE};
use clap::Parser;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use sqlx::postgres::PgPoolOptions;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Bytes, Message};
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: bench::serve::ServerArgs,
    /// The nginx binary.
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// The websockify command (Debian's python3-websockify).
    #[arg(long, default_value = "websockify")]
    websockify: String,
    /// Measured runs of each path (the median is reported); one warm-up run is not counted.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// 64 KiB messages per throughput run.
    #[arg(long, default_value_t = 4000)]
    messages: usize,
    /// Messages' worth of bytes (64 KiB each) in flight at most during a throughput run.
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
/// The stand-in's reads (and so its echoes) at most, and the client's TCP reads: Berth's
/// relay buffer's size.
const READ: usize = 128 * 1024;
/// RFB 3.8, the only version spoken on any side.
const VERSION: &[u8; 12] = b"RFB 003.008\n";
/// RFB security types: None (Berth's greeting), VNC authentication (the container's).
const NONE: u8 = 1;
const VNC_AUTH: u8 = 2;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Result<T, E = String> = std::result::Result<T, E>;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if !args.server.berth.is_file() {
        eprintln!(
            "bench/proxy: {} is missing; build it first: cargo build --release -p server --bin berth",
            args.server.berth.display()
        );
        std::process::exit(1);
    }
    for (program, probe, package) in [
        (&args.nginx, "-v", "nginx-light"),
        (&args.websockify, "--help", "python3-websockify"),
    ] {
        let found = Command::new(program)
            .arg(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            eprintln!("bench/proxy: {program} not found; install it: apt-get install -y {package}");
            std::process::exit(1);
        }
    }
    let name = format!("berth_bench_proxy_{}", std::process::id());
    let admin = args.server.admin_pool("proxy").await;
    let scratch = args.server.scratch_database(&admin, "proxy", &name).await;

    // The run is its own task: a panic in it still drops (and so stops) the children, and
    // Ctrl-C drops it the same way. Either way the scratch database goes afterwards.
    let args = Arc::new(args);
    let mut run = tokio::spawn(run(args.clone(), scratch));
    let result = tokio::select! {
        joined = &mut run => joined.unwrap_or_else(|error| Err(format!("the run failed: {error}"))),
        _ = tokio::signal::ctrl_c() => {
            run.abort();
            // Resolves once the run is dropped, and with it its children stopped.
            let _ = run.await;
            Err("interrupted".into())
        }
    };
    bench::serve::drop_scratch_database(&admin, "proxy", &name).await;
    if let Err(error) = result {
        eprintln!("bench/proxy: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Arc<Args>, database_url: String) -> Result<()> {
    let work = TempDir::new("berth-bench-proxy")?;
    // As Berth makes them: random, longer than the 8 characters VNC authentication uses.
    let secret = Uuid::new_v4().simple().to_string();
    let standin = vnc_standin(secret.clone()).await?;

    // Berth: the real server on the scratch database, signed in as admin.
    let berth_port = free_port()?;
    let password = Uuid::new_v4().simple().to_string();
    let log = std::fs::File::create(work.path.join("berth.log")).map_err(|e| e.to_string())?;
    let mut berth = Guard::spawn(
        "berth",
        Command::new(&args.server.berth)
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("REDIS_URL", &args.server.redis_url)
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
        work.path.join("berth.log"),
    )?;
    let pid = berth.pid();
    let ports = Ports {
        berth: berth_port,
        standin: standin.port(),
        postgres: url_port(&args.server.database_url, 5432),
        redis: url_port(&args.server.redis_url, 6379),
    };
    let base = format!("http://127.0.0.1:{berth_port}");
    berth
        .wait_http(&format!("{base}/api/__healthcheck"))
        .await?;
    let rss_idle = Sample::take(pid, ports);
    let cookie = sign_in(&base, &password).await?;
    let session_id = session_row(&database_url, standin.port(), &secret).await?;

    // websockify relaying to the stand-in, and nginx in front of it.
    let websockify_port = free_port()?;
    let mut websockify = start_websockify(&args.websockify, &work.path, websockify_port, standin)?;
    websockify.wait_tcp(websockify_port).await?;
    let nginx_port = free_port()?;
    let mut nginx = start_nginx(&args.nginx, &work.path, nginx_port, websockify_port)?;
    nginx.wait_tcp(nginx_port).await?;
    // The master forks its workers after it listens: wait for them.
    for _ in 0..100 {
        if bench::cpu::process_tree(&[nginx.pid()]).len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (nginx_version, websockify_version) = (nginx_version(&args.nginx), websockify_version());

    let berth_way = Way::WebSocket {
        url: format!("ws://127.0.0.1:{berth_port}/desktop/{session_id}/websockify"),
        headers: vec![("cookie", cookie), ("origin", base.clone())],
    };
    let paths = [
        Path_ {
            label: "direct (TCP, no proxy)".into(),
            way: Way::Tcp(standin),
            secret: Some(secret.clone()),
            roots: vec![],
        },
        Path_ {
            label: "Berth proxy".into(),
            way: berth_way.clone(),
            secret: None,
            roots: vec![pid],
        },
        Path_ {
            label: format!("websockify {websockify_version}"),
            way: Way::WebSocket {
                url: format!("ws://127.0.0.1:{websockify_port}/websockify"),
                headers: vec![],
            },
            secret: Some(secret.clone()),
            roots: vec![websockify.pid()],
        },
        Path_ {
            label: format!("nginx {nginx_version} (64k buffers) + websockify"),
            way: Way::WebSocket {
                url: format!("ws://127.0.0.1:{nginx_port}/websockify"),
                headers: vec![],
            },
            secret: Some(secret.clone()),
            roots: vec![nginx.pid(), websockify.pid()],
        },
    ];
    // Does every path shake hands and echo at all? (Clear errors before timing anything.)
    for path in &paths {
        let mut stream = path.connect().await?;
        latency(&mut stream, 1)
            .await
            .map_err(|e| format!("{}: {e}", path.label))?;
        stream.close().await;
    }

    eprintln!(
        "throughput: {} × 64 KiB, ≤{} × 64 KiB in flight; latency: {} round trips of 64 B; {} runs + 1 warm-up, interleaved",
        args.messages, args.window, args.round_trips, args.runs
    );
    let mut results: Vec<Runs> = paths.iter().map(|_| Runs::default()).collect();
    for run in 0..=args.runs {
        // Rotate the order so that no path always runs first (or right after another).
        for k in 0..paths.len() {
            let i = (k + run) % paths.len();
            let path = &paths[i];
            let mut stream = path.connect().await?;
            // After the connection: websockify forks a process for each.
            let pids = bench::cpu::process_tree(&path.roots);
            let cpu = cpu_ns(&pids);
            let mbps = throughput(&mut stream, args.messages, args.window)
                .await
                .map_err(|e| format!("{}: {e}", path.label))?;
            // The proxy's CPU seconds per GB of payload (every GB crosses it both ways).
            let cpu_per_gb =
                cpu_ns(&pids).saturating_sub(cpu) as f64 / ((args.messages * BIG) as f64);
            stream.close().await;
            let mut stream = path.connect().await?;
            let times = latency(&mut stream, args.round_trips)
                .await
                .map_err(|e| format!("{}: {e}", path.label))?;
            stream.close().await;
            let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
            eprintln!(
                "{} {:<44} {mbps:>6.0} MB/s {cpu_per_gb:>5.2} CPU s/GB   p50 {p50:>5.0} µs   p99 {p99:>5.0} µs",
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
        "\nRFB stream echoed through each path (after the handshake), loopback; median of {} runs",
        args.runs
    );
    println!(
        "| path | throughput, 64 KiB writes (≤{} × 64 KiB in flight) | proxy CPU per GB echoed | latency p50, 64 B | latency p99, 64 B |",
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
        let cpu = match path.roots.len() {
            0 => "—".to_owned(),
            1 => format!("{:.2} s", m.1),
            _ => format!("{:.2} s (both)", m.1),
        };
        println!(
            "| {} | {:.0} MB/s | {cpu} | {:.0} µs | {:.0} µs |",
            path.label, m.0, m.2, m.3
        );
        medians.push(m);
    }
    let berth_m = medians[1];
    for (i, label) in [(2, "websockify"), (3, "nginx + websockify")] {
        let other = medians[i];
        println!(
            "{}Berth / {label}: throughput {:.2}×, CPU per GB {:.2}×, latency p50 {:.2}×, p99 {:.2}×",
            if i == 2 { "\n" } else { "" },
            berth_m.0 / other.0,
            berth_m.1 / other.1,
            berth_m.2 / other.2,
            berth_m.3 / other.3
        );
    }
    drop(nginx);
    drop(websockify);

    // Soak: a short warm-up with the same concurrency (pool connections, allocator arenas,
    // runtime buffers reach their working size), then the measured soak.
    eprintln!("soak: warm-up, {} streams for 5 s…", args.streams);
    soak(&berth_way, args.streams, Duration::from_secs(5), pid, ports).await?;
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
            &berth_way,
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
        "\nBerth process (`berth serve`, pid {pid}): {} × {} concurrent streams for {} s through the proxy, {} KiB echoed every {} ms per stream ({echoes} echoes, {:.0} MB each way, {failed} failed streams)",
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
            work.path.join("berth.log").display(),
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

/// How a path reaches the stand-in.
#[derive(Clone)]
enum Way {
    Tcp(SocketAddr),
    WebSocket {
        url: String,
        headers: Vec<(&'static str, String)>,
    },
}

/// One of the four ways to the stand-in.
struct Path_ {
    label: String,
    way: Way,
    /// VNC authentication by the client itself, with this secret; without one, Berth's
    /// greeting (security type None).
    secret: Option<String>,
    /// The proxy's processes, whose CPU time (with their descendants') is counted (none for
    /// the direct path).
    roots: Vec<u32>,
}

impl Path_ {
    async fn connect(&self) -> Result<Stream> {
        open(&self.way, self.secret.as_deref())
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

/// A connection to the stand-in, past the RFB handshake: bytes both ways.
struct Stream {
    tx: Tx,
    rx: Rx,
}

enum Tx {
    Tcp(OwnedWriteHalf),
    WebSocket(SplitSink<Socket, Message>),
}

struct Rx {
    source: Source,
    /// Received and not taken yet (the handshake reads exact counts).
    pending: Vec<u8>,
}

enum Source {
    Tcp(OwnedReadHalf, Box<[u8]>),
    WebSocket(SplitStream<Socket>),
}

impl Tx {
    /// One write: one binary message on a WebSocket.
    async fn send(&mut self, bytes: Bytes) -> Result<()> {
        match self {
            Tx::Tcp(tcp) => tcp.write_all(&bytes).await.map_err(|e| e.to_string()),
            Tx::WebSocket(ws) => ws
                .send(Message::Binary(bytes))
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

impl Rx {
    /// Reads once: the bytes' count, the bytes themselves kept only if asked.
    async fn receive(&mut self, keep: bool) -> Result<usize> {
        match &mut self.source {
            Source::Tcp(tcp, buffer) => match tcp.read(buffer).await {
                Ok(0) => Err("the connection closed".into()),
                Ok(read) => {
                    if keep {
                        self.pending.extend_from_slice(&buffer[..read]);
                    }
                    Ok(read)
                }
                Err(error) => Err(error.to_string()),
            },
            // Only pings and pongs are skipped.
            Source::WebSocket(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(bytes))) if !bytes.is_empty() => {
                        if keep {
                            self.pending.extend_from_slice(&bytes);
                        }
                        return Ok(bytes.len());
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => {
                        return Err("the connection closed".into())
                    }
                    Some(Ok(other)) => return Err(format!("unexpected message {other:?}")),
                    Some(Err(error)) => return Err(error.to_string()),
                }
            },
        }
    }

    /// The next bytes' count (at least one), without keeping them.
    async fn count(&mut self) -> Result<usize> {
        if self.pending.is_empty() {
            return self.receive(false).await;
        }
        let count = self.pending.len();
        self.pending.clear();
        Ok(count)
    }

    /// Exactly `count` bytes, however they are split.
    async fn take(&mut self, count: usize) -> Result<Vec<u8>> {
        // Bounded: every read brings at least one byte.
        for _ in 0..count {
            if self.pending.len() >= count {
                break;
            }
            self.receive(true).await?;
        }
        if self.pending.len() < count {
            return Err("short read".into());
        }
        Ok(self.pending.drain(..count).collect())
    }

    /// Waits until `count` bytes have come back (an echo, however it is split).
    async fn echoed(&mut self, count: usize) -> Result<()> {
        let mut received = 0;
        for _ in 0..count {
            if received >= count {
                break;
            }
            received += match timeout(STEP, self.count()).await {
                Ok(counted) => counted?,
                Err(_) => return Err(format!("no echo within {STEP:?}")),
            };
        }
        if received != count {
            return Err(format!("{received} bytes came back for {count}"));
        }
        Ok(())
    }
}

impl Stream {
    /// Ends the connection cleanly on both sides: a close (or FIN), then whatever was still
    /// coming until the other side closes (websockify's per-connection process exits then).
    async fn close(mut self) {
        let _ = timeout(STEP, async {
            match &mut self.tx {
                Tx::Tcp(tcp) => tcp.shutdown().await.map_err(drop),
                Tx::WebSocket(ws) => ws.close().await.map_err(drop),
            }
        })
        .await;
        let _ = timeout(Duration::from_secs(5), async {
            while self.rx.count().await.is_ok() {}
        })
        .await;
    }
}

/// Connects and shakes hands: VNC authentication with `secret` when given (the stand-in's
/// own handshake, passed through by websockify and nginx), else Berth's greeting.
async fn open(way: &Way, secret: Option<&str>) -> Result<Stream> {
    let mut stream = match way {
        Way::Tcp(address) => {
            let tcp = timeout(STEP, TcpStream::connect(address))
                .await
                .map_err(|_| format!("no connection to {address} within {STEP:?}"))?
                .map_err(|e| format!("TCP to {address}: {e}"))?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let (read, write) = tcp.into_split();
            Stream {
                tx: Tx::Tcp(write),
                rx: Rx {
                    source: Source::Tcp(read, vec![0; READ].into_boxed_slice()),
                    pending: Vec::new(),
                },
            }
        }
        Way::WebSocket { url, headers } => {
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
            let (tx, rx) = socket.split();
            Stream {
                tx: Tx::WebSocket(tx),
                rx: Rx {
                    source: Source::WebSocket(rx),
                    pending: Vec::new(),
                },
            }
        }
    };
    timeout(STEP, handshake(&mut stream, secret))
        .await
        .map_err(|_| format!("no RFB handshake within {STEP:?}"))??;
    Ok(stream)
}

/// The client's side of RFB 3.8 up to SecurityResult.
async fn handshake(stream: &mut Stream, secret: Option<&str>) -> Result<()> {
    let Stream { tx, rx } = stream;
    let version = rx.take(VERSION.len()).await?;
    if version != VERSION {
        return Err(format!(
            "the server speaks {:?}",
            String::from_utf8_lossy(&version)
        ));
    }
    tx.send(Bytes::from_static(VERSION)).await?;
    let offered = rx.take(1).await?[0] as usize;
    if offered == 0 {
        let length = u32::from_be_bytes(rx.take(4).await?.try_into().expect("4 bytes"));
        let reason = rx.take(length.min(4096) as usize).await?;
        return Err(format!(
            "the server refused: {}",
            String::from_utf8_lossy(&reason)
        ));
    }
    let types = rx.take(offered).await?;
    let wanted = if secret.is_some() { VNC_AUTH } else { NONE };
    if !types.contains(&wanted) {
        return Err(format!("the server offers security types {types:?}"));
    }
    tx.send(Bytes::from(vec![wanted])).await?;
    if let Some(secret) = secret {
        let challenge: [u8; CHALLENGE] = rx.take(CHALLENGE).await?.try_into().expect("16 bytes");
        tx.send(Bytes::from(auth::response(secret, &challenge).to_vec()))
            .await?;
    }
    if rx.take(4).await? != [0, 0, 0, 0] {
        return Err("the server refused the authentication".into());
    }
    if !rx.pending.is_empty() {
        return Err("bytes after SecurityResult".into());
    }
    Ok(())
}

/// The stand-in for a session's Xvnc: the server's side of RFB 3.8 with VNC authentication
/// by `secret` (version, security type 2 offered alone, a random challenge, SecurityResult),
/// then every byte echoed as it comes (Nagle off, reads of 128 KiB at most).
async fn vnc_standin(secret: String) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let secret = secret.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(Ok(mut stream)) = timeout(STEP, standin_handshake(stream, &secret)).await
                else {
                    return;
                };
                let mut buffer = vec![0; READ];
                // Until the client closes (or the bench ends).
                while let Ok(read @ 1..) = stream.read(&mut buffer).await {
                    if stream.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

async fn standin_handshake(mut stream: TcpStream, secret: &str) -> std::io::Result<TcpStream> {
    let refused = |what: &str| std::io::Error::other(what.to_owned());
    stream.write_all(VERSION).await?;
    let mut version = [0; 12];
    stream.read_exact(&mut version).await?;
    if &version != VERSION {
        return Err(refused("another version"));
    }
    stream.write_all(&[1, VNC_AUTH]).await?;
    let mut chosen = [0];
    stream.read_exact(&mut chosen).await?;
    if chosen[0] != VNC_AUTH {
        return Err(refused("another security type"));
    }
    // 122 random bits: enough for a stand-in.
    let challenge = Uuid::new_v4().into_bytes();
    stream.write_all(&challenge).await?;
    let mut answer = [0; CHALLENGE];
    stream.read_exact(&mut answer).await?;
    if answer != auth::response(secret, &challenge) {
        let reason = b"Authentication failed";
        let mut failed = vec![0, 0, 0, 1];
        failed.extend_from_slice(&(reason.len() as u32).to_be_bytes());
        failed.extend_from_slice(reason);
        stream.write_all(&failed).await?;
        return Err(refused("a wrong response"));
    }
    stream.write_all(&[0, 0, 0, 0]).await?;
    Ok(stream)
}

/// MB/s (10^6 bytes, one direction) of 64 KiB writes over one connection with at most
/// `window` × 64 KiB sent and not yet echoed, until all `messages` × 64 KiB are back.
async fn throughput(stream: &mut Stream, messages: usize, window: usize) -> Result<f64> {
    let payload = Bytes::from(vec![0x5a; BIG]);
    let total = messages * BIG;
    let credit = Semaphore::new(window * BIG);
    let Stream { tx, rx } = stream;
    let started = Instant::now();
    let send = async {
        for _ in 0..messages {
            credit
                .acquire_many(BIG as u32)
                .await
                .map_err(|e| e.to_string())?
                .forget();
            timeout(STEP, tx.send(payload.clone()))
                .await
                .map_err(|_| format!("could not send within {STEP:?}"))??;
        }
        Ok::<_, String>(())
    };
    let receive = async {
        let mut received = 0;
        // Bounded: every read brings at least one byte.
        for _ in 0..total {
            if received >= total {
                break;
            }
            let count = match timeout(STEP, rx.count()).await {
                Ok(count) => count.map_err(|e| format!("after {received} bytes: {e}"))?,
                Err(_) => return Err(format!("no echo within {STEP:?}")),
            };
            received += count;
            credit.add_permits(count);
        }
        if received != total {
            return Err(format!("{received} bytes came back for {total}"));
        }
        Ok(())
    };
    tokio::try_join!(send, receive)?;
    Ok(total as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Round-trip times (µs) of 64 bytes, one at a time.
async fn latency(stream: &mut Stream, rounds: usize) -> Result<Vec<f64>> {
    let payload = Bytes::from(vec![0xa5; SMALL]);
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        stream.tx.send(payload.clone()).await?;
        stream.rx.echoed(SMALL).await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(times)
}

struct SoakOutcome {
    echoes: u64,
    failed: usize,
    peak: Sample,
}

/// `streams` concurrent connections through Berth, each echoing 16 KiB every 20 ms until
/// `length` is over; samples the process every second meanwhile.
async fn soak(
    way: &Way,
    streams: usize,
    length: Duration,
    pid: u32,
    ports: Ports,
) -> Result<SoakOutcome> {
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let way = way.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = open(&way, None).await?;
            let payload = Bytes::from(vec![0x33; SOAK_MESSAGE]);
            let mut echoes = 0u64;
            // Bounded: at most one message per pause for the soak's length.
            let most = length.as_millis() / SOAK_PAUSE.as_millis() + 1;
            for _ in 0..most {
                if Instant::now() >= until {
                    break;
                }
                stream.tx.send(payload.clone()).await?;
                stream
                    .rx
                    .echoed(SOAK_MESSAGE)
                    .await
                    .map_err(|e| format!("soak stream: {e}"))?;
                echoes += 1;
                tokio::time::sleep(SOAK_PAUSE).await;
            }
            stream.close().await;
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
    standin: u16,
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
                Some(&(_, remote)) if remote == ports.standin => sample.upstream += 1,
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

/// A running session owned by admin whose "container" is the stand-in (no agent: Berth
/// connects to it directly), with the stand-in's secret.
async fn session_row(database_url: &str, port: u16, secret: &str) -> Result<Uuid> {
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    let (image_id, session_id) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO images (image_id, name, friendly_name, cores, memory)
         VALUES ($1, 'bench/standin:latest', 'Bench stand-in', 1, 1)",
    )
    .bind(image_id)
    .execute(&db)
    .await
    .map_err(|e| format!("image row: {e}"))?;
    sqlx::query(
        "INSERT INTO sessions (session_id, user_id, image_id, session_secret, operational_status,
                            hostname, port, container_id, cores, memory, start_date,
                            expiration_date)
         SELECT $1, user_id, $2, $3, 'running', '127.0.0.1', $4, 'bench-standin', 1, 1, now(),
                now() + interval '1 hour'
         FROM users WHERE username = 'admin'",
    )
    .bind(session_id)
    .bind(image_id)
    .bind(secret)
    .bind(port as i32)
    .execute(&db)
    .await
    .map_err(|e| format!("session row: {e}"))?;
    db.close().await;
    Ok(session_id)
}

/// `websockify 127.0.0.1:<port> <stand-in>`: Debian's, as the containers ran it (it forks a
/// process for each connection).
fn start_websockify(program: &str, work: &Path, port: u16, standin: SocketAddr) -> Result<Guard> {
    let log_path = work.join("websockify.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    Guard::spawn(
        "websockify",
        Command::new(program)
            .arg(format!("127.0.0.1:{port}"))
            .arg(standin.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log),
        log_path,
    )
}

/// nginx in front of websockify, with 64 KiB buffers: an upgraded connection is relayed
/// through one proxy_buffer_size buffer per direction, a page (4 KiB) by default, which
/// made nginx 3.5–3.9× slower than with 64k (bench/README.md).
fn start_nginx(binary: &str, work: &Path, port: u16, websockify_port: u16) -> Result<Guard> {
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
      proxy_pass http://127.0.0.1:{websockify_port};
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

/// "0.10.0" of Debian's python3-websockify ("0.10.0+dfsg1-4+b1").
fn websockify_version() -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "python3-websockify"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .and_then(|v| v.split(['+', '-']).next().map(str::to_owned))
        .unwrap_or_default()
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

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}
