//! Media for the hotline: the engine anchors every call's RTP.
//!
//! Each call gets a [`MediaSession`] with two RTP ports on the engine, one
//! facing the caller and one facing the agent. The session plays prompts to the
//! caller (greeting, music on hold), then relays audio both ways once the agent
//! has answered, transcoding between PCMU and PCMA when the legs differ, passing
//! telephone-event (RFC 4733) through with its payload type rewritten, and
//! handing decoded audio of both sides to the recorder through a bounded
//! crossbeam channel (never blocking the relay).
//!
//! Sessions run on a few dedicated worker threads ([`MediaEngine`]), each with
//! its own single-threaded tokio runtime, so media never competes with SIP
//! signalling for a scheduler.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod fuzzing;
pub mod g711;
pub mod mix;
pub mod prompt;
pub mod sdp;
mod session;
pub mod srtp;

pub use mix::{MonitorMode, Party3};
pub use session::{
    dtmf_digit, is_voice, MediaConfig, MediaEngine, MediaError, MediaSession, MediaStats,
    SideStats, DTMF_QUEUE, VOICE_LEVEL,
};

/// Samples in one 20 ms G.711 frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// An audio codec the engine speaks on a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The byte that encodes digital silence.
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Encodes linear samples into `out` (same length).
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => g711::encode_ulaw_into(pcm, out),
            Codec::Pcma => g711::encode_alaw_into(pcm, out),
        }
    }

    /// Decodes bytes into linear samples in `out` (same length).
    pub fn decode(self, bytes: &[u8], out: &mut [i16]) {
        match self {
            Codec::Pcmu => g711::decode_ulaw_into(bytes, out),
            Codec::Pcma => g711::decode_alaw_into(bytes, out),
        }
    }
}
