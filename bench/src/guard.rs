//! A child process of a benchmark (Berth, nginx): stopped (SIGTERM, then SIGKILL after 5 s)
//! when dropped, and sent SIGTERM should the bench itself die.
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

type Result<T, E = String> = std::result::Result<T, E>;

/// A child process, stopped (SIGTERM, then SIGKILL after 5 s) when dropped; it also gets
/// SIGTERM should the bench itself die.
pub struct Guard {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Guard {
    pub fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Result<Guard> {
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Guard { name, child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err with the end of the child's log if it exited.
    pub fn check(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!(
                "{} exited ({status}); its log ends:\n{}",
                self.name,
                tail(&self.log, 20)
            ));
        }
        Ok(())
    }

    pub async fn wait_http(&mut self, url: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::get(url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            self.check()?;
            if Instant::now() > deadline {
                return Err(format!("{url} did not answer within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_tcp(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            self.check()?;
            if Instant::now() > deadline {
                return Err(format!("{} does not listen on {port}", self.name));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let last: Vec<&str> = log.lines().rev().take(lines).collect();
    last.into_iter().rev().collect::<Vec<_>>().join("\n")
}
