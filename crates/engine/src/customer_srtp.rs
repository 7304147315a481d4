//! SDES-SRTP on customer legs: the calls the hotline places itself
//! (an agent's call out, a callback) through a gateway or a carrier trunk
//! follow the `[media] srtp` policy like callers' legs. Gateways and trunks
//! are reached over UDP or TCP, so keys go out only where the operator
//! allows keys without TLS (`media.srtp_allow_without_tls`, a private
//! carrier link); `required` without it fails the dial instead of calling
//! the customer in the clear. Pure decisions, tested without sockets; the
//! call driver sends the offer and applies the keys.

use hotline_media::sdp::{self, Negotiated};
use hotline_media::srtp::{self, SdesKey, SrtpPolicy};
use std::net::SocketAddr;

/// What to offer the customer's side: `Ok(None)` plain RTP, `Ok(Some((key,
/// savp)))` our key (in `RTP/SAVP` when `savp`, else best-effort in
/// `RTP/AVP`), `Err` the dial must not go out (the reason).
pub(crate) fn offer(
    policy: SrtpPolicy,
    allow_without_tls: bool,
) -> Result<Option<(SdesKey, bool)>, &'static str> {
    match (policy, allow_without_tls) {
        (SrtpPolicy::Off, _) | (SrtpPolicy::Optional, false) => Ok(None),
        (SrtpPolicy::Optional, true) => Ok(Some((SdesKey::generate(1), false))),
        (SrtpPolicy::Required, true) => Ok(Some((SdesKey::generate(1), true))),
        (SrtpPolicy::Required, false) => Err(
            "SRTP is required ([media] srtp) but gateways and trunks are not reached over TLS \
             (media.srtp_allow_without_tls is off)",
        ),
    }
}

/// The keys of an SRTP customer leg: (ours, theirs).
pub(crate) type Keys = (SdesKey, SdesKey);

/// The customer's answer to our offer (`ours`: the key we offered): where
/// its RTP goes, its codec, and the leg's keys when it took SRTP; an error
/// when the answer is unusable (a key or `RTP/SAVP` answering a plain offer,
/// another suite, no key where SRTP is required).
pub(crate) fn answer(
    policy: SrtpPolicy,
    ours: Option<&SdesKey>,
    answer: &[u8],
) -> Result<(SocketAddr, Negotiated, Option<Keys>), String> {
    let a = sdp::parse(answer).map_err(|e| e.to_string())?;
    let n = sdp::negotiate(&a).map_err(|e| e.to_string())?;
    let addr = SocketAddr::new(a.connection, a.audio_port);
    let Some(ours) = ours else {
        if a.savp {
            return Err("RTP/SAVP answer to a plain RTP offer".into());
        }
        return Ok((addr, n, None));
    };
    match srtp::negotiate_sdp(policy, &a, true, true) {
        srtp::Negotiated::Plain => Ok((addr, n, None)),
        srtp::Negotiated::Srtp(theirs) if theirs.suite == ours.suite => {
            Ok((addr, n, Some((ours.clone(), theirs))))
        }
        srtp::Negotiated::Srtp(theirs) => Err(format!(
            "SRTP: the answer's suite {} is not the one offered",
            theirs.suite.name()
        )),
        srtp::Negotiated::Refuse(why) => Err(format!("SRTP: {why}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use hotline_media::srtp::Suite;

    fn sdp_with(profile: &str, crypto: Option<&SdesKey>) -> Vec<u8> {
        let mut s = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 40000 {profile} 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        if let Some(k) = crypto {
            s.push_str(&format!("a={}\r\n", k.attribute()));
        }
        s.into_bytes()
    }

    #[test]
    fn the_offer_follows_the_policy_and_keys_only_where_allowed() {
        assert!(offer(SrtpPolicy::Off, true).unwrap().is_none());
        assert!(offer(SrtpPolicy::Optional, false).unwrap().is_none());
        let (_, savp) = offer(SrtpPolicy::Optional, true).unwrap().unwrap();
        assert!(!savp, "best effort: RTP/AVP with a key");
        let (k, savp) = offer(SrtpPolicy::Required, true).unwrap().unwrap();
        assert!(savp);
        assert_eq!(k.suite, Suite::AesCm128HmacSha1_80);
        let e = offer(SrtpPolicy::Required, false).unwrap_err();
        assert!(e.contains("srtp_allow_without_tls"), "{e}");
    }

    #[test]
    fn the_answer_gives_the_keys_or_a_reason() {
        let ours = SdesKey::generate(1);
        let theirs = SdesKey::generate(1);
        // SRTP taken
        let (addr, _, keys) = answer(
            SrtpPolicy::Optional,
            Some(&ours),
            &sdp_with("RTP/SAVP", Some(&theirs)),
        )
        .unwrap();
        assert_eq!(addr.to_string(), "192.0.2.7:40000");
        assert_eq!(keys, Some((ours.clone(), theirs.clone())));
        // best effort, answered plain: plain
        let (_, _, keys) = answer(
            SrtpPolicy::Optional,
            Some(&ours),
            &sdp_with("RTP/AVP", None),
        )
        .unwrap();
        assert!(keys.is_none());
        // required and answered plain: unusable
        let e = answer(
            SrtpPolicy::Required,
            Some(&ours),
            &sdp_with("RTP/AVP", None),
        )
        .unwrap_err();
        assert!(e.starts_with("SRTP: "), "{e}");
        // another suite
        let t32 = SdesKey::generate_for(1, Suite::AesCm128HmacSha1_32);
        let e = answer(
            SrtpPolicy::Optional,
            Some(&ours),
            &sdp_with("RTP/SAVP", Some(&t32)),
        )
        .unwrap_err();
        assert!(e.contains("suite"), "{e}");
        // a plain offer answered with RTP/SAVP: unusable; with a key in
        // RTP/AVP: the key is not ours to take, plain
        let e = answer(
            SrtpPolicy::Optional,
            None,
            &sdp_with("RTP/SAVP", Some(&theirs)),
        )
        .unwrap_err();
        assert!(e.contains("plain RTP offer"), "{e}");
        let (_, _, keys) = answer(
            SrtpPolicy::Optional,
            None,
            &sdp_with("RTP/AVP", Some(&theirs)),
        )
        .unwrap();
        assert!(keys.is_none());
        // hostile answers: errors, no panic
        for bad in [&b""[..], b"garbage", b"v=0\r\nm=audio x RTP/SAVP 0\r\n"] {
            assert!(answer(SrtpPolicy::Optional, Some(&ours), bad).is_err());
        }
        let mut huge = sdp_with("RTP/SAVP", Some(&theirs));
        huge.extend(std::iter::repeat_n(b'a', 1 << 20));
        assert!(answer(SrtpPolicy::Optional, Some(&ours), &huge).is_err());
    }
}
