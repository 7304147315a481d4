use serde::{Deserialize, Serialize};

/// Which side of a bridged call a stream of audio comes from.
///
/// In recordings the caller is the left channel and the agent the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The person who called the hotline (left channel).
    Caller,
    /// The agent who answered (right channel).
    Agent,
}

/// One RTP packet's worth of decoded audio (8 kHz, 16-bit linear PCM, mono),
/// handed from a media worker to a recorder thread.
///
/// The recorder places the samples by `timestamp` (RTP clock, 8 kHz) relative to
/// the first frame of the same `ssrc`, so lost packets become silence at their
/// true position and both channels stay time-aligned.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioFrame {
    /// Which side spoke.
    pub side: Side,
    /// RTP synchronisation source of the stream.
    pub ssrc: u32,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp of the first sample.
    pub timestamp: u32,
    /// Wall-clock arrival time, epoch milliseconds.
    pub arrival_ms: i64,
    /// Decoded samples.
    pub samples: Vec<i16>,
}
