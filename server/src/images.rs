//! The images role's builder: `berth images build` runs images/build.sh, which builds the
//! session images from an offline Debian base and skips those up to date.
use std::path::Path;

pub const NAMES: &[&str] = &["desktop", "desktop-deluxe", "firefox"];

pub async fn build(dir: &Path, names: &[String], all: bool) -> Result<(), String> {
    if let Some(unknown) = names.iter().find(|name| !NAMES.contains(&name.as_str())) {
        return Err(format!(
            "unknown image '{unknown}' (known: {})",
            NAMES.join(", ")
        ));
    }
    let script = dir.join("build.sh");
    if !script.exists() {
        return Err(format!(
            "{} not found: run from the Berth checkout or set BERTH_IMAGES_DIR to its images/ folder",
            script.display()
        ));
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
        .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("building the images failed ({status})"))
    }
}
