//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the
//! corpus replay test (`tests/fuzz_corpus.rs`) call these with arbitrary
//! bytes. Each drives the code a datagram from the network drives and
//! panics only when an invariant breaks (or the code under it panics).
//! Not part of the API: no stability promised.

// the oracles' expects are the findings: a panic here is a bug found
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::digest::parse_authorization;
use crate::guard::{inspect, Inspection};
use rsipstack::sip::{HeadersExt, SipMessage, ToTypedHeader};

/// Most bytes our own error answer may add to the datagram it answers
/// (status line, Server and Content-Length): a spoofed request must not
/// make us send much more than we received (UDP reflection).
pub const MAX_ANSWER_GROWTH: usize = 128;

/// One UDP datagram through the SIP gate and, if it passes, the parsing the
/// server does before dispatch (the request's head, its Authorization
/// header, its Contact headers) and, for a REGISTER, the registrar's
/// handling past authentication (see `register`). Invariants: a datagram the gate passes
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
            if req.method == rsipstack::sip::Method::Register {
                let _ = register(&req);
            }
        }
    }
}

/// The registrar's handling of a REGISTER past authentication, as
/// `handle_register` and `apply_register` do it (server.rs) but without a
/// transaction: the agent from To, the Path headers split and checked, each
/// Contact parsed and its expiry bounded, the binding stored in a location
/// service and the address an INVITE to it would go to. Invariants: a
/// stored binding is found again with an expiry within the bounds, and its
/// target is the first Path hop when there is a Path. Returns how many
/// bindings it stored.
fn register(req: &rsipstack::sip::Request) -> usize {
    use crate::location::{Binding, Location, SipTransport};
    use rsipstack::sip::Header;
    const MIN_S: u32 = 60;
    const MAX_S: u32 = 3600;
    const NOW: i64 = 1_800_000_000_000;
    let Some(agent) = req
        .to_header()
        .ok()
        .and_then(|t| t.typed().ok())
        .and_then(|t| t.uri.user().map(str::to_string))
    else {
        return 0;
    };
    let call_id = req
        .call_id_header()
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let cseq = req
        .cseq_header()
        .ok()
        .and_then(|c| c.seq().ok())
        .unwrap_or(0);
    let header_expires = req
        .expires_header()
        .and_then(|e| e.value().trim().parse::<u32>().ok());
    let path_values: Vec<String> = req
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Path(p) => Some(p.value().to_string()),
            _ => None,
        })
        .collect();
    let path = crate::reach::split_path(&path_values);
    if path
        .iter()
        .any(|p| p.len() > 512 || rsipstack::sip::typed::Route::parse(p).is_err())
    {
        return 0;
    }
    let source: std::net::SocketAddr = "192.0.2.7:5060".parse().expect("address");
    let mut loc = Location::new(4);
    let mut stored = 0;
    let values: Vec<String> = req
        .contact_headers()
        .iter()
        .map(|c| c.value().to_string())
        .collect();
    for value in crate::reach::split_path(&values) {
        let value = value.as_str();
        if value.trim() == "*" {
            let _ = loc.remove_all(&agent);
            continue;
        }
        let Ok(typed) = rsipstack::sip::typed::Contact::parse(value) else {
            continue;
        };
        let asked = typed.expires().or(header_expires).unwrap_or(MAX_S);
        if asked != 0 && asked < MIN_S {
            continue;
        }
        let granted = asked.min(MAX_S);
        let binding = Binding {
            contact: typed.uri.to_string(),
            source,
            transport: SipTransport::Udp,
            expires_at_ms: 0,
            call_id: call_id.clone(),
            cseq,
            path: path.clone(),
            nat: false,
        };
        let contact = binding.contact.clone();
        if let Ok(Some(_)) = loc.update(&agent, binding, granted, NOW) {
            if granted == 0 {
                continue;
            }
            let found = loc.contacts(&agent, NOW);
            let b = found
                .iter()
                .find(|b| b.contact == contact)
                .expect("a stored binding is found");
            stored += 1;
            assert!(b.expires_at_ms > NOW && b.expires_at_ms <= NOW + i64::from(MAX_S) * 1000);
            let target = b.target();
            if let Some(first) = path.first() {
                assert_eq!(target.route.first(), Some(first), "the Path is the route");
            }
        }
    }
    let _ = loc.expire(NOW + i64::from(MAX_S) * 1000 + 1);
    assert!(loc
        .contacts(&agent, NOW + i64::from(MAX_S) * 1000 + 1)
        .is_empty());
    stored
}

/// A datagram as a REGISTER through the registrar step of
/// [`sip_datagram`] alone (no gate): how many bindings it stored, 0 when it
/// is not a REGISTER that parses.
pub fn register_datagram(data: &[u8]) -> usize {
    match SipMessage::try_from(data) {
        Ok(SipMessage::Request(req)) if req.method == rsipstack::sip::Method::Register => {
            register(&req)
        }
        _ => 0,
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
