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

/// A running pair of device streams, owned by their own thread (cpal
/// streams may not move between threads on every platform).
pub struct DeviceEndpoint {
    stop: Option<mpsc::Sender<()>>,
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

fn build_streams(
    input: Option<&str>,
    output: Option<&str>,
    mut capture: CaptureEnd,
    mut playback: PlaybackEnd,
    stats: Arc<EndpointStats>,
) -> Result<(cpal::Stream, cpal::Stream), AudioError> {
    let i = find(input, Dir::Input)?;
    let o = find(output, Dir::Output)?;
    let dev_err = |d: &cpal::Device, e: &dyn std::fmt::Display| AudioError::Device {
        device: label(d).0,
        reason: e.to_string(),
    };
    let ic = i.default_input_config().map_err(|e| dev_err(&i, &e))?;
    let oc = o.default_output_config().map_err(|e| dev_err(&o, &e))?;
    let (ich, och) = (usize::from(ic.channels()), usize::from(oc.channels()));
    let s_in = stats.clone();
    let e_in = stats.clone();
    let in_stream = match ic.sample_format() {
        cpal::SampleFormat::F32 => i.build_input_stream(
            ic.config(),
            move |data: &[f32], _: &cpal::InputCallbackInfo| {
                take_input(&mut capture, data, ich, &s_in)
            },
            move |e| {
                e_in.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "input device error (unplugged?)");
            },
            None,
        ),
        cpal::SampleFormat::I16 => i.build_input_stream(
            ic.config(),
            move |data: &[i16], _: &cpal::InputCallbackInfo| {
                let ch = ich.max(1);
                for frame in data.chunks(ch) {
                    let v =
                        frame.iter().map(|s| f32::from(*s)).sum::<f32>() / (32768.0 * ch as f32);
                    if capture.push(v).is_err() {
                        s_in.overruns.fetch_add(1, Ordering::Relaxed);
                    }
                }
            },
            move |e| {
                e_in.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "input device error (unplugged?)");
            },
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
    let e_out = stats;
    let out_stream = match oc.sample_format() {
        cpal::SampleFormat::F32 => o.build_output_stream(
            oc.config(),
            move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                fill_output(&mut playback, data, och, &s_out)
            },
            move |e| {
                e_out.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "output device error (unplugged?)");
            },
            None,
        ),
        cpal::SampleFormat::I16 => o.build_output_stream(
            oc.config(),
            move |data: &mut [i16], _: &cpal::OutputCallbackInfo| {
                let ch = och.max(1);
                for frame in data.chunks_mut(ch) {
                    let v = match playback.pop() {
                        Ok(v) => v,
                        Err(_) => {
                            s_out.underruns.fetch_add(1, Ordering::Relaxed);
                            0.0
                        }
                    };
                    frame.fill((v * 32767.0).clamp(-32768.0, 32767.0) as i16);
                }
            },
            move |e| {
                e_out.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "output device error (unplugged?)");
            },
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
    Ok((in_stream, out_stream))
}

impl DeviceEndpoint {
    /// Opens the devices (default ones when None) at their default rates
    /// (`rates` from [`device_rates`]) and starts both streams.
    pub fn start(
        input: Option<String>,
        output: Option<String>,
        rates: (u32, u32),
        capture: CaptureEnd,
        playback: PlaybackEnd,
    ) -> Result<DeviceEndpoint, AudioError> {
        let stats = Arc::new(EndpointStats::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("audio-device".into())
            .spawn(move || {
                match build_streams(input.as_deref(), output.as_deref(), capture, playback, st) {
                    Ok(streams) => {
                        let _ = ready_tx.send(Ok(()));
                        // keep the streams alive until told to stop
                        let _ = stop_rx.recv();
                        drop(streams);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| AudioError::NoDevice(format!("cannot start the audio thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(DeviceEndpoint {
                stop: Some(stop_tx),
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
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ep =
            match DeviceEndpoint::start(Some("null".into()), Some("null".into()), rates, cap, cons)
            {
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
