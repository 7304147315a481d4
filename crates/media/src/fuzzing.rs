//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code a peer's bytes drive and panics only when an
//! invariant breaks (or the code under it panics). Not part of the API: no
//! stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::sdp;
use crate::session;
use crate::Codec;

/// A peer's SDP body: parsed, negotiated, answered. Invariants: a
/// negotiated payload type fits RTP's 7 bits; our answer to an accepted
/// offer parses back and negotiates the same codec and telephone-event.
/// Returns whether the body was an offer we could answer.
pub fn sdp_body(data: &[u8]) -> bool {
    let Ok(offer) = sdp::parse(data) else {
        return false;
    };
    let Ok(neg) = sdp::negotiate(&offer) else {
        return false;
    };
    assert!(
        neg.payload_type < 128,
        "voice payload type {}",
        neg.payload_type
    );
    if let Some(te) = neg.telephone_event {
        assert!(te < 128, "telephone-event payload type {te}");
    }
    let answer = sdp::build(
        offer.connection,
        offer.audio_port.max(1),
        &[neg.codec],
        neg.telephone_event,
        offer.origin_session_id,
        1,
    );
    let back = sdp::parse(answer.as_bytes()).expect("our own answer parses");
    let again = sdp::negotiate(&back).expect("our own answer negotiates");
    assert_eq!(again.codec, neg.codec);
    assert_eq!(again.telephone_event, neg.telephone_event);
    true
}

/// Datagrams arriving on one RTP leg, as the relay handles them: the input
/// is a sequence of datagrams, each prefixed by its length (one byte). See
/// [`session::fuzz_rtp_stream`] for the invariants. Returns the packets
/// relayed.
pub fn rtp_stream(data: &[u8]) -> usize {
    let mut packets = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        packets.push(&tail[..n]);
        rest = &tail[n..];
    }
    [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .map(|codec| session::fuzz_rtp_stream(&packets, codec))
        .sum()
}
