//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code an uploaded file drives and panics only when
//! an invariant breaks (or the code under it panics). Not part of the API:
//! no stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::csv::{parse, quote, split_fields, ImportContext, MAX_ERRORS, MAX_FIELD_CHARS};
use crate::normalize_number;
use hotline_core::{AgentId, Calendar};
use std::collections::HashSet;

/// 2026-12-01T00:00:00Z, the import's "now".
const NOW: i64 = 1_796_083_200_000;

/// A campaign CSV upload (`POST /api/v1/worklist/campaigns/{id}/import`,
/// `hotline worklist import`) through the import, with a Shanghai calendar,
/// agents 1001 and 1002 and one member already in the campaign.
/// Invariants: every line is accounted for at most once (row, refusal or
/// duplicate), in order; refusals listed are capped; an imported row's
/// number is normalised (normalising it again changes nothing), its fields
/// within the limits and free of control characters, its due date after
/// now; every imported field survives the export's quoting and the
/// import's field splitting. Returns how many rows were imported.
pub fn campaign_csv(data: &[u8]) -> usize {
    let cal = Calendar::named("Asia/Shanghai").expect("bundled tz");
    let agents = [AgentId::new("1001"), AgentId::new("1002")];
    let existing: HashSet<(String, String)> =
        [("0612345678".to_string(), "M001".to_string())].into();
    let ctx = ImportContext {
        calendar: &cal,
        now_ms: NOW,
        agents: &agents,
        existing: &existing,
    };
    let Ok(p) = parse(data, &ctx) else {
        return 0;
    };
    let lines = data.split(|b| *b == b'\n').count();
    assert!(p.errors.len() <= MAX_ERRORS);
    assert!(p.errors.len() <= p.error_count);
    assert!(p.error_count > MAX_ERRORS || p.errors.len() == p.error_count);
    let mut seen: Vec<usize> = p
        .rows
        .iter()
        .map(|r| r.line)
        .chain(p.errors.iter().map(|e| e.line))
        .chain(p.duplicates.iter().copied())
        .collect();
    let listed = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), listed, "a line counted twice");
    assert!(
        seen.iter().all(|l| (2..=lines).contains(l)),
        "line numbers {seen:?} outside 2..={lines}"
    );
    assert!(p.rows.len() + p.error_count + p.duplicates.len() < lines.max(1));
    let mut keys = HashSet::new();
    for r in &p.rows {
        assert_eq!(
            normalize_number(&r.number).as_deref(),
            Some(r.number.as_str())
        );
        assert!(keys.insert(r.key()), "a duplicate imported");
        assert!(
            !existing.contains(&r.key()),
            "a member already there imported"
        );
        assert!(r.due_ms.is_none_or(|d| d > NOW), "a past due date");
        assert!(r.agent.as_ref().is_none_or(|a| agents.contains(a)));
        for f in [&r.number, &r.name, &r.card, &r.notes, &r.preferred] {
            assert!(f.chars().count() <= 4 * MAX_FIELD_CHARS);
            assert!(!f.chars().any(|c| c.is_control() && c != '\t'));
            let back = split_fields(&quote(f)).expect("the export's quoting splits");
            let risky = f.starts_with(['=', '-', '@']);
            let expected = if risky {
                format!("'{f}")
            } else {
                f.to_string()
            };
            assert_eq!(back, vec![expected], "a field does not survive the export");
        }
    }
    p.rows.len()
}
