//! Notifications (migration 0009): every delivery attempt of an alarm or a
//! report, and the line self-test results (kept as events of the log).

use crate::{Store, StoreError};
use hotline_core::CallEvent;
use serde::Serialize;
use sqlx::Row;

/// Most rows a listing returns.
pub const MAX_DELIVERIES: i64 = 1000;

/// The event kinds of the line self-test.
pub const LINE_TEST_KINDS: [&str; 3] =
    ["line_test_passed", "line_test_failed", "line_test_missing"];

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// When the attempt ended, epoch ms.
    pub at_ms: i64,
    /// `email` or `webhook`.
    pub channel: String,
    /// The recipients or the URL (no credentials).
    pub target: String,
    /// What was delivered (`<at_ms>:<kind>[:<call>]`, `report:<day>`).
    pub event_id: String,
    /// The event kind, or `daily_report`.
    pub event_kind: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `delivered`, `retry` (failed, tried again) or `gave_up`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<String>,
}

impl Store {
    /// Whether any delivery of `event_id` was attempted (by any node), at
    /// or after `from_ms`: a report or an alarm some node already sent.
    pub async fn delivery_attempted(
        &self,
        event_id: &str,
        from_ms: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM notify_deliveries WHERE event_id = $1 AND at_ms >= $2",
        )
        .bind(event_id.to_string())
        .bind(from_ms)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n > 0)
    }

    /// Records one delivery attempt.
    pub async fn record_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notify_deliveries (at_ms, channel, target, event_id, event_kind, \
             attempt, outcome, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(d.at_ms)
        .bind(d.channel.clone())
        .bind(d.target.clone())
        .bind(d.event_id.clone())
        .bind(d.event_kind.clone())
        .bind(i64::from(d.attempt))
        .bind(d.outcome.clone())
        .bind(d.error.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delivery attempts with `at_ms >= from_ms`, newest first, at most
    /// `limit` (capped at [`MAX_DELIVERIES`]).
    pub async fn deliveries(&self, from_ms: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, channel, target, event_id, event_kind, attempt, outcome, error \
             FROM notify_deliveries WHERE at_ms >= $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(from_ms)
        .bind(limit.clamp(0, MAX_DELIVERIES))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    at_ms: r.try_get("at_ms")?,
                    channel: r.try_get("channel")?,
                    target: r.try_get("target")?,
                    event_id: r.try_get("event_id")?,
                    event_kind: r.try_get("event_kind")?,
                    attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    outcome: r.try_get("outcome")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// Line self-test results (passed, failed, missing) with
    /// `from_ms <= at_ms < to_ms`, newest first, at most `limit`.
    pub async fn line_tests(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<CallEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body FROM events WHERE at_ms >= $1 AND at_ms < $2 \
             AND kind IN ($3, $4, $5) ORDER BY at_ms DESC, id DESC LIMIT $6",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(LINE_TEST_KINDS[0].to_string())
        .bind(LINE_TEST_KINDS[1].to_string())
        .bind(LINE_TEST_KINDS[2].to_string())
        .bind(limit.clamp(0, MAX_DELIVERIES))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::event_from_row).collect()
    }
}
