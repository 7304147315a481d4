//! A throwaway PostgreSQL cluster for database tests.
//!
//! `initdb` into a temp dir, started on 127.0.0.1 on a free port with a
//! Unix socket in that temp dir (nothing of the machine's own PostgreSQL is
//! touched), database `hotline_test`, user `postgres`, trust auth, fsync
//! off; stopped (immediate) on drop.
//!
//! The server binaries are found under `/usr/lib/postgresql/*/bin` (the
//! newest version; Debian's layout) or `$HOTLINE_PG_BIN`. `initdb` refuses
//! to run as root, so as root the tools run through
//! `runuser -u postgres --` on a temp dir chowned to that user (no password
//! or PAM prompt). When the binaries are missing the start panics with a
//! hint, unless `HOTLINE_SKIP_PG=1`: then it returns `None` and the caller
//! skips.

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL cluster in a temp dir, stopped on drop.
pub struct PgCluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    /// The TCP port it listens on (127.0.0.1).
    pub port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// initdb, start and createdb on a free port (see [`crate::free_port`]).
    /// `None` only when the binaries are missing and `HOTLINE_SKIP_PG=1`.
    pub fn start() -> Option<PgCluster> {
        Self::start_on(crate::free_port())
    }

    /// As [`PgCluster::start`], on the given port.
    pub fn start_on(port: u16) -> Option<PgCluster> {
        let skip = std::env::var("HOTLINE_SKIP_PG").is_ok_and(|v| v == "1");
        let Some(bin) = find_bin() else {
            if skip {
                eprintln!("PostgreSQL binaries not found; skipped (HOTLINE_SKIP_PG=1)");
                return None;
            }
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found under \
                 /usr/lib/postgresql/*/bin: run scripts/test.sh (it installs the \
                 postgresql package), set HOTLINE_PG_BIN, or set HOTLINE_SKIP_PG=1 to skip"
            );
        };
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("hotline-pg")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir for PostgreSQL: {e}"));
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap_or_else(|e| panic!("chown: {e}"));
            assert!(st.success(), "chown of the PostgreSQL temp dir failed");
        }
        let c = PgCluster {
            data: dir.path().join("data"),
            _dir: dir,
            bin,
            port,
            as_postgres,
        };
        let data = c.data_arg();
        c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        c.pg_start();
        c.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &c.port.to_string(),
                "-U",
                "postgres",
                "hotline_test",
            ],
        );
        Some(c)
    }

    /// Starts the server (again, after [`PgCluster::pg_stop`]): a database
    /// that goes away and comes back.
    pub fn pg_start(&self) {
        let data = self.data_arg();
        let sock = self
            .data
            .parent()
            .unwrap_or(&self.data)
            .to_string_lossy()
            .into_owned();
        let log = format!("{sock}/pg.log");
        let opts = format!(
            "-p {} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start",
            ],
        );
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn pg_stop(&self) {
        let data = self.data_arg();
        self.run("pg_ctl", &["-D", &data, "-w", "-m", "fast", "stop"]);
    }

    /// `postgres://postgres@127.0.0.1:PORT/hotline_test`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/hotline_test", self.port)
    }

    fn data_arg(&self) -> String {
        self.data.to_string_lossy().into_owned()
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .cmd(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_arg();
        let _ = self
            .cmd("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

/// The newest `/usr/lib/postgresql/N/bin` with an `initdb`, or
/// `$HOTLINE_PG_BIN`.
fn find_bin() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("HOTLINE_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|d| {
            let v = d.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = d.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, b)| b)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_on_its_port_stops_and_starts_again() {
        let Some(pg) = PgCluster::start() else {
            return;
        };
        let up = || std::net::TcpStream::connect(("127.0.0.1", pg.port)).is_ok();
        assert!(up(), "nothing listens on {}", pg.url());
        pg.pg_stop();
        assert!(!up(), "still listening after pg_stop");
        pg.pg_start();
        assert!(up(), "not listening after pg_start");
        assert!(pg.url().ends_with(&format!(":{}/hotline_test", pg.port)));
    }
}
