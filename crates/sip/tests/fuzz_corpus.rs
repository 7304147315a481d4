//! The SIP fuzz target's smoke run on stable (seconds): fuzz/corpus/sip_datagram,
//! the RFC 4475 torture messages when ../shared/conformance is present, and
//! deterministic mutations of each, through `fuzzing::sip_datagram` (the
//! gate, the parse before dispatch, the digest header). libFuzzer runs the
//! same entry point: fuzz/README.md.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use hotline_sip::fuzzing::sip_datagram;

#[test]
fn the_sip_corpus_and_its_mutations_break_no_invariant() {
    let mut seeds = replay::project_corpus("sip_datagram");
    assert!(
        seeds.len() >= 10,
        "the corpus is in fuzz/corpus/sip_datagram"
    );
    let torture = replay::corpus(&replay::project_root().join("../shared/conformance/rfc4475"));
    seeds.extend(
        torture
            .into_iter()
            .filter(|(name, _)| name.ends_with(".dat"))
            .map(|(name, data)| (format!("rfc4475-{name}"), data)),
    );
    let runs = replay::replay(&seeds, 200, sip_datagram);
    eprintln!("{runs} SIP datagrams from {} seeds", seeds.len());
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
