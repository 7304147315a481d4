//! The handover at a change of shift: what the outgoing shift writes,
//! prefilled with what the system knows (open cases, due call-backs and
//! work items, the shift's alarms); the incoming shift acknowledges it.

use serde::{Deserialize, Serialize};

/// The longest handover text, characters.
pub const MAX_TEXT: usize = 20_000;
/// The most prefilled items.
pub const MAX_ITEMS: usize = 500;

/// One prefilled line of a handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverItem {
    /// `case`, `work_item`, `callback`, `alarm`.
    pub kind: String,
    /// Its id where it has one (case id, work item id), else 0.
    #[serde(default)]
    pub id: i64,
    /// One line for the reader.
    pub text: String,
}

/// An open case for the prefill.
#[derive(Debug, Clone)]
pub struct OpenCase {
    /// Case id.
    pub id: i64,
    /// Severity.
    pub severity: String,
    /// Owner.
    pub owner: String,
    /// Reply deadline, epoch ms.
    pub deadline_ms: i64,
    /// Customer number.
    pub number: String,
}

/// A due work item (call-back owed) for the prefill.
#[derive(Debug, Clone)]
pub struct DueItem {
    /// Item id.
    pub id: i64,
    /// Its kind (`missed`, `voicemail`, `promise`, ...).
    pub kind: String,
    /// Customer number.
    pub number: String,
    /// Deadline, epoch ms.
    pub deadline_ms: i64,
}

/// The prefilled items: open cases, open work items (call-backs owed)
/// and the alarms (`(at, kind name, text)`) of the shift.
pub fn prefill(
    cal: &hotline_core::Calendar,
    cases: &[OpenCase],
    items: &[DueItem],
    alarms: &[(i64, String, String)],
) -> Vec<HandoverItem> {
    let mut out = Vec::new();
    for c in cases {
        out.push(HandoverItem {
            kind: "case".into(),
            id: c.id,
            text: format!(
                "case #{} ({}) of {} owned by {}, reply due {}",
                c.id,
                c.severity,
                c.number,
                c.owner,
                cal.format(c.deadline_ms)
            ),
        });
    }
    for i in items {
        out.push(HandoverItem {
            kind: if i.kind == "callback" {
                "callback"
            } else {
                "work_item"
            }
            .into(),
            id: i.id,
            text: format!(
                "call back {} ({}, item #{}) by {}",
                i.number,
                i.kind,
                i.id,
                cal.format(i.deadline_ms)
            ),
        });
    }
    for (at, kind, text) in alarms {
        out.push(HandoverItem {
            kind: "alarm".into(),
            id: 0,
            text: format!("{} {kind}: {text}", cal.format(*at)),
        });
    }
    out.truncate(MAX_ITEMS);
    out
}
