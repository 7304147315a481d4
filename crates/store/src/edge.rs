//! Kamailio as the agents' registrar (migration 0012, issue 18): the store's
//! side of Kamailio's `location` and `subscriber` tables in the shared
//! database.
//!
//! Kamailio (config/kamailio/kamailio.cfg with `WITH_REGISTRAR`) challenges
//! the agents' REGISTERs against `subscriber` and keeps their contacts in
//! `location` (usrloc, write-through). The nodes write `subscriber` from
//! their `[[agents]]` (the MD5 digest hashes, never a password) and read
//! `location` to know which agents are registered and how (over TLS or
//! not). The rows are Kamailio's: nothing here interprets its `expires`
//! (written in Kamailio's local time); Kamailio deletes a contact's row when
//! it expires.

use crate::{Store, StoreError};
use sqlx::Row;

/// Most `location` rows read in one round (a few contacts per agent).
pub const MAX_EDGE_CONTACTS: i64 = 50_000;

/// One contact of an agent in Kamailio's `location` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeContact {
    /// The agent (`username`).
    pub agent: String,
    /// The Contact URI the phone registered.
    pub contact: String,
    /// Where the REGISTER really came from when Kamailio saw NAT
    /// (`sip:ip:port;transport=...`), else None.
    pub received: Option<String>,
    /// The edge's socket the phone registered on (`udp:…`, `tls:…`).
    pub socket: Option<String>,
    /// The phone's User-Agent.
    pub user_agent: String,
}

/// One agent's digest credentials for Kamailio's `subscriber` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    /// The agent's SIP user name.
    pub username: String,
    /// MD5(username:realm:password).
    pub ha1: String,
    /// MD5(username@realm:realm:password) (phones that send user@domain).
    pub ha1b: String,
}

/// What [`Store::sync_subscribers`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubscriberSync {
    /// Rows written (new or changed credentials).
    pub written: u64,
    /// Rows of the realm deleted (agents no longer configured).
    pub removed: u64,
}

impl Store {
    /// The contacts in Kamailio's `location` table (at most
    /// [`MAX_EDGE_CONTACTS`]), by agent.
    pub async fn edge_contacts(&self) -> Result<Vec<EdgeContact>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, contact, received, socket, user_agent FROM location \
             ORDER BY username, id LIMIT $1",
        )
        .bind(MAX_EDGE_CONTACTS)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(EdgeContact {
                agent: row.try_get("username")?,
                contact: row.try_get("contact")?,
                received: row.try_get::<Option<String>, _>("received")?,
                socket: row.try_get::<Option<String>, _>("socket")?,
                user_agent: row.try_get("user_agent")?,
            });
        }
        Ok(out)
    }

    /// Makes `subscriber` hold exactly `agents` for `realm`: new and
    /// changed credentials are written, rows of agents no longer in the
    /// list are deleted; rows of other realms are left alone. The password
    /// column stays empty (Kamailio runs with `calculate_ha1 = 0`).
    pub async fn sync_subscribers(
        &self,
        realm: &str,
        agents: &[Subscriber],
    ) -> Result<SubscriberSync, StoreError> {
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT username, ha1, ha1b FROM subscriber WHERE domain = $1")
            .bind(realm.to_string())
            .fetch_all(&mut *tx)
            .await?;
        let mut have = std::collections::HashMap::with_capacity(existing.len());
        for row in &existing {
            let name: String = row.try_get("username")?;
            let ha1: String = row.try_get("ha1")?;
            let ha1b: String = row.try_get("ha1b")?;
            have.insert(name, (ha1, ha1b));
        }
        let mut sync = SubscriberSync::default();
        for a in agents {
            let same = have
                .get(&a.username)
                .is_some_and(|(h, hb)| *h == a.ha1 && *hb == a.ha1b);
            if same {
                continue;
            }
            sqlx::query(
                "INSERT INTO subscriber (username, domain, password, ha1, ha1b) \
                 VALUES ($1, $2, '', $3, $4) ON CONFLICT (username, domain) \
                 DO UPDATE SET password = '', ha1 = excluded.ha1, ha1b = excluded.ha1b",
            )
            .bind(a.username.clone())
            .bind(realm.to_string())
            .bind(a.ha1.clone())
            .bind(a.ha1b.clone())
            .execute(&mut *tx)
            .await?;
            sync.written += 1;
        }
        let keep: std::collections::HashSet<&str> =
            agents.iter().map(|a| a.username.as_str()).collect();
        for name in have.keys().filter(|n| !keep.contains(n.as_str())) {
            sqlx::query("DELETE FROM subscriber WHERE username = $1 AND domain = $2")
                .bind(name.clone())
                .bind(realm.to_string())
                .execute(&mut *tx)
                .await?;
            sync.removed += 1;
        }
        tx.commit().await?;
        Ok(sync)
    }
}
