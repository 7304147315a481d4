#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly
//! Hot paths of the media relay: G.711 per 20 ms frame, PCMU↔PCMA transcoding,
//! SDP parse + negotiate per call.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hotline_media::mix::{mix_into, MonitorMode, Party3, SourceFifo};
use hotline_media::{sdp, Codec, FRAME_SAMPLES};

fn g711(c: &mut Criterion) {
    let pcm: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| ((i as f64 * 0.7).sin() * 12000.0) as i16)
        .collect();
    let mut enc = [0u8; FRAME_SAMPLES];
    let mut dec = [0i16; FRAME_SAMPLES];
    c.bench_function("pcmu_encode_frame", |b| {
        b.iter(|| Codec::Pcmu.encode(black_box(&pcm), &mut enc))
    });
    Codec::Pcmu.encode(&pcm, &mut enc);
    c.bench_function("pcmu_decode_frame", |b| {
        b.iter(|| Codec::Pcmu.decode(black_box(&enc), &mut dec))
    });
    let mut out = [0u8; FRAME_SAMPLES];
    c.bench_function("pcmu_to_pcma_frame", |b| {
        b.iter(|| {
            Codec::Pcmu.decode(black_box(&enc), &mut dec);
            Codec::Pcma.encode(&dec, &mut out);
        })
    });
}

fn sdp_offer(c: &mut Criterion) {
    let offer = "v=0\r\no=- 1234 5678 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 10000 RTP/AVP 96 8 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";
    c.bench_function("sdp_parse_negotiate", |b| {
        b.iter(|| sdp::parse(black_box(offer.as_bytes())).and_then(|d| sdp::negotiate(&d)))
    });
}

/// One 20 ms tick of a monitored call in barge (the worst case: three
/// mixed outputs): three received frames decoded and queued, one frame
/// taken from each FIFO, three two-party mixes, three encodes.
fn monitor_mix(c: &mut Criterion) {
    let tone = |f: f64| -> Vec<u8> {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| ((i as f64 * f).sin() * 8000.0) as i16)
            .collect();
        let mut enc = vec![0u8; FRAME_SAMPLES];
        Codec::Pcmu.encode(&pcm, &mut enc);
        enc
    };
    let inputs = [tone(0.39), tone(0.86), tone(1.49)];
    let mut fifos: [SourceFifo; 3] = Default::default();
    let mut dec = [0i16; FRAME_SAMPLES];
    let mut frames = [[0i16; FRAME_SAMPLES]; 3];
    let mut mixed = [0i16; FRAME_SAMPLES];
    let mut out = [0u8; FRAME_SAMPLES];
    // primed
    for (f, i) in fifos.iter_mut().zip(&inputs) {
        Codec::Pcmu.decode(i, &mut dec);
        f.push(&dec);
    }
    let all = [Party3::Caller, Party3::Agent, Party3::Supervisor];
    for mode in [MonitorMode::Listen, MonitorMode::Barge] {
        c.bench_function(&format!("monitor_tick_{}", mode.name()), |b| {
            b.iter(|| {
                for (f, i) in fifos.iter_mut().zip(&inputs) {
                    Codec::Pcmu.decode(black_box(i), &mut dec);
                    f.push(&dec);
                }
                for (f, o) in fifos.iter_mut().zip(frames.iter_mut()) {
                    f.pop_frame(o);
                }
                for listener in all {
                    if !mode.mixed_for(listener) {
                        continue;
                    }
                    let ins: Vec<&[i16]> = all
                        .iter()
                        .filter(|s| mode.hears(listener, **s))
                        .map(|s| &frames[s.index()][..])
                        .collect();
                    mix_into(&mut mixed, &ins);
                    Codec::Pcma.encode(&mixed, &mut out);
                    black_box(&out);
                }
            })
        });
    }
}

criterion_group!(benches, g711, sdp_offer, monitor_mix);
criterion_main!(benches);
