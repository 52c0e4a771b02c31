//! A session's chat messages: the latest ones are kept, older ones dropped as new ones come.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub username: String,
    pub body: String,
    pub sent: DateTime<Utc>,
}

/// The session's latest `count` messages, oldest first.
pub async fn latest(db: &PgPool, session_id: Uuid, count: i64) -> Result<Vec<Message>, StoreError> {
    Ok(sqlx::query_as!(
        Message,
        r#"SELECT message_id AS id, username, body, sent FROM
             (SELECT * FROM chat_messages WHERE session_id = $1 ORDER BY message_id DESC LIMIT $2) recent
           ORDER BY message_id"#,
        session_id,
        count,
    )
    .fetch_all(db)
    .await?)
}

/// Stores a message and drops the session's messages older than the latest `keep`.
pub async fn post(
    db: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
    username: &str,
    body: &str,
    keep: i64,
) -> Result<Message, StoreError> {
    let row = sqlx::query!(
        "INSERT INTO chat_messages (session_id, user_id, username, body) VALUES ($1, $2, $3, $4) RETURNING message_id, sent",
        session_id,
        user_id,
        username,
        body,
    )
    .fetch_one(db)
    .await?;
    // The message is stored: failing to trim old ones only delays that to the next post.
    let _ = sqlx::query!(
        r#"DELETE FROM chat_messages WHERE session_id = $1 AND message_id <=
             (SELECT message_id FROM chat_messages WHERE session_id = $1 ORDER BY message_id DESC OFFSET $2 LIMIT 1)"#,
        session_id,
        keep,
    )
    .execute(db)
    .await;
    Ok(Message {
        id: row.message_id,
        username: username.to_owned(),
        body: body.to_owned(),
        sent: row.sent,
    })
}
