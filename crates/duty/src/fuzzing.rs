//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code an uploaded file drives and panics only when
//! an invariant breaks (or the code under it panics). Not part of the API:
//! no stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::csv::{parse, MAX_LINES};
use crate::roster::ChangeOp;

fn quoted(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// A roster CSV (`hotline duty import`, the console's roster upload) through
/// the import. Invariants: a refusal names a line of the file; an accepted
/// change has an agent, and a shift when it adds a duty; written back with
/// every field quoted, the changes import again as the same changes.
/// Returns how many changes the file holds.
pub fn roster_csv(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let changes = match parse(text) {
        Ok(c) => c,
        Err(e) => {
            let lines = text.lines().count();
            assert!(
                e.line >= 1 && e.line <= lines.min(MAX_LINES + 1),
                "refusal at line {} of {lines}",
                e.line
            );
            assert!(!e.reason.is_empty());
            return 0;
        }
    };
    let mut back = String::from("date,agent,shift,action,note\n");
    for c in &changes {
        assert!(!c.agent.as_str().is_empty(), "a change without an agent");
        assert!(
            c.op != ChangeOp::Add || !c.shift.is_empty(),
            "a duty without a shift"
        );
        back.push_str(&format!(
            "{},{},{},{},{}\n",
            c.date,
            quoted(c.agent.as_str()),
            quoted(&c.shift),
            c.op.as_str(),
            quoted(&c.note)
        ));
    }
    let again = parse(&back).expect("our own writing imports");
    assert_eq!(again, changes, "the changes do not survive a round trip");
    changes.len()
}
