//! SDES keys in re-offers (RFC 4568 §7.1.4): a phone's re-INVITE or UPDATE
//! may carry a new `a=crypto` line, with another tag. The dialog layer
//! answers it at once with our stored SDP (our key stays); these helpers
//! make that answer name the tag the offer used, and tell whether an offer
//! carries a key at all (the engine then re-keys the leg). Text only, no
//! keys are parsed here (hotline-media does that).

/// Longest SDP looked at (a re-offer is a few hundred bytes).
const MAX_SDP: usize = 16 * 1024;

/// Whether `offer` (an SDP body) has an `a=crypto:` line.
pub fn carries_crypto(offer: &[u8]) -> bool {
    offer.len() <= MAX_SDP
        && std::str::from_utf8(offer)
            .is_ok_and(|s| s.lines().any(|l| l.trim_start().starts_with("a=crypto:")))
}

/// `(tag, suite)` of an `a=crypto:<tag> <suite> ...` line.
fn tag_and_suite(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("a=crypto:")?;
    let mut it = rest.split_whitespace();
    let tag = it.next()?;
    let suite = it.next()?;
    (!tag.is_empty() && tag.len() <= 10 && tag.bytes().all(|b| b.is_ascii_digit()))
        .then_some((tag, suite))
}

/// Our answer with its `a=crypto` tag set to the tag of the offer's line
/// of the same suite (RFC 4568 §5.1.2: the answer's line repeats the tag
/// it accepts). Unchanged when our answer has no key, the offer has no
/// line of our suite, or the tags already agree.
pub fn answer_crypto_tag(ours: &str, offer: &[u8]) -> String {
    let Some(offer) = std::str::from_utf8(offer)
        .ok()
        .filter(|o| o.len() <= MAX_SDP)
    else {
        return ours.to_string();
    };
    let Some((our_tag, our_suite)) = ours.lines().find_map(tag_and_suite) else {
        return ours.to_string();
    };
    let Some(tag) = offer
        .lines()
        .filter_map(tag_and_suite)
        .find(|(_, suite)| *suite == our_suite)
        .map(|(tag, _)| tag)
    else {
        return ours.to_string();
    };
    if tag == our_tag {
        return ours.to_string();
    }
    let from = format!("a=crypto:{our_tag} {our_suite}");
    let to = format!("a=crypto:{tag} {our_suite}");
    ours.replacen(&from, &to, 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const OURS: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n";

    #[test]
    fn the_answer_takes_the_offers_tag_for_our_suite() {
        let offer = b"m=audio 5000 RTP/SAVP 0\r\na=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:AAAA\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:BBBB\r\n";
        let a = answer_crypto_tag(OURS, offer);
        assert!(
            a.contains("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:WVNf"),
            "{a}"
        );
        assert_eq!(a.matches("a=crypto:").count(), 1);
        // same tag, no key in ours, no line of our suite: unchanged
        let same = b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:CCCC\r\n";
        assert_eq!(answer_crypto_tag(OURS, same), OURS);
        let plain = OURS.replace("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n", "");
        assert_eq!(answer_crypto_tag(&plain, offer), plain);
        let other = b"a=crypto:9 F8_128_HMAC_SHA1_80 inline:DDDD\r\n";
        assert_eq!(answer_crypto_tag(OURS, other), OURS);
    }

    #[test]
    fn hostile_offers_change_nothing() {
        let long_tag = b"a=crypto:99999999999999 AES_CM_128_HMAC_SHA1_80 inline:X\r\n";
        assert_eq!(answer_crypto_tag(OURS, long_tag), OURS);
        for bad in [
            &b""[..],
            b"a=crypto:",
            b"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:X",
            b"a=crypto:-1 AES_CM_128_HMAC_SHA1_80",
            b"\xff\xfe a=crypto:2 AES_CM_128_HMAC_SHA1_80",
        ] {
            assert_eq!(answer_crypto_tag(OURS, bad), OURS, "{bad:?}");
        }
        let huge = format!(
            "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:X\r\n{}",
            "a=x\r\n".repeat(10_000)
        );
        assert_eq!(answer_crypto_tag(OURS, huge.as_bytes()), OURS);
        assert!(!carries_crypto(huge.as_bytes()));
        assert!(carries_crypto(b"v=0\r\na=crypto:1 X inline:Y\r\n"));
        assert!(!carries_crypto(b"v=0\r\na=sendrecv\r\n"));
        assert!(!carries_crypto(b"\xff a=crypto:1"));
    }
}
