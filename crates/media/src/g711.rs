//! G.711 μ-law (PCMU) and A-law (PCMA) on whole frames.
//!
//! The per-sample companding comes from `audio-codec-algorithms`; this module
//! only applies it to slices without allocating.

use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

/// Encodes linear samples to μ-law bytes; `out` must be as long as `pcm`.
pub fn encode_ulaw_into(pcm: &[i16], out: &mut [u8]) {
    for (o, s) in out.iter_mut().zip(pcm) {
        *o = encode_ulaw(*s);
    }
}

/// Decodes μ-law bytes to linear samples; `out` must be as long as `bytes`.
pub fn decode_ulaw_into(bytes: &[u8], out: &mut [i16]) {
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = decode_ulaw(*b);
    }
}

/// Encodes linear samples to A-law bytes; `out` must be as long as `pcm`.
pub fn encode_alaw_into(pcm: &[i16], out: &mut [u8]) {
    for (o, s) in out.iter_mut().zip(pcm) {
        *o = encode_alaw(*s);
    }
}

/// Decodes A-law bytes to linear samples; `out` must be as long as `bytes`.
pub fn decode_alaw_into(bytes: &[u8], out: &mut [i16]) {
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = decode_alaw(*b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_stays_close() {
        let pcm: Vec<i16> = (-32768..=32767).step_by(97).map(|v| v as i16).collect();
        let mut enc = vec![0u8; pcm.len()];
        let mut dec = vec![0i16; pcm.len()];
        for (encode, decode) in [
            (
                encode_ulaw_into as fn(&[i16], &mut [u8]),
                decode_ulaw_into as fn(&[u8], &mut [i16]),
            ),
            (encode_alaw_into, decode_alaw_into),
        ] {
            encode(&pcm, &mut enc);
            decode(&enc, &mut dec);
            for (a, b) in pcm.iter().zip(&dec) {
                // companding error is at most ~1/16 of the magnitude (+ quantum)
                let err = (i32::from(*a) - i32::from(*b)).abs();
                assert!(err <= (i32::from(*a).abs() / 15) + 140, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn silence_bytes() {
        let mut b = [0u8; 1];
        encode_ulaw_into(&[0], &mut b);
        assert_eq!(b[0], 0xFF);
        encode_alaw_into(&[0], &mut b);
        assert_eq!(b[0], 0xD5);
    }
}
