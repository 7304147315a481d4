//! SIP session timers (RFC 4028): the negotiation, pure.
//!
//! A caller's INVITE may carry `Session-Expires: S[;refresher=uac|uas]`,
//! `Min-SE: M` and `Supported: timer`. We answer an interval below our
//! `Min-SE` with 422 and our `Min-SE` (§8.1); otherwise the interval is the
//! smaller of theirs and ours (never below either Min-SE), and the caller
//! refreshes only where it said `refresher=uac`: everywhere else we do (the
//! B2BUA is the refresher where the peer does not take it, §7.1/§9). Our
//! INVITEs to agents offer our interval and let the agent's 2xx choose
//! (`refresher=uas`: the phone refreshes; anything else: we do).
//!
//! A UA that never mentions timers still gets our refreshes (re-INVITEs at
//! half the interval): their answers prove the far end is there, and a 408,
//! a 481 or no answer at all ends the call as `session_expired`. The
//! decision of when to refresh and when the session expired is the call
//! flow's (sans-IO, `hotline-callflow`); this module only reads and writes
//! the headers.

use rsipstack::sip::{Header, Request, Response};

/// RFC 4028 §4: the smallest Min-SE a standard UA may ask for, seconds.
pub const RFC_MIN_SE_S: u32 = 90;

/// Session timer settings of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The interval we offer and accept at most, seconds; 0 = no session
    /// timers (no 422, no refreshes, no expiry).
    pub session_expires_s: u32,
    /// The shortest interval we accept (smaller gets 422), seconds.
    pub min_se_s: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            session_expires_s: 1800,
            min_se_s: RFC_MIN_SE_S,
        }
    }
}

/// Who refreshes, as RFC 4028 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresher {
    /// The side that sent the INVITE.
    Uac,
    /// The side that answered it.
    Uas,
}

/// A negotiated session timer of one leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    /// The session interval, seconds.
    pub interval_s: u32,
    /// We send the refreshes (else the far end does and we watch).
    pub we_refresh: bool,
}

/// What an INVITE asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offered {
    /// `Session-Expires` (seconds, refresher param).
    pub session_expires: Option<(u32, Option<Refresher>)>,
    /// `Min-SE`, seconds.
    pub min_se: Option<u32>,
    /// `Supported: timer` (or `Require: timer`).
    pub supports_timer: bool,
}

/// The answer to an INVITE with a too small interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooBrief {
    /// Our Min-SE, for the 422.
    pub min_se_s: u32,
}

/// Reads `delta-seconds[;refresher=uac|uas][;other]`: None when the value
/// is not that (a malformed header is ignored, as if absent).
pub fn parse_session_expires(value: &str) -> Option<(u32, Option<Refresher>)> {
    let mut parts = value.split(';');
    let secs = parse_delta(parts.next()?)?;
    let mut refresher = None;
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.trim().eq_ignore_ascii_case("refresher") {
            refresher = match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            };
        }
    }
    Some((secs, refresher))
}

/// Reads a `Min-SE` value (`delta-seconds[;params]`).
pub fn parse_min_se(value: &str) -> Option<u32> {
    parse_delta(value.split(';').next()?)
}

/// Delta-seconds: digits only, at most 10 of them, saturating at u32::MAX.
fn parse_delta(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().ok()?.min(u64::from(u32::MAX)) as u32)
}

fn has_timer_tag(value: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("timer"))
}

/// What the request or response says about session timers.
fn offered_in<'a>(headers: impl Iterator<Item = &'a Header>) -> Offered {
    let mut o = Offered::default();
    for h in headers {
        match h {
            Header::SessionExpires(v) => {
                o.session_expires = o.session_expires.or(parse_session_expires(v.value()))
            }
            Header::MinSE(v) => o.min_se = o.min_se.or(parse_min_se(v.value())),
            Header::Supported(v) if has_timer_tag(v.value()) => o.supports_timer = true,
            Header::Require(v) if has_timer_tag(v.value()) => o.supports_timer = true,
            _ => {}
        }
    }
    o
}

/// What an INVITE (or re-INVITE, UPDATE) offers.
pub fn offered(req: &Request) -> Offered {
    offered_in(req.headers.iter())
}

/// Decides the caller's leg's timer from its INVITE: Err with our Min-SE
/// when its interval is below it (answer 422), Ok(None) with timers off.
pub fn negotiate_uas(
    cfg: &SessionTimerConfig,
    o: &Offered,
) -> Result<Option<SessionTimer>, TooBrief> {
    if cfg.session_expires_s == 0 {
        return Ok(None);
    }
    let floor = cfg.min_se_s.max(o.min_se.unwrap_or(0));
    let (interval_s, refresher) = match o.session_expires {
        Some((s, _)) if s < cfg.min_se_s => {
            return Err(TooBrief {
                min_se_s: cfg.min_se_s,
            })
        }
        Some((s, r)) => (s.min(cfg.session_expires_s).max(floor), r),
        None => (cfg.session_expires_s.max(floor), None),
    };
    // the caller refreshes only where it said so and can (§9)
    let peer = refresher == Some(Refresher::Uac) && o.supports_timer;
    Ok(Some(SessionTimer {
        interval_s,
        we_refresh: !peer,
    }))
}

/// Headers of our 2xx to the caller's INVITE (RFC 4028 §9): the interval
/// and who refreshes, and `Require: timer` when the caller supports it;
/// nothing for a caller that does not (it would not understand them).
pub fn uas_answer_headers(t: &SessionTimer, o: &Offered) -> Vec<Header> {
    if !o.supports_timer {
        return Vec::new();
    }
    let who = if t.we_refresh { "uas" } else { "uac" };
    vec![
        Header::SessionExpires(format!("{};refresher={who}", t.interval_s).into()),
        Header::Require("timer".into()),
    ]
}

/// Headers of our INVITE to an agent: we support timers and offer our
/// interval (§7.1); none with timers off.
pub fn uac_offer_headers(cfg: &SessionTimerConfig) -> Vec<Header> {
    if cfg.session_expires_s == 0 {
        return Vec::new();
    }
    vec![
        Header::Supported("timer".into()),
        Header::SessionExpires(cfg.session_expires_s.to_string().into()),
        Header::MinSE(cfg.min_se_s.to_string().into()),
    ]
}

/// The agent leg's timer from the 2xx to our INVITE (§7.2): the interval
/// it names (or ours), the agent refreshes only with `refresher=uas`.
pub fn from_uac_answer(cfg: &SessionTimerConfig, resp: &Response) -> Option<SessionTimer> {
    if cfg.session_expires_s == 0 {
        return None;
    }
    let o = offered_in(resp.headers.iter());
    let (interval_s, refresher) = match o.session_expires {
        Some((s, r)) => (
            s.clamp(cfg.min_se_s.max(1), cfg.session_expires_s.max(cfg.min_se_s)),
            r,
        ),
        None => (cfg.session_expires_s, None),
    };
    Some(SessionTimer {
        interval_s,
        we_refresh: refresher != Some(Refresher::Uas),
    })
}

/// Headers of our refresh re-INVITE (we are its UAC and the refresher).
pub fn refresh_headers(interval_s: u32) -> Vec<Header> {
    vec![
        Header::Supported("timer".into()),
        Header::SessionExpires(format!("{interval_s};refresher=uac").into()),
    ]
}

/// Headers of our 2xx to a refresh that carried `Session-Expires` (§9): the
/// same interval and refresher, so the refresher stays who it was.
pub fn refresh_answer_headers(o: &Offered) -> Vec<Header> {
    match o.session_expires {
        Some((s, r)) if o.supports_timer => {
            let who = match r {
                Some(Refresher::Uas) => "uas",
                _ => "uac",
            };
            vec![
                Header::SessionExpires(format!("{s};refresher={who}").into()),
                Header::Require("timer".into()),
            ]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(
            parse_session_expires("1800;refresher=uac"),
            Some((1800, Some(Refresher::Uac)))
        );
        assert_eq!(
            parse_session_expires(" 90 ; Refresher = UAS ;x=y"),
            Some((90, Some(Refresher::Uas)))
        );
        assert_eq!(parse_session_expires("600"), Some((600, None)));
        assert_eq!(parse_session_expires("600;refresher=me"), Some((600, None)));
        for bad in [
            "",
            "-1",
            "abc",
            "1e3",
            "99999999999",
            "12 34",
            ";refresher=uac",
        ] {
            assert_eq!(parse_session_expires(bad), None, "{bad:?}");
        }
        assert_eq!(parse_session_expires("4294967295"), Some((u32::MAX, None)));
        assert_eq!(parse_session_expires("9999999999"), Some((u32::MAX, None)));
        assert_eq!(parse_min_se("90"), Some(90));
        assert_eq!(parse_min_se("90;x"), Some(90));
        assert_eq!(parse_min_se("ninety"), None);
    }

    fn o(se: Option<(u32, Option<Refresher>)>, min_se: Option<u32>, timer: bool) -> Offered {
        Offered {
            session_expires: se,
            min_se,
            supports_timer: timer,
        }
    }

    #[test]
    fn the_caller_leg() {
        let cfg = SessionTimerConfig::default();
        // too small: 422 with our Min-SE
        assert_eq!(
            negotiate_uas(&cfg, &o(Some((60, None)), None, true)),
            Err(TooBrief { min_se_s: 90 })
        );
        // the caller refreshes where it says so
        let t = negotiate_uas(&cfg, &o(Some((90, Some(Refresher::Uac))), None, true))
            .unwrap()
            .unwrap();
        assert_eq!(
            t,
            SessionTimer {
                interval_s: 90,
                we_refresh: false
            }
        );
        let h = uas_answer_headers(&t, &o(Some((90, Some(Refresher::Uac))), None, true));
        assert_eq!(h[0].value(), "90;refresher=uac");
        // ... but not without Supported: timer
        let t = negotiate_uas(&cfg, &o(Some((90, Some(Refresher::Uac))), None, false))
            .unwrap()
            .unwrap();
        assert!(t.we_refresh);
        assert!(uas_answer_headers(&t, &o(None, None, false)).is_empty());
        // no refresher named, or uas: we refresh; a long interval is cut to ours
        let t = negotiate_uas(&cfg, &o(Some((7200, None)), None, true))
            .unwrap()
            .unwrap();
        assert_eq!(
            t,
            SessionTimer {
                interval_s: 1800,
                we_refresh: true
            }
        );
        // their Min-SE is respected
        let t = negotiate_uas(&cfg, &o(Some((7200, None)), Some(3600), true))
            .unwrap()
            .unwrap();
        assert_eq!(t.interval_s, 3600);
        // no header at all: our interval, we refresh
        let t = negotiate_uas(&cfg, &o(None, None, false)).unwrap().unwrap();
        assert_eq!(
            t,
            SessionTimer {
                interval_s: 1800,
                we_refresh: true
            }
        );
        // timers off
        let off = SessionTimerConfig {
            session_expires_s: 0,
            min_se_s: 90,
        };
        assert_eq!(
            negotiate_uas(&off, &o(Some((1, None)), None, true)),
            Ok(None)
        );
        assert!(uac_offer_headers(&off).is_empty());
    }

    #[test]
    fn refresh_answers_keep_the_refresher() {
        let h = refresh_answer_headers(&o(Some((90, Some(Refresher::Uac))), None, true));
        assert_eq!(h[0].value(), "90;refresher=uac");
        assert!(refresh_answer_headers(&o(Some((90, None)), None, false)).is_empty());
        assert_eq!(refresh_headers(45)[1].value(), "45;refresher=uac");
    }
}
