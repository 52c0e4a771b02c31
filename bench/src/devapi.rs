//! A Developer API client for the benchmarks (`POST /api/public/<endpoint>` with the key in
//! the body, as Kasm's clients send it), answering status, JSON body and time taken.
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

type Result<T, E = String> = std::result::Result<T, E>;

/// What a benchmark's key may do: launch, read and destroy sessions for users, list images.
pub const PERMISSIONS: &[&str] = &[
    "User",
    "Users Auth Session",
    "Sessions View",
    "Sessions Modify",
    "Images View",
];

/// One API call may take this long before it counts as unanswered.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Api {
    base: String,
    key: String,
    secret: String,
    client: reqwest::Client,
}

pub struct Answer {
    /// 0 when no HTTP answer came.
    pub status: u16,
    pub body: Value,
    pub elapsed: Duration,
}

impl Answer {
    pub fn message(&self) -> String {
        match &self.body {
            Value::Object(object) => object
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("(no error_message)")
                .to_owned(),
            Value::String(text) => text.clone(),
            _ => "(no JSON body)".to_owned(),
        }
    }

    pub fn session_id(&self) -> Option<Uuid> {
        if self.status != 200 {
            return None;
        }
        Uuid::parse_str(self.body["kasm_id"].as_str()?).ok()
    }

    /// get_kasm_status: `operational_status` while starting, `kasm.operational_status` after.
    pub fn operational_status(&self) -> Option<String> {
        if self.status != 200 {
            return None;
        }
        self.body["operational_status"]
            .as_str()
            .or_else(|| self.body["kasm"]["operational_status"].as_str())
            .map(str::to_owned)
    }
}

impl Api {
    pub fn new(base: &str, key: String, secret: String) -> Result<Api> {
        Ok(Api {
            base: base.to_owned(),
            key,
            secret,
            client: reqwest::Client::builder()
                .build()
                .map_err(|e| e.to_string())?,
        })
    }

    pub fn fresh_client(&self) -> Api {
        Api {
            client: reqwest::Client::new(),
            ..self.clone()
        }
    }

    pub async fn call(&self, endpoint: &str, mut body: Value) -> Answer {
        body["api_key"] = json!(self.key);
        body["api_key_secret"] = json!(self.secret);
        let started = Instant::now();
        let sent = self
            .client
            .post(format!("{}/api/public/{endpoint}", self.base))
            .json(&body)
            .timeout(CALL_TIMEOUT)
            .send()
            .await;
        let (status, body) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(bytes) => (
                        status,
                        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    ),
                    Err(error) => (0, Value::String(format!("no answer: {error}"))),
                }
            }
            Err(error) => (0, Value::String(format!("no answer: {error}"))),
        };
        Answer {
            status,
            body,
            elapsed: started.elapsed(),
        }
    }

    pub async fn status(&self, user_id: Uuid, session_id: Uuid) -> Answer {
        self.call(
            "get_kasm_status",
            json!({ "user_id": user_id.simple().to_string(), "kasm_id": session_id.simple().to_string() }),
        )
        .await
    }
}
