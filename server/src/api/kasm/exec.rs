//! `exec_command_kasm`: runs `exec_config.cmd` through `sh -c` in the user's running session
//! container, on its agent. Kasm answers `{kasm, current_time}`; Berth adds what the command
//! did: `exit_code`, `stdout`, `stderr` (each stream kept up to 1 MiB, `stdout_truncated` /
//! `stderr_truncated` true when more was written; invalid UTF-8 replaced by U+FFFD) and
//! `timed_out`. `exec_config.timeout` (seconds, default 30, at most 300) bounds the run: on
//! timeout the answer is still 200, with `timed_out: true`, `exit_code: null` and the output
//! so far, and the command is killed (with its process group) a second later where the image
//! has `timeout` (GNU or busybox). A command whose process exits while children it started in
//! the background still run (`app &`) is answered at once.
//!
//! `exec_config.privileged: true` is refused (400): Berth containers never get extra
//! privileges. `user` is the image's user (uid 1000) unless given (`name`, `uid`,
//! `name:group`, `uid:gid`); whatever the user, the container keeps no capabilities.
//! `DISPLAY` is the session's display unless `environment` sets it.
use super::{date, id, sessions, ApiError, ApiResult, Body};
use crate::manager::Manager;
use crate::protocol::ExecRequest;
use app::backend::AppState;
use serde_json::{json, Value};
use std::sync::Arc;

/// The most of each output stream that is returned.
pub const MAX_OUTPUT: usize = 1 << 20;
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const MAX_TIMEOUT_SECS: u64 = 300;

pub async fn exec_command_kasm(state: &AppState, manager: &Arc<Manager>, body: &Body) -> ApiResult {
    let request = exec_request(body)?;
    let kasm_id = sessions::owned(state, body).await?;
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let output = manager
        .exec(kasm_id, &request)
        .await
        .map_err(|error| match error {
            berth_model::ControlError::Conflict(message) => ApiError::Conflict(message),
            other => ApiError::App(other.into()),
        })?;
    let kasm = sessions::kasms(state, Some(user_id), Some(kasm_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("Kasm {} not found", id(kasm_id))))?;
    Ok(json!({
        "kasm": kasm,
        "current_time": date(chrono::Utc::now()),
        "exit_code": output.exit_code,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "stdout_truncated": output.stdout_truncated,
        "stderr_truncated": output.stderr_truncated,
        "timed_out": output.timed_out,
    }))
}

fn invalid(message: &str) -> ApiError {
    ApiError::Invalid(format!("Invalid Parameters: {message}"))
}

/// The agent's request from `exec_config`, validated.
/// Whether the command is to run as root (user `root` or uid 0, with any group).
pub fn runs_as_root(body: &Body) -> bool {
    body.get(&["exec_config", "user"])
        .and_then(Value::as_str)
        .map(|user| user.split(':').next().unwrap_or_default().trim())
        .is_some_and(|user| user == "root" || user == "0")
}

pub fn exec_request(body: &Body) -> Result<ExecRequest, ApiError> {
    let config = match body.get(&["exec_config"]) {
        None | Some(Value::Null) => return Err(ApiError::Missing("exec_config")),
        Some(Value::Object(config)) => config,
        Some(_) => return Err(invalid("exec_config must be an object")),
    };
    let field = |name: &str| config.get(name).filter(|value| !value.is_null());
    let cmd = match field("cmd") {
        None => return Err(ApiError::Missing("exec_config.cmd")),
        Some(Value::String(cmd)) if cmd.trim().is_empty() => {
            return Err(ApiError::Missing("exec_config.cmd"))
        }
        Some(Value::String(cmd)) if !cmd.contains('\0') => cmd.clone(),
        Some(_) => {
            return Err(invalid(
                "exec_config.cmd must be a shell command (a string)",
            ))
        }
    };
    match field("privileged") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(invalid(
                "exec_config.privileged is not allowed: Berth session containers get no extra privileges",
            ))
        }
        Some(_) => return Err(invalid("exec_config.privileged must be true or false")),
    }
    let workdir = match field("workdir") {
        None => None,
        Some(Value::String(dir)) if dir.is_empty() => None,
        Some(Value::String(dir)) if dir.starts_with('/') && !dir.contains('\0') => {
            Some(dir.clone())
        }
        Some(_) => return Err(invalid("exec_config.workdir must be an absolute path")),
    };
    let environment = match field("environment") {
        None => Vec::new(),
        Some(Value::Object(vars)) => {
            let mut environment = Vec::with_capacity(vars.len());
            for (name, value) in vars {
                if let Some(problem) = super::environment::refusal(name) {
                    return Err(invalid(&format!("exec_config.{problem}")));
                }
                match value {
                    Value::String(value) if !value.contains('\0') => {
                        environment.push((name.clone(), value.clone()))
                    }
                    _ => {
                        return Err(invalid(
                            "exec_config.environment must be an object of variable names and string values",
                        ))
                    }
                }
            }
            environment
        }
        Some(_) => {
            return Err(invalid(
                "exec_config.environment must be an object of variable names and string values",
            ))
        }
    };
    let user = match field("user") {
        None => None,
        Some(Value::String(user)) if user.is_empty() => None,
        Some(Value::String(user)) if valid_user(user) => Some(user.clone()),
        Some(_) => {
            return Err(invalid(
                "exec_config.user must be a user name or uid, optionally with :group or :gid",
            ))
        }
    };
    let timeout_secs = match field("timeout") {
        None => DEFAULT_TIMEOUT_SECS,
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
            .filter(|secs| (1..=MAX_TIMEOUT_SECS).contains(secs))
            .ok_or_else(|| {
                invalid(&format!(
                    "exec_config.timeout must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}"
                ))
            })?,
    };
    Ok(ExecRequest {
        cmd,
        workdir,
        environment,
        user,
        timeout_secs,
        max_output: MAX_OUTPUT,
    })
}

/// `name`, `uid`, `name:group` or `uid:gid`, in the characters user and group names use.
fn valid_user(user: &str) -> bool {
    let part = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match user.split_once(':') {
        Some((name, group)) => part(name) && part(group),
        None => part(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: ApiError) -> String {
        match error {
            ApiError::Missing(field) => format!("missing {field}"),
            ApiError::Invalid(message) => message,
            other => format!("{other:?}"),
        }
    }

    fn request(config: Value) -> Result<ExecRequest, String> {
        exec_request(&Body(json!({ "exec_config": config }))).map_err(message)
    }

    #[test]
    fn exec_config_defaults() {
        let parsed = request(json!({"cmd": "echo hi"})).unwrap();
        assert_eq!(
            parsed,
            ExecRequest {
                cmd: "echo hi".into(),
                workdir: None,
                environment: vec![],
                user: None,
                timeout_secs: 30,
                max_output: 1 << 20,
            }
        );
        let parsed = request(json!({
            "cmd": "pwd", "workdir": "/tmp", "environment": {"A": "1", "B": ""},
            "privileged": false, "user": "root", "timeout": 300
        }))
        .unwrap();
        assert_eq!(parsed.workdir.as_deref(), Some("/tmp"));
        assert_eq!(
            parsed.environment,
            vec![("A".into(), "1".into()), ("B".into(), String::new())]
        );
        assert_eq!(parsed.user.as_deref(), Some("root"));
        assert_eq!(parsed.timeout_secs, 300);
        // Nulls and empty strings are as good as absent.
        let parsed = request(json!({"cmd": "true", "workdir": "", "user": null, "environment": null, "privileged": null})).unwrap();
        assert_eq!((parsed.workdir, parsed.user), (None, None));
        assert_eq!(
            request(json!({"cmd": "true", "timeout": "5"}))
                .unwrap()
                .timeout_secs,
            5
        );
    }

    #[test]
    fn bad_exec_configs_are_refused() {
        assert_eq!(
            message(exec_request(&Body(json!({}))).unwrap_err()),
            "missing exec_config"
        );
        for (config, expected) in [
            (json!({}), "missing exec_config.cmd"),
            (json!({"cmd": "  "}), "missing exec_config.cmd"),
            (json!({"cmd": ["ls"]}), "cmd must be"),
            (
                json!({"cmd": "id", "privileged": true}),
                "no extra privileges",
            ),
            (
                json!({"cmd": "id", "privileged": "yes"}),
                "privileged must be",
            ),
            (json!({"cmd": "id", "workdir": "tmp"}), "absolute path"),
            (
                json!({"cmd": "id", "environment": {"A": 1}}),
                "string values",
            ),
            (
                json!({"cmd": "id", "environment": {"A=B": "1"}}),
                "not a plain name",
            ),
            (
                json!({"cmd": "id", "environment": {"LD_PRELOAD": "/tmp/x.so"}}),
                "changes how programs",
            ),
            (
                json!({"cmd": "id", "environment": ["A=1"]}),
                "string values",
            ),
            (json!({"cmd": "id", "user": "a b"}), "user must be"),
            (json!({"cmd": "id", "user": "root:"}), "user must be"),
            (json!({"cmd": "id", "user": 0}), "user must be"),
            (json!({"cmd": "id", "timeout": 0}), "timeout must be"),
            (json!({"cmd": "id", "timeout": 301}), "timeout must be"),
            (json!({"cmd": "id", "timeout": 1.5}), "timeout must be"),
            (json!("id"), "exec_config must be an object"),
        ] {
            let error = request(config.clone()).unwrap_err();
            assert!(error.contains(expected), "{config}: {error}");
        }
    }

    #[test]
    fn users_are_names_or_ids_with_an_optional_group() {
        for good in [
            "berth",
            "1000",
            "1000:1000",
            "root:root",
            "www-data",
            "a.b_c",
        ] {
            assert!(valid_user(good), "{good}");
        }
        for bad in ["", ":", "a:", ":b", "a:b:c", "a b", "a;b", "$(id)"] {
            assert!(!valid_user(bad), "{bad}");
        }
    }
}
