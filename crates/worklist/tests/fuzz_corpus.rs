//! The campaign CSV fuzz target's smoke run on stable (seconds):
//! fuzz/corpus/campaign_csv and deterministic mutations of each, through
//! `fuzzing::campaign_csv` (the import and the export's quoting of what it
//! took). libFuzzer runs the same entry point: fuzz/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod replay;

use hotline_worklist::fuzzing::campaign_csv;

#[test]
fn the_campaign_csv_corpus_and_its_mutations_break_no_invariant() {
    let seeds = replay::project_corpus("campaign_csv");
    assert!(
        seeds.len() >= 5,
        "the corpus is in fuzz/corpus/campaign_csv"
    );
    let taken = std::cell::Cell::new(0);
    let runs = replay::replay(&seeds, 2000, |d| {
        if campaign_csv(d) > 0 {
            taken.set(taken.get() + 1);
        }
    });
    eprintln!(
        "{runs} campaign files from {} seeds, {} imported",
        seeds.len(),
        taken.get()
    );
    assert!(
        taken.get() > runs / 20,
        "the mutations still reach the import"
    );
}
