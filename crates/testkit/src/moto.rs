//! A throwaway S3-compatible server: `moto_server` (PyPI `moto[server]`,
//! which scripts/test.sh installs into `~/.local/bin`) on a free loopback
//! port, killed on drop. It takes unsigned requests unless started with
//! `INITIAL_NO_AUTH_ACTION_COUNT=0` (then it enforces signatures).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// The TCP port it listens on (127.0.0.1).
    pub port: u16,
}

impl Moto {
    /// Starts one and waits until it takes connections (up to 30 s);
    /// panics with a hint when `moto_server` is not installed.
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// As [`Moto::start`], with extra environment variables for the server.
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = crate::free_port();
        let child = Command::new(bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .envs(env.iter().copied())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "moto_server is not installed ({e}): run scripts/test.sh (pip: moto[server])"
                )
            });
        let m = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", m.port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `~/.local/bin/moto_server` (pip's user site) or the one on PATH.
fn bin() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/bin/moto_server"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("moto_server"))
}
