//! `hotline-phone`: the agent softphone bridge for USB headsets.
//!
//! It registers to the hotline as one agent (SIP digest, through
//! [`hotline_sip::UserAgent`]), takes incoming calls, and bridges their audio
//! to a sound device with cpal, or to WAV files paced by a clock:
//!
//! ```text
//! RTP in → jitter buffer → G.711 decode → resample 8 kHz → device rate → ring → output callback
//! input callback → ring → resample device rate → 8 kHz → G.711 encode → RTP out
//! ```
//!
//! - [`api`]: the engine's HTTP API (`--api`): the agent's events and actions.
//! - [`jitter`]: the adaptive jitter buffer (sans-IO).
//! - [`bridge`]: the two halves of the audio path and the lock-free rings.
//! - [`audio`]: WAV files as a clock-paced device; the callback helpers.
//! - [`device`]: cpal devices (listing, opening, callbacks).
//! - [`phone`]: registration keep-alive and call handling.
//! - [`tui`]: the terminal interface (`--tui`).
//! - [`play`]: `hotline-phone play`, replaying a recording (seek, pause,
//!   0.2×–1.0× speed that keeps the pitch through [`stretch`]).
//!
//! The command line (stable; docs/operations.md has every option):
//!
//! ```text
//! hotline-phone --server HOST[:PORT] --agent ID --password-file F [--input DEV] [--output DEV]
//!               [--tui] [--keepalive-s 29] [--api http://HOST:PORT --api-token-file F] ...
//! hotline-phone devices
//! hotline-phone play FILE.wav [--channel caller|agent|both] [--speed 0.2..1.0]
//!               [--start SECONDS] [--output DEV | --output-wav OUT]
//! ```
//!
//! This crate is the only one that links ALSA: the server binary never does.

#![warn(missing_docs)]

pub mod api;
pub mod audio;
pub mod bridge;
pub mod device;
pub mod jitter;
pub mod phone;
pub mod play;
pub mod stretch;
pub mod tui;
pub mod tui_zh;
