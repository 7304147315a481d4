//! The SDP and RTP fuzz targets' smoke run on stable (seconds):
//! fuzz/corpus/{sdp_body,rtp_stream} and deterministic mutations of each
//! through `fuzzing::sdp_body` (parse, negotiate, answer, parse the answer)
//! and `fuzzing::rtp_stream` (the relay's per-packet path without sockets).
//! libFuzzer runs the same entry points: fuzz/README.md.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use hotline_media::fuzzing::{rtp_stream, sdp_body};
use std::cell::Cell;

#[test]
fn the_sdp_corpus_and_its_mutations_break_no_invariant() {
    let seeds = replay::project_corpus("sdp_body");
    assert!(seeds.len() >= 5, "the corpus is in fuzz/corpus/sdp_body");
    let answered = Cell::new(0);
    let runs = replay::replay(&seeds, 3_000, |data| {
        answered.set(answered.get() + usize::from(sdp_body(data)));
    });
    eprintln!("{runs} SDP bodies, {} answered", answered.get());
    // the mutations keep many offers usable: the answer path is exercised
    assert!(answered.get() > runs / 20, "{} of {runs}", answered.get());
}

#[test]
fn the_rtp_corpus_and_its_mutations_break_no_invariant() {
    let seeds = replay::project_corpus("rtp_stream");
    assert!(seeds.len() >= 4, "the corpus is in fuzz/corpus/rtp_stream");
    let relayed = Cell::new(0);
    let runs = replay::replay(&seeds, 3_000, |data| {
        relayed.set(relayed.get() + rtp_stream(data));
    });
    eprintln!("{runs} RTP streams, {} packets relayed", relayed.get());
    assert!(
        relayed.get() > runs,
        "{} packets in {runs} streams",
        relayed.get()
    );
}
