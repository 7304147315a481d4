//! SDP (RFC 4566 / RFC 3264) for one audio stream: parse a peer's offer or
//! answer, pick the codec we share, and write our own.
//!
//! The parser is deliberately narrow: it reads what a telephony peer needs to
//! tell us (connection address, audio port, payload formats, direction, ptime)
//! and rejects everything malformed with a precise [`SdpError`]. Input is
//! bounded ([`MAX_SDP_BYTES`], [`MAX_LINES`], [`MAX_FORMATS`]) so a hostile peer
//! cannot make us allocate without limit.

use crate::Codec;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Largest SDP body accepted, bytes.
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// Most lines accepted in one SDP body.
pub const MAX_LINES: usize = 256;
/// Most payload formats accepted on one media line.
pub const MAX_FORMATS: usize = 64;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is empty.
    #[error("empty SDP")]
    Empty,
    /// The body exceeds [`MAX_SDP_BYTES`] or [`MAX_LINES`].
    #[error("SDP too large ({0})")]
    TooLarge(String),
    /// The body is not UTF-8 text.
    #[error("SDP is not UTF-8 text")]
    NotText,
    /// A line is not of the form `x=value`.
    #[error("line {line}: not an SDP line: {text:?}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The offending line (truncated).
        text: String,
    },
    /// `v=0` is missing or not first.
    #[error("SDP must start with v=0")]
    BadVersion,
    /// A field has a value we cannot read.
    #[error("line {line}: bad {field}: {reason}")]
    BadField {
        /// 1-based line number.
        line: usize,
        /// `c=`, `m=`, `a=rtpmap`, ...
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No usable `m=audio` line (absent, port 0, or not RTP/AVP(F) or RTP/SAVP(F)).
    #[error("no usable audio stream (m=audio with RTP/AVP or RTP/SAVP and a non-zero port)")]
    NoAudio,
    /// No `c=` line applies to the audio stream.
    #[error("no connection address (c=) for the audio stream")]
    NoConnection,
    /// `RTP/SAVP` where this leg speaks plain RTP only (a supervisor, a
    /// feature code, a line test, a customer we dialled).
    #[error("RTP/SAVP (SRTP) is not accepted on this leg")]
    SecureNotHere,
    /// The peer offers neither PCMU nor PCMA.
    #[error("no common codec: the peer offers {offered}, we speak PCMU and PCMA")]
    NoCommonCodec {
        /// The encodings the peer offered, for the log.
        offered: String,
    },
}

/// Media direction attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

/// One payload format of the audio stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// RTP payload type number.
    pub payload_type: u8,
    /// Encoding name (`PCMU`, `telephone-event`, ...), empty if unknown.
    pub encoding: String,
    /// Clock rate, Hz (0 if unknown).
    pub clock_rate: u32,
}

/// What we learned from a peer's SDP about its audio stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` session id (0 if not numeric).
    pub origin_session_id: u64,
    /// Where to send RTP (`0.0.0.0` means "on hold": send nothing).
    pub connection: IpAddr,
    /// Audio RTP port.
    pub audio_port: u16,
    /// Offered formats in the peer's order of preference.
    pub formats: Vec<Format>,
    /// Direction of the audio stream.
    pub direction: Direction,
    /// Packet time, ms, if given.
    pub ptime: Option<u32>,
    /// The audio stream's profile is secure (`RTP/SAVP` or `RTP/SAVPF`).
    pub savp: bool,
    /// The first usable `a=crypto` key of the audio stream, in the peer's
    /// order (RFC 4568: the answerer takes the first it supports); lines
    /// we cannot use are skipped.
    pub crypto: Option<crate::srtp::SdesKey>,
}

/// The result of offer/answer for one leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The voice codec used on the leg.
    pub codec: Codec,
    /// The payload type the peer uses for it.
    pub payload_type: u8,
    /// The peer's telephone-event payload type, if it offered one at 8 kHz.
    pub telephone_event: Option<u8>,
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

fn bad(line: usize, field: &'static str, reason: impl Into<String>) -> SdpError {
    SdpError::BadField {
        line,
        field,
        reason: reason.into(),
    }
}

fn parse_connection(line: usize, v: &str) -> Result<IpAddr, SdpError> {
    let mut it = v.split_ascii_whitespace();
    let (net, ty, addr) = (it.next(), it.next(), it.next());
    if net != Some("IN") {
        return Err(bad(line, "c=", "network type must be IN"));
    }
    let addr = addr.ok_or_else(|| bad(line, "c=", "missing address"))?;
    // multicast TTL / count suffix is not for us
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| {
        bad(
            line,
            "c=",
            format!("{:?} is not an IP address", truncate(addr)),
        )
    })?;
    match (ty, ip) {
        (Some("IP4"), IpAddr::V4(_)) | (Some("IP6"), IpAddr::V6(_)) => Ok(ip),
        _ => Err(bad(line, "c=", "address type does not match the address")),
    }
}

struct AudioBuilder {
    port: u16,
    usable: bool,
    payload_types: Vec<u8>,
    rtpmap: Vec<(u8, String, u32)>,
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    ptime: Option<u32>,
    savp: bool,
    crypto: Option<crate::srtp::SdesKey>,
}

/// Parses an SDP body.
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    if body.is_empty() {
        return Err(SdpError::Empty);
    }
    if body.len() > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge(format!(
            "{} bytes, limit {MAX_SDP_BYTES}",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut session_connection = None;
    let mut session_direction = None;
    let mut origin_session_id = 0;
    let mut audio: Option<AudioBuilder> = None;
    // true while inside a media section that is not the one we use
    let mut in_other_media = false;
    let mut seen_version = false;
    for (idx, raw) in text.split('\n').enumerate() {
        let n = idx + 1;
        if n > MAX_LINES {
            return Err(SdpError::TooLarge(format!("more than {MAX_LINES} lines")));
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
            return Err(SdpError::BadLine {
                line: n,
                text: truncate(line),
            });
        }
        let (key, value) = (bytes[0], &line[2..]);
        if !seen_version {
            if key != b'v' || value.trim() != "0" {
                return Err(SdpError::BadVersion);
            }
            seen_version = true;
            continue;
        }
        match key {
            b'o' => {
                let mut it = value.split_ascii_whitespace();
                origin_session_id = it.nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            }
            b'c' => {
                let ip = parse_connection(n, value)?;
                match (&mut audio, in_other_media) {
                    (_, true) => {}
                    (Some(a), false) => a.connection = Some(ip),
                    (None, false) => session_connection = Some(ip),
                }
            }
            b'm' => {
                let mut it = value.split_ascii_whitespace();
                let media = it.next().unwrap_or("");
                let port_s = it.next().ok_or_else(|| bad(n, "m=", "missing port"))?;
                let port_s = port_s.split('/').next().unwrap_or(port_s);
                let port: u16 = port_s
                    .parse()
                    .map_err(|_| bad(n, "m=", format!("{:?} is not a port", truncate(port_s))))?;
                let proto = it.next().ok_or_else(|| bad(n, "m=", "missing transport"))?;
                let mut pts = Vec::new();
                for f in it {
                    if pts.len() >= MAX_FORMATS {
                        return Err(SdpError::TooLarge(format!(
                            "more than {MAX_FORMATS} formats"
                        )));
                    }
                    let pt: u8 = f.parse().map_err(|_| {
                        bad(n, "m=", format!("{:?} is not a payload type", truncate(f)))
                    })?;
                    if pt > 127 {
                        return Err(bad(n, "m=", format!("payload type {pt} out of range")));
                    }
                    pts.push(pt);
                }
                let already = audio.as_ref().is_some_and(|a| a.usable);
                let savp = matches!(proto, "RTP/SAVP" | "RTP/SAVPF");
                let usable = media == "audio"
                    && port != 0
                    && (savp || matches!(proto, "RTP/AVP" | "RTP/AVPF"));
                if media == "audio" && !already && usable {
                    audio = Some(AudioBuilder {
                        port,
                        usable,
                        payload_types: pts,
                        rtpmap: Vec::new(),
                        connection: None,
                        direction: None,
                        ptime: None,
                        savp,
                        crypto: None,
                    });
                    in_other_media = false;
                } else {
                    in_other_media = true;
                }
            }
            b'a' => {
                let (name, val) = match value.split_once(':') {
                    Some((a, b)) => (a, Some(b)),
                    None => (value, None),
                };
                let dir = match name {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                if in_other_media {
                    continue;
                }
                match (&mut audio, dir) {
                    (None, Some(d)) => session_direction = Some(d),
                    (Some(a), Some(d)) => a.direction = Some(d),
                    // the first line we can use; the others (another
                    // suite, an MKI, garbage) are skipped as RFC 4568
                    // §7.1.1 lets an answerer
                    (Some(a), None) if name == "crypto" && a.crypto.is_none() => {
                        a.crypto = val.and_then(|v| crate::srtp::SdesKey::parse(v).ok());
                    }
                    (Some(_), None) if name == "crypto" => {}
                    (Some(a), None) if name == "rtpmap" => {
                        let v = val.ok_or_else(|| bad(n, "a=rtpmap", "missing value"))?;
                        let (pt, enc) = v.split_once(' ').ok_or_else(|| {
                            bad(n, "a=rtpmap", "expected '<pt> <encoding>/<rate>'")
                        })?;
                        let pt: u8 = pt
                            .trim()
                            .parse()
                            .map_err(|_| bad(n, "a=rtpmap", "payload type is not a number"))?;
                        let mut parts = enc.trim().split('/');
                        let name = parts.next().unwrap_or("").to_string();
                        let rate: u32 = parts
                            .next()
                            .ok_or_else(|| bad(n, "a=rtpmap", "missing clock rate"))?
                            .parse()
                            .map_err(|_| bad(n, "a=rtpmap", "clock rate is not a number"))?;
                        if name.is_empty() || name.len() > 64 {
                            return Err(bad(n, "a=rtpmap", "bad encoding name"));
                        }
                        if a.rtpmap.len() < MAX_FORMATS {
                            a.rtpmap.push((pt, name, rate));
                        }
                    }
                    (Some(a), None) if name == "ptime" => {
                        let v = val.unwrap_or("").trim();
                        let p: u32 = v.parse().map_err(|_| {
                            bad(n, "a=ptime", format!("{:?} is not a number", truncate(v)))
                        })?;
                        if p == 0 || p > 1000 {
                            return Err(bad(n, "a=ptime", format!("{p} ms is out of range")));
                        }
                        a.ptime = Some(p);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(SdpError::BadVersion);
    }
    let a = audio.ok_or(SdpError::NoAudio)?;
    let connection = a
        .connection
        .or(session_connection)
        .ok_or(SdpError::NoConnection)?;
    let formats = a
        .payload_types
        .iter()
        .map(|&pt| {
            let mapped = a.rtpmap.iter().find(|(p, _, _)| *p == pt);
            match (mapped, pt) {
                (Some((_, name, rate)), _) => Format {
                    payload_type: pt,
                    encoding: name.clone(),
                    clock_rate: *rate,
                },
                (None, 0) => Format {
                    payload_type: 0,
                    encoding: "PCMU".into(),
                    clock_rate: 8000,
                },
                (None, 8) => Format {
                    payload_type: 8,
                    encoding: "PCMA".into(),
                    clock_rate: 8000,
                },
                (None, 13) => Format {
                    payload_type: 13,
                    encoding: "CN".into(),
                    clock_rate: 8000,
                },
                (None, _) => Format {
                    payload_type: pt,
                    encoding: String::new(),
                    clock_rate: 0,
                },
            }
        })
        .collect();
    Ok(SessionDescription {
        origin_session_id,
        connection,
        audio_port: a.port,
        formats,
        direction: a
            .direction
            .or(session_direction)
            .unwrap_or(Direction::SendRecv),
        ptime: a.ptime,
        savp: a.savp,
        crypto: a.crypto,
    })
}

/// [`parse`] for a leg that speaks plain RTP only: `RTP/SAVP` is refused
/// ([`SdpError::SecureNotHere`]); an `a=crypto` beside `RTP/AVP` is ignored.
pub fn parse_plain(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let d = parse(body)?;
    if d.savp {
        return Err(SdpError::SecureNotHere);
    }
    Ok(d)
}

/// Picks the voice codec (the peer's first choice among PCMU and PCMA) and the
/// peer's telephone-event payload type.
pub fn negotiate(desc: &SessionDescription) -> Result<Negotiated, SdpError> {
    let voice = desc.formats.iter().find_map(|f| {
        let codec = match f.encoding.to_ascii_uppercase().as_str() {
            "PCMU" => Codec::Pcmu,
            "PCMA" => Codec::Pcma,
            _ => return None,
        };
        (f.clock_rate == 8000).then_some((codec, f.payload_type))
    });
    let Some((codec, payload_type)) = voice else {
        let offered = desc
            .formats
            .iter()
            .map(|f| {
                if f.encoding.is_empty() {
                    f.payload_type.to_string()
                } else {
                    f.encoding.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SdpError::NoCommonCodec {
            offered: if offered.is_empty() {
                "nothing".into()
            } else {
                offered
            },
        });
    };
    let telephone_event = desc
        .formats
        .iter()
        .find(|f| f.encoding.eq_ignore_ascii_case("telephone-event") && f.clock_rate == 8000)
        .map(|f| f.payload_type);
    Ok(Negotiated {
        codec,
        payload_type,
        telephone_event,
    })
}

/// Writes our SDP: one sendrecv audio stream at `ip:port` with `codecs` (in
/// order of preference) and telephone-event on `telephone_event` if given.
pub fn build(
    ip: IpAddr,
    port: u16,
    codecs: &[Codec],
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
) -> String {
    build_secure(ip, port, codecs, telephone_event, session_id, version, None)
}

/// Our key in our SDP: the `a=crypto` line, and whether the profile is
/// `RTP/SAVP` (SRTP only) or `RTP/AVP` (best-effort SRTP: a phone that
/// does not speak it ignores the key and answers plain RTP).
#[derive(Clone, Copy, Debug)]
pub struct Secure<'a> {
    /// Our key (the answer's tag and suite are the offer's).
    pub key: &'a crate::srtp::SdesKey,
    /// Announce `RTP/SAVP` rather than `RTP/AVP`.
    pub savp: bool,
}

/// [`build`] with our SRTP key when `secure` is given.
pub fn build_secure(
    ip: IpAddr,
    port: u16,
    codecs: &[Codec],
    telephone_event: Option<u8>,
    session_id: u64,
    version: u64,
    secure: Option<Secure<'_>>,
) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    if let Some(te) = telephone_event {
        pts.push(te.to_string());
    }
    let mut s = String::with_capacity(256);
    // writing to a String cannot fail
    let _ = write!(
        s,
        "v=0\r\no=hotline {session_id} {version} IN {family} {ip}\r\ns=hotline\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} {} {}\r\n",
        if secure.is_some_and(|s| s.savp) {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        },
        pts.join(" ")
    );
    if let Some(sec) = secure {
        let _ = write!(s, "a={}\r\n", sec.key.attribute());
    }
    for c in codecs {
        let _ = write!(s, "a=rtpmap:{} {}/8000\r\n", c.payload_type(), c.name());
    }
    if let Some(te) = telephone_event {
        let _ = write!(
            s,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
        );
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    const BARESIP: &str = "v=0\r\no=- 1234 5678 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 10000 RTP/AVP 96 8 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

    #[test]
    fn parses_sipp_offer() {
        let d = parse(SIPP.as_bytes()).unwrap();
        assert_eq!(d.connection, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(d.audio_port, 6000);
        assert_eq!(d.origin_session_id, 53655765);
        let n = negotiate(&d).unwrap();
        assert_eq!(
            n,
            Negotiated {
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event: None
            }
        );
    }

    #[test]
    fn first_g711_in_peer_order_and_telephone_event() {
        let d = parse(BARESIP.as_bytes()).unwrap();
        assert_eq!(d.ptime, Some(20));
        let n = negotiate(&d).unwrap();
        assert_eq!(
            n,
            Negotiated {
                codec: Codec::Pcma,
                payload_type: 8,
                telephone_event: Some(101)
            }
        );
    }

    #[test]
    fn media_level_connection_overrides_and_second_audio_ignored() {
        let s = "v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 1.1.1.1\nt=0 0\nm=video 5000 RTP/AVP 96\nc=IN IP4 9.9.9.9\nm=audio 4000 RTP/AVP 8\nc=IN IP4 2.2.2.2\nm=audio 4002 RTP/AVP 0\n";
        let d = parse(s.as_bytes()).unwrap();
        assert_eq!(d.connection, "2.2.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(d.audio_port, 4000);
    }

    #[test]
    fn ipv6_and_hold() {
        let s = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n";
        let d = parse(s.as_bytes()).unwrap();
        assert!(d.connection.is_ipv6());
        assert_eq!(d.direction, Direction::Inactive);
    }

    #[test]
    fn build_round_trips() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let s = build(ip, 20002, &[Codec::Pcmu, Codec::Pcma], Some(101), 42, 1);
        let d = parse(s.as_bytes()).unwrap();
        assert_eq!(
            (d.connection, d.audio_port, d.origin_session_id),
            (ip, 20002, 42)
        );
        assert_eq!(
            negotiate(&d).unwrap(),
            Negotiated {
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event: Some(101)
            }
        );
        assert_eq!(d.formats.len(), 3);
    }

    #[test]
    fn malformed_inputs_are_refused_precisely() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"\xff\xfe", "UTF-8"),
            (b"o=- 1 1 IN IP4 1.1.1.1\r\n", "v=0"),
            (b"v=1\r\n", "v=0"),
            (b"v=0\r\nthis is not sdp\r\n", "not an SDP line"),
            (b"v=0\r\nc=IN IP4 1.1.1.1\r\n", "no usable audio"),
            (b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", "no connection"),
            (
                b"v=0\r\nc=IN IP4 300.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\n",
                "not an IP address",
            ),
            (
                b"v=0\r\nc=IN IP6 1.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\n",
                "does not match",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 99999 RTP/AVP 0\r\n",
                "not a port",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0 x\r\n",
                "not a payload type",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 200\r\n",
                "out of range",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 0 RTP/AVP 0\r\n",
                "no usable audio",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 UDP/TLS/RTP/SAVP 0\r\n",
                "no usable audio",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n",
                "rtpmap",
            ),
            (
                b"v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:0\r\n",
                "ptime",
            ),
        ];
        for (body, expect) in cases {
            let e = parse(body)
                .expect_err(&String::from_utf8_lossy(body))
                .to_string();
            assert!(
                e.contains(expect),
                "{:?}: {e}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn savp_offers_carry_the_first_usable_key_and_ours_round_trips() {
        use crate::srtp::{SdesKey, Suite};
        let k32 = SdesKey::generate_for(5, Suite::AesCm128HmacSha1_32);
        let offer = format!(
            "v=0\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\nm=audio 0 RTP/SAVP 0\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\nm=audio 4000 RTP/SAVP 0 101\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:xx\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:AAAA|2^20|1:4\r\na={}\r\na=rtpmap:101 telephone-event/8000\r\n",
            k32.attribute()
        );
        let d = parse(offer.as_bytes()).unwrap();
        assert!(d.savp);
        assert_eq!(d.audio_port, 4000, "the first usable audio section");
        assert_eq!(d.crypto, Some(k32));
        assert_eq!(negotiate(&d).unwrap().telephone_event, Some(101));
        let savpf = "v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/SAVPF 0\r\n";
        let d = parse(savpf.as_bytes()).unwrap();
        assert!(d.savp && d.crypto.is_none());
        let plain = parse(SIPP.as_bytes()).unwrap();
        assert!(!plain.savp && plain.crypto.is_none());
        // ours: RTP/SAVP or best-effort RTP/AVP, with our key
        let ours = SdesKey::generate(1);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for savp in [true, false] {
            let s = build_secure(
                ip,
                20002,
                &[Codec::Pcmu],
                Some(101),
                1,
                1,
                Some(Secure { key: &ours, savp }),
            );
            let d = parse(s.as_bytes()).unwrap();
            assert_eq!(d.savp, savp, "{s}");
            assert_eq!(d.crypto.as_ref(), Some(&ours));
        }
        // 100 crypto lines and a 10 KB one: bounded, no key
        let mut many = String::from("v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/SAVP 0\r\n");
        for i in 0..100 {
            many.push_str(&format!(
                "a=crypto:{i} AES_CM_128_HMAC_SHA1_80 inline:!!\r\n"
            ));
        }
        many.push_str(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            "Q".repeat(10_240)
        ));
        let d = parse(many.as_bytes()).unwrap();
        assert!(d.savp && d.crypto.is_none());
    }

    #[test]
    fn oversized_inputs_are_bounded() {
        let big = vec![b'a'; MAX_SDP_BYTES + 1];
        assert!(matches!(parse(&big), Err(SdpError::TooLarge(_))));
        let many = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_LINES + 1));
        assert!(matches!(parse(many.as_bytes()), Err(SdpError::TooLarge(_))));
        let fmts = (0..100)
            .map(|i| (i % 128).to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let s = format!("v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP {fmts}\r\n");
        assert!(matches!(parse(s.as_bytes()), Err(SdpError::TooLarge(_))));
    }

    #[test]
    fn no_common_codec_names_what_was_offered() {
        let s =
            "v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 96 9\r\na=rtpmap:96 opus/48000/2\r\n";
        let e = negotiate(&parse(s.as_bytes()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("opus") && e.contains('9'), "{e}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 12345;
        for len in 0..2000usize {
            let body: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"v=0\r\nmca:IN IP4 1.2 RTP/AVP 0 8 audio rtpmap"[(x as usize) % 42]
                })
                .collect();
            let _ = parse(&body).and_then(|d| negotiate(&d));
        }
    }
}
