//! Server functions (`/rpc/...`) meet bad input with a 4xx and a message: a body past the
//! limit is 413; a NUL character or invalid UTF-8 in any argument is 400 naming the argument,
//! before anything reaches the database; and an error that Leptos answers with 500 although
//! it is the caller's (a missing or malformed argument) gets the status of its `AppError`.
use app::AppError;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest body a server function reads.
pub const MAX_BODY: usize = 1 << 20;
/// The largest error body looked at to correct its status.
const MAX_ERROR_BODY: usize = 64 * 1024;

fn refuse(error: AppError) -> Response {
    error.into_response()
}

pub fn bad_argument(content_type: &str, body: &[u8]) -> Option<AppError> {
    if content_type.starts_with("application/json") {
        let text = std::str::from_utf8(body).ok()?;
        return text
            .contains("\\u0000")
            .then(|| AppError::invalid("body", "An argument contains a NUL character."));
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return None;
    }
    for (name, value) in url::form_urlencoded::parse(body) {
        // Decoding replaces invalid UTF-8 with U+FFFD.
        let bad = |text: &str| text.contains('\0') || text.contains('\u{FFFD}');
        if bad(&name) || bad(&value) {
            let field: String = name
                .chars()
                .filter(|c| !c.is_control() && *c != '\u{FFFD}')
                .take(64)
                .collect();
            return Some(AppError::invalid(
                &field,
                format!("The argument {field:?} contains a NUL character or invalid UTF-8."),
            ));
        }
    }
    None
}

pub async fn guard(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/rpc/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return refuse(AppError::invalid(
            "body",
            format!("The request body is larger than {} KiB.", MAX_BODY / 1024),
        ))
        .map_status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if let Some(error) = bad_argument(content_type, &body) {
        return refuse(error);
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    correct_status(response).await
}

/// A 500 whose body is an `AppError` of the caller's making takes that error's status.
async fn correct_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(length) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, length);
    }
    Response::from_parts(parts, Body::from(bytes))
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Self;
}

impl MapStatus for Response {
    fn map_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "application/x-www-form-urlencoded";

    #[test]
    fn nul_and_invalid_utf8_arguments_are_named() {
        let error = bad_argument(FORM, b"username=admin&password=a%00b").unwrap();
        assert_eq!(error.field(), Some("password"));
        let error = bad_argument(FORM, b"username=%ff%fe").unwrap();
        assert_eq!(error.field(), Some("username"));
        assert!(bad_argument(FORM, b"username=ann&password=p%C3%A4ss").is_none());
        assert!(bad_argument("application/json", br#"{"a":"x\u0000"}"#).is_some());
        assert!(bad_argument("application/json", br#"{"a":"x"}"#).is_none());
    }
}
