//! How `berth agent` gets its credential: from a file (`--token-file`, BERTH_AGENT_TOKEN_FILE)
//! or the environment (BERTH_AGENT_TOKEN), never from the command line, where every user of
//! the host can read it (`ps`, /proc/<pid>/cmdline).
use std::path::Path;

/// How to provide a credential, for every refusal below.
const HOW: &str = "issue the agent a credential in Admin → Servers of the Berth server (Add \
     server), put it in a file only the agent's user can read and pass --token-file <file> (or \
     BERTH_AGENT_TOKEN_FILE), or set BERTH_AGENT_TOKEN";

/// Why there is no usable credential; each says how to provide one.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "--token on the command line is refused: every user of this host can read a process's \
         arguments. Instead, {HOW}"
    )]
    OnCommandLine,
    #[error("cannot read the agent credential from {}: {error}; {HOW}", .path.display())]
    Unreadable {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("no agent credential: {HOW}")]
    Missing,
}

/// Where the credential comes from, as given.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// `--token` on the command line: always refused.
    pub flag: Option<&'a str>,
    pub file: Option<&'a Path>,
    /// BERTH_AGENT_TOKEN.
    pub environment: Option<String>,
}

/// The credential, with warnings worth logging; or an error saying how to provide it. A file
/// wins over the environment.
pub fn resolve(sources: Sources<'_>) -> Result<(String, Vec<String>), CredentialError> {
    if sources.flag.is_some() {
        return Err(CredentialError::OnCommandLine);
    }
    let mut warnings = Vec::new();
    let credential = if let Some(path) = sources.file {
        let text = std::fs::read_to_string(path).map_err(|error| CredentialError::Unreadable {
            path: path.to_owned(),
            error,
        })?;
        if readable_by_others(path) {
            warnings.push(format!(
                "{} can be read by other users of this host; chmod 600 it",
                path.display()
            ));
        }
        text.trim().to_owned()
    } else {
        sources.environment.unwrap_or_default().trim().to_owned()
    };
    if credential.is_empty() {
        return Err(CredentialError::Missing);
    }
    Ok((credential, warnings))
}

fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o044 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_file(contents: &str, mode: u32) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("berth-credential-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_token_on_the_command_line_is_refused_saying_how_to_give_it() {
        let error = resolve(Sources {
            flag: Some("abc.def"),
            environment: Some("abc.def".into()),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("--token on the command line is refused"),
            "{error}"
        );
        assert!(error.contains("--token-file"), "{error}");
        assert!(error.contains("BERTH_AGENT_TOKEN"), "{error}");
    }

    #[test]
    fn the_credential_comes_from_a_file_before_the_environment() {
        let path = temp_file("from-file\n", 0o600);
        let (credential, warnings) = resolve(Sources {
            file: Some(&path),
            environment: Some("from-environment".into()),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(credential, "from-file");
        assert!(warnings.is_empty(), "{warnings:?}");
        let (credential, _) = resolve(Sources {
            environment: Some(" from-environment ".into()),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(credential, "from-environment");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_others_can_read_is_warned_about() {
        let path = temp_file("token", 0o644);
        let (_, warnings) = resolve(Sources {
            file: Some(&path),
            ..Sources::default()
        })
        .unwrap();
        assert!(warnings[0].contains("chmod 600"), "{warnings:?}");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn no_credential_or_an_unreadable_or_empty_file_says_how_to_provide_one() {
        let missing = std::path::PathBuf::from("/nonexistent/berth-agent-token");
        let empty = temp_file("\n", 0o600);
        for sources in [
            Sources::default(),
            Sources {
                environment: Some("  ".into()),
                ..Sources::default()
            },
            Sources {
                file: Some(&missing),
                ..Sources::default()
            },
            Sources {
                file: Some(&empty),
                ..Sources::default()
            },
        ] {
            let error = resolve(sources).unwrap_err().to_string();
            assert!(error.contains("Admin → Servers"), "{error}");
            assert!(error.contains("--token-file"), "{error}");
        }
        std::fs::remove_file(empty).unwrap();
    }
}
