//! A session's RFB port for a proxy on another machine: session ports listen on this host's
//! loopback only, so a Berth replica elsewhere asks the agent (with its API secret) for the
//! session's stream. The request names the container the manager recorded; the agent connects
//! only when that is still the session's container, answers `101 Switching Protocols` (to
//! [`TUNNEL_PROTOCOL`]) and then copies bytes both ways. The proxy does the VNC authentication
//! through the tunnel itself: the agent never sees the session's secret here.
use super::runtime::PUBLISH_ADDRESS;
use super::{api, Agent};
use crate::protocol::TUNNEL_PROTOCOL;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use uuid::Uuid;

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    /// The container the manager recorded as the session's.
    container: String,
}

pub async fn stream(
    State(agent): State<Arc<Agent>>,
    Path(session_id): Path<Uuid>,
    Query(query): Query<StreamQuery>,
    mut request: Request,
) -> Response {
    let asks_for_tunnel = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(TUNNEL_PROTOCOL));
    if !asks_for_tunnel {
        return api::error(
            StatusCode::UPGRADE_REQUIRED,
            format!("ask for the stream with Upgrade: {TUNNEL_PROTOCOL}"),
        );
    }
    let (container_id, port) = match agent.runtime.streaming(session_id).await {
        Ok(found) => found,
        Err(failure) => return api::runtime_error(failure),
    };
    if container_id != query.container {
        return api::error(
            StatusCode::CONFLICT,
            format!("the session's container is now {container_id}, not the one recorded"),
        );
    }
    let upstream = match tokio::net::TcpStream::connect((PUBLISH_ADDRESS, port)).await {
        Ok(upstream) => upstream,
        Err(error) => {
            return api::error(
                StatusCode::BAD_GATEWAY,
                format!("the session's desktop is not answering: {error}"),
            )
        }
    };
    let _ = upstream.set_nodelay(true);
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let mut upstream = upstream;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static(TUNNEL_PROTOCOL));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    response
}
