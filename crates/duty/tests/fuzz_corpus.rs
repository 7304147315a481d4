//! The roster CSV fuzz target's smoke run on stable (seconds):
//! fuzz/corpus/roster_csv and deterministic mutations of each, through
//! `fuzzing::roster_csv` (the import and a round trip of what it took).
//! libFuzzer runs the same entry point: fuzz/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod replay;

use hotline_duty::fuzzing::roster_csv;

#[test]
fn the_roster_csv_corpus_and_its_mutations_break_no_invariant() {
    let seeds = replay::project_corpus("roster_csv");
    assert!(seeds.len() >= 5, "the corpus is in fuzz/corpus/roster_csv");
    let taken = std::cell::Cell::new(0);
    let runs = replay::replay(&seeds, 2000, |d| {
        if roster_csv(d) > 0 {
            taken.set(taken.get() + 1);
        }
    });
    eprintln!(
        "{runs} roster files from {} seeds, {} imported",
        seeds.len(),
        taken.get()
    );
    assert!(
        taken.get() > runs / 20,
        "the mutations still reach the import"
    );
}
