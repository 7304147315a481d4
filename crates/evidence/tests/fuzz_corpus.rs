//! The WAV repair fuzz target's smoke run on stable (seconds):
//! fuzz/corpus/wav_repair and deterministic mutations of each, through
//! `fuzzing::wav_repair` (the crash sweep's header repair and the loudness
//! read-back). libFuzzer runs the same entry point: fuzz/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/replay.rs"]
mod replay;

use hotline_evidence::fuzzing::wav_repair;

#[test]
fn the_wav_corpus_and_its_mutations_break_no_invariant() {
    let seeds = replay::project_corpus("wav_repair");
    assert!(seeds.len() >= 10, "the corpus is in fuzz/corpus/wav_repair");
    let repaired = std::cell::Cell::new(0);
    let runs = replay::replay(&seeds, 50, |d| {
        if wav_repair(d) {
            repaired.set(repaired.get() + 1);
        }
    });
    let repaired = repaired.get();
    eprintln!(
        "{runs} WAV files from {} seeds, {repaired} repaired",
        seeds.len()
    );
    assert!(repaired > runs / 10, "the mutations still reach the repair");
}

#[test]
fn regression_a_fmt_chunk_whose_frame_size_overflows_is_refused_not_a_panic() {
    // 65,535 channels of 16 bits: the frame size (channels × bytes per
    // sample) overflowed u16 in the repair, a panic in a debug build and a
    // wrong frame size in a release one
    let seeds = replay::project_corpus("wav_repair");
    let (_, seed) = seeds
        .iter()
        .find(|(n, _)| n == "overflowing_frame_size.wav")
        .expect("seed in the corpus");
    assert!(!wav_repair(seed), "refused: no WAV frame is that large");
}
