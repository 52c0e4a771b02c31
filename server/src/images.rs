//! The images role's builder: `berth images build` runs images/build.sh, which builds the
//! session images from an offline Debian base and skips those up to date.
use std::path::{Path, PathBuf};

pub const NAMES: &[&str] = &["desktop", "desktop-deluxe", "firefox"];

/// Why the images were not built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown image '{0}' (known: {known})", known = NAMES.join(", "))]
    UnknownImage(String),
    #[error(
        "{} not found: run from the Berth checkout or set BERTH_IMAGES_DIR to its images/ folder",
        .0.display()
    )]
    NoScript(PathBuf),
    #[error("cannot run {}: {error}", .script.display())]
    CannotRun {
        script: PathBuf,
        error: std::io::Error,
    },
    #[error("building the images failed ({0})")]
    Failed(std::process::ExitStatus),
}

pub async fn build(dir: &Path, names: &[String], all: bool) -> Result<(), BuildError> {
    if let Some(unknown) = names.iter().find(|name| !NAMES.contains(&name.as_str())) {
        return Err(BuildError::UnknownImage(unknown.clone()));
    }
    let script = dir.join("build.sh");
    if !script.exists() {
        return Err(BuildError::NoScript(script));
    }
    let mut command = tokio::process::Command::new("bash");
    command.arg(&script);
    if all || names.is_empty() {
        command.arg("--all");
    } else {
        command.args(names);
    }
    // Progress goes straight to the terminal.
    let status = command
        .status()
        .await
        .map_err(|error| BuildError::CannotRun {
            script: script.clone(),
            error,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed(status))
    }
}
