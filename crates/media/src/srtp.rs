//! SDES-SRTP for a call's legs (RFC 4568 `a=crypto` keys, RFC 3711 SRTP
//! with `AES_CM_128_HMAC_SHA1_80` or `AES_CM_128_HMAC_SHA1_32`), on the
//! pure-Rust `webrtc-srtp`.
//!
//! - [`SdesKey`]: one `a=crypto` line — parsed (hostile input gives an
//!   error, never a panic) and written.
//! - [`SrtpPolicy`] and [`negotiate`]: per agent `required`, `optional` or
//!   `off`; keys are only sent over a signalling channel that is encrypted
//!   (SIP over TLS) unless explicitly allowed. Pure: the decision is tested
//!   without sockets.
//! - [`SrtpSession`]: protect what goes to the phone, unprotect (check the
//!   authentication tag and the replay window) what comes from it. The relay
//!   and the recorder see plain RTP, so recordings stay plaintext WAV.

use base64::Engine as _;
use std::fmt;
use std::str::FromStr;
use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The crypto suite we offer (RFC 4568 §6.2.1); [`Suite`] lists those accepted.
pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// A crypto suite we speak (RFC 4568 §6.2.1): AES-CM with a 128-bit key,
/// HMAC-SHA1 with an 80- or 32-bit tag on SRTP (SRTCP is 80 bits for both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Suite {
    /// `AES_CM_128_HMAC_SHA1_80` (what we offer).
    #[default]
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (accepted when a phone offers it first).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// The suite's name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite of an `a=crypto` name, if we speak it.
    pub fn from_name(name: &str) -> Option<Suite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    /// Authentication tag of an SRTP packet, bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }
}

/// Master key length of the suite, bytes.
pub const KEY_LEN: usize = 16;
/// Master salt length of the suite, bytes.
pub const SALT_LEN: usize = 14;
/// Authentication tag added to each packet by [`SUITE`], bytes.
pub const TAG_LEN: usize = 10;
/// Packets of the replay window (RFC 3711 §3.3.2 asks at least 64).
pub const REPLAY_WINDOW: usize = 128;
/// Streams (SSRCs) one session tracks at once; a new one beyond is adopted
/// only once a packet of it authenticates.
const MAX_SSRCS: usize = 4;
/// Longest `a=crypto` line looked at.
const MAX_LINE: usize = 1024;

/// Why SDES or SRTP failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// An `a=crypto` line that cannot be used (the reason says why).
    #[error("a=crypto: {0}")]
    BadCrypto(String),
    /// A packet failed authentication, was replayed or was not RTP.
    #[error("SRTP: {0}")]
    Packet(String),
}

/// One SDES key: `a=crypto:<tag> <suite> inline:<key||salt>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SdesKey {
    /// The line's tag (the answer repeats the offer's).
    pub tag: u32,
    /// The crypto suite.
    pub suite: Suite,
    /// Master key.
    pub key: [u8; KEY_LEN],
    /// Master salt.
    pub salt: [u8; SALT_LEN],
}

impl fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the key in a log
        f.debug_struct("SdesKey")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SdesKey {
    /// A fresh random key for `tag` of [`SUITE`].
    pub fn generate(tag: u32) -> SdesKey {
        SdesKey::generate_for(tag, Suite::default())
    }

    /// A fresh random key for `tag` of `suite` (an answer: the suite and
    /// tag of the phone's key, our own key material).
    pub fn generate_for(tag: u32, suite: Suite) -> SdesKey {
        let mut key = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        rand::fill(&mut key[..]);
        rand::fill(&mut salt[..]);
        SdesKey {
            tag,
            suite,
            key,
            salt,
        }
    }

    /// The SDP attribute line, without `a=` and the line end:
    /// `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:…`.
    pub fn attribute(&self) -> String {
        let mut both = [0u8; KEY_LEN + SALT_LEN];
        both[..KEY_LEN].copy_from_slice(&self.key);
        both[KEY_LEN..].copy_from_slice(&self.salt);
        format!(
            "crypto:{} {} inline:{}",
            self.tag,
            self.suite.name(),
            base64::engine::general_purpose::STANDARD.encode(both)
        )
    }

    /// Parses an `a=crypto` value (with or without `a=` / `crypto:`).
    /// Refused (the error says which): an unknown suite, a key of the wrong
    /// length or bad base64, an MKI, several keys, a bad lifetime, session
    /// parameters (none is supported).
    pub fn parse(line: &str) -> Result<SdesKey, SrtpError> {
        let bad = |m: &str| Err(SrtpError::BadCrypto(m.to_string()));
        if line.len() > MAX_LINE {
            return bad("line too long");
        }
        let v = line.trim();
        let v = v.strip_prefix("a=").unwrap_or(v);
        let v = v.strip_prefix("crypto:").unwrap_or(v);
        let mut parts = v.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(params)) = (parts.next(), parts.next(), parts.next())
        else {
            return bad("expected `<tag> <suite> inline:<key>`");
        };
        if parts.next().is_some() {
            return bad("session parameters are not supported");
        }
        let Ok(tag) = tag.parse::<u32>() else {
            return bad("the tag is not a number");
        };
        if tag > 999_999_999 {
            return bad("the tag has more than 9 digits");
        }
        let Some(suite) = Suite::from_name(suite) else {
            return bad(
                "unknown crypto suite (we speak AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32)",
            );
        };
        if params.contains(';') {
            return bad("several keys are not supported");
        }
        let Some(inline) = params.strip_prefix("inline:") else {
            return bad("the key method is not `inline:`");
        };
        let mut fields = inline.split('|');
        let b64 = fields.next().unwrap_or_default();
        for f in fields {
            if f.contains(':') {
                return bad("an MKI is not supported");
            }
            // a lifetime: decimal or 2^N, at most 2^48 packets (RFC 3711)
            let ok = match f.strip_prefix("2^") {
                Some(n) => n.parse::<u32>().is_ok_and(|n| (1..=48).contains(&n)),
                None => f.parse::<u64>().is_ok_and(|n| n > 0 && n <= 1 << 48),
            };
            if !ok {
                return bad("a bad key lifetime");
            }
        }
        let Ok(both) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return bad("the key is not base64");
        };
        if both.len() != KEY_LEN + SALT_LEN {
            return bad("the key and salt are not 30 bytes");
        }
        let mut key = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        key.copy_from_slice(&both[..KEY_LEN]);
        salt.copy_from_slice(&both[KEY_LEN..]);
        Ok(SdesKey {
            tag,
            suite,
            key,
            salt,
        })
    }
}

/// The first usable key among the `a=crypto` lines of an SDP's first audio
/// section (unusable lines are skipped, as RFC 4568 §7.1.1 lets an answerer).
pub fn offered_key(sdp: &str) -> Option<SdesKey> {
    let mut in_audio = false;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            if in_audio {
                break;
            }
            in_audio = m.starts_with("audio ");
            continue;
        }
        if in_audio {
            if let Some(c) = line.strip_prefix("a=crypto:") {
                if let Ok(k) = SdesKey::parse(c) {
                    return Some(k);
                }
            }
        }
    }
    None
}

/// Whether the SDP's first audio section asks for secure RTP (`RTP/SAVP`
/// or `RTP/SAVPF`).
pub fn is_savp(sdp: &str) -> bool {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .is_some_and(|m| {
            matches!(
                m.split_ascii_whitespace().nth(1),
                Some("RTP/SAVP" | "RTP/SAVPF")
            )
        })
}

/// An agent's SRTP setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// The agent leg must be SRTP: an offer or answer without a usable key is refused (488).
    Required,
    /// SRTP when the phone offers or accepts it, plain RTP otherwise.
    Optional,
    /// Plain RTP only.
    #[default]
    Off,
}

impl FromStr for SrtpPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "required" => Ok(SrtpPolicy::Required),
            "optional" => Ok(SrtpPolicy::Optional),
            "off" => Ok(SrtpPolicy::Off),
            other => Err(format!(
                "`{}` is not an SRTP setting: required, optional or off",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for SrtpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SrtpPolicy::Required => "required",
            SrtpPolicy::Optional => "optional",
            SrtpPolicy::Off => "off",
        })
    }
}

/// What to do with the phone's SDP (an offer it sent or the answer to ours).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Negotiated {
    /// Plain RTP.
    Plain,
    /// SRTP with the phone's key (ours is made by the caller of [`negotiate`]).
    Srtp(SdesKey),
    /// Refuse with 488 Not Acceptable Here: the reason, for the log.
    Refuse(&'static str),
}

/// Decides a leg's media security from the phone's SDP text.
/// `secure_signalling`: the SDP came (and ours goes) over SIP over TLS;
/// `allow_plain_signalling`: keys may travel over UDP/TCP anyway (a lab, a
/// private network).
pub fn negotiate(
    policy: SrtpPolicy,
    phone_sdp: &str,
    secure_signalling: bool,
    allow_plain_signalling: bool,
) -> Negotiated {
    decide(
        policy,
        is_savp(phone_sdp),
        offered_key(phone_sdp),
        secure_signalling || allow_plain_signalling,
    )
}

/// [`negotiate`] on an SDP already parsed by [`crate::sdp::parse`] (its
/// audio stream's profile and first usable key).
pub fn negotiate_sdp(
    policy: SrtpPolicy,
    phone: &crate::sdp::SessionDescription,
    secure_signalling: bool,
    allow_plain_signalling: bool,
) -> Negotiated {
    decide(
        policy,
        phone.savp,
        phone.crypto.clone(),
        secure_signalling || allow_plain_signalling,
    )
}

fn decide(
    policy: SrtpPolicy,
    savp: bool,
    key: Option<SdesKey>,
    keys_may_travel: bool,
) -> Negotiated {
    let key = key.filter(|_| keys_may_travel);
    match (policy, key) {
        (SrtpPolicy::Off, _) if savp => {
            Negotiated::Refuse("SRTP is off for this leg (srtp = \"off\")")
        }
        (SrtpPolicy::Off, _) => Negotiated::Plain,
        (_, Some(k)) => Negotiated::Srtp(k),
        (SrtpPolicy::Required, None) if !keys_may_travel => {
            Negotiated::Refuse("SRTP keys only over TLS")
        }
        (SrtpPolicy::Required, None) => {
            Negotiated::Refuse("SRTP is required and the SDP has no usable a=crypto")
        }
        (SrtpPolicy::Optional, None) if savp && !keys_may_travel => {
            Negotiated::Refuse("RTP/SAVP over a signalling path without TLS (keys only over TLS)")
        }
        (SrtpPolicy::Optional, None) if savp => {
            Negotiated::Refuse("RTP/SAVP without a usable a=crypto")
        }
        (SrtpPolicy::Optional, None) => Negotiated::Plain,
    }
}

/// One SRTP session: ours protects what we send, the phone's unprotects what
/// it sends.
pub struct SrtpSession {
    outbound: Context,
    inbound: Context,
    remote: SdesKey,
    /// SSRCs the inbound context tracks.
    ssrcs: Vec<u32>,
    /// Packets refused (authentication, replay, not RTP).
    refused: u64,
    /// The phone's previous key after a re-key (a re-INVITE with a new
    /// `a=crypto`), with its SSRCs: packets still in flight under it are
    /// taken until the first one under the new key authenticates, then it
    /// is dropped.
    previous: Option<(Context, Vec<u32>)>,
    /// SRTCP packets that authenticated.
    rtcp_ok: u64,
}

impl fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSession")
            .field("ssrcs", &self.ssrcs)
            .field("refused", &self.refused)
            .field("rekeying", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

fn context(k: &SdesKey) -> Result<Context, SrtpError> {
    Context::new(
        &k.key,
        &k.salt,
        k.suite.profile(),
        Some(srtp_replay_protection(REPLAY_WINDOW)),
        Some(srtcp_replay_protection(REPLAY_WINDOW)),
    )
    .map_err(|e| SrtpError::BadCrypto(e.to_string()))
}

impl SrtpSession {
    /// A session sending with `local` and receiving with `remote`.
    pub fn new(local: &SdesKey, remote: &SdesKey) -> Result<SrtpSession, SrtpError> {
        Ok(SrtpSession {
            outbound: context(local)?,
            inbound: context(remote)?,
            remote: remote.clone(),
            ssrcs: Vec::new(),
            refused: 0,
            previous: None,
            rtcp_ok: 0,
        })
    }

    /// The phone's new key (RFC 4568 §7.1.4: a re-INVITE or UPDATE whose
    /// offer carries another `a=crypto`): a new inbound context. Packets
    /// under the old key are still taken until the first packet under the
    /// new one authenticates; then the old context is dropped. Our own key
    /// and outbound context (its rollover counter) stay. `Ok(false)`: the
    /// same key as now, nothing changed.
    pub fn rekey_inbound(&mut self, remote: &SdesKey) -> Result<bool, SrtpError> {
        if remote.key == self.remote.key
            && remote.salt == self.remote.salt
            && remote.suite == self.remote.suite
        {
            return Ok(false);
        }
        let fresh = context(remote)?;
        let old = std::mem::replace(&mut self.inbound, fresh);
        let ssrcs = std::mem::take(&mut self.ssrcs);
        self.previous = Some((old, ssrcs));
        self.remote = remote.clone();
        Ok(true)
    }

    /// Whether packets under the phone's previous key are still taken (a
    /// re-key waiting for the first packet under the new one).
    pub fn rekeying(&self) -> bool {
        self.previous.is_some()
    }

    /// SRTCP packets that authenticated so far.
    pub fn rtcp_ok(&self) -> u64 {
        self.rtcp_ok
    }

    /// The plain RTCP of an SRTCP packet (RFC 3711 §3.4: the 80-bit tag
    /// for both suites, the E flag and SRTCP index); an error, counted as
    /// refused, when it does not authenticate or is replayed. Under the
    /// previous key while a re-key waits.
    pub fn unprotect_rtcp(&mut self, srtcp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        // header (8) + E|index (4) + tag (10)
        if srtcp.len() < 8 + 4 + TAG_LEN || srtcp[0] >> 6 != 2 {
            self.refused += 1;
            return Err(SrtpError::Packet("not an SRTCP packet".into()));
        }
        // E = 0 (RFC 3711 §3.4, "unencrypted SRTCP") is never negotiated by
        // us, and webrtc-srtp 0.17 returns such a packet WITHOUT checking
        // its tag: refused here before it gets there
        if srtcp[srtcp.len() - TAG_LEN - 4] & 0x80 == 0 {
            self.refused += 1;
            return Err(SrtpError::Packet("SRTCP without the E flag".into()));
        }
        let ssrc = u32::from_be_bytes([srtcp[4], srtcp[5], srtcp[6], srtcp[7]]);
        match self.inbound.decrypt_rtcp(srtcp) {
            Ok(p) => {
                self.rtcp_ok += 1;
                Ok(p.to_vec())
            }
            Err(e) => {
                if let Some((prev, ssrcs)) = self.previous.as_mut() {
                    if ssrcs.contains(&ssrc) {
                        if let Ok(p) = prev.decrypt_rtcp(srtcp) {
                            self.rtcp_ok += 1;
                            return Ok(p.to_vec());
                        }
                    }
                }
                self.refused += 1;
                Err(SrtpError::Packet(e.to_string()))
            }
        }
    }

    /// Packets refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// SRTP of a plain RTP packet (10 bytes longer).
    pub fn protect(&mut self, rtp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtp(rtp)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Packet(e.to_string()))
    }

    /// SRTCP of a plain RTCP packet (encrypted, E = 1, index, 80-bit tag).
    pub fn protect_rtcp(&mut self, rtcp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtcp(rtcp)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Packet(e.to_string()))
    }

    /// The plain RTP of an SRTP packet; an error (and nothing changed) when
    /// it does not authenticate, is replayed, or is not RTP.
    pub fn unprotect(&mut self, srtp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let fail = |s: &mut Self, e: String| {
            s.refused += 1;
            Err(SrtpError::Packet(e))
        };
        if srtp.len() < 12 + self.remote.suite.tag_len() || srtp[0] >> 6 != 2 {
            return fail(self, "not an SRTP packet".into());
        }
        let ssrc = u32::from_be_bytes([srtp[8], srtp[9], srtp[10], srtp[11]]);
        if !self.ssrcs.contains(&ssrc) && self.ssrcs.len() >= MAX_SSRCS {
            // a new stream while the table is full: only a packet that
            // authenticates (checked on a fresh context) replaces the table,
            // so forged packets with random SSRCs cannot grow or reset it
            let mut fresh = context(&self.remote)?;
            return match fresh.decrypt_rtp(srtp) {
                Ok(p) => {
                    self.inbound = fresh;
                    self.ssrcs = vec![ssrc];
                    Ok(p.to_vec())
                }
                Err(e) => fail(self, e.to_string()),
            };
        }
        match self.inbound.decrypt_rtp(srtp) {
            Ok(p) => {
                if !self.ssrcs.contains(&ssrc) {
                    self.ssrcs.push(ssrc);
                }
                // the first packet under a new key: the old one is done
                self.previous = None;
                Ok(p.to_vec())
            }
            Err(e) => {
                // in flight under the previous key (a re-key), on a stream
                // it knew: taken
                if let Some((prev, ssrcs)) = self.previous.as_mut() {
                    if ssrcs.contains(&ssrc) {
                        if let Ok(p) = prev.decrypt_rtp(srtp) {
                            return Ok(p.to_vec());
                        }
                    }
                }
                fail(self, e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn the_libsrtp_test_vector() {
        // libsrtp test/srtp_driver.c: AES_CM_128_HMAC_SHA1_80
        let master = [
            0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde,
            0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a,
            0xab, 0xe6,
        ];
        let mut k = SdesKey::generate(1);
        k.key.copy_from_slice(&master[..16]);
        k.salt.copy_from_slice(&master[16..]);
        let plain = [
            0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
            0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
        ];
        let cipher = [
            0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55,
            0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02,
            0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
        ];
        let mut s = SrtpSession::new(&k, &k).unwrap();
        assert_eq!(s.protect(&plain).unwrap(), cipher);
        assert_eq!(s.unprotect(&cipher).unwrap(), plain);
    }

    #[test]
    fn keys_round_trip_through_the_attribute_and_hostile_lines_are_refused() {
        let k = SdesKey::generate(7);
        let line = k.attribute();
        assert!(line.starts_with("crypto:7 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert_eq!(SdesKey::parse(&line).unwrap(), k);
        assert_eq!(SdesKey::parse(&format!("a={line}")).unwrap(), k);
        assert_eq!(SdesKey::parse(&format!("{line}|2^31")).unwrap(), k);
        assert_eq!(SdesKey::parse(&format!("{line}|1048576")).unwrap(), k);
        assert!(!format!("{k:?}").contains(&line[40..]), "the key in Debug");
        let b64 = line.rsplit(':').next().unwrap();
        for bad in [
            String::new(),
            "crypto:".into(),
            "1 AES_CM_128_HMAC_SHA1_80".into(),
            format!("x AES_CM_128_HMAC_SHA1_80 inline:{b64}"),
            format!("99999999999 AES_CM_128_HMAC_SHA1_80 inline:{b64}"),
            format!("1 AES_256_CM_HMAC_SHA1_80 inline:{b64}"),
            format!("1 aes_cm_128_hmac_sha1_80 inline:{b64}"),
            format!("1 F8_128_HMAC_SHA1_80 inline:{b64}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 uri:{b64}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|2^31|1:4"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|2^99"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|0"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|x"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64};inline:{b64}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64} KDR=1"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64} UNENCRYPTED_SRTP"),
            "1 AES_CM_128_HMAC_SHA1_80 inline:%%%%".into(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA".into(),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", "A".repeat(2000)),
            "1 AES_CM_128_HMAC_SHA1_80 inline:".into(),
            "\u{0}\u{1}\u{2}".into(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:中文中文".into(),
        ] {
            assert!(SdesKey::parse(&bad).is_err(), "accepted {bad:?}");
        }
        // the reasons are clear
        let why = |l: &str| SdesKey::parse(l).unwrap_err().to_string();
        assert!(
            why(&format!("1 F8_128_HMAC_SHA1_80 inline:{b64}")).contains("unknown crypto suite")
        );
        assert!(why(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}|2^20|1:4")).contains("MKI"));
        assert!(why("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA").contains("30 bytes"));
        assert!(why("1 AES_CM_128_HMAC_SHA1_80 inline:%%%%").contains("base64"));
        assert!(why(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{}",
            "A".repeat(10_240)
        ))
        .contains("too long"));
        // the 32-bit tag suite round-trips too
        let k32 = SdesKey::generate_for(3, Suite::AesCm128HmacSha1_32);
        let line = k32.attribute();
        assert!(
            line.starts_with("crypto:3 AES_CM_128_HMAC_SHA1_32 inline:"),
            "{line}"
        );
        assert_eq!(SdesKey::parse(&line).unwrap(), k32);
    }

    #[test]
    fn hostile_sdp_crypto_sections_are_bounded_and_the_first_supported_suite_wins() {
        let k = SdesKey::generate_for(100, Suite::AesCm128HmacSha1_32);
        // 100 unusable crypto lines, then a usable one
        let mut sdp = String::from("v=0\r\nm=audio 4000 RTP/SAVP 0\r\n");
        for i in 0..100 {
            sdp.push_str(&format!("a=crypto:{i} NULL_HMAC inline:xx\r\n"));
        }
        sdp.push_str(&format!("a={}\r\n", k.attribute()));
        assert_eq!(offered_key(&sdp), Some(k.clone()));
        // a 10 KB attribute is skipped
        let huge = format!(
            "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            "A".repeat(10_240)
        );
        assert_eq!(offered_key(&huge), None);
        // _32 offered before _80: _32 is taken (the phone's preference)
        let k80 = SdesKey::generate(2);
        let both = format!(
            "v=0\r\nm=audio 4000 RTP/SAVPF 0\r\na={}\r\na={}\r\n",
            k.attribute(),
            k80.attribute()
        );
        assert_eq!(offered_key(&both), Some(k));
        assert!(is_savp(&both));
    }

    #[test]
    fn the_32_bit_tag_suite_talks_and_refuses_tampering() {
        let ours = SdesKey::generate_for(1, Suite::AesCm128HmacSha1_32);
        let phones = SdesKey::generate_for(1, Suite::AesCm128HmacSha1_32);
        let mut hotline = SrtpSession::new(&ours, &phones).unwrap();
        let mut phone = SrtpSession::new(&phones, &ours).unwrap();
        for seq in 0..50u16 {
            let p = rtp(seq, 9, &[0x11; 160]);
            let s = phone.protect(&p).unwrap();
            assert_eq!(s.len(), p.len() + 4);
            assert_eq!(hotline.unprotect(&s).unwrap(), p);
            let mut t = phone.protect(&rtp(seq + 1000, 9, &[0x11; 160])).unwrap();
            t[20] ^= 0x80;
            assert!(hotline.unprotect(&t).is_err());
        }
    }

    #[test]
    fn the_first_usable_key_of_the_audio_section_is_taken() {
        let k = SdesKey::generate(2);
        let sdp = format!(
            "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:xyz\r\na={}\r\nm=video 5000 RTP/SAVP 96\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:zzz\r\n",
            k.attribute()
        );
        assert_eq!(offered_key(&sdp), Some(k));
        assert!(is_savp(&sdp));
        let video_only =
            "v=0\r\nm=video 5000 RTP/SAVP 96\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:zzz\r\n";
        assert_eq!(offered_key(video_only), None);
        assert!(!is_savp("m=audio 4000 RTP/AVP 0\r\n"));
    }

    #[test]
    fn the_policy_decides_and_keys_travel_only_over_tls_unless_allowed() {
        let k = SdesKey::generate(1);
        let savp = format!("m=audio 4000 RTP/SAVP 0\r\na={}\r\n", k.attribute());
        let avp_with_key = format!("m=audio 4000 RTP/AVP 0\r\na={}\r\n", k.attribute());
        let plain = "m=audio 4000 RTP/AVP 0\r\n";
        use Negotiated::*;
        use SrtpPolicy::*;
        assert_eq!(negotiate(Required, &savp, true, false), Srtp(k.clone()));
        assert_eq!(negotiate(Optional, &savp, true, false), Srtp(k.clone()));
        assert_eq!(
            negotiate(Optional, &avp_with_key, true, false),
            Srtp(k.clone())
        );
        assert!(matches!(negotiate(Off, &savp, true, false), Refuse(_)));
        assert_eq!(negotiate(Off, plain, true, false), Plain);
        assert!(matches!(negotiate(Required, plain, true, false), Refuse(_)));
        assert_eq!(negotiate(Optional, plain, true, false), Plain);
        // over UDP/TCP: the key is not used unless allowed
        assert_eq!(
            negotiate(Required, &savp, false, false),
            Refuse("SRTP keys only over TLS")
        );
        assert_eq!(negotiate(Optional, &avp_with_key, false, false), Plain);
        assert!(matches!(
            negotiate(Optional, &savp, false, false),
            Refuse(_)
        ));
        assert_eq!(negotiate(Required, &savp, false, true), Srtp(k));
        assert_eq!("required".parse(), Ok(Required));
        assert_eq!("optional".parse(), Ok(Optional));
        assert_eq!("off".parse(), Ok(Off));
        for bad in ["", "Required", "on", "yes", &"x".repeat(10_000)] {
            let e = bad.parse::<SrtpPolicy>().unwrap_err();
            assert!(e.len() < 200, "{e}");
        }
        assert_eq!(Required.to_string(), "required");
    }

    /// An RTCP receiver report (RFC 3550 §6.4.2) with one report block.
    fn rtcp_rr(ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x81, 201, 0, 7];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0x11; 24]);
        p
    }

    /// A phone's session under `key`, protecting with it what it sends.
    fn phone_with(key: &SdesKey, ours: &SdesKey) -> SrtpSession {
        SrtpSession::new(key, ours).unwrap()
    }

    #[test]
    fn a_rekey_takes_the_new_key_and_drops_the_old_one_after_the_switch() {
        let ours = SdesKey::generate(1);
        let old = SdesKey::generate(1);
        let new = SdesKey::generate(2);
        let mut hotline = SrtpSession::new(&ours, &old).unwrap();
        let mut phone_old = phone_with(&old, &ours);
        let payload = [0x33u8; 160];
        for seq in 0..50u16 {
            let p = rtp(seq, 0xabcd, &payload);
            assert_eq!(
                hotline.unprotect(&phone_old.protect(&p).unwrap()).unwrap(),
                p
            );
        }
        // the same key again (a re-INVITE for hold): nothing changes
        assert!(!hotline.rekey_inbound(&old).unwrap());
        assert!(!hotline.rekeying());
        // a new key: packets in flight under the old one are still taken
        assert!(hotline.rekey_inbound(&new).unwrap());
        assert!(hotline.rekeying());
        let late = rtp(50, 0xabcd, &payload);
        let late_s = phone_old.protect(&late).unwrap();
        let later = rtp(51, 0xabcd, &payload);
        let later_s = phone_old.protect(&later).unwrap();
        assert_eq!(hotline.unprotect(&late_s).unwrap(), late);
        // ... but not replayed under it
        assert!(hotline.unprotect(&late_s).is_err());
        // the phone switches (same SSRC, sequence goes on)
        let mut phone_new = phone_with(&new, &ours);
        for seq in 52..60u16 {
            let p = rtp(seq, 0xabcd, &payload);
            assert_eq!(
                hotline.unprotect(&phone_new.protect(&p).unwrap()).unwrap(),
                p
            );
        }
        // the old key is gone after the first packet under the new one
        assert!(!hotline.rekeying());
        assert!(hotline.unprotect(&later_s).is_err());
        let p = rtp(61, 0xabcd, &payload);
        assert!(hotline.unprotect(&phone_old.protect(&p).unwrap()).is_err());
        // what we send still decrypts at the phone: our key and rollover
        // counter did not change
        let back = hotline.protect(&rtp(62, 0x1, &payload)).unwrap();
        assert!(phone_new.unprotect(&back).is_ok());
        // the old key is not taken on a stream it never carried
        let mut h2 = SrtpSession::new(&ours, &old).unwrap();
        h2.rekey_inbound(&new).unwrap();
        let mut o2 = phone_with(&old, &ours);
        assert!(h2
            .unprotect(&o2.protect(&rtp(1, 0x77, &payload)).unwrap())
            .is_err());
        // a hostile new key (bad length) is refused at parse time; a
        // re-key with another suite works too
        let k32 = SdesKey::generate_for(3, Suite::AesCm128HmacSha1_32);
        assert!(h2.rekey_inbound(&k32).unwrap());
        let mut p32 = phone_with(&k32, &ours);
        let p = rtp(2, 0x77, &payload);
        assert_eq!(h2.unprotect(&p32.protect(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn srtcp_authenticates_and_forged_or_replayed_rtcp_is_refused() {
        let ours = SdesKey::generate(1);
        let phones = SdesKey::generate(1);
        let mut hotline = SrtpSession::new(&ours, &phones).unwrap();
        let mut phone = SrtpSession::new(&phones, &ours).unwrap();
        let rr = rtcp_rr(0x5151);
        let s = phone.protect_rtcp(&rr).unwrap();
        // E flag and index, then the 80-bit tag
        assert_eq!(s.len(), rr.len() + 4 + TAG_LEN);
        assert_eq!(hotline.unprotect_rtcp(&s).unwrap(), rr);
        assert_eq!(hotline.rtcp_ok(), 1);
        // replayed, tampered, plain, truncated, garbage
        assert!(hotline.unprotect_rtcp(&s).is_err());
        let mut t = phone.protect_rtcp(&rr).unwrap();
        t[10] ^= 1;
        assert!(hotline.unprotect_rtcp(&t).is_err());
        assert!(hotline.unprotect_rtcp(&rr).is_err());
        // a forged "unencrypted SRTCP" (E = 0) with a made-up tag: the
        // library would take it unchecked
        let mut forged = rr.clone();
        forged.extend_from_slice(&[0, 0, 0, 9]);
        forged.extend_from_slice(&[0xee; TAG_LEN]);
        assert!(hotline.unprotect_rtcp(&forged).is_err());
        for n in 0..30 {
            assert!(hotline.unprotect_rtcp(&vec![0x81; n]).is_err());
        }
        assert_eq!(hotline.rtcp_ok(), 1);
        assert!(hotline.refused() >= 33);
        // after a re-key: the previous key's SRTCP is taken until the switch
        let new = SdesKey::generate(2);
        hotline.rekey_inbound(&new).unwrap();
        let old_rtcp = phone.protect_rtcp(&rr).unwrap();
        // (the SSRC must be one the old key carried: an RTP packet first)
        let mut h3 = SrtpSession::new(&ours, &phones).unwrap();
        let mut p3 = SrtpSession::new(&phones, &ours).unwrap();
        let sp = p3.protect(&rtp(1, 0x5151, &[0u8; 20])).unwrap();
        h3.unprotect(&sp).unwrap();
        h3.rekey_inbound(&new).unwrap();
        let r3 = p3.protect_rtcp(&rr).unwrap();
        assert_eq!(h3.unprotect_rtcp(&r3).unwrap(), rr);
        // the first session never saw an RTP packet of 0x5151: refused
        assert!(hotline.unprotect_rtcp(&old_rtcp).is_err());
    }

    #[test]
    fn both_ends_talk_and_tampered_replayed_or_forged_packets_are_refused() {
        let ours = SdesKey::generate(1);
        let phones = SdesKey::generate(1);
        let mut hotline = SrtpSession::new(&ours, &phones).unwrap();
        let mut phone = SrtpSession::new(&phones, &ours).unwrap();
        let payload = [0x55u8; 160];
        for seq in 0..200u16 {
            let p = rtp(seq, 0x1234, &payload);
            let s = phone.protect(&p).unwrap();
            assert_eq!(s.len(), p.len() + TAG_LEN);
            assert_ne!(&s[12..172], &p[12..]);
            assert_eq!(hotline.unprotect(&s).unwrap(), p);
            let back = hotline.protect(&p).unwrap();
            assert_eq!(phone.unprotect(&back).unwrap(), p);
        }
        // replayed
        let p = rtp(200, 0x1234, &payload);
        let s = phone.protect(&p).unwrap();
        assert!(hotline.unprotect(&s).is_ok());
        assert!(hotline.unprotect(&s).is_err());
        // tampered payload, header or tag
        for i in [2usize, 8, 20, 171, 175] {
            let p = rtp(201 + i as u16, 0x1234, &payload);
            let mut s = phone.protect(&p).unwrap();
            s[i] ^= 0x01;
            assert!(hotline.unprotect(&s).is_err(), "byte {i}");
        }
        // plain RTP and garbage
        assert!(hotline.unprotect(&rtp(500, 0x1234, &payload)).is_err());
        for n in 0..40 {
            assert!(hotline.unprotect(&vec![0x80; n]).is_err());
        }
        // a flood of forged packets with new SSRCs neither grows the table
        // nor disturbs the real stream
        for ssrc in 0..10_000u32 {
            let mut f = rtp(1, ssrc, &payload);
            f.extend_from_slice(&[0u8; TAG_LEN]);
            assert!(hotline.unprotect(&f).is_err());
        }
        assert!(hotline.ssrcs.len() <= MAX_SSRCS);
        let p = rtp(600, 0x1234, &payload);
        let s = phone.protect(&p).unwrap();
        assert_eq!(hotline.unprotect(&s).unwrap(), p);
        // the phone's new streams (a re-INVITE, a transfer) are adopted
        for ssrc in 1..=6u32 {
            let p = rtp(1, ssrc, &payload);
            let s = phone.protect(&p).unwrap();
            assert_eq!(hotline.unprotect(&s).unwrap(), p, "ssrc {ssrc}");
        }
        assert!(hotline.refused() > 10_000);
        // a key of another session does not authenticate
        let mut stranger = SrtpSession::new(&SdesKey::generate(1), &ours).unwrap();
        let s = stranger.protect(&rtp(700, 0x1234, &payload)).unwrap();
        assert!(hotline.unprotect(&s).is_err());
    }
}
