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
use super::call::Call;
use super::control::KasmOfUser;
use super::kasm_object::{kasm_of, Kasm};
use super::openapi::{NotFound, NotRunning, Unavailable};
use super::params::{string_map, whole_number, whole_number_schema, Id};
use super::replies::Date;
use super::{ApiError, Reply};
use crate::manager::Manager;
use crate::protocol::ExecRequest;
use app::backend::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// The most of each output stream that is returned.
pub const MAX_OUTPUT: usize = 1 << 20;
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const MAX_TIMEOUT_SECS: u64 = 300;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecCommandKasm {
    /// The session's owner.
    user_id: Id,
    /// The session.
    kasm_id: Id,
    #[schema(inline)]
    exec_config: ExecConfig,
}

/// `exec_config`, read into the agent's request by [`exec_request`].
#[derive(Debug, Deserialize)]
#[serde(try_from = "Value")]
pub struct ExecConfig(ExecRequest);

impl TryFrom<Value> for ExecConfig {
    type Error = String;
    fn try_from(config: Value) -> Result<Self, String> {
        exec_request(&config)
            .map(ExecConfig)
            .map_err(|error| match error {
                ApiError::Missing(field) => format!("missing:{field}"),
                ApiError::Invalid(message) => message,
                other => format!("{other:?}"),
            })
    }
}

/// What to run, where and as whom.
// What `ExecConfig` accepts, for the OpenAPI document (ExecConfig reads the JSON itself).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ExecConfigFields {
    /// The shell command line.
    #[schema(min_length = 1, pattern = "\\S")]
    cmd: String,
    /// An absolute path.
    #[schema(pattern = "^(/.*)?$")]
    workdir: Option<String>,
    /// Extra environment variables (string values).
    #[schema(schema_with = environment_schema)]
    environment: Option<Value>,
    /// Only false: true is refused (400).
    #[schema(schema_with = never_true)]
    privileged: Option<bool>,
    /// `name`, `uid`, `name:group` or `uid:gid`; the image's user by default.
    #[schema(pattern = "^([A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?)?$")]
    user: Option<String>,
    /// Seconds, 1 to 300; 30 by default.
    #[schema(schema_with = timeout_schema)]
    timeout: Option<Value>,
}

fn environment_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    string_map().into()
}

fn never_true() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([false]))
        .build()
}

fn timeout_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    whole_number_schema(1, MAX_TIMEOUT_SECS)
}

impl utoipa::PartialSchema for ExecConfig {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ExecConfigFields as utoipa::PartialSchema>::schema()
    }
}

impl ToSchema for ExecConfig {}

/// What the command did, after Kasm's `{kasm, current_time}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Executed {
    kasm: Kasm,
    current_time: Date,
    /// Null when the command timed out. Berth only (Kasm returns no output), as are the fields
    /// below.
    exit_code: Option<i64>,
    /// At most 1 MiB.
    stdout: String,
    /// At most 1 MiB.
    stderr: String,
    stdout_truncated: bool,
    stderr_truncated: bool,
    timed_out: bool,
}

/// Run a command (`sh -c`) in a running session's container
#[utoipa::path(post, path = "/api/public/exec_command_kasm", tag = "Sessions",
    request_body = inline(ExecCommandKasm),
    responses((status = 200, description = "Success.", body = Executed),
        (status = 404, response = NotFound), (status = 409, response = NotRunning),
        (status = 503, response = Unavailable)))]
pub async fn exec_command_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<ExecCommandKasm>,
) -> Reply<Executed> {
    let ExecCommandKasm {
        user_id,
        kasm_id,
        exec_config: ExecConfig(request),
    } = call.request;
    let session = KasmOfUser { user_id, kasm_id };
    let kasm_id = session.owned(&state).await?;
    let output = manager
        .exec(kasm_id, &request)
        .await
        .map_err(|error| match error {
            berth_model::ControlError::Conflict(message) => ApiError::Conflict(message),
            other => ApiError::App(other.into()),
        })?;
    let kasm = kasm_of(&state, session.user_id.0, kasm_id).await?;
    Ok(Json(Executed {
        kasm,
        current_time: Date::now(),
        exit_code: output.exit_code,
        stdout: output.stdout,
        stderr: output.stderr,
        stdout_truncated: output.stdout_truncated,
        stderr_truncated: output.stderr_truncated,
        timed_out: output.timed_out,
    }))
}

fn invalid(message: &str) -> ApiError {
    ApiError::Invalid(format!("Invalid Parameters: {message}"))
}

/// Whether the command is to run as root (user `root` or uid 0, with any group).
pub fn runs_as_root(body: &Value) -> bool {
    body.get("exec_config")
        .and_then(|config| config.get("user"))
        .and_then(Value::as_str)
        .map(|user| user.split(':').next().unwrap_or_default().trim())
        .is_some_and(|user| user == "root" || user == "0")
}

/// The agent's request from `exec_config`, validated.
pub fn exec_request(config: &Value) -> Result<ExecRequest, ApiError> {
    let config = match config {
        Value::Null => return Err(ApiError::Missing("exec_config".into())),
        Value::Object(config) => config,
        _ => return Err(invalid("exec_config must be an object")),
    };
    let field = |name: &str| config.get(name).filter(|value| !value.is_null());
    let cmd = match field("cmd") {
        None => return Err(ApiError::Missing("exec_config.cmd".into())),
        Some(Value::String(cmd)) if cmd.trim().is_empty() => {
            return Err(ApiError::Missing("exec_config.cmd".into()))
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
    let environment = exec_environment(field("environment"))?;
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
        Some(value) => whole_number(value, 1, MAX_TIMEOUT_SECS).ok_or_else(|| {
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

/// `exec_config.environment`: variable names a caller may set, with string values.
fn exec_environment(value: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let not_strings =
        || invalid("exec_config.environment must be an object of variable names and string values");
    let variables = match value {
        None => return Ok(Vec::new()),
        Some(Value::Object(variables)) => variables,
        Some(_) => return Err(not_strings()),
    };
    let mut environment = Vec::with_capacity(variables.len());
    for (name, value) in variables {
        if let Some(problem) = super::environment::refusal(name) {
            return Err(invalid(&format!("exec_config.{problem}")));
        }
        match value {
            Value::String(value) if !value.contains('\0') => {
                environment.push((name.clone(), value.clone()))
            }
            _ => return Err(not_strings()),
        }
    }
    Ok(environment)
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
    use serde_json::json;

    fn message(error: ApiError) -> String {
        match error {
            ApiError::Missing(field) => format!("missing {field}"),
            ApiError::Invalid(message) => message,
            other => format!("{other:?}"),
        }
    }

    fn request(config: Value) -> Result<ExecRequest, String> {
        exec_request(&config).map_err(message)
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
            message(exec_request(&Value::Null).unwrap_err()),
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
