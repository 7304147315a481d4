//! Writer lanes: a few threads that each serve many recordings.
//!
//! A thread per recording woken for every 20 ms frame cost two thirds of
//! the engine's CPU (docs/performance.md): a futex wake and a context switch
//! per frame per call. A lane instead wakes once per batch interval
//! (100 ms by default), takes every frame queued for each of its
//! recordings, and writes each file once. The media workers' `try_send`
//! into a recording's channel wakes nobody. A handle that finishes its
//! call wakes its lane at once, so a call's recording is closed without
//! waiting for the next batch; sealing (fsync, hash, signature) then runs
//! on the finishing thread, never on the lane.
//!
//! A panic while serving one recording drops that recording only (its
//! handle gets [`crate::RecorderError::WriterPanicked`]); the lane goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::writer::{Serviced, Session};

/// A message to a lane.
pub(crate) enum LaneMsg {
    /// Serve this recording from now on.
    Open(Box<Session>),
    /// A handle asked its recording to finish: serve those now.
    Wake,
}

/// The lanes of one [`crate::Recorder`]; new recordings go to them in turn.
#[derive(Debug)]
pub(crate) struct Lanes {
    lanes: Vec<Sender<LaneMsg>>,
    next: AtomicUsize,
}

impl Lanes {
    /// Starts `count` (at least 1) lane threads, each serving its
    /// recordings every `batch`.
    pub fn start(count: usize, batch: Duration) -> std::io::Result<Lanes> {
        let mut lanes = Vec::new();
        for n in 0..count.max(1) {
            let (tx, rx) = crossbeam_channel::unbounded();
            let _thread: JoinHandle<()> = std::thread::Builder::new()
                .name(format!("rec-lane-{n}"))
                .spawn(move || run(rx, batch))?;
            lanes.push(tx);
        }
        Ok(Lanes {
            lanes,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands a new recording to the next lane; returns that lane's sender
    /// (the handle's way to wake it), or None if the lane is gone (it
    /// cannot be while this value lives, except by a bug).
    pub fn open(&self, session: Session) -> Option<Sender<LaneMsg>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let lane = &self.lanes[n];
        lane.send(LaneMsg::Open(Box::new(session))).ok()?;
        Some(lane.clone())
    }
}

/// A lane's loop: until every sender (the [`Lanes`] and every handle) is
/// gone and its last recording is closed.
fn run(rx: Receiver<LaneMsg>, batch: Duration) {
    let mut sessions: Vec<Session> = Vec::new();
    let mut next_batch = Instant::now() + batch;
    let mut open = true;
    loop {
        if !open && sessions.is_empty() {
            return;
        }
        let wait = next_batch.saturating_duration_since(Instant::now());
        let msg = if open {
            match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            }
        } else {
            // No one can send any more: the recordings left close when
            // their media senders go.
            std::thread::sleep(wait);
            None
        };
        match msg {
            Some(LaneMsg::Open(s)) => sessions.push(*s),
            Some(LaneMsg::Wake) => serve(&mut sessions, Instant::now(), Session::finish_asked),
            None => {}
        }
        let now = Instant::now();
        if now >= next_batch {
            serve(&mut sessions, now, |_| true);
            next_batch = now + batch;
        }
    }
}

/// Services the sessions `which` picks; closes those that are done.
fn serve(sessions: &mut Vec<Session>, now: Instant, which: impl Fn(&Session) -> bool) {
    let mut i = 0;
    while i < sessions.len() {
        if !which(&sessions[i]) {
            i += 1;
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| sessions[i].service(now))) {
            Ok(Serviced::Open) => i += 1,
            Ok(Serviced::Done) => {
                let s = sessions.swap_remove(i);
                let path = s.path.clone();
                if catch_unwind(AssertUnwindSafe(|| s.close())).is_err() {
                    tracing::error!(path = %path.display(), "recording writer panicked while closing");
                }
            }
            Err(_) => {
                let s = sessions.swap_remove(i);
                tracing::error!(path = %s.path.display(), "recording writer panicked; this recording stops here");
                // dropping it disconnects its handle, which reports the panic
                drop(s);
            }
        }
    }
}
