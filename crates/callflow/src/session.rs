//! The session timer of one SIP leg (RFC 4028), sans-IO: when to send our
//! refresh, and when the session has expired. Time is an argument.
//!
//! - We refresh: at half the interval after the last refresh (§7.4: "at
//!   half the session interval" is the RECOMMENDED point). While our refresh
//!   is in flight nothing more is sent; its answer resets the timer, its
//!   failure (408, 481, no answer) ends the session at once, and if it
//!   hangs past the expiry (below) the session has expired too.
//! - The far end refreshes: the session expires, and the call ends, the
//!   smaller of 32 s and a third of the interval before the interval runs
//!   out (§10: the BYE goes slightly before the expiration).

/// Where the leg's timer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    interval_ms: i64,
    we_refresh: bool,
    last_ms: i64,
    in_flight: bool,
}

/// What a due timer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Send our refresh now.
    Refresh,
    /// The session expired.
    Expired,
}

impl SessionTimer {
    /// A timer armed at `now` (the leg was answered) for `interval_ms`.
    pub fn start(now: i64, interval_ms: i64, we_refresh: bool) -> Self {
        SessionTimer {
            interval_ms: interval_ms.max(1_000),
            we_refresh,
            last_ms: now,
            in_flight: false,
        }
    }

    /// The session interval, ms.
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// We send the refreshes.
    pub fn we_refresh(&self) -> bool {
        self.we_refresh
    }

    /// When the session expires without a refresh, epoch ms.
    pub fn expires_at(&self) -> i64 {
        let margin = (self.interval_ms / 3).min(32_000);
        self.last_ms + self.interval_ms - margin
    }

    /// When [`SessionTimer::due`] next has something, epoch ms.
    pub fn next(&self) -> i64 {
        if self.we_refresh && !self.in_flight {
            self.last_ms + self.interval_ms / 2
        } else {
            self.expires_at()
        }
    }

    /// The session was refreshed at `now` (theirs arrived, or ours was answered).
    pub fn refreshed(&mut self, now: i64) {
        self.last_ms = now.max(self.last_ms);
        self.in_flight = false;
    }

    /// What is due at `now`, if anything; `Refresh` marks our refresh as
    /// sent.
    pub fn due(&mut self, now: i64) -> Option<Due> {
        if now >= self.expires_at() {
            return Some(Due::Expired);
        }
        if self.we_refresh && !self.in_flight && now >= self.next() {
            self.in_flight = true;
            return Some(Due::Refresh);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_refresh_at_half_and_expire_when_the_answer_does_not_come() {
        let mut t = SessionTimer::start(0, 90_000, true);
        assert_eq!(t.next(), 45_000);
        assert_eq!(t.due(44_999), None);
        assert_eq!(t.due(45_000), Some(Due::Refresh));
        // in flight: nothing more is sent, the expiry is watched
        assert_eq!(t.due(46_000), None);
        assert_eq!(t.next(), 60_000);
        t.refreshed(47_000);
        assert_eq!(t.next(), 92_000);
        assert_eq!(t.due(92_000), Some(Due::Refresh));
        assert_eq!(t.due(107_000), Some(Due::Expired));
    }

    #[test]
    fn the_peer_refreshes_or_the_session_expires_before_its_end() {
        let mut t = SessionTimer::start(1_000, 1_800_000, false);
        // min(32 s, interval / 3) before the end
        assert_eq!(t.expires_at(), 1_000 + 1_800_000 - 32_000);
        assert_eq!(t.due(900_000), None);
        t.refreshed(900_000);
        assert_eq!(t.due(1_700_000), None);
        assert_eq!(t.due(900_000 + 1_768_000), Some(Due::Expired));
        // a small interval: a third of it
        let t = SessionTimer::start(0, 4_000, false);
        assert_eq!(t.expires_at(), 4_000 - 1_333);
    }

    #[test]
    fn a_refresh_from_the_past_does_not_move_it_back() {
        let mut t = SessionTimer::start(10_000, 90_000, false);
        t.refreshed(5_000);
        assert_eq!(t.expires_at(), 10_000 + 60_000);
    }
}
