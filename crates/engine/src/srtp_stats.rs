//! SRTP counters of the process for `/metrics` (`hotline_srtp_*`): legs
//! set up with SDES-SRTP, offers and answers refused (488) by reason,
//! packets that failed authentication (forged, tampered, replayed, plain
//! RTP on an SRTP leg; SRTP and SRTCP), and re-keys. Process-wide atomics
//! like the registry of a Prometheus client: the call drivers add, the
//! API renders ([`exposition`]).

use hotline_core::Side;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an SRTP offer or answer was refused, as a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// `srtp = "off"` and the phone asked for RTP/SAVP.
    SrtpOff,
    /// Keys would travel over a signalling path without TLS.
    NoTls,
    /// RTP/SAVP or `required` without a usable `a=crypto`.
    NoKey,
    /// An agent's answer to our offer we cannot use (no key where one is
    /// required, another suite).
    Answer,
    /// An agent with `srtp = "required"` whose phone is not registered
    /// over TLS: not rung.
    AgentNotOnTls,
}

impl RefusalReason {
    /// All reasons, in the exposition's order.
    pub const ALL: [RefusalReason; 5] = [
        RefusalReason::SrtpOff,
        RefusalReason::NoTls,
        RefusalReason::NoKey,
        RefusalReason::Answer,
        RefusalReason::AgentNotOnTls,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::SrtpOff => "srtp_off",
            RefusalReason::NoTls => "no_tls",
            RefusalReason::NoKey => "no_key",
            RefusalReason::Answer => "answer",
            RefusalReason::AgentNotOnTls => "agent_not_on_tls",
        }
    }

    /// The reason of a [`hotline_media::srtp::Negotiated::Refuse`] text.
    pub fn of(why: &str) -> RefusalReason {
        if why.contains("off") {
            RefusalReason::SrtpOff
        } else if why.contains("TLS") {
            RefusalReason::NoTls
        } else {
            RefusalReason::NoKey
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The counters (see the module doc).
#[derive(Debug)]
pub struct SrtpCounters {
    legs: [AtomicU64; 2],
    refused: [AtomicU64; 5],
    auth_failures: [AtomicU64; 2],
    rekeys: [AtomicU64; 2],
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Caller => 0,
        Side::Agent => 1,
    }
}

impl SrtpCounters {
    const fn new() -> Self {
        SrtpCounters {
            legs: [const { AtomicU64::new(0) }; 2],
            refused: [const { AtomicU64::new(0) }; 5],
            auth_failures: [const { AtomicU64::new(0) }; 2],
            rekeys: [const { AtomicU64::new(0) }; 2],
        }
    }

    /// A leg set up with SRTP.
    pub fn leg(&self, side: Side) {
        self.legs[side_index(side)].fetch_add(1, Ordering::Relaxed);
    }

    /// An offer or answer refused (or an agent not rung) for `reason`.
    pub fn refused(&self, reason: RefusalReason) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A call's media ended: its packets that failed authentication and
    /// its re-keys on `side`.
    pub fn call_ended(&self, side: Side, auth_failures: u64, rekeys: u64) {
        let i = side_index(side);
        self.auth_failures[i].fetch_add(auth_failures, Ordering::Relaxed);
        self.rekeys[i].fetch_add(rekeys, Ordering::Relaxed);
    }

    /// The counts as `(legs, refused, auth_failures, rekeys)`, by side
    /// (caller, agent) and by [`RefusalReason::ALL`].
    pub fn snapshot(&self) -> ([u64; 2], [u64; 5], [u64; 2], [u64; 2]) {
        let l = |a: &[AtomicU64; 2]| [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)];
        let mut refused = [0; 5];
        for (o, a) in refused.iter_mut().zip(&self.refused) {
            *o = a.load(Ordering::Relaxed);
        }
        (
            l(&self.legs),
            refused,
            l(&self.auth_failures),
            l(&self.rekeys),
        )
    }
}

static COUNTERS: SrtpCounters = SrtpCounters::new();

/// The process's counters.
pub fn counters() -> &'static SrtpCounters {
    &COUNTERS
}

/// The Prometheus text of [`counters`].
pub fn exposition() -> String {
    render(counters())
}

/// The Prometheus text of given counters.
pub fn render(c: &SrtpCounters) -> String {
    let (legs, refused, auth, rekeys) = c.snapshot();
    let mut out = String::new();
    let mut by_side = |name: &str, help: &str, v: [u64; 2]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (side, n) in ["caller", "agent"].iter().zip(v) {
            let _ = writeln!(out, "{name}{{side=\"{side}\"}} {n}");
        }
    };
    by_side(
        "hotline_srtp_legs_total",
        "Call legs set up with SDES-SRTP since the start, by side (caller: the caller's or customer's leg; agent: an agent's leg).",
        legs,
    );
    by_side(
        "hotline_srtp_auth_failures_total",
        "Packets refused on SRTP legs (failed authentication, replayed, plain RTP or forged SRTCP), counted when each call's media ends, by side.",
        auth,
    );
    by_side(
        "hotline_srtp_rekeys_total",
        "SRTP legs whose phone changed its key in a re-INVITE or UPDATE (the relay re-keyed), counted when each call's media ends, by side.",
        rekeys,
    );
    let name = "hotline_srtp_refusals_total";
    let _ = writeln!(
        out,
        "# HELP {name} SRTP offers and answers refused (488 Not Acceptable Here, or the agent's answer unusable) and agents not rung, by reason: srtp_off, no_tls (keys would travel without TLS), no_key (no usable a=crypto), answer (an agent's answer), agent_not_on_tls (srtp = \"required\" and the phone not registered over TLS)."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for (r, n) in RefusalReason::ALL.iter().zip(refused) {
        let _ = writeln!(out, "{name}{{reason=\"{}\"}} {n}", r.label());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn counts_render_by_side_and_reason() {
        let c = SrtpCounters::new();
        c.leg(Side::Agent);
        c.leg(Side::Agent);
        c.leg(Side::Caller);
        c.refused(RefusalReason::of(
            "RTP/SAVP over a signalling path without TLS (keys only over TLS)",
        ));
        c.refused(RefusalReason::of(
            "SRTP is off for this leg (srtp = \"off\")",
        ));
        c.refused(RefusalReason::of(
            "SRTP is required and the SDP has no usable a=crypto",
        ));
        c.refused(RefusalReason::Answer);
        c.call_ended(Side::Agent, 7, 1);
        let text = render(&c);
        for line in [
            "hotline_srtp_legs_total{side=\"caller\"} 1",
            "hotline_srtp_legs_total{side=\"agent\"} 2",
            "hotline_srtp_auth_failures_total{side=\"agent\"} 7",
            "hotline_srtp_auth_failures_total{side=\"caller\"} 0",
            "hotline_srtp_rekeys_total{side=\"agent\"} 1",
            "hotline_srtp_refusals_total{reason=\"no_tls\"} 1",
            "hotline_srtp_refusals_total{reason=\"srtp_off\"} 1",
            "hotline_srtp_refusals_total{reason=\"no_key\"} 1",
            "hotline_srtp_refusals_total{reason=\"answer\"} 1",
            "hotline_srtp_refusals_total{reason=\"agent_not_on_tls\"} 0",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        // every sample line belongs to a family with HELP and TYPE
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split('{').next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} counter")), "{l}");
        }
        // the reasons of every refusal text negotiate() gives
        assert_eq!(
            RefusalReason::of("SRTP keys only over TLS"),
            RefusalReason::NoTls
        );
        assert_eq!(
            RefusalReason::of("RTP/SAVP without a usable a=crypto"),
            RefusalReason::NoKey
        );
    }
}
