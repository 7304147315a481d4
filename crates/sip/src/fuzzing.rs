//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code a datagram from the network drives and
//! panics only when an invariant breaks (or the code under it panics).
//! Not part of the API: no stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::digest::parse_authorization;
use crate::guard::{inspect, Inspection};
use rsipstack::sip::{HeadersExt, SipMessage};

/// Most bytes our own error answer may add to the datagram it answers
/// (status line, Server and Content-Length): a spoofed request must not
/// make us send much more than we received (UDP reflection).
pub const MAX_ANSWER_GROWTH: usize = 128;

/// One UDP datagram through the SIP gate and, if it passes, the parsing the
/// server does before dispatch (the request's head, its Authorization
/// header, its Contact headers). Invariants: a datagram the gate passes
/// parses; a rejection's answer is a 400 or 505 made only of the request's
/// routing headers and ours, one header a line, not much longer than the
/// datagram.
pub fn sip_datagram(data: &[u8]) {
    match inspect(data, "hotline") {
        Inspection::Reject(None) => {}
        Inspection::Reject(Some(answer)) => check_answer(data, &answer),
        Inspection::Pass => {
            if data.iter().all(|b| b.is_ascii_whitespace()) {
                return; // keep-alive
            }
            let msg = SipMessage::try_from(data);
            let Ok(SipMessage::Request(req)) = msg else {
                assert!(
                    msg.is_ok(),
                    "the gate passed a datagram that does not parse"
                );
                return;
            };
            let _ = crate::server::precheck(&req);
            if let Some(h) = req.authorization_header() {
                let _ = parse_authorization(h.value());
            }
            for c in req.contact_headers() {
                let _ = c.value().len();
            }
        }
    }
}

fn check_answer(request: &[u8], answer: &[u8]) {
    let text = std::str::from_utf8(answer).expect("our answer is text");
    assert!(
        text.starts_with("SIP/2.0 400 Bad Request\r\n")
            || text.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
        "{text:.60}"
    );
    assert!(text.ends_with("\r\n\r\n"), "one complete message");
    assert!(
        answer.len() <= request.len() + MAX_ANSWER_GROWTH,
        "answer of {} bytes to a datagram of {}",
        answer.len(),
        request.len()
    );
    let head = &text[..text.len() - 4];
    for line in head.split("\r\n").skip(1) {
        assert!(
            !line.contains(['\r', '\n']) && line.contains(':'),
            "one header a line: {line:?}"
        );
    }
    let lengths = head
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| {
            let name = name.trim();
            name.eq_ignore_ascii_case("content-length") || name == "l"
        })
        .count();
    assert_eq!(lengths, 1, "exactly our Content-Length");
}
