//! The notifier's task: takes the engine's events (and reports), keeps the
//! ones some channel receives in the bounded [`Outbox`], tries each delivery
//! on a task of its own (so an SMTP server that hangs holds back nothing but
//! itself), records every attempt and retries failures with backoff.

use std::sync::Arc;
use std::time::Duration;

use hotline_core::{Calendar, CallEvent, Clock, SystemClock};
use hotline_store::{Delivery, Store};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{info, info_span, warn, Instrument};

use crate::config::{receives, EmailChannel, NotifyConfig, WebhookChannel};
use crate::message::{self, Message};
use crate::retry::{Outbox, Verdict};
use crate::transport::{send_email, send_webhook};

/// Attempts running at once at most.
pub const MAX_IN_FLIGHT: usize = 8;
/// Reports waiting to be queued at most.
const REPORT_QUEUE: usize = 16;

/// Where a delivery goes.
#[derive(Clone, Debug)]
enum Route {
    Email(Arc<EmailChannel>),
    Webhook(Arc<WebhookChannel>),
}

impl Route {
    fn channel(&self) -> &'static str {
        match self {
            Route::Email(_) => "email",
            Route::Webhook(_) => "webhook",
        }
    }

    /// The target as recorded: recipients, or the URL without its query
    /// (robot keys live there) and credentials.
    fn target(&self) -> String {
        match self {
            Route::Email(e) => format!("smtp://{}:{} {}", e.host, e.port, e.to.join(", ")),
            Route::Webhook(w) => target_of_url(&w.url),
        }
    }

    fn receives(&self, kind: &str) -> bool {
        match self {
            Route::Email(e) => receives(&e.events, kind),
            Route::Webhook(w) => receives(&w.events, kind),
        }
    }

    fn reports(&self) -> bool {
        match self {
            Route::Email(e) => e.reports,
            Route::Webhook(w) => w.reports,
        }
    }
}

/// A URL as shown in records: no user info, no query.
pub fn target_of_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
            format!("{scheme}://{host}{path}")
        }
        None => no_query.to_string(),
    }
}

#[derive(Clone, Debug)]
struct Job {
    route: usize,
    msg: Arc<Message>,
}

/// The handle of a running notifier.
#[derive(Clone, Debug)]
pub struct Notifier {
    events: mpsc::UnboundedSender<CallEvent>,
    reports: mpsc::Sender<Message>,
    cfg: Arc<NotifyConfig>,
}

impl Notifier {
    /// Starts the notifier's task on the current tokio runtime; `store`
    /// records the attempts (None: logged only).
    pub fn spawn(cfg: NotifyConfig, cal: Calendar, store: Option<Store>) -> Notifier {
        Self::spawn_with_clock(cfg, cal, store, Arc::new(SystemClock))
    }

    /// [`Notifier::spawn`] with an injected clock (tests).
    pub fn spawn_with_clock(
        cfg: NotifyConfig,
        cal: Calendar,
        store: Option<Store>,
        clock: Arc<dyn Clock>,
    ) -> Notifier {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (reports, reports_rx) = mpsc::channel(REPORT_QUEUE);
        let cfg = Arc::new(cfg);
        let task = Task {
            routes: cfg
                .email
                .iter()
                .cloned()
                .map(|e| Route::Email(Arc::new(e)))
                .chain(
                    cfg.webhook
                        .iter()
                        .cloned()
                        .map(|w| Route::Webhook(Arc::new(w))),
                )
                .collect(),
            outbox: Outbox::new(cfg.retry_policy(), cfg.queue_size as usize),
            timeout: Duration::from_secs(u64::from(cfg.timeout_s)),
            cfg: cfg.clone(),
            cal,
            store,
            clock,
        };
        tokio::spawn(
            task.run(events_rx, reports_rx)
                .instrument(info_span!("notify")),
        );
        Notifier {
            events,
            reports,
            cfg,
        }
    }

    /// Where the engine's events go (an output of the event tee).
    pub fn events(&self) -> mpsc::UnboundedSender<CallEvent> {
        self.events.clone()
    }

    /// Queues a report (`day` names it) for the channels that take reports;
    /// false when the queue is full or the notifier stopped.
    pub fn send_report(&self, day: &str, text: String, at_ms: i64) -> bool {
        let msg = message::for_report(day, text, at_ms, self.cfg.language, &self.cfg.center_name);
        self.reports.try_send(msg).is_ok()
    }
}

struct Task {
    routes: Vec<Route>,
    outbox: Outbox<Job>,
    timeout: Duration,
    cfg: Arc<NotifyConfig>,
    cal: Calendar,
    store: Option<Store>,
    clock: Arc<dyn Clock>,
}

struct Attempt {
    id: u64,
    job: Job,
    attempt: u32,
    result: Result<(), String>,
}

impl Task {
    fn enqueue(&mut self, msg: Message, wanted: impl Fn(&Route) -> bool) {
        let msg = Arc::new(msg);
        let now = self.clock.now_ms();
        for (i, r) in self.routes.iter().enumerate() {
            if !wanted(r) {
                continue;
            }
            let job = Job {
                route: i,
                msg: msg.clone(),
            };
            if let Err(e) = self.outbox.push(now, job) {
                warn!(kind = %msg.kind, channel = r.channel(), target = %r.target(), error = %e, "notification dropped");
            }
        }
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut reports: mpsc::Receiver<Message>,
    ) {
        let mut running: JoinSet<Attempt> = JoinSet::new();
        let mut open = true;
        loop {
            let now = self.clock.now_ms();
            while running.len() < MAX_IN_FLIGHT {
                let Some(p) = self.outbox.poll_due(now) else {
                    break;
                };
                let Some(route) = self.routes.get(p.job.route).cloned() else {
                    continue;
                };
                let timeout = self.timeout;
                running.spawn(async move {
                    let result = match &route {
                        Route::Email(e) => send_email(e, &p.job.msg, timeout).await,
                        Route::Webhook(w) => send_webhook(w, &p.job.msg, timeout).await,
                    }
                    .map_err(|e| e.to_string());
                    Attempt {
                        id: p.id,
                        job: p.job,
                        attempt: p.attempt,
                        result,
                    }
                });
            }
            if !open && running.is_empty() && self.outbox.is_empty() {
                return;
            }
            let wait = match self.outbox.poll_timeout() {
                Some(t) if running.len() < MAX_IN_FLIGHT => {
                    Duration::from_millis(u64::try_from(t.saturating_sub(now)).unwrap_or(0))
                }
                _ => Duration::from_secs(3600),
            };
            tokio::select! {
                ev = events.recv(), if open => match ev {
                    Some(e) => {
                        let kind = e.kind.name();
                        if self.routes.iter().any(|r| r.receives(kind)) {
                            let msg = message::for_event(&e, self.cfg.language, &self.cfg.center_name, &self.cal);
                            self.enqueue(msg, |r| r.receives(kind));
                        }
                    }
                    None => open = false,
                },
                Some(msg) = reports.recv() => self.enqueue(msg, Route::reports),
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Ok(a) = done {
                        self.finish(a).await;
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn finish(&mut self, a: Attempt) {
        let now = self.clock.now_ms();
        let verdict = self.outbox.report(now, a.id, a.result.is_ok());
        let Some(route) = self.routes.get(a.job.route) else {
            return;
        };
        let outcome = match verdict {
            Verdict::Delivered => "delivered",
            Verdict::RetryAt(_) => "retry",
            Verdict::GaveUp => "gave_up",
        };
        let target = route.target();
        match (&a.result, verdict) {
            (Ok(()), _) => {
                info!(kind = %a.job.msg.kind, channel = route.channel(), %target, attempt = a.attempt, "notification delivered")
            }
            (Err(e), Verdict::RetryAt(at)) => {
                warn!(kind = %a.job.msg.kind, channel = route.channel(), %target, attempt = a.attempt, error = %e, retry_in_ms = at - now, "notification failed, retrying")
            }
            (Err(e), _) => {
                warn!(kind = %a.job.msg.kind, channel = route.channel(), %target, attempt = a.attempt, error = %e, "notification failed, giving up")
            }
        }
        if let Some(store) = &self.store {
            let d = Delivery {
                at_ms: now,
                channel: route.channel().into(),
                target,
                event_id: a.job.msg.id.clone(),
                event_kind: a.job.msg.kind.clone(),
                attempt: a.attempt,
                outcome: outcome.into(),
                error: a.result.err().map(|e| e.chars().take(500).collect()),
            };
            if let Err(e) = store.record_delivery(&d).await {
                warn!(error = %e, "cannot record a delivery attempt");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_hide_keys_and_passwords() {
        assert_eq!(
            target_of_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
        );
        assert_eq!(
            target_of_url("http://user:pw@127.0.0.1:9000/hook#x"),
            "http://127.0.0.1:9000/hook"
        );
        assert_eq!(target_of_url("http://h"), "http://h");
    }
}
