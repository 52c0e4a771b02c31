//! The in-session chat: a WebSocket per participant (owner or viewer). Messages are stored
//! (the last 200 per session), published on Redis so every server process delivers them, and
//! rendered by the browser as text. Presence is a Redis sorted set of live connections.
use super::ShareHub;
use crate::websocket::origin_allowed;
use app::backend::{auth, sharing, AppState};
use app::model::{ChatEvent as ServerEvent, ChatMessage, ChatPost as ClientMessage};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const MAX_LENGTH: usize = 1000;
pub const HISTORY: i64 = 200;
/// At most this many messages per user per window.
pub const RATE_COUNT: i64 = 5;
pub const RATE_WINDOW_SECS: i64 = 10;

/// Checks a message before it is stored: not empty, not too long.
fn validate(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("The message is empty.".into());
    }
    if text.chars().count() > MAX_LENGTH {
        return Err(format!("A message has at most {MAX_LENGTH} characters."));
    }
    Ok(text.to_owned())
}

/// GET /chat/{session_id} (WebSocket)
pub async fn handle(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<ShareHub>>,
    Extension(streams): Extension<Arc<crate::access::Streams>>,
    Path(session_id): Path<Uuid>,
    request: Request,
) -> Response {
    let user = match auth::user_for_headers(&state.db, request.headers()).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please sign in.").into_response(),
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    };
    match sharing::access(&state.db, user.user_id, session_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::FORBIDDEN, "You are not in this session.").into_response(),
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
    if !origin_allowed(request.headers(), state.web.public_origin.as_deref()) {
        return (
            StatusCode::FORBIDDEN,
            "WebSocket from another origin refused.",
        )
            .into_response();
    }
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let token = app::backend::cookies::read(&parts.headers, app::backend::cookies::SESSION_COOKIE)
        .unwrap_or_default();
    let access = streams.register(user.user_id, session_id, token);
    // A chat message is a few hundred bytes; nothing larger is read, let alone buffered.
    let upgrade = upgrade
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME);
    upgrade.on_upgrade(move |socket| async move {
        let _active = crate::metrics::ActiveStream::start("chat");
        let participant = Participant {
            hub,
            session_id,
            user_id: user.user_id,
            username: user.username,
            access,
        };
        participant.run(socket).await;
    })
}

/// The largest WebSocket message (and frame) a chat reads: a message of the longest text the
/// chat accepts, JSON-escaped, fits.
const MAX_FRAME: usize = 16 * 1024;

struct Participant {
    hub: Arc<ShareHub>,
    session_id: Uuid,
    user_id: Uuid,
    username: String,
    /// Ends the chat when the sign-in or access it was opened with is gone.
    access: crate::access::Registration,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Participant {
    async fn run(self, socket: WebSocket) {
        let (mut tx, mut rx) = socket.split();
        let mut feed = self.hub.subscribe(self.session_id);
        let member = format!("{}|{}", self.hub.next_id(), self.username);
        let mut redis = self.hub.redis.clone();
        let presence = self.hub.presence_key(self.session_id);
        let _: Result<(), _> = redis.zadd(&presence, &member, now_secs()).await;
        let _ = self.publish_raw(r#"{"type":"recheck"}"#).await;

        let history = ServerEvent::History {
            messages: self.history().await,
        };
        if send(&mut tx, &history).await.is_err() {
            return self.leave(&member).await;
        }
        let mut heartbeat = tokio::time::interval(Duration::from_secs(20));
        loop {
            tokio::select! {
                () = self.access.ended() => {
                    let _ = send(&mut tx, &ServerEvent::Ended).await;
                    break;
                }
                incoming = rx.next() => {
                    let Some(Ok(message)) = incoming else { break };
                    let text = match message {
                        Message::Text(text) => text.to_string(),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    if let Err(error) = self.post(&text).await {
                        if send(&mut tx, &ServerEvent::Error { message: error }).await.is_err() {
                            break;
                        }
                    }
                }
                event = feed.recv() => {
                    let payload = match event {
                        Ok(payload) => payload,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    };
                    if payload.contains(r#""type":"recheck""#) {
                        if !self.still_allowed().await {
                            let _ = send(&mut tx, &ServerEvent::Ended).await;
                            break;
                        }
                        let users = self.presence().await;
                        if send(&mut tx, &ServerEvent::Presence { users }).await.is_err() {
                            break;
                        }
                    } else if tx.send(Message::Text(payload.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                _ = heartbeat.tick() => {
                    let _: Result<(), _> = redis.zadd(&presence, &member, now_secs()).await;
                }
            }
        }
        self.leave(&member).await;
    }

    /// Whether the participant may stay. A database that cannot answer now is no verdict:
    /// the chat stays open (and is re-checked at the next change) rather than dropping every
    /// participant during an outage.
    async fn still_allowed(&self) -> bool {
        match sharing::access(&self.hub.db, self.user_id, self.session_id).await {
            Ok(access) => access.is_some(),
            Err(error) => {
                tracing::warn!(session_id = %self.session_id, %error, "cannot re-check a chat participant now; keeping them");
                true
            }
        }
    }

    async fn leave(&self, member: &str) {
        let mut redis = self.hub.redis.clone();
        let _: Result<(), _> = redis
            .zrem(self.hub.presence_key(self.session_id), member)
            .await;
        let _ = self.publish_raw(r#"{"type":"recheck"}"#).await;
    }

    /// Who is connected now (any server process), by name, without duplicates.
    async fn presence(&self) -> Vec<String> {
        let mut redis = self.hub.redis.clone();
        let members: Vec<String> = redis
            .zrangebyscore(
                self.hub.presence_key(self.session_id),
                now_secs() - 60.0,
                "+inf",
            )
            .await
            .unwrap_or_default();
        let mut names: Vec<String> = members
            .into_iter()
            .filter_map(|member| member.split_once('|').map(|(_, name)| name.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    async fn history(&self) -> Vec<ChatMessage> {
        store::sharing::chat::latest(&self.hub.db, self.session_id, HISTORY)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(shown)
            .collect()
    }

    async fn rate_limited(&self) -> bool {
        let mut redis = self.hub.redis.clone();
        let key = format!("{}chat-rate:{}", self.hub.prefix, self.user_id);
        let result: Result<(i64,), _> = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, RATE_WINDOW_SECS)
            .ignore()
            .query_async(&mut redis)
            .await;
        result.map(|(count,)| count > RATE_COUNT).unwrap_or(false)
    }

    /// Stores and publishes a message, or says why not.
    async fn post(&self, raw: &str) -> Result<(), String> {
        let message: ClientMessage =
            serde_json::from_str(raw).map_err(|_| "Malformed chat message.".to_owned())?;
        let text = validate(&message.text)?;
        if self.rate_limited().await {
            return Err(format!(
                "You are sending messages too fast: at most {RATE_COUNT} every {RATE_WINDOW_SECS} seconds."
            ));
        }
        // Stored with the session's latest HISTORY messages kept.
        let stored = store::sharing::chat::post(
            &self.hub.db,
            self.session_id,
            self.user_id,
            &self.username,
            &text,
            HISTORY,
        )
        .await
        .map_err(|_| "The chat is unavailable right now.".to_owned())?;
        let event = ServerEvent::Message {
            message: shown(stored),
        };
        if self
            .publish_raw(&serde_json::to_string(&event).expect("serializable"))
            .await
        {
            Ok(())
        } else {
            Err("The chat cannot deliver messages right now; yours is kept and shows in the history when the chat is back.".into())
        }
    }

    /// Publishes to the session's chat channel; false when Redis did not take it.
    async fn publish_raw(&self, payload: &str) -> bool {
        let mut redis = self.hub.redis.clone();
        match redis
            .publish::<_, _, ()>(self.hub.chat_channel(self.session_id), payload)
            .await
        {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "could not publish to the chat");
                false
            }
        }
    }
}

/// A stored message as participants see it (the time of day it was sent).
fn shown(message: store::sharing::chat::Message) -> ChatMessage {
    ChatMessage {
        id: message.id,
        user: message.username,
        text: message.body,
        sent: message.sent.format("%H:%M").to_string(),
    }
}

async fn send<S>(tx: &mut S, event: &ServerEvent) -> Result<(), axum::Error>
where
    S: SinkExt<Message, Error = axum::Error> + Unpin,
{
    tx.send(Message::Text(
        serde_json::to_string(event).expect("serializable").into(),
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(validate("  hi  ").unwrap(), "hi");
        assert!(validate("   ").is_err());
        assert!(validate(&"x".repeat(MAX_LENGTH)).is_ok());
        assert!(validate(&"x".repeat(MAX_LENGTH + 1))
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn markup_is_kept_verbatim_as_text() {
        assert_eq!(validate("<b>hi</b>").unwrap(), "<b>hi</b>");
    }
}
