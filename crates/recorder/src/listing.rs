//! Recordings and their accesses as text for the command line (`hotline
//! recordings list|show`, `hotline audit`): the recorded calls with their
//! marks and holds, one call's marks and accesses, and the audit log as CSV.
//! The binary parses the flags and prints these.

use hotline_core::{Calendar, CallId, CallType};
use hotline_store::{Store, StoreError};
use std::fmt::Write;

/// Which recordings `hotline recordings list` shows.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Caller number (exact).
    pub caller: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Calls that arrived at or after this instant, epoch ms.
    pub from_ms: Option<i64>,
    /// Calls that arrived before this instant, epoch ms.
    pub to_ms: Option<i64>,
    /// Only recordings with an evidence mark (held or released).
    pub marked: bool,
    /// Only this call type.
    pub call_type: Option<CallType>,
    /// Only calls that talked at least this long, ms.
    pub min_talk_ms: Option<i64>,
    /// At most this many (newest first).
    pub limit: u32,
}

/// A CSV field, quoted when it holds a separator, quote or line break.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `hotline recordings list`: recorded calls, newest first, with their
/// marks and whether they are on hold, as CSV (times in `cal`).
pub async fn list_csv(store: &Store, cal: &Calendar, q: &ListQuery) -> Result<String, StoreError> {
    let held = store.held_calls().await?;
    let cdrs = store.recent_cdrs(1_000_000).await?;
    let mut out = String::from("call_id,arrived,caller,agent,queue,type,talk_s,marks,hold,path\n");
    let mut shown = 0;
    for c in cdrs {
        if shown >= q.limit {
            break;
        }
        let Some(path) = &c.recording_path else {
            continue;
        };
        if q.from_ms.is_some_and(|t| c.arrived_ms < t) || q.to_ms.is_some_and(|t| c.arrived_ms >= t)
        {
            continue;
        }
        if q.caller.as_ref().is_some_and(|n| *n != c.caller)
            || q.agent
                .as_ref()
                .is_some_and(|a| c.agent.as_ref().map(|x| x.as_str()) != Some(a.as_str()))
            || q.call_type.is_some_and(|t| t != c.call_type)
            || q.min_talk_ms.is_some_and(|ms| c.talk_ms.unwrap_or(0) < ms)
        {
            continue;
        }
        let id = c.call_id.as_str().to_string();
        let marks = store.marks(&id).await?;
        if q.marked && marks.is_empty() {
            continue;
        }
        let kinds: Vec<&str> = marks.iter().map(|m| m.kind.as_str()).collect();
        let arrived = cal.format_with_offset(c.arrived_ms);
        let _ = writeln!(
            out,
            "{id},{arrived},{},{},{},{},{:.1},{},{},{path}",
            csv(&c.caller),
            c.agent.as_ref().map(|a| a.as_str()).unwrap_or(""),
            c.queue.as_ref().map(|q| q.as_str()).unwrap_or(""),
            c.call_type.as_str(),
            c.talk_ms.unwrap_or(0) as f64 / 1000.0,
            kinds.join("+"),
            if held.contains(&id) { "held" } else { "" },
        );
        shown += 1;
    }
    Ok(out)
}

/// `hotline recordings show`: one recording's call, marks and accesses, or
/// `None` when there is no such call.
pub async fn show_text(store: &Store, id: &str) -> Result<Option<String>, StoreError> {
    let Some(c) = store.cdr(&CallId::from_stored(id)).await? else {
        return Ok(None);
    };
    let mut out = String::new();
    // writing to a String cannot fail
    let _ = writeln!(out, "call      {id}");
    let _ = writeln!(out, "caller    {}", c.caller);
    let _ = writeln!(
        out,
        "agent     {}",
        c.agent.as_ref().map(|a| a.as_str()).unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "queue     {}",
        c.queue.as_ref().map(|q| q.as_str()).unwrap_or("-")
    );
    let _ = writeln!(out, "type      {}", c.call_type.as_str());
    let _ = writeln!(
        out,
        "talk      {:.1} s",
        c.talk_ms.unwrap_or(0) as f64 / 1000.0
    );
    let _ = writeln!(
        out,
        "recording {}",
        c.recording_path.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "sha256    {}",
        c.recording_sha256.as_deref().unwrap_or("-")
    );
    for m in store.marks(id).await? {
        let _ = writeln!(
            out,
            "mark      {} by {} at {}: {}{}",
            m.kind.as_str(),
            m.by,
            m.at_ms,
            m.note,
            match (&m.released_by, m.released_ms) {
                (Some(by), Some(at)) => format!(" (released by {by} at {at})"),
                _ => " (on hold)".into(),
            }
        );
    }
    for a in store.audit(Some(id)).await? {
        let _ = writeln!(
            out,
            "access    {} {} by {}: {}",
            a.at_ms, a.action, a.who, a.reason
        );
    }
    Ok(Some(out))
}

/// `hotline audit`: the access log (of one call, or all), as CSV.
pub async fn audit_csv(store: &Store, call: Option<&str>) -> Result<String, StoreError> {
    let mut out = String::from("id,at_ms,who,action,call_id,reason,hash\n");
    for a in store.audit(call).await? {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            a.id,
            a.at_ms,
            csv(&a.who),
            csv(&a.action),
            a.call_id.as_deref().unwrap_or(""),
            csv(&a.reason),
            a.hash
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        assert_eq!(csv("os:root"), "os:root");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(csv("cr\rhere"), "\"cr\rhere\"");
    }

    #[tokio::test]
    async fn the_audit_log_and_an_unknown_call_as_text() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::connect(&format!("sqlite://{}/a.db", dir.path().display()))
            .await
            .expect("store");
        store
            .append_audit(1_000, "user:li", "listen", Some("c1"), "complaint, checked")
            .await
            .expect("audit");
        let text = audit_csv(&store, None).await.expect("csv");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("id,at_ms,who,action,call_id,reason,hash")
        );
        let row = lines.next().expect("one entry");
        assert!(
            row.contains(",1000,user:li,listen,c1,\"complaint, checked\","),
            "{row}"
        );
        assert_eq!(
            audit_csv(&store, Some("c2"))
                .await
                .expect("csv")
                .lines()
                .count(),
            1
        );
        assert!(show_text(&store, "c9").await.expect("show").is_none());
        let list = list_csv(
            &store,
            &Calendar::utc(),
            &ListQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
        assert_eq!(list.lines().count(), 1, "no recorded call: {list}");
    }
}
