//! Sound devices through cpal (ALSA on Linux). Only this crate links it: the
//! server binary never does.
//!
//! The cpal callbacks touch nothing but their `rtrb` ring end and atomic
//! counters ([`crate::audio::fill_output`], [`crate::audio::take_input`]):
//! no lock, no allocation, no blocking call.

use crate::audio::{fill_output, take_input, AudioError, EndpointStats};
use crate::bridge::{CaptureEnd, PlaybackEnd};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// One device as `hotline-phone devices` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id (what `--input` / `--output` match first).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Supported input rates as ranges (min, max), Hz; empty = no input.
    pub input_rates: Vec<(u32, u32)>,
    /// Supported output rates as ranges (min, max), Hz; empty = no output.
    pub output_rates: Vec<(u32, u32)>,
    /// Default input rate, Hz.
    pub default_input_rate: Option<u32>,
    /// Default output rate, Hz.
    pub default_output_rate: Option<u32>,
}

fn label(d: &cpal::Device) -> (String, String) {
    let id = d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into());
    let name = d
        .description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| id.clone());
    (id, name)
}

/// Every device of the default host with its rates.
pub fn list_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let devices = host
        .devices()
        .map_err(|e| AudioError::NoDevice(format!("cannot list audio devices: {e}")))?;
    let mut out = Vec::new();
    for d in devices {
        let (id, name) = label(&d);
        let mut input_rates: Vec<(u32, u32)> = d
            .supported_input_configs()
            .map(|it| {
                it.map(|c| (c.min_sample_rate(), c.max_sample_rate()))
                    .collect()
            })
            .unwrap_or_default();
        let mut output_rates: Vec<(u32, u32)> = d
            .supported_output_configs()
            .map(|it| {
                it.map(|c| (c.min_sample_rate(), c.max_sample_rate()))
                    .collect()
            })
            .unwrap_or_default();
        input_rates.sort_unstable();
        input_rates.dedup();
        output_rates.sort_unstable();
        output_rates.dedup();
        out.push(DeviceInfo {
            id,
            name,
            input_rates,
            output_rates,
            default_input_rate: d.default_input_config().ok().map(|c| c.sample_rate()),
            default_output_rate: d.default_output_config().ok().map(|c| c.sample_rate()),
        });
    }
    Ok(out)
}

/// The text of `hotline-phone devices`.
pub fn render_devices(devices: &[DeviceInfo]) -> String {
    if devices.is_empty() {
        return "no audio devices found (is a headset plugged in? on Linux, is the ALSA \
                library present and the user in the `audio` group?)\n"
            .into();
    }
    let rates = |r: &[(u32, u32)]| {
        r.iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::new();
    for d in devices {
        s.push_str(&format!("{}  ({})\n", d.id, d.name));
        if !d.input_rates.is_empty() {
            s.push_str(&format!(
                "    input:  {} Hz (default {})\n",
                rates(&d.input_rates),
                d.default_input_rate
                    .map(|r| r.to_string())
                    .unwrap_or("-".into())
            ));
        }
        if !d.output_rates.is_empty() {
            s.push_str(&format!(
                "    output: {} Hz (default {})\n",
                rates(&d.output_rates),
                d.default_output_rate
                    .map(|r| r.to_string())
                    .unwrap_or("-".into())
            ));
        }
    }
    s
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Input,
    Output,
}

fn find(want: Option<&str>, dir: Dir) -> Result<cpal::Device, AudioError> {
    let host = cpal::default_host();
    let what = if dir == Dir::Input { "input" } else { "output" };
    match want {
        None | Some("default") => {
            let d = if dir == Dir::Input {
                host.default_input_device()
            } else {
                host.default_output_device()
            };
            d.ok_or_else(|| {
                AudioError::NoDevice(format!(
                    "no default {what} device: plug in a headset or name one with --{what} \
                     (see `hotline-phone devices`)"
                ))
            })
        }
        Some(w) => {
            let lw = w.to_ascii_lowercase();
            let devices = host
                .devices()
                .map_err(|e| AudioError::NoDevice(format!("cannot list audio devices: {e}")))?;
            for d in devices {
                let (id, name) = label(&d);
                if id == w
                    || id.to_ascii_lowercase().contains(&lw)
                    || name.to_ascii_lowercase().contains(&lw)
                {
                    return Ok(d);
                }
            }
            Err(AudioError::NoDevice(format!(
                "no {what} device matches `{w}` (see `hotline-phone devices`)"
            )))
        }
    }
}

/// The output device `want` names (as `--output`; None or `default` = the
/// default one).
pub fn output_device(want: Option<&str>) -> Result<cpal::Device, AudioError> {
    find(want, Dir::Output)
}

/// The rates the named devices run at by default: (input, output).
pub fn device_rates(input: Option<&str>, output: Option<&str>) -> Result<(u32, u32), AudioError> {
    let i = find(input, Dir::Input)?;
    let o = find(output, Dir::Output)?;
    let ic = i.default_input_config().map_err(|e| AudioError::Device {
        device: label(&i).0,
        reason: e.to_string(),
    })?;
    let oc = o.default_output_config().map_err(|e| AudioError::Device {
        device: label(&o).0,
        reason: e.to_string(),
    })?;
    Ok((ic.sample_rate(), oc.sample_rate()))
}

/// How often a lost device is looked for again.
pub const REOPEN_POLL: Duration = Duration::from_secs(1);

/// What happens to the device while the phone runs (reported to the agent
/// in the TUI and the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    /// The device reported a fatal stream error (unplugged headset, ...):
    /// its streams are closed and it is looked for every [`REOPEN_POLL`].
    /// Calls stay up: the far end hears silence meanwhile.
    Lost {
        /// What the device layer said.
        reason: String,
    },
    /// The device is back and its streams run again.
    Back,
    /// The device cannot be re-opened at all (its ring ends were not
    /// returned by the closed streams); the phone must be restarted.
    Gone {
        /// Why.
        reason: String,
    },
}

/// A message to the device supervisor thread.
pub enum SupervisorMsg {
    /// Close the streams and end the thread.
    Stop,
    /// A stream reported an error.
    Error {
        /// The stream generation that reported it (stale ones are ignored).
        generation: u64,
        /// Whether the stream is dead (unplugged) or only glitched (xrun).
        fatal: bool,
        /// What was said.
        reason: String,
    },
    /// A ring end came back from a closed stream.
    Capture(CaptureEnd),
    /// A ring end came back from a closed stream.
    Playback(PlaybackEnd),
}

/// A ring end lent to a stream's callback. When the stream (and so its
/// callback) is dropped, the end goes back to the supervisor, which lends it
/// to the re-opened stream: the network side keeps its own ends throughout.
pub struct Lent<T> {
    inner: Option<T>,
    back: mpsc::Sender<SupervisorMsg>,
    wrap: fn(T) -> SupervisorMsg,
}

impl<T> Lent<T> {
    /// The end (None only while being returned). No lock, no allocation:
    /// safe inside a device callback.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.as_mut()
    }
}

impl<T> Drop for Lent<T> {
    fn drop(&mut self) {
        if let Some(t) = self.inner.take() {
            let _ = self.back.send((self.wrap)(t));
        }
    }
}

/// Where stream error callbacks report to (counts the error and wakes the
/// supervisor). Not for data callbacks: it may allocate.
#[derive(Clone)]
pub struct ErrorSink {
    tx: mpsc::Sender<SupervisorMsg>,
    generation: u64,
    stats: Arc<EndpointStats>,
}

impl ErrorSink {
    /// Reports an error of the stream this sink was given to.
    pub fn report(&self, fatal: bool, reason: String) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(SupervisorMsg::Error {
            generation: self.generation,
            fatal,
            reason,
        });
    }
}

/// What opens the streams: cpal in the program, a fake in tests.
pub trait DeviceLayer: Send + 'static {
    /// Whether the devices are there (polled while one is lost).
    fn available(&mut self) -> bool;
    /// Opens and starts both streams with these ring ends; the returned
    /// value keeps them running until dropped. On failure the ends go back
    /// to the supervisor as they are dropped.
    fn open(
        &mut self,
        capture: Lent<CaptureEnd>,
        playback: Lent<PlaybackEnd>,
        errors: ErrorSink,
        stats: Arc<EndpointStats>,
    ) -> Result<Box<dyn std::any::Any>, AudioError>;
}

/// The real devices through cpal, at fixed rates (a re-opened device must
/// run at the rates the bridge was built for).
#[derive(Clone, Debug)]
pub struct CpalLayer {
    /// Capture device (None = default).
    pub input: Option<String>,
    /// Playback device (None = default).
    pub output: Option<String>,
    /// (input, output) rates, Hz.
    pub rates: (u32, u32),
}

/// Whether a cpal stream error leaves the stream running.
fn fatal(kind: cpal::ErrorKind) -> bool {
    !matches!(
        kind,
        cpal::ErrorKind::Xrun | cpal::ErrorKind::RealtimeDenied | cpal::ErrorKind::DeviceChanged
    )
}

impl DeviceLayer for CpalLayer {
    fn available(&mut self) -> bool {
        find(self.input.as_deref(), Dir::Input).is_ok()
            && find(self.output.as_deref(), Dir::Output).is_ok()
    }

    fn open(
        &mut self,
        mut capture: Lent<CaptureEnd>,
        mut playback: Lent<PlaybackEnd>,
        errors: ErrorSink,
        stats: Arc<EndpointStats>,
    ) -> Result<Box<dyn std::any::Any>, AudioError> {
        let i = find(self.input.as_deref(), Dir::Input)?;
        let o = find(self.output.as_deref(), Dir::Output)?;
        let dev_err = |d: &cpal::Device, e: &dyn std::fmt::Display| AudioError::Device {
            device: label(d).0,
            reason: e.to_string(),
        };
        let ic = i.default_input_config().map_err(|e| dev_err(&i, &e))?;
        let oc = o.default_output_config().map_err(|e| dev_err(&o, &e))?;
        let (ich, och) = (usize::from(ic.channels()), usize::from(oc.channels()));
        let mut icfg = ic.config();
        icfg.sample_rate = self.rates.0;
        let mut ocfg = oc.config();
        ocfg.sample_rate = self.rates.1;
        let s_in = stats.clone();
        let e_in = errors.clone();
        let on_in_err = move |e: cpal::Error| {
            tracing::warn!(error = %e, "input device error (unplugged?)");
            e_in.report(fatal(e.kind()), format!("input: {e}"));
        };
        let in_stream = match ic.sample_format() {
            cpal::SampleFormat::F32 => i.build_input_stream(
                icfg,
                move |data: &[f32], _: &cpal::InputCallbackInfo| {
                    if let Some(r) = capture.get_mut() {
                        take_input(r, data, ich, &s_in)
                    }
                },
                on_in_err,
                None,
            ),
            cpal::SampleFormat::I16 => i.build_input_stream(
                icfg,
                move |data: &[i16], _: &cpal::InputCallbackInfo| {
                    let Some(r) = capture.get_mut() else { return };
                    let ch = ich.max(1);
                    for frame in data.chunks(ch) {
                        let v = frame.iter().map(|s| f32::from(*s)).sum::<f32>()
                            / (32768.0 * ch as f32);
                        if r.push(v).is_err() {
                            s_in.overruns.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                },
                on_in_err,
                None,
            ),
            f => {
                return Err(dev_err(
                    &i,
                    &format!("sample format {f} not supported (f32 or i16)"),
                ))
            }
        }
        .map_err(|e| dev_err(&i, &e))?;
        let s_out = stats.clone();
        let e_out = errors;
        let on_out_err = move |e: cpal::Error| {
            tracing::warn!(error = %e, "output device error (unplugged?)");
            e_out.report(fatal(e.kind()), format!("output: {e}"));
        };
        let out_stream = match oc.sample_format() {
            cpal::SampleFormat::F32 => o.build_output_stream(
                ocfg,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| match playback.get_mut() {
                    Some(r) => fill_output(r, data, och, &s_out),
                    None => data.fill(0.0),
                },
                on_out_err,
                None,
            ),
            cpal::SampleFormat::I16 => o.build_output_stream(
                ocfg,
                move |data: &mut [i16], _: &cpal::OutputCallbackInfo| {
                    let Some(r) = playback.get_mut() else {
                        data.fill(0);
                        return;
                    };
                    let ch = och.max(1);
                    for frame in data.chunks_mut(ch) {
                        let v = match r.pop() {
                            Ok(v) => v,
                            Err(_) => {
                                s_out.underruns.fetch_add(1, Ordering::Relaxed);
                                0.0
                            }
                        };
                        frame.fill((v * 32767.0).clamp(-32768.0, 32767.0) as i16);
                    }
                },
                on_out_err,
                None,
            ),
            f => {
                return Err(dev_err(
                    &o,
                    &format!("sample format {f} not supported (f32 or i16)"),
                ))
            }
        }
        .map_err(|e| dev_err(&o, &e))?;
        in_stream.play().map_err(|e| dev_err(&i, &e))?;
        out_stream.play().map_err(|e| dev_err(&o, &e))?;
        Ok(Box::new((in_stream, out_stream)))
    }
}

/// Called with every [`DeviceStatus`] change (from the supervisor thread).
pub type StatusFn = Box<dyn Fn(DeviceStatus) + Send>;

/// A running pair of device streams, owned by a supervisor thread (cpal
/// streams may not move between threads on every platform). When a stream
/// dies (headset unplugged) the supervisor closes both, reports
/// [`DeviceStatus::Lost`], looks for the device every [`REOPEN_POLL`] and
/// re-opens it with the same ring ends ([`DeviceStatus::Back`]): the call
/// on the network side never notices beyond hearing silence.
pub struct DeviceEndpoint {
    stop: mpsc::Sender<SupervisorMsg>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Capture rate, Hz.
    pub input_rate: u32,
    /// Playback rate, Hz.
    pub output_rate: u32,
    /// Counters (underruns, stream errors such as an unplugged headset).
    pub stats: Arc<EndpointStats>,
}

impl std::fmt::Debug for DeviceEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceEndpoint")
            .field("input_rate", &self.input_rate)
            .field("output_rate", &self.output_rate)
            .finish_non_exhaustive()
    }
}

struct Supervisor<L: DeviceLayer> {
    layer: L,
    tx: mpsc::Sender<SupervisorMsg>,
    rx: mpsc::Receiver<SupervisorMsg>,
    stats: Arc<EndpointStats>,
    generation: u64,
    capture: Option<CaptureEnd>,
    playback: Option<PlaybackEnd>,
    on_status: StatusFn,
    poll: Duration,
}

impl<L: DeviceLayer> Supervisor<L> {
    fn stash(&mut self, m: SupervisorMsg) {
        match m {
            SupervisorMsg::Capture(c) => self.capture = Some(c),
            SupervisorMsg::Playback(p) => self.playback = Some(p),
            _ => {}
        }
    }

    /// Opens the streams with the ends in hand (they come back on failure).
    fn open(&mut self) -> Result<Box<dyn std::any::Any>, AudioError> {
        let (Some(c), Some(p)) = (self.capture.take(), self.playback.take()) else {
            return Err(AudioError::NoDevice("ring ends missing".into()));
        };
        self.generation += 1;
        let capture = Lent {
            inner: Some(c),
            back: self.tx.clone(),
            wrap: SupervisorMsg::Capture,
        };
        let playback = Lent {
            inner: Some(p),
            back: self.tx.clone(),
            wrap: SupervisorMsg::Playback,
        };
        let errors = ErrorSink {
            tx: self.tx.clone(),
            generation: self.generation,
            stats: self.stats.clone(),
        };
        let r = self
            .layer
            .open(capture, playback, errors, self.stats.clone());
        if r.is_err() {
            // a stop seen here stays queued for the caller's loop
            let _ = self.collect_ends();
        }
        r
    }

    /// Takes back the ends a closed stream returned (they are sent as the
    /// callbacks are dropped; a backend may drop them on its own thread).
    /// Returns false when told to stop meanwhile (the stop is kept for the
    /// caller's loop).
    fn collect_ends(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.capture.is_none() || self.playback.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(SupervisorMsg::Stop) => {
                    let _ = self.tx.send(SupervisorMsg::Stop);
                    return false;
                }
                Ok(m) => self.stash(m),
                Err(_) => break,
            }
        }
        true
    }

    fn run(mut self, mut streams: Box<dyn std::any::Any>) {
        loop {
            // running: wait for a stop or a fatal error
            let reason = loop {
                match self.rx.recv() {
                    Ok(SupervisorMsg::Error {
                        generation,
                        fatal,
                        reason,
                    }) if fatal && generation == self.generation => break reason,
                    Ok(SupervisorMsg::Stop) | Err(_) => return,
                    Ok(m) => self.stash(m),
                }
            };
            drop(streams);
            if !self.collect_ends() {
                return;
            }
            tracing::warn!(%reason, "audio device lost; waiting for it to come back");
            if self.capture.is_none() || self.playback.is_none() {
                (self.on_status)(DeviceStatus::Gone {
                    reason: format!("{reason}; the closed streams kept the audio rings"),
                });
                while !matches!(self.rx.recv(), Ok(SupervisorMsg::Stop) | Err(_)) {}
                return;
            }
            (self.on_status)(DeviceStatus::Lost { reason });
            // lost: poll for the device until it opens again
            streams = loop {
                match self.rx.recv_timeout(self.poll) {
                    Ok(SupervisorMsg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    Ok(m) => self.stash(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if !self.layer.available() {
                            continue;
                        }
                        match self.open() {
                            Ok(s) => break s,
                            Err(e) => tracing::debug!(error = %e, "device not ready yet"),
                        }
                    }
                }
            };
            tracing::info!("audio device back");
            (self.on_status)(DeviceStatus::Back);
        }
    }
}

impl DeviceEndpoint {
    /// Opens the devices (default ones when None) at `rates` (from
    /// [`device_rates`]) and starts both streams; `on_status` hears about a
    /// lost and re-opened device.
    pub fn start(
        input: Option<String>,
        output: Option<String>,
        rates: (u32, u32),
        capture: CaptureEnd,
        playback: PlaybackEnd,
        on_status: StatusFn,
    ) -> Result<DeviceEndpoint, AudioError> {
        let layer = CpalLayer {
            input,
            output,
            rates,
        };
        DeviceEndpoint::start_with(layer, rates, capture, playback, on_status, REOPEN_POLL)
    }

    /// [`start`](Self::start) on any [`DeviceLayer`], polling a lost device
    /// every `poll`.
    pub fn start_with<L: DeviceLayer>(
        layer: L,
        rates: (u32, u32),
        capture: CaptureEnd,
        playback: PlaybackEnd,
        on_status: StatusFn,
        poll: Duration,
    ) -> Result<DeviceEndpoint, AudioError> {
        let stats = Arc::new(EndpointStats::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel::<SupervisorMsg>();
        let mut sup = Supervisor {
            layer,
            tx: tx.clone(),
            rx,
            stats: stats.clone(),
            generation: 0,
            capture: Some(capture),
            playback: Some(playback),
            on_status,
            poll,
        };
        let thread = std::thread::Builder::new()
            .name("audio-device".into())
            .spawn(move || match sup.open() {
                Ok(streams) => {
                    let _ = ready_tx.send(Ok(()));
                    sup.run(streams);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| AudioError::NoDevice(format!("cannot start the audio thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(DeviceEndpoint {
                stop: tx,
                thread: Some(thread),
                input_rate: rates.0,
                output_rate: rates.1,
                stats,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(AudioError::NoDevice("the audio thread died".into())),
        }
    }
}

impl Drop for DeviceEndpoint {
    fn drop(&mut self) {
        let _ = self.stop.send(SupervisorMsg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake device layer: its "callbacks" run on a thread, moving samples
    /// through the lent ring ends until the streams are dropped.
    #[derive(Default)]
    struct Fake {
        present: std::sync::atomic::AtomicBool,
        opens: std::sync::atomic::AtomicU32,
        played: std::sync::atomic::AtomicU64,
        sink: std::sync::Mutex<Option<ErrorSink>>,
    }

    struct FakeLayer(Arc<Fake>);

    struct FakeStreams {
        stop: Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for FakeStreams {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    impl DeviceLayer for FakeLayer {
        fn available(&mut self) -> bool {
            self.0.present.load(Ordering::Relaxed)
        }
        fn open(
            &mut self,
            mut capture: Lent<CaptureEnd>,
            mut playback: Lent<PlaybackEnd>,
            errors: ErrorSink,
            _stats: Arc<EndpointStats>,
        ) -> Result<Box<dyn std::any::Any>, AudioError> {
            if !self.0.present.load(Ordering::Relaxed) {
                return Err(AudioError::NoDevice("fake: unplugged".into()));
            }
            self.0.opens.fetch_add(1, Ordering::Relaxed);
            *self.0.sink.lock().unwrap() = Some(errors);
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (st, fake) = (stop.clone(), self.0.clone());
            let thread = std::thread::spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    if let Some(p) = playback.get_mut() {
                        while p.pop().is_ok() {
                            fake.played.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Some(c) = capture.get_mut() {
                        let _ = c.push(0.5);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            Ok(Box::new(FakeStreams {
                stop,
                thread: Some(thread),
            }))
        }
    }

    fn wait(mut what: impl FnMut() -> bool) -> bool {
        (0..300).any(|_| {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
            false
        })
    }

    #[test]
    fn an_unplugged_device_is_reported_and_reopened_with_the_same_rings() {
        let fake = Arc::new(Fake::default());
        fake.present.store(true, Ordering::Relaxed);
        let seen = Arc::new(std::sync::Mutex::new(Vec::<DeviceStatus>::new()));
        let seen2 = seen.clone();
        let (mut prod, cons) = crate::bridge::playback_ring(8000);
        let (cap, mut capc) = crate::bridge::capture_ring(8000);
        let ep = DeviceEndpoint::start_with(
            FakeLayer(fake.clone()),
            (8000, 8000),
            cap,
            cons,
            Box::new(move |s| seen2.lock().unwrap().push(s)),
            Duration::from_millis(20),
        )
        .unwrap();
        // audio flows both ways
        for _ in 0..100 {
            prod.push(0.1).unwrap();
        }
        assert!(wait(|| fake.played.load(Ordering::Relaxed) == 100));
        assert!(wait(|| capc.pop().is_ok()));
        // an xrun is counted, not a loss
        let sink = fake.sink.lock().unwrap().clone().unwrap();
        sink.report(false, "xrun".into());
        // unplugged: the stream dies
        fake.present.store(false, Ordering::Relaxed);
        sink.report(true, "output: device not available".into());
        assert!(wait(|| !seen.lock().unwrap().is_empty()));
        assert_eq!(
            seen.lock().unwrap()[0],
            DeviceStatus::Lost {
                reason: "output: device not available".into()
            }
        );
        assert_eq!(ep.stats.errors.load(Ordering::Relaxed), 2);
        // the network side goes on: the rings take what fits, nothing blocks
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            fake.opens.load(Ordering::Relaxed),
            1,
            "not re-opened while absent"
        );
        while capc.pop().is_ok() {}
        for _ in 0..50 {
            prod.push(0.2).unwrap();
        }
        assert_eq!(fake.played.load(Ordering::Relaxed), 100);
        // plugged back: found by polling, re-opened with the same ring ends
        fake.present.store(true, Ordering::Relaxed);
        assert!(wait(|| seen.lock().unwrap().len() == 2));
        assert_eq!(seen.lock().unwrap()[1], DeviceStatus::Back);
        assert_eq!(fake.opens.load(Ordering::Relaxed), 2);
        assert!(wait(|| fake.played.load(Ordering::Relaxed) == 150));
        assert!(wait(|| capc.pop().is_ok()));
        // a late error from the old streams is ignored
        sink.report(true, "stale".into());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(seen.lock().unwrap().len(), 2);
        drop(ep);
    }

    /// A backend that never gives the ring ends back (leaks its callback).
    struct Leaky(Arc<std::sync::Mutex<Option<ErrorSink>>>);

    impl DeviceLayer for Leaky {
        fn available(&mut self) -> bool {
            true
        }
        fn open(
            &mut self,
            capture: Lent<CaptureEnd>,
            playback: Lent<PlaybackEnd>,
            errors: ErrorSink,
            _stats: Arc<EndpointStats>,
        ) -> Result<Box<dyn std::any::Any>, AudioError> {
            *self.0.lock().unwrap() = Some(errors);
            std::mem::forget(capture);
            std::mem::forget(playback);
            Ok(Box::new(()))
        }
    }

    #[test]
    fn rings_kept_by_a_dead_stream_are_reported_as_gone_not_waited_for() {
        let sink = Arc::new(std::sync::Mutex::new(None));
        let seen = Arc::new(std::sync::Mutex::new(Vec::<DeviceStatus>::new()));
        let seen2 = seen.clone();
        let (_prod, cons) = crate::bridge::playback_ring(8000);
        let (cap, _capc) = crate::bridge::capture_ring(8000);
        let ep = DeviceEndpoint::start_with(
            Leaky(sink.clone()),
            (8000, 8000),
            cap,
            cons,
            Box::new(move |s| seen2.lock().unwrap().push(s)),
            Duration::from_millis(10),
        )
        .unwrap();
        let errors = sink.lock().unwrap().clone().unwrap();
        errors.report(true, "gone for good".into());
        assert!(wait(|| !seen.lock().unwrap().is_empty()));
        assert!(
            matches!(&seen.lock().unwrap()[0], DeviceStatus::Gone { reason } if reason.contains("gone for good")),
            "{:?}",
            seen.lock().unwrap()
        );
        // and it still stops cleanly
        drop(ep);
    }

    #[test]
    fn no_devices_is_a_clear_message() {
        let s = render_devices(&[]);
        assert!(s.contains("no audio devices found"), "{s}");
        let one = render_devices(&[DeviceInfo {
            id: "alsa:hw:1".into(),
            name: "USB Headset".into(),
            input_rates: vec![(16000, 16000), (44100, 48000)],
            output_rates: vec![(48000, 48000)],
            default_input_rate: Some(48000),
            default_output_rate: Some(48000),
        }]);
        assert!(
            one.contains("USB Headset") && one.contains("44100-48000") && one.contains("16000"),
            "{one}"
        );
    }

    #[test]
    fn an_unknown_device_name_is_a_clear_error() {
        let e = find(Some("no-such-headset-xyz"), Dir::Output)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-headset-xyz") || e.contains("cannot list"),
            "{e}"
        );
    }

    /// The real cpal path on whatever this machine has: on a headless box
    /// ALSA's `null` device opens and its callbacks run (unpaced: it is
    /// never used as a clock here, only to prove the callbacks move audio
    /// through the rings).
    #[test]
    fn the_cpal_path_opens_and_runs_callbacks_where_a_device_exists() {
        let Ok(devices) = list_devices() else { return };
        let has_null = devices
            .iter()
            .any(|d| d.id.contains("null") && !d.output_rates.is_empty());
        if !has_null {
            eprintln!("no ALSA null device here; cpal path not exercised");
            return;
        }
        let Ok(rates) = device_rates(Some("null"), Some("null")) else {
            return;
        };
        let (mut prod, cons) = crate::bridge::playback_ring(rates.1);
        let (cap, mut capc) = crate::bridge::capture_ring(rates.0);
        for _ in 0..1000 {
            let _ = prod.push(0.1);
        }
        let ep = match DeviceEndpoint::start(
            Some("null".into()),
            Some("null".into()),
            rates,
            cap,
            cons,
            Box::new(|_| {}),
        ) {
            Ok(ep) => ep,
            Err(e) => {
                eprintln!("null device did not open: {e}");
                return;
            }
        };
        let ok = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            ep.stats.played.load(Ordering::Relaxed) > 0
        });
        assert!(ok, "the output callback never ran");
        // the ring was drained by the callback (no lock, no block)
        assert!(prod.slots() > 0);
        while capc.pop().is_ok() {}
        drop(ep);
    }
}
