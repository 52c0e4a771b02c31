//! bench/files: upload and download throughput of one file through Berth (browser endpoints
//! `/files/{session_id}/...`, a real `berth serve` with its embedded agent) against `docker cp`
//! of the same file to and from the same container (the floor: no authorization, no HTTP).
//!
//! A Desktop session is launched for a fresh user through the Developer API; the file is made
//! once on local disk. Each run does, in turn: `docker cp` into the container, Berth's upload
//! into `~/Uploads`, `docker cp` out of the container's `~/Downloads`, Berth's download of it
//! (written to local disk, as `docker cp` writes it). Every transfer's size is checked. The
//! scratch database is created and dropped, the session destroyed.
use bench::devapi::PERMISSIONS;
use bench::serve::TempDir;
use clap::Parser;
use futures_util::StreamExt;
use sqlx::PgPool;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

type Result<T, E = String> = std::result::Result<T, E>;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: bench::serve::ServerArgs,
    /// The file's size, in MB (10^6 bytes).
    #[arg(long, default_value_t = 200)]
    megabytes: u64,
    /// Measured runs of each kind (after one warm-up).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The upload's client reads the file in pieces of this many KiB (reqwest's own reading
    /// of a `File`, 4 KiB at a time, each through tokio's blocking pool, would be the
    /// bottleneck; a browser reads a picked file in larger blocks).
    #[arg(long, default_value_t = 256)]
    read_kib: usize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let name = format!("berth_bench_files_{}", std::process::id());
    let admin = args.server.admin_pool("files").await;
    let url = args.server.scratch_database(&admin, "files", &name).await;
    let result = match bench::serve::migrated_pool(&url).await {
        Ok(db) => {
            let result = run(&args, &url, db.clone()).await;
            db.close().await;
            result
        }
        Err(error) => Err(error),
    };
    bench::serve::drop_scratch_database(&admin, "files", &name).await;
    if let Err(error) = result {
        eprintln!("bench/files: {error}");
        std::process::exit(1);
    }
}

/// A running Desktop session of a new user, and that user's cookie.
struct Session {
    base: String,
    session_id: Uuid,
    container: String,
    cookie: String,
}

async fn run(args: &Args, database_url: &str, db: PgPool) -> Result<()> {
    let work = TempDir::new("berth-bench-files")?;
    let (mut server, base) = bench::serve::start(
        &args.server.berth,
        database_url,
        &args.server.redis_url,
        &format!("bench-files-{}", std::process::id()),
        &work.path,
    )
    .await?;
    let session = launch(&db, &base, &mut server).await?;
    let size = args.megabytes * 1_000_000;
    let payload = work.path.join("payload.bin");
    make_file(&payload, size)?;
    docker(&[
        "exec",
        &session.container,
        "mkdir",
        "-p",
        "/home/berth/Downloads",
    ])?;
    docker(&[
        "cp",
        path(&payload)?,
        &format!("{}:/home/berth/Downloads/payload.bin", session.container),
    ])?;
    let client = reqwest::Client::new();
    let mut times: [Vec<Duration>; 4] = Default::default();
    for run in 0..=args.runs {
        let out = work.path.join("out.bin");
        let took = [
            timed(async {
                docker(&[
                    "cp",
                    path(&payload)?,
                    &format!("{}:/home/berth/cp-up.bin", session.container),
                ])
            })
            .await?,
            timed(upload(
                &client,
                &session,
                &payload,
                size,
                args.read_kib << 10,
            ))
            .await?,
            timed(async {
                docker(&[
                    "cp",
                    &format!("{}:/home/berth/Downloads/payload.bin", session.container),
                    path(&out)?,
                ])?;
                check_size(&out, size)
            })
            .await?,
            timed(download(&client, &session, &out, size)).await?,
        ];
        server.check()?;
        if run > 0 {
            for (kind, took) in took.into_iter().enumerate() {
                times[kind].push(took);
            }
        }
    }
    report(args.megabytes, &times);
    Ok(())
}

fn path(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| "a temporary path is not UTF-8".to_owned())
}

async fn timed(work: impl std::future::Future<Output = Result<()>>) -> Result<Duration> {
    let started = Instant::now();
    work.await?;
    Ok(started.elapsed())
}

fn docker(args: &[&str]) -> Result<()> {
    let output = std::process::Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// `size` bytes of a pattern that does not compress to nothing, written once.
fn make_file(path: &Path, size: u64) -> Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let block: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for _ in 0..size / 1_000_000 {
        file.write_all(&block).map_err(|e| e.to_string())?;
    }
    file.flush().map_err(|e| e.to_string())
}

fn check_size(path: &Path, size: u64) -> Result<()> {
    let got = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if got != size {
        return Err(format!("{} has {got} bytes, not {size}", path.display()));
    }
    Ok(())
}

async fn upload(
    client: &reqwest::Client,
    session: &Session,
    payload: &Path,
    size: u64,
    piece: usize,
) -> Result<()> {
    let file = tokio::fs::File::open(payload)
        .await
        .map_err(|e| e.to_string())?;
    let pieces = futures_util::stream::try_unfold(file, move |mut file| async move {
        let mut bytes = vec![0u8; piece];
        let read = file.read(&mut bytes).await?;
        bytes.truncate(read);
        Ok::<_, std::io::Error>((read > 0).then_some((bytes, file)))
    });
    let response = client
        .put(format!(
            "{}/files/{}/uploads/up.bin",
            session.base, session.session_id
        ))
        .header(reqwest::header::COOKIE, &session.cookie)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .map_err(|e| format!("upload: {e}"))?;
    if response.status() != reqwest::StatusCode::CREATED {
        return Err(format!(
            "upload: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn download(
    client: &reqwest::Client,
    session: &Session,
    out: &Path,
    size: u64,
) -> Result<()> {
    let response = client
        .get(format!(
            "{}/files/{}/downloads/payload.bin",
            session.base, session.session_id
        ))
        .header(reqwest::header::COOKIE, &session.cookie)
        .send()
        .await
        .map_err(|e| format!("download: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("download: {}", response.status()));
    }
    let mut file = tokio::fs::File::create(out)
        .await
        .map_err(|e| e.to_string())?;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        file.write_all(&chunk.map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    check_size(out, size)
}

#[path = "files/setup.rs"]
mod setup;
use setup::{launch, report};
