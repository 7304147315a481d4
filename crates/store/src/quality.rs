//! Quality scoring (监听分值) and agents' employment dates (值机员流动率).
//!
//! A score form ([`ScoreForm`], from the config) lists criteria with weights;
//! a reviewer rates each criterion 0–[`MAX_RATING`] on a recorded call and may
//! leave comments at positions of the recording. The total is the weighted
//! share of the full marks, 0–100. One score per (call, reviewer): scoring
//! again replaces it, and two reviewers of one call are compared by
//! [`Store::quality_calibration`]. Averages per agent and per team (queue)
//! over a period are the monitoring score of the regulations' KPIs.

use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

/// The highest rating of a criterion (0 = not done at all).
pub const MAX_RATING: u8 = 5;
/// Most criteria on a form.
pub const MAX_CRITERIA: usize = 50;
/// Most comments on one score.
pub const MAX_COMMENTS: usize = 100;
/// Longest comment, characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// One criterion of a score form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Its key in the ratings (`opening`).
    pub id: String,
    /// What the reviewer checks, in words.
    pub label: String,
    /// Its weight (1–100).
    pub weight: u32,
}

/// A score form: what a reviewer checks on a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreForm {
    /// Its key (`standard`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The criteria, in the order shown.
    pub criteria: Vec<Criterion>,
}

/// Why a form or a score is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// A form is malformed.
    #[error("score form {form}: {detail}")]
    BadForm {
        /// The form's id (or its position).
        form: String,
        /// What is wrong.
        detail: String,
    },
    /// The ratings do not fit the form.
    #[error("ratings: {0}")]
    BadRatings(String),
    /// A comment is malformed.
    #[error("comments: {0}")]
    BadComment(String),
}

fn is_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl ScoreForm {
    /// The shipped example: the regulations' answering rules.
    pub fn shipped_example() -> ScoreForm {
        let c = |id: &str, label: &str, weight| Criterion {
            id: id.into(),
            label: label.into(),
            weight,
        };
        ScoreForm {
            id: "standard".into(),
            name: "Standard call".into(),
            criteria: vec![
                c(
                    "opening",
                    "Opening phrase 「您好！请问有什么可以帮到您？」",
                    15,
                ),
                c("agent_number", "Agent number said (报工号)", 10),
                c(
                    "listening",
                    "Listening: let the caller speak, confirmed the need",
                    20,
                ),
                c("solution", "Solution correct and complete", 25),
                c("courtesy", "Courtesy and tone", 15),
                c("closing", "Closing phrase 「谢谢您的电话，再见！」", 10),
                c("time_limit", "Within the time limit of the call type", 5),
            ],
        }
    }

    /// Checks ids, labels and weights.
    pub fn validate(&self) -> Result<(), QualityError> {
        let bad = |detail: String| QualityError::BadForm {
            form: self.id.clone(),
            detail,
        };
        if !is_key(&self.id) {
            return Err(bad("id: 1-64 of letters, digits, '_' or '-'".into()));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(bad("name: 1-200 characters".into()));
        }
        if self.criteria.is_empty() || self.criteria.len() > MAX_CRITERIA {
            return Err(bad(format!("criteria: 1 to {MAX_CRITERIA}")));
        }
        for (i, c) in self.criteria.iter().enumerate() {
            if !is_key(&c.id) {
                return Err(bad(format!(
                    "criteria[{i}].id: 1-64 of letters, digits, '_' or '-'"
                )));
            }
            if self.criteria[..i].iter().any(|o| o.id == c.id) {
                return Err(bad(format!("criteria[{i}].id `{}` twice", c.id)));
            }
            if c.label.trim().is_empty() || c.label.chars().count() > 200 {
                return Err(bad(format!("criteria[{i}].label: 1-200 characters")));
            }
            if !(1..=100).contains(&c.weight) {
                return Err(bad(format!("criteria[{i}].weight: 1 to 100")));
            }
        }
        Ok(())
    }

    /// The total of `ratings` on this form, 0–100: Σ weight × rating ÷ (Σ
    /// weight × [`MAX_RATING`]) × 100. Every criterion must be rated
    /// (0–[`MAX_RATING`]) and nothing else.
    pub fn total(&self, ratings: &BTreeMap<String, u8>) -> Result<f64, QualityError> {
        for k in ratings.keys() {
            if !self.criteria.iter().any(|c| &c.id == k) {
                return Err(QualityError::BadRatings(format!(
                    "`{}` is no criterion of form {}",
                    k.chars().take(64).collect::<String>(),
                    self.id
                )));
            }
        }
        let (mut got, mut full) = (0u64, 0u64);
        for c in &self.criteria {
            let r = *ratings.get(&c.id).ok_or_else(|| {
                QualityError::BadRatings(format!("criterion `{}` is not rated", c.id))
            })?;
            if r > MAX_RATING {
                return Err(QualityError::BadRatings(format!(
                    "`{}`: {r} is above {MAX_RATING}",
                    c.id
                )));
            }
            got += u64::from(c.weight) * u64::from(r);
            full += u64::from(c.weight) * u64::from(MAX_RATING);
        }
        Ok(if full == 0 {
            0.0
        } else {
            got as f64 * 100.0 / full as f64
        })
    }
}

/// A comment at a position of the recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityComment {
    /// Position in the recording, ms from its start.
    pub offset_ms: i64,
    /// The comment.
    pub text: String,
}

/// Checks comments: at most [`MAX_COMMENTS`], positions 0–24 h, text
/// 1–[`MAX_COMMENT_CHARS`] characters without control characters but line breaks.
pub fn check_comments(comments: &[QualityComment]) -> Result<(), QualityError> {
    if comments.len() > MAX_COMMENTS {
        return Err(QualityError::BadComment(format!("at most {MAX_COMMENTS}")));
    }
    for (i, c) in comments.iter().enumerate() {
        if !(0..=86_400_000).contains(&c.offset_ms) {
            return Err(QualityError::BadComment(format!(
                "[{i}].offset_ms: 0 to 86400000"
            )));
        }
        let n = c.text.chars().count();
        if c.text.trim().is_empty() || n > MAX_COMMENT_CHARS {
            return Err(QualityError::BadComment(format!(
                "[{i}].text: 1 to {MAX_COMMENT_CHARS} characters"
            )));
        }
        if c.text.chars().any(|ch| ch.is_control() && ch != '\n') {
            return Err(QualityError::BadComment(format!(
                "[{i}].text: no control characters"
            )));
        }
    }
    Ok(())
}

/// A score to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewScore {
    /// The call scored.
    pub call_id: String,
    /// The agent who took it.
    pub agent: String,
    /// Its queue (the team), if any.
    pub queue: Option<String>,
    /// When the call arrived (the period it counts in), epoch ms.
    pub call_arrived_ms: i64,
    /// The form's id.
    pub form: String,
    /// Who scored.
    pub reviewer: String,
    /// Rating per criterion.
    pub ratings: BTreeMap<String, u8>,
    /// The total, 0–100 (kept to 0.01).
    pub total: f64,
    /// Comments at positions of the recording.
    pub comments: Vec<QualityComment>,
    /// When it was scored, epoch ms.
    pub at_ms: i64,
}

/// A stored score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityScore {
    /// Its id.
    pub id: i64,
    /// The call scored.
    pub call_id: String,
    /// The agent who took it.
    pub agent: String,
    /// Its queue (the team), if any.
    pub queue: Option<String>,
    /// When the call arrived, epoch ms.
    pub call_arrived_ms: i64,
    /// The form's id.
    pub form: String,
    /// Who scored.
    pub reviewer: String,
    /// Rating per criterion.
    pub ratings: BTreeMap<String, u8>,
    /// The total, 0–100.
    pub total: f64,
    /// Comments at positions of the recording, by position.
    pub comments: Vec<QualityComment>,
    /// When it was scored (last), epoch ms.
    pub at_ms: i64,
}

/// Which scores to list.
#[derive(Clone, Debug, Default)]
pub struct ScoreFilter {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only this queue's.
    pub queue: Option<String>,
    /// Calls that arrived at or after, epoch ms.
    pub from_ms: Option<i64>,
    /// Calls that arrived before, epoch ms.
    pub to_ms: Option<i64>,
    /// At most this many (newest calls first); 0 = 1 000.
    pub limit: i64,
}

/// A mean score and how many scores it is over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Average {
    /// The mean total, 0–100 (None: no score).
    pub mean: Option<f64>,
    /// Scores counted.
    pub scores: u64,
}

impl Average {
    fn of(totals: &[f64]) -> Average {
        Average {
            mean: (!totals.is_empty()).then(|| totals.iter().sum::<f64>() / totals.len() as f64),
            scores: totals.len() as u64,
        }
    }
}

/// The monitoring score (监听分值) over a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QualityAverages {
    /// Every score of the period.
    pub overall: Average,
    /// Per agent.
    pub agents: BTreeMap<String, Average>,
    /// Per team (the call's queue; calls without one are in no team).
    pub teams: BTreeMap<String, Average>,
}

/// A call scored by two reviewers or more: each one's score side by side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// The call.
    pub call_id: String,
    /// Its agent.
    pub agent: String,
    /// The scores, by reviewer.
    pub scores: Vec<QualityScore>,
    /// Highest total − lowest total.
    pub spread: f64,
    /// Per criterion: highest rating − lowest rating (criteria of the
    /// first score's form rated by all).
    pub criterion_spread: BTreeMap<String, u8>,
}

const SCORE_COLUMNS: &str = "id, call_id, agent, queue, call_arrived_ms, form, reviewer, ratings, total_centi, comments, at_ms";

fn score_from_row(r: &sqlx::any::AnyRow) -> Result<QualityScore, StoreError> {
    let id: i64 = r.try_get("id")?;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "quality score",
        id: id.to_string(),
        detail,
    };
    let ratings: String = r.try_get("ratings")?;
    let comments: String = r.try_get("comments")?;
    let centi: i64 = r.try_get("total_centi")?;
    Ok(QualityScore {
        id,
        call_id: r.try_get("call_id")?,
        agent: r.try_get("agent")?,
        queue: r.try_get("queue")?,
        call_arrived_ms: r.try_get("call_arrived_ms")?,
        form: r.try_get("form")?,
        reviewer: r.try_get("reviewer")?,
        ratings: serde_json::from_str(&ratings).map_err(|e| corrupt(e.to_string()))?,
        total: centi as f64 / 100.0,
        comments: serde_json::from_str(&comments).map_err(|e| corrupt(e.to_string()))?,
        at_ms: r.try_get("at_ms")?,
    })
}

impl Store {
    /// Stores a reviewer's score of a call (replacing their earlier score of
    /// it); returns its id. Comments are kept by position.
    pub async fn put_quality_score(&self, s: &NewScore) -> Result<i64, StoreError> {
        let mut comments = s.comments.clone();
        comments.sort_by_key(|c| c.offset_ms);
        let ratings = serde_json::to_string(&s.ratings).map_err(StoreError::Encode)?;
        let comments = serde_json::to_string(&comments).map_err(StoreError::Encode)?;
        let centi = (s.total.clamp(0.0, 100.0) * 100.0).round() as i64;
        let row = sqlx::query(
            "INSERT INTO quality_scores (call_id, agent, queue, call_arrived_ms, form, reviewer, ratings, total_centi, comments, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (call_id, reviewer) DO UPDATE SET agent = excluded.agent, queue = excluded.queue, \
             call_arrived_ms = excluded.call_arrived_ms, form = excluded.form, ratings = excluded.ratings, \
             total_centi = excluded.total_centi, comments = excluded.comments, at_ms = excluded.at_ms \
             RETURNING id",
        )
        .bind(s.call_id.clone())
        .bind(s.agent.clone())
        .bind(s.queue.clone())
        .bind(s.call_arrived_ms)
        .bind(s.form.clone())
        .bind(s.reviewer.clone())
        .bind(ratings)
        .bind(centi)
        .bind(comments)
        .bind(s.at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Every score of a call, by reviewer.
    pub async fn quality_scores_of_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<QualityScore>, StoreError> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores WHERE call_id = $1 ORDER BY reviewer, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(score_from_row).collect()
    }

    /// Scores of the calls that arrived in the filter's period, newest call first.
    pub async fn quality_scores(&self, f: &ScoreFilter) -> Result<Vec<QualityScore>, StoreError> {
        let limit = if f.limit <= 0 {
            1000
        } else {
            f.limit.min(100_000)
        };
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores \
             WHERE ($1 = '' OR agent = $1) AND ($2 = '' OR queue = $2) \
             AND call_arrived_ms >= $3 AND call_arrived_ms < $4 \
             ORDER BY call_arrived_ms DESC, id DESC LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.agent.clone().unwrap_or_default())
            .bind(f.queue.clone().unwrap_or_default())
            .bind(f.from_ms.unwrap_or(i64::MIN))
            .bind(f.to_ms.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(score_from_row).collect()
    }

    /// The monitoring score of the calls that arrived in `[from_ms, to_ms)`:
    /// overall, per agent and per team. Every score counts (a call scored by
    /// two reviewers counts twice).
    pub async fn quality_averages(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<QualityAverages, StoreError> {
        let rows = sqlx::query(
            "SELECT agent, queue, total_centi FROM quality_scores \
             WHERE call_arrived_ms >= $1 AND call_arrived_ms < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut all = Vec::with_capacity(rows.len());
        let mut agents: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut teams: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &rows {
            let centi: i64 = r.try_get("total_centi")?;
            let total = centi as f64 / 100.0;
            all.push(total);
            agents.entry(r.try_get("agent")?).or_default().push(total);
            if let Some(q) = r.try_get::<Option<String>, _>("queue")? {
                teams.entry(q).or_default().push(total);
            }
        }
        Ok(QualityAverages {
            overall: Average::of(&all),
            agents: agents
                .into_iter()
                .map(|(k, v)| (k, Average::of(&v)))
                .collect(),
            teams: teams
                .into_iter()
                .map(|(k, v)| (k, Average::of(&v)))
                .collect(),
        })
    }

    /// Calls that arrived in `[from_ms, to_ms)` and were scored by two
    /// reviewers or more, the widest disagreement first.
    pub async fn quality_calibration(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Calibration>, StoreError> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores WHERE call_id IN \
             (SELECT call_id FROM quality_scores WHERE call_arrived_ms >= $1 AND call_arrived_ms < $2 \
              GROUP BY call_id HAVING COUNT(*) > 1) ORDER BY call_id, reviewer"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut by_call: BTreeMap<String, Vec<QualityScore>> = BTreeMap::new();
        for r in &rows {
            let s = score_from_row(r)?;
            by_call.entry(s.call_id.clone()).or_default().push(s);
        }
        let mut out: Vec<Calibration> = by_call
            .into_iter()
            .map(|(call_id, scores)| {
                let totals = scores.iter().map(|s| s.total);
                let hi = totals.clone().fold(f64::MIN, f64::max);
                let lo = totals.fold(f64::MAX, f64::min);
                let mut criterion_spread = BTreeMap::new();
                if let Some(first) = scores.first() {
                    for k in first.ratings.keys() {
                        let rs: Vec<u8> = scores
                            .iter()
                            .filter_map(|s| s.ratings.get(k).copied())
                            .collect();
                        if rs.len() == scores.len() {
                            let max = rs.iter().copied().max().unwrap_or(0);
                            let min = rs.iter().copied().min().unwrap_or(0);
                            criterion_spread.insert(k.clone(), max - min);
                        }
                    }
                }
                Calibration {
                    agent: scores.first().map(|s| s.agent.clone()).unwrap_or_default(),
                    call_id,
                    spread: ((hi - lo) * 100.0).round() / 100.0,
                    criterion_spread,
                    scores,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.spread
                .total_cmp(&a.spread)
                .then(a.call_id.cmp(&b.call_id))
        });
        Ok(out)
    }

    /// Sets when a user started and left (None = their creation / still
    /// employed). False when there is no such user.
    pub async fn set_employment(
        &self,
        name: &str,
        started_ms: Option<i64>,
        ended_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE users SET started_ms = $1, ended_ms = $2 WHERE name = $3")
            .bind(started_ms)
            .bind(ended_ms)
            .bind(name.to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Every user with the agent role: (name, started, ended), a missing
    /// start being their creation.
    pub async fn agent_employment(&self) -> Result<Vec<(String, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, created_ms, started_ms, ended_ms FROM users WHERE role = 'agent' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let created: i64 = r.try_get("created_ms")?;
                let started: Option<i64> = r.try_get("started_ms")?;
                Ok((
                    r.try_get("name")?,
                    started.unwrap_or(created),
                    r.try_get("ended_ms")?,
                ))
            })
            .collect()
    }

    /// Agent turnover (值机员流动率) over `[from_ms, to_ms)`: see [`turnover`].
    pub async fn agent_turnover(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<f64>, StoreError> {
        Ok(turnover(&self.agent_employment().await?, from_ms, to_ms))
    }
}

/// Agent turnover over `[from_ms, to_ms)`: agents whose end falls in it ÷
/// the mean of the agents employed at its start and at its end (employed at
/// `t`: started at or before `t`, not ended at or before `t`). None when
/// nobody was employed at either end.
pub fn turnover(agents: &[(String, i64, Option<i64>)], from_ms: i64, to_ms: i64) -> Option<f64> {
    let employed = |t: i64| {
        agents
            .iter()
            .filter(|(_, s, e)| *s <= t && e.is_none_or(|e| e > t))
            .count() as f64
    };
    let left = agents
        .iter()
        .filter(|(_, _, e)| e.is_some_and(|e| e >= from_ms && e < to_ms))
        .count() as f64;
    let mean = (employed(from_ms) + employed(to_ms)) / 2.0;
    (mean > 0.0).then(|| left / mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_weighted_share_of_full_marks_by_hand() {
        let f = ScoreForm::shipped_example();
        f.validate().expect("the shipped form is valid");
        let all = |r: u8| f.criteria.iter().map(|c| (c.id.clone(), r)).collect();
        assert_eq!(f.total(&all(5)), Ok(100.0));
        assert_eq!(f.total(&all(0)), Ok(0.0));
        // weights 15 10 20 25 15 10 5 = 100; opening 5, number 0, the rest 4:
        // (75 + 0 + 80 + 100 + 60 + 40 + 20) / 500 × 100 = 75
        let mut r: BTreeMap<String, u8> = all(4);
        r.insert("opening".into(), 5);
        r.insert("agent_number".into(), 0);
        assert_eq!(f.total(&r), Ok(75.0));
    }

    #[test]
    fn bad_ratings_forms_and_comments_are_refused() {
        let f = ScoreForm::shipped_example();
        let mut r: BTreeMap<String, u8> = f.criteria.iter().map(|c| (c.id.clone(), 3)).collect();
        r.insert("opening".into(), 6);
        assert!(matches!(f.total(&r), Err(QualityError::BadRatings(_))));
        r.insert("opening".into(), 3);
        r.remove("closing");
        assert!(f.total(&r).unwrap_err().to_string().contains("closing"));
        r.insert("closing".into(), 3);
        r.insert("x".repeat(10_000), 3);
        let e = f.total(&r).unwrap_err().to_string();
        assert!(e.len() < 200, "hostile keys are cut in the message: {e}");
        for bad in [
            ScoreForm {
                id: "a b".into(),
                ..f.clone()
            },
            ScoreForm {
                name: " ".into(),
                ..f.clone()
            },
            ScoreForm {
                criteria: vec![],
                ..f.clone()
            },
            ScoreForm {
                criteria: vec![f.criteria[0].clone(), f.criteria[0].clone()],
                ..f.clone()
            },
            ScoreForm {
                criteria: vec![Criterion {
                    weight: 0,
                    ..f.criteria[0].clone()
                }],
                ..f.clone()
            },
            ScoreForm {
                criteria: vec![Criterion {
                    weight: 101,
                    ..f.criteria[0].clone()
                }],
                ..f.clone()
            },
            ScoreForm {
                criteria: vec![Criterion {
                    id: "".into(),
                    ..f.criteria[0].clone()
                }],
                ..f.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let c = |offset_ms, text: &str| QualityComment {
            offset_ms,
            text: text.into(),
        };
        assert!(check_comments(&[c(0, "ok"), c(5_000, "line\nbreak")]).is_ok());
        for bad in [
            vec![c(-1, "x")],
            vec![c(86_400_001, "x")],
            vec![c(0, "  ")],
            vec![c(0, &"字".repeat(1001))],
            vec![c(0, "bell\u{7}")],
            vec![c(0, "x"); 101],
        ] {
            assert!(check_comments(&bad).is_err(), "{:?}", bad.first());
        }
    }

    #[test]
    fn turnover_by_hand() {
        let day = 86_400_000;
        let a = |n: &str, s: i64, e: Option<i64>| (n.to_string(), s, e);
        // a month [30, 60) days: 4 agents at its start (a b c d), b leaves on
        // day 40, d on day 59, e starts on day 45: 3 at its end (a c e)
        let agents = vec![
            a("a", 0, None),
            a("b", 0, Some(40 * day)),
            a("c", 10 * day, None),
            a("d", 20 * day, Some(59 * day)),
            a("e", 45 * day, None),
            a("f", 0, Some(10 * day)), // left before: not counted
        ];
        assert_eq!(turnover(&agents, 30 * day, 60 * day), Some(2.0 / 3.5));
        assert_eq!(turnover(&[], 0, day), None);
        // absurd dates do not panic
        assert_eq!(
            turnover(&[a("x", i64::MIN, Some(i64::MAX))], i64::MIN, i64::MAX),
            Some(0.0)
        );
    }
}
