#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! SDES-SRTP per packet on the agent leg: protect (AES-CM-128 + HMAC-SHA1-80)
//! and unprotect (tag check, replay window) of one 20 ms PCMU packet
//! (12-byte header + 160 bytes), both in a row as the relay does between two
//! SRTP legs, and the `a=crypto` parse per call.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hotline_media::srtp::{SdesKey, SrtpSession};

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&[0x55; 160]);
    p
}

fn srtp(c: &mut Criterion) {
    let ours = SdesKey::generate(1);
    let phones = SdesKey::generate(1);
    let mut hotline = SrtpSession::new(&ours, &phones).unwrap();
    let mut phone = SrtpSession::new(&phones, &ours).unwrap();
    let mut seq = 0u16;
    c.bench_function("srtp_protect_pcmu_packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(hotline.protect(black_box(&packet(seq))).unwrap())
        })
    });
    // a stream of fresh packets (the replay window refuses repeats)
    let protected: Vec<Vec<u8>> = (0..60_000u16)
        .map(|s| phone.protect(&packet(s)).unwrap())
        .collect();
    let mut i = 0usize;
    c.bench_function("srtp_unprotect_pcmu_packet", |b| {
        b.iter(|| {
            let n = i % protected.len();
            if n == 0 {
                // a new lap: a new session, so no packet is a replay
                // (one session set-up per 60,000 packets)
                hotline = SrtpSession::new(&ours, &phones).unwrap();
            }
            i += 1;
            black_box(hotline.unprotect(black_box(&protected[n])).unwrap())
        })
    });
    // what the relay adds per packet between two SRTP legs (the worst
    // case: each leg its own keys): unprotect from one, protect to the other
    let (a_ours, a_phone) = (SdesKey::generate(1), SdesKey::generate(1));
    let mut caller_leg = SrtpSession::new(&ours, &phones).unwrap();
    let mut agent_leg = SrtpSession::new(&a_ours, &a_phone).unwrap();
    let mut j = 0usize;
    c.bench_function("srtp_relay_leg_to_leg_packet", |b| {
        b.iter(|| {
            let n = j % protected.len();
            if n == 0 {
                caller_leg = SrtpSession::new(&ours, &phones).unwrap();
            }
            j += 1;
            let plain = caller_leg.unprotect(black_box(&protected[n])).unwrap();
            black_box(agent_leg.protect(&plain).unwrap())
        })
    });
    let line = ours.attribute();
    c.bench_function("sdes_crypto_parse", |b| {
        b.iter(|| SdesKey::parse(black_box(&line)).unwrap())
    });
}

criterion_group!(benches, srtp);
criterion_main!(benches);
