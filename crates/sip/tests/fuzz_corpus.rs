//! The SIP fuzz target's smoke run on stable (seconds): fuzz/corpus/sip_datagram,
//! the RFC 4475 torture messages and the PROTOS c07-sip INVITEs when
//! ../shared/conformance is present, and deterministic mutations of each, through `fuzzing::sip_datagram` (the
//! gate, the parse before dispatch, the digest header). libFuzzer runs the
//! same entry point: fuzz/README.md.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[path = "../../../fuzz/conformance.rs"]
mod conformance;

use hotline_sip::fuzzing::sip_datagram;

#[test]
fn the_sip_corpus_and_its_mutations_break_no_invariant() {
    let mut seeds = replay::project_corpus("sip_datagram");
    assert!(
        seeds.len() >= 10,
        "the corpus is in fuzz/corpus/sip_datagram"
    );
    if let Some(dir) = conformance::dir(&replay::project_root()) {
        seeds.extend(conformance::rfc4475(&dir));
    }
    let runs = replay::replay(&seeds, 200, sip_datagram);
    eprintln!("{runs} SIP datagrams from {} seeds", seeds.len());
}

/// Mutations of each PROTOS case (4,527 of them: a few each keeps the
/// replay at seconds; libFuzzer takes them as seeds for hours).
const PROTOS_MUTATIONS: usize = 3;

#[test]
fn the_protos_c07_invites_and_their_mutations_break_no_invariant() {
    // the PROTOS c07-sip INVITE cases of ../shared/conformance (GPLv2: read
    // from there, not copied here), filled in as datagrams
    let seeds = conformance::dir(&replay::project_root())
        .map(|dir| conformance::protos_seeds(&dir))
        .unwrap_or_default();
    if seeds.is_empty() {
        eprintln!("SKIPPED: ../shared/conformance/protos not found");
        return;
    }
    assert!(seeds.len() > 4000, "found {} PROTOS cases", seeds.len());
    // the reference INVITE (case 0) is filled in well enough to parse
    assert!(
        String::from_utf8_lossy(&seeds[0].1).starts_with("INVITE sip:protos@127.0.0.1 SIP/2.0\r\n"),
        "{:?}",
        String::from_utf8_lossy(&seeds[0].1[..80])
    );
    let runs = replay::replay(&seeds, PROTOS_MUTATIONS, sip_datagram);
    eprintln!("{runs} SIP datagrams from {} PROTOS cases", seeds.len());
}

#[test]
fn regression_invalid_utf8_in_a_routing_header_is_not_answered_with_more_bytes() {
    // the gate's 400 copied routing headers through a lossy UTF-8
    // conversion: three bytes out for every invalid byte in (a UDP amplifier
    // for spoofed requests)
    let seeds = replay::project_corpus("sip_datagram");
    let (_, seed) = seeds
        .iter()
        .find(|(n, _)| n == "invalid_utf8_via.sip")
        .expect("seed in the corpus");
    sip_datagram(seed);
}

#[test]
fn the_register_seeds_reach_the_location_service() {
    // the registrar step of the target stores what a phone, a proxy with a
    // Path and a multi-contact REGISTER ask for (else the mutations of
    // these seeds would test nothing there)
    let seeds = replay::project_corpus("sip_datagram");
    let stored = |name: &str| {
        let (_, seed) = seeds
            .iter()
            .find(|(n, _)| n == name)
            .expect("seed in the corpus");
        hotline_sip::fuzzing::register_datagram(seed)
    };
    assert_eq!(stored("register.sip"), 1);
    assert_eq!(stored("register_path_nat_contacts.sip"), 2);
    assert_eq!(stored("register_unregister_all.sip"), 0);
}
