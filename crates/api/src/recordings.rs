//! Recordings: metadata, audio (with HTTP range requests, every fetch
//! audited first), waveform peaks, the loudness timeline, evidence bundles,
//! evidence marks and their release.

use std::path::{Path as FsPath, PathBuf};

use crate::routes::Routes;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_store::{Cdr, Role};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::warn;

use crate::api::{call_id, cdr_json, mark_json, query_param, CallPath, CallsQuery};
use crate::auth::{parse_json, read_body, Principal};
use crate::{ApiError, Console};

/// Most waveform points per channel.
pub const MAX_POINTS: usize = 4000;

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/api/recordings", list)
        .get("/api/recordings/{call_id}", meta)
        .get("/api/recordings/{call_id}/audio", audio)
        .get("/api/recordings/{call_id}/waveform", waveform)
        .get("/api/recordings/{call_id}/loudness", loudness)
        .get("/api/recordings/{call_id}/bundle", bundle)
        .post("/api/recordings/{call_id}/marks", mark)
        .post("/api/recordings/{call_id}/release", release)
}

/// The CDR and the file of a recording: the id must be a safe id, the call
/// must have a recording, and the file must resolve (symlinks followed)
/// inside the recordings root; anything else is a 4xx.
async fn recording_file(c: &Console, id: &str) -> Result<(Cdr, PathBuf), ApiError> {
    Ok(c.access().resolve(id).await?)
}

async fn list(
    State(c): State<Console>,
    headers: HeaderMap,
    q: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    crate::api::cdr_list(&c, &headers, q, true).await
}

async fn meta(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let (cdr, file) = recording_file(&c, &id).await?;
    let marks = c.store().marks(&id).await?;
    let info = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let spec = hound::WavReader::open(&file)
            .ok()
            .map(|r| (r.spec(), r.duration()));
        (bytes, spec)
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?;
    let (bytes, spec) = info;
    Ok(Json(json!({
        "call_id": id,
        "call": cdr_json(&cdr, &marks),
        "bytes": bytes,
        "sample_rate": spec.map(|s| s.0.sample_rate),
        "channels": spec.map(|s| s.0.channels),
        "duration_ms": spec.map(|(s, frames)| u64::from(frames) * 1000 / u64::from(s.sample_rate.max(1))),
        "sha256": cdr.recording_sha256,
        "held": marks.iter().any(|m| m.released_ms.is_none()),
        "marks": marks.iter().map(mark_json).collect::<Vec<_>>(),
        "audio": format!("/api/recordings/{id}/audio"),
    }))
    .into_response())
}

/// A byte range of a file of `len` bytes: `Ok(None)` = no Range header;
/// `Err` = unsatisfiable (416).
pub fn parse_range(value: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = value else { return Ok(None) };
    let spec = v.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        if start >= len || start > end {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

async fn audit(
    c: &Console,
    p: &Principal,
    action: &str,
    id: &str,
    reason: &str,
) -> Result<(), ApiError> {
    c.store()
        .append_audit(c.now(), &p.audit_name(), action, Some(id), reason)
        .await
        .map(|_| ())
        .map_err(|e| {
            warn!(error = %e, action, call = id, "console: cannot write the audit entry: access refused");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written, so the recording is not served",
            )
        })
}

async fn audio(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let (_, file) = recording_file(&c, &id).await?;
    let mut f = tokio::fs::File::open(&file)
        .await
        .map_err(|_| ApiError::not_found("the recording is not readable"))?;
    let len = f
        .metadata()
        .await
        .map_err(|_| ApiError::not_found("the recording is not readable"))?
        .len();
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = match parse_range(range_header, len) {
        Ok(r) => r,
        Err(()) => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the range is outside the recording ({len} bytes)"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    // on record before a byte leaves
    let what = match range {
        Some((a, b)) => format!("bytes {a}-{b}"),
        None => "whole file".to_string(),
    };
    audit(&c, &p, "listen", &id, &what).await?;
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end - start + 1 };
    f.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|_| ApiError::not_found("the recording is not readable"))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f.take(count)));
    let mut r = Response::new(body);
    *r.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if range.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(r)
}

/// Query of `GET /api/recordings/{id}/waveform`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct WaveQuery {
    points: Option<usize>,
}

/// Peak absolute sample of each of `points` slices, per channel.
pub fn peaks(path: &FsPath, points: usize) -> Result<(u32, u64, Vec<u16>, Vec<u16>), String> {
    let mut r = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let spec = r.spec();
    if spec.channels != 2 || spec.bits_per_sample != 16 {
        return Err("not a 16-bit stereo WAV".into());
    }
    let frames = u64::from(r.duration());
    let per = (frames / points.max(1) as u64).max(1);
    let n = usize::try_from(frames.div_ceil(per))
        .unwrap_or(points)
        .min(points.max(1) + 1);
    let (mut left, mut right) = (vec![0u16; n], vec![0u16; n]);
    let mut samples = r.samples::<i16>();
    let mut i: u64 = 0;
    while let Some(Ok(l)) = samples.next() {
        let Some(Ok(rr)) = samples.next() else { break };
        let slot = usize::try_from(i / per).unwrap_or(usize::MAX);
        if slot < n {
            left[slot] = left[slot].max(l.unsigned_abs());
            right[slot] = right[slot].max(rr.unsigned_abs());
        }
        i += 1;
    }
    let duration_ms = frames * 1000 / u64::from(spec.sample_rate.max(1));
    Ok((spec.sample_rate, duration_ms, left, right))
}

async fn waveform(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
    q: Result<Query<WaveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let points = query_param(q)?.points.unwrap_or(800);
    if !(10..=MAX_POINTS).contains(&points) {
        return Err(ApiError::bad_request(format!("points: 10-{MAX_POINTS}")));
    }
    let (_, file) = recording_file(&c, &id).await?;
    let out = tokio::task::spawn_blocking(move || peaks(&file, points))
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unreadable recording: {e}"),
            )
        })?;
    let (rate, duration_ms, caller, agent) = out;
    Ok(Json(json!({
        "sample_rate": rate,
        "duration_ms": duration_ms,
        "caller": caller,
        "agent": agent,
    }))
    .into_response())
}

async fn loudness(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    c.authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    let (_, file) = recording_file(&c, &id).await?;
    let l = tokio::task::spawn_blocking(move || hotline_evidence::loudness::of_wav(&file))
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unreadable recording: {e}"),
            )
        })?;
    Ok(Json(l).into_response())
}

async fn bundle(
    State(c): State<Console>,
    headers: HeaderMap,
    CallPath(id): CallPath,
) -> Result<Response, ApiError> {
    let p = c
        .authorize(&headers, &Method::GET, Role::Supervisor)
        .await?;
    recording_file(&c, &id).await?;
    audit(&c, &p, "export", &id, "console bundle download").await?;
    let mut root = c.inner.cfg.recordings_dir.clone();
    let data = c.inner.cfg.data_dir.clone();
    // uploaded to the shared store (or the other node's): its node's part
    // is copied next to the data and bundled with that node's key
    let mut from_store = None;
    let work = data.join(format!(
        "console-bundle-{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    if let Some(shared) = &c.inner.cfg.shared {
        let local = root.clone();
        let id3 = id.clone();
        let here = tokio::task::spawn_blocking(move || {
            hotline_evidence::verify::find(&local, &id3).is_ok()
        })
        .await
        .unwrap_or(false);
        if !here {
            match shared
                .materialize(&id, &std::collections::BTreeMap::new(), &work)
                .await
            {
                Ok(Some((_, dir, key, _))) => {
                    root = dir;
                    from_store = Some(key);
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tokio::fs::remove_dir_all(&work).await;
                    warn!(error = %e, call = %id, "console: the shared store refused the bundle's recording");
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the recordings store cannot be read now",
                    ));
                }
            }
        }
    }
    let id2 = id.clone();
    let work2 = work.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let key = match from_store {
            Some(k) => k,
            None => hotline_evidence::load_public_key(&data).map_err(|e| e.to_string())?,
        };
        let tmp = data.join(format!(
            "console-bundle-{}.zip",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let r = hotline_evidence::bundle::export(&root, &id2, &key, &tmp)
            .map_err(|e| e.to_string())
            .and_then(|_| std::fs::read(&tmp).map_err(|e| e.to_string()));
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_dir_all(&work2);
        r
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?
    .map_err(|e| {
        warn!(error = %e, call = %id, "console: bundle export failed");
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("cannot export the bundle: {e}"),
        )
    })?;
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Who asks, the checked call id and the JSON body of a state change on a
/// recording.
async fn change_request<T: serde::de::DeserializeOwned>(
    c: &Console,
    id: String,
    req: Request,
    min: Role,
) -> Result<(Principal, String, T), ApiError> {
    let p = c.authorize(req.headers(), req.method(), min).await?;
    let id = call_id(&id)?.to_string();
    let body = parse_json(&read_body(req, 16 * 1024).await?)?;
    Ok((p, id, body))
}

/// Body of `POST /api/recordings/{id}/marks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    kind: String,
    #[serde(default)]
    note: String,
}

async fn mark(
    State(c): State<Console>,
    CallPath(id): CallPath,
    req: Request,
) -> Result<Response, ApiError> {
    let (p, id, body) = change_request::<MarkBody>(&c, id, req, Role::Supervisor).await?;
    let mark_id = c
        .access()
        .mark(&id, &body.kind, &body.note, &p.actor(), c.now())
        .await?;
    let marks = c.store().marks(&id).await?;
    let m = marks.iter().find(|m| m.id == mark_id).map(mark_json);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "mark": m, "held": true })),
    )
        .into_response())
}

/// Body of `POST /api/recordings/{id}/release`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reason: String,
}

async fn release(
    State(c): State<Console>,
    CallPath(id): CallPath,
    req: Request,
) -> Result<Response, ApiError> {
    // any logged-in user gets this far, so a refusal is on record
    let (p, id, body) = change_request::<ReleaseBody>(&c, id, req, Role::Agent).await?;
    let n = c
        .access()
        .release(&id, &body.reason, &p.actor(), c.now())
        .await?;
    Ok(Json(json!({ "released": n, "held": false })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Ok(Some((0, 99))));
        assert_eq!(
            parse_range(Some("bytes=50-99999999999"), 100),
            Ok(Some((50, 99)))
        );
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=9-3"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 100), Err(()));
        assert_eq!(parse_range(Some("items=0-1"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=-0"), 100), Err(()));
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999999-"), 100),
            Err(())
        );
    }
}
