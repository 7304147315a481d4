//! The two ways out: SMTP (lettre on tokio, rustls with the ring provider,
//! STARTTLS required when configured) and an HTTP(S) POST (hyper's HTTP/1
//! client over tokio-rustls). Each attempt is bounded by a timeout.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::config::{check_url, EmailChannel, WebhookChannel, WebhookStyle};
use crate::message::Message;

/// Longest webhook answer read (to look for an error code), bytes.
const MAX_ANSWER: usize = 64 * 1024;

/// Why an attempt failed (recorded with the attempt).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message could not be built (bad address).
    #[error("message: {0}")]
    Message(String),
    /// The SMTP server refused or the dialogue failed.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The webhook could not be reached or answered with an error.
    #[error("webhook: {0}")]
    Webhook(String),
    /// The attempt took longer than the timeout.
    #[error("no answer within {0} s")]
    Timeout(u64),
}

/// Mails `msg` through `ch`.
pub async fn send_email(
    ch: &EmailChannel,
    msg: &Message,
    timeout: Duration,
) -> Result<(), SendError> {
    let mut b = lettre::Message::builder()
        .from(
            ch.from
                .parse()
                .map_err(|e| SendError::Message(format!("from: {e}")))?,
        )
        .subject(msg.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    for t in &ch.to {
        b = b.to(t
            .parse()
            .map_err(|e| SendError::Message(format!("to {t}: {e}")))?);
    }
    let mail = b
        .body(msg.body.clone())
        .map_err(|e| SendError::Message(e.to_string()))?;
    let mut tb = if let (true, Some(ca)) = (ch.starttls, &ch.ca_file) {
        let cert = crate::config::read_ca(ca).map_err(SendError::Smtp)?;
        let params = TlsParameters::builder(ch.host.clone())
            .add_root_certificate(cert)
            .build_rustls()
            .map_err(|e| SendError::Smtp(e.to_string()))?;
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ch.host.clone())
            .tls(Tls::Required(params))
    } else if ch.starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&ch.host)
            .map_err(|e| SendError::Smtp(e.to_string()))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ch.host.clone())
    };
    tb = tb.port(ch.port).timeout(Some(timeout));
    if let (Some(u), Some(p)) = (&ch.user, &ch.password) {
        tb = tb.credentials(Credentials::new(u.clone(), p.clone()));
    }
    let transport = tb.build();
    match tokio::time::timeout(timeout, transport.send(mail)).await {
        Err(_) => Err(SendError::Timeout(timeout.as_secs())),
        Ok(Err(e)) => Err(SendError::Smtp(e.to_string())),
        Ok(Ok(_)) => Ok(()),
    }
}

/// The JSON body posted for `msg` in a channel's style.
pub fn webhook_body(style: WebhookStyle, msg: &Message) -> serde_json::Value {
    match style {
        WebhookStyle::Wecom => json!({
            "msgtype": "text",
            "text": { "content": format!("{}\n{}", msg.subject, msg.body) },
        }),
        WebhookStyle::Json => json!({
            "id": msg.id,
            "kind": msg.kind,
            "at_ms": msg.at_ms,
            "subject": msg.subject,
            "text": msg.body,
            "event": msg.event,
        }),
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, SendError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SendError::Webhook(format!("tls: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// Posts `msg` to `ch`; any 2xx answer is delivered, except a WeCom/DingTalk
/// answer whose `errcode` is not 0.
pub async fn send_webhook(
    ch: &WebhookChannel,
    msg: &Message,
    timeout: Duration,
) -> Result<(), SendError> {
    match tokio::time::timeout(timeout, post(ch, msg)).await {
        Err(_) => Err(SendError::Timeout(timeout.as_secs())),
        Ok(r) => r,
    }
}

async fn post(ch: &WebhookChannel, msg: &Message) -> Result<(), SendError> {
    let uri = check_url(&ch.url).map_err(SendError::Webhook)?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = TcpStream::connect((bare_host.as_str(), port))
        .await
        .map_err(|e| SendError::Webhook(format!("connect {host}:{port}: {e}")))?;
    let body = serde_json::to_vec(&webhook_body(ch.style, msg))
        .map_err(|e| SendError::Message(e.to_string()))?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(&host);
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header(hyper::header::USER_AGENT, "hotline-notify")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SendError::Webhook(e.to_string()))?;
    let (status, answer) = if https {
        let name = rustls_pki_types::ServerName::try_from(bare_host.clone())
            .map_err(|e| SendError::Webhook(format!("tls name {host}: {e}")))?;
        let tls = tls_connector()?
            .connect(name, tcp)
            .await
            .map_err(|e| SendError::Webhook(format!("tls {host}: {e}")))?;
        exchange(TokioIo::new(tls), req).await?
    } else {
        exchange(TokioIo::new(tcp), req).await?
    };
    if !(200..300).contains(&status) {
        let text: String = String::from_utf8_lossy(&answer).chars().take(200).collect();
        return Err(SendError::Webhook(format!("HTTP {status}: {text}")));
    }
    if ch.style == WebhookStyle::Wecom {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer) {
            if let Some(code) = v.get("errcode").and_then(|c| c.as_i64()) {
                if code != 0 {
                    let m = v.get("errmsg").and_then(|m| m.as_str()).unwrap_or("");
                    return Err(SendError::Webhook(format!("errcode {code}: {m}")));
                }
            }
        }
    }
    Ok(())
}

async fn exchange<I>(io: I, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Vec<u8>), SendError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| SendError::Webhook(e.to_string()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| SendError::Webhook(e.to_string()))?;
        let status = resp.status().as_u16();
        let limited = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER);
        let answer = limited
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        Ok((status, answer))
    }
    .await;
    driver.abort();
    result
}
