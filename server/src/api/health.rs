//! Liveness and readiness.
use app::backend::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 while the process serves.
pub async fn healthcheck() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// 200 when PostgreSQL and Redis both answer; otherwise 503 naming what failed.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let postgres = async {
        let query = store::health::ping(&state.db);
        match tokio::time::timeout(CHECK_TIMEOUT, query).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no answer within 2 seconds".to_owned()),
        }
    };
    let redis = async {
        let mut redis = state.redis.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut redis);
        match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no answer within 2 seconds".to_owned()),
        }
    };
    let (postgres, redis) = tokio::join!(postgres, redis);
    let failed: Vec<&str> = [("postgres", &postgres), ("redis", &redis)]
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| name)
        .collect();
    let describe = |result: &Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(error) => format!("unavailable: {error}"),
    };
    let body = json!({
        "ready": failed.is_empty(),
        "postgres": describe(&postgres),
        "redis": describe(&redis),
    });
    if failed.is_empty() {
        (StatusCode::OK, Json(body))
    } else {
        tracing::warn!(?failed, "not ready");
        let mut body = body;
        body["error"] = json!(format!("not ready: {} not answering", failed.join(" and ")));
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}
