//! `[cluster]`: the HA pair (issue 18, phase 1). Two nodes share one
//! PostgreSQL database; the node holding every queue's lease is active (takes
//! calls, answers OPTIONS 200), the other answers 503 until the lease lapses
//! (see `hotline_engine::cluster`). Off by default: a single node, as before.
//! A cluster needs the shared PostgreSQL: with SQLite it is refused.

use crate::config::{invalid, Config, ConfigError};
use hotline_engine::cluster::ClusterSettings;
use serde::Deserialize;

/// `[cluster]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// Run as one node of the HA pair.
    pub enabled: bool,
    /// This node's id (required when enabled): letters, digits, `.`, `_`,
    /// `-`, at most 64; written on its events and leases.
    pub node_id: Option<String>,
    /// How long a lease lasts after a renewal (database clock), ms.
    pub lease_ttl_ms: i64,
    /// Time between renewals (and tries to take the leases), ms.
    pub renew_every_ms: i64,
    /// The node stays active only while its last successful round trip to
    /// the database was sent within this window, ms.
    pub db_health_window_ms: i64,
    /// How long, at most, the agents of a lost node's calls are held out of
    /// routing after a take-over (「故障切换后状态未知」), s.
    pub failover_hold_s: u32,
    /// Who is the agents' registrar: `node` (each node, bindings shared in
    /// the database, Kamailio adds Path) or `kamailio` (Kamailio's usrloc
    /// in the shared PostgreSQL; the nodes read it and ring agents through
    /// `edge`).
    pub registrar: RegistrarSite,
    /// Kamailio's address as the nodes reach it (`ip:port`, UDP), required
    /// with `registrar = "kamailio"`: INVITEs to agents go there.
    pub edge: Option<String>,
}

/// `cluster.registrar`: where the agents register.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrarSite {
    /// The node (the default; also what a single node does).
    #[default]
    Node,
    /// Kamailio, with usrloc in the shared PostgreSQL.
    Kamailio,
}

/// The default of `cluster.failover_hold_s`: 10 minutes (over three
/// times the 3-minute call limit of the regulations).
pub const DEFAULT_FAILOVER_HOLD_S: u32 = 600;

impl Default for ClusterSection {
    fn default() -> Self {
        let d = ClusterSettings::new("");
        ClusterSection {
            enabled: false,
            node_id: None,
            lease_ttl_ms: d.lease_ttl_ms,
            renew_every_ms: d.renew_every_ms,
            db_health_window_ms: d.db_health_window_ms,
            failover_hold_s: DEFAULT_FAILOVER_HOLD_S,
            registrar: RegistrarSite::Node,
            edge: None,
        }
    }
}

fn node_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Config {
    /// `cluster.failover_hold_s` in ms.
    pub fn failover_hold_ms(&self) -> i64 {
        i64::from(self.cluster.failover_hold_s) * 1000
    }

    /// Checks `[cluster]`.
    pub fn validate_cluster(&self) -> Result<(), ConfigError> {
        self.cluster_settings()?;
        self.edge_registrar().map(|_| ())
    }

    /// Kamailio's address when it is the agents' registrar
    /// (`cluster.registrar = "kamailio"`); None when the node is.
    pub fn edge_registrar(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        let c = &self.cluster;
        if c.registrar == RegistrarSite::Node {
            return Ok(None);
        }
        if !c.enabled {
            return Err(invalid(
                "cluster.registrar",
                "\"kamailio\" is for the HA pair: set cluster.enabled = true (a single node is \
                 its own registrar)",
            ));
        }
        let Some(edge) = c.edge.as_deref() else {
            return Err(invalid(
                "cluster.edge",
                "required with cluster.registrar = \"kamailio\": Kamailio's address as the \
                 nodes reach it, e.g. \"10.0.0.10:5060\"",
            ));
        };
        match edge.parse::<std::net::SocketAddr>() {
            Ok(a) if !a.ip().is_unspecified() && a.port() != 0 => Ok(Some(a)),
            _ => {
                let shown: String = edge.chars().take(40).collect();
                Err(invalid(
                    "cluster.edge",
                    format!(
                        "`{}` is not an address: ip:port, e.g. \"10.0.0.10:5060\"",
                        shown.escape_debug()
                    ),
                ))
            }
        }
    }

    /// The keeper's settings; None when `[cluster]` is off.
    pub fn cluster_settings(&self) -> Result<Option<ClusterSettings>, ConfigError> {
        let c = &self.cluster;
        if !c.enabled {
            return Ok(None);
        }
        let node_id = match c.node_id.as_deref() {
            None => {
                return Err(invalid(
                    "cluster.node_id",
                    "required when cluster.enabled = true: this node's id (e.g. \"node1\"), \
                     different on each node",
                ))
            }
            Some(n) if !node_id_ok(n) => {
                let shown: String = n.chars().take(20).collect();
                return Err(invalid(
                    "cluster.node_id",
                    format!("`{shown}` is not a node id: 1 to 64 letters, digits, `.`, `_` or `-`"),
                ));
            }
            Some(n) => n.to_string(),
        };
        if !(1_000..=600_000).contains(&c.lease_ttl_ms) {
            return Err(invalid(
                "cluster.lease_ttl_ms",
                format!("must be 1000 to 600000 ms, got {}", c.lease_ttl_ms),
            ));
        }
        if c.renew_every_ms < 100 || c.renew_every_ms > c.lease_ttl_ms / 2 {
            return Err(invalid(
                "cluster.renew_every_ms",
                format!(
                    "must be 100 ms to half of cluster.lease_ttl_ms ({} ms; a third is usual), got {}",
                    c.lease_ttl_ms / 2,
                    c.renew_every_ms
                ),
            ));
        }
        if c.db_health_window_ms < 2 * c.renew_every_ms || c.db_health_window_ms > c.lease_ttl_ms {
            return Err(invalid(
                "cluster.db_health_window_ms",
                format!(
                    "must be at least twice cluster.renew_every_ms ({} ms) and at most \
                     cluster.lease_ttl_ms ({} ms), got {}",
                    2 * c.renew_every_ms,
                    c.lease_ttl_ms,
                    c.db_health_window_ms
                ),
            ));
        }
        if !(10..=86_400).contains(&c.failover_hold_s) {
            return Err(invalid(
                "cluster.failover_hold_s",
                format!(
                    "must be 10 to 86400 s (how long a lost node's agents are held out of \
                     routing at most), got {}",
                    c.failover_hold_s
                ),
            ));
        }
        let url = self.database_url();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "cluster.enabled",
                "a cluster needs the shared PostgreSQL database: set storage.database_url = \
                 \"postgres://user@host/db\" on every node (SQLite is one node's file)",
            ));
        }
        Ok(Some(ClusterSettings {
            node_id,
            lease_ttl_ms: c.lease_ttl_ms,
            renew_every_ms: c.renew_every_ms,
            db_health_window_ms: c.db_health_window_ms,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const PG: &str = "[storage]\ndatabase_url = \"postgres://hotline@10.0.0.5/hotline\"\n";

    fn load(cluster: &str, storage: &str) -> Result<Config, String> {
        let text = format!("{storage}[cluster]\n{cluster}\n");
        let cfg = Config::parse(&text).map_err(|e| e.to_string())?;
        cfg.validate_cluster().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    #[test]
    fn off_by_default_and_on_with_postgres() {
        let cfg = Config::parse("").unwrap();
        assert_eq!(cfg.cluster_settings().unwrap(), None);
        // off: nothing else is checked
        assert!(load("node_id = \"bad id!\"", "").is_ok());
        let cfg = load("enabled = true\nnode_id = \"node-1.dc_a\"", PG).unwrap();
        let s = cfg.cluster_settings().unwrap().unwrap();
        assert_eq!(s.node_id, "node-1.dc_a");
        assert_eq!(
            (s.lease_ttl_ms, s.renew_every_ms, s.db_health_window_ms),
            (6_000, 2_000, 4_000)
        );
        let cfg = load(
            "enabled = true\nnode_id = \"n2\"\nlease_ttl_ms = 3000\nrenew_every_ms = 1000\ndb_health_window_ms = 2500",
            "[storage]\ndatabase_url = \"postgresql://u:p@h/db\"\n",
        )
        .unwrap();
        let s = cfg.cluster_settings().unwrap().unwrap();
        assert_eq!((s.lease_ttl_ms, s.hold_ms()), (3_000, 2_250));
        assert_eq!(cfg.failover_hold_ms(), 600_000);
        let cfg = load("enabled = true\nnode_id = \"n\"\nfailover_hold_s = 120", PG).unwrap();
        assert_eq!(cfg.failover_hold_ms(), 120_000);
    }

    #[test]
    fn kamailio_as_registrar_needs_the_pair_and_the_edge_address() {
        let cfg = load("enabled = true\nnode_id = \"n1\"", PG).unwrap();
        assert_eq!(cfg.edge_registrar().unwrap(), None);
        let cfg = load(
            "enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"\nedge = \"10.0.0.10:5060\"",
            PG,
        )
        .unwrap();
        assert_eq!(
            cfg.edge_registrar().unwrap(),
            Some("10.0.0.10:5060".parse().unwrap())
        );
        let long = "9".repeat(100_000);
        for (body, key) in [
            ("registrar = \"kamailio\"\nedge = \"10.0.0.10:5060\"", "cluster.registrar"),
            ("enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"", "cluster.edge"),
            ("enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"\nedge = \"kamailio.lan\"", "cluster.edge"),
            ("enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"\nedge = \"0.0.0.0:5060\"", "cluster.edge"),
            ("enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"\nedge = \"10.0.0.1:0\"", "cluster.edge"),
            (&format!("enabled = true\nnode_id = \"n1\"\nregistrar = \"kamailio\"\nedge = \"{long}\""), "cluster.edge"),
            ("enabled = true\nnode_id = \"n1\"\nregistrar = \"opensips\"", "registrar"),
        ] {
            let e = load(body, PG).unwrap_err();
            assert!(e.contains(key), "{body:.80}: {e}");
            assert!(e.len() < 400, "{e:.400}");
        }
    }

    #[test]
    fn sqlite_and_bad_values_are_refused_naming_the_key() {
        let e = load("enabled = true\nnode_id = \"n1\"", "").unwrap_err();
        assert!(
            e.contains("cluster.enabled") && e.contains("PostgreSQL"),
            "{e}"
        );
        let e = load(
            "enabled = true\nnode_id = \"n1\"",
            "[storage]\ndatabase_url = \"sqlite:///var/lib/hotline/h.db\"\n",
        )
        .unwrap_err();
        assert!(e.contains("cluster.enabled"), "{e}");
        let long = "n".repeat(100_000);
        for (body, key) in [
            ("enabled = true", "cluster.node_id"),
            ("enabled = true\nnode_id = \"\"", "cluster.node_id"),
            ("enabled = true\nnode_id = \"a b\"", "cluster.node_id"),
            ("enabled = true\nnode_id = \"n1\\u0000\"", "cluster.node_id"),
            ("enabled = true\nnode_id = \"节点1\"", "cluster.node_id"),
            (
                &format!("enabled = true\nnode_id = \"{long}\""),
                "cluster.node_id",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nlease_ttl_ms = 0",
                "cluster.lease_ttl_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nlease_ttl_ms = -6000",
                "cluster.lease_ttl_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nlease_ttl_ms = 9223372036854775807",
                "cluster.lease_ttl_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nrenew_every_ms = 0",
                "cluster.renew_every_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nrenew_every_ms = 3001",
                "cluster.renew_every_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\ndb_health_window_ms = 3999",
                "cluster.db_health_window_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\ndb_health_window_ms = 6001",
                "cluster.db_health_window_ms",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nfailover_hold_s = 0",
                "cluster.failover_hold_s",
            ),
            (
                "enabled = true\nnode_id = \"n\"\nfailover_hold_s = 86401",
                "cluster.failover_hold_s",
            ),
        ] {
            let e = load(body, PG).unwrap_err();
            assert!(e.contains(key) && e.len() < 400, "{body:.60}: {e}");
        }
        // wrong types and unknown keys: the parser names them
        for body in [
            "enabled = \"yes\"",
            "node_id = 1",
            "lease_ttl_ms = \"6s\"",
            "lease_ttl_ms = 1e3",
            "failover_hold_s = -1",
            "failover_hold_s = 99999999999",
            "failover_hold_s = \"10m\"",
            "nodes = [\"a\"]",
        ] {
            assert!(load(body, PG).is_err(), "{body}");
        }
    }

    #[test]
    fn the_whole_file_is_checked_at_start() {
        let text = "[cluster]\nenabled = true\n";
        let e = Config::parse(text).unwrap_err();
        assert!(e.to_string().contains("cluster.node_id"), "{e}");
    }
}
