//! A request body over a route's limit answered in JSON like every other
//! error (issue 19).
//!
//! Routes that take the body as `Bytes` (or any other body extractor) are
//! refused by axum's `DefaultBodyLimit` with a plain-text 413 ("Failed to
//! buffer the request body: length limit exceeded") before the handler
//! runs; the routes that read the body themselves already answer
//! [`ApiError`]. [`json_payload_too_large`] is a response layer over the
//! whole router that turns any 413 that is not JSON into
//! `{"error": "..."}`.

use crate::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Longest part of a plain-text rejection kept in the JSON message.
const MAX_REASON: usize = 256;

/// Is the response's body JSON already?
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// A 413 that is not JSON (axum's body-limit rejection) as
/// `{"error": "the request body is too large (...)"}`, the rejection's
/// text in brackets; every other response unchanged.
pub(crate) async fn json_payload_too_large(resp: Response) -> Response {
    if resp.status() != StatusCode::PAYLOAD_TOO_LARGE || is_json(resp.headers()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // the rejection's own text is a short sentence: read a bounded prefix
    let reason = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_REASON)
                .collect::<String>()
        })
        .filter(|t| !t.is_empty());
    let message = match reason {
        Some(r) => format!("the request body is too large ({r})"),
        None => "the request body is too large".to_string(),
    };
    let mut out = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
    // keep what the rejection said besides its body (e.g. Connection: close)
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plain_text_413_becomes_json_and_others_pass() {
        let plain = (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Failed to buffer the request body: length limit exceeded",
        )
            .into_response();
        let r = json_payload_too_large(plain).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(is_json(r.headers()));
        let b = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v["error"],
            "the request body is too large (Failed to buffer the request body: length limit exceeded)"
        );
        // an empty or hostile rejection text: still one short JSON message
        let empty = StatusCode::PAYLOAD_TOO_LARGE.into_response();
        let b = axum::body::to_bytes(json_payload_too_large(empty).await.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"], "the request body is too large");
        let hostile = (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("\u{1b}[31m{}", "x".repeat(10_000)),
        )
            .into_response();
        let b = axum::body::to_bytes(json_payload_too_large(hostile).await.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        let e = v["error"].as_str().unwrap();
        assert!(e.len() < 400 && !e.contains('\u{1b}'), "{e}");
        // JSON 413s and other statuses are left alone
        let own = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "at most 4096").into_response();
        let b = axum::body::to_bytes(json_payload_too_large(own).await.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(&b[..], br#"{"error":"at most 4096"}"#);
        let text = (StatusCode::OK, "metrics 1").into_response();
        let r = json_payload_too_large(text).await;
        assert!(!is_json(r.headers()));
    }
}
