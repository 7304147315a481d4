//! `[worklist]`: work lists (call-backs owed) and return-visit campaigns.

use crate::config::{invalid, ConfigError};
use serde::Deserialize;

/// `[worklist]`: every missed, abandoned and voicemail call and every
/// promise becomes an item due within `deadline_h`; return visits count
/// against the quotas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorklistSection {
    /// Keep work lists at all (items from the event log, the API, the dial rule).
    pub enabled: bool,
    /// Hours an item is due after it is made (the regulations: 24).
    pub deadline_h: u32,
    /// Seconds between looks for overdue items (each raises its alarm once).
    pub check_every_s: u32,
    /// Valid return visits per agent per week (Monday to Sunday, local).
    pub weekly_quota: u32,
    /// Valid return visits per agent per month (from the 1st, local).
    pub monthly_quota: u32,
    /// Longest valid return visit, seconds (the regulations: 180).
    pub max_visit_s: u32,
    /// Agents may also dial the numbers on their open work items, whatever
    /// `outbound.allowed_prefixes` says.
    pub dial_work_items: bool,
}

impl Default for WorklistSection {
    fn default() -> Self {
        WorklistSection {
            enabled: true,
            deadline_h: 24,
            check_every_s: 30,
            weekly_quota: 20,
            monthly_quota: 80,
            max_visit_s: 180,
            dial_work_items: true,
        }
    }
}

impl WorklistSection {
    /// Checks the values (the error names the key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=720).contains(&self.deadline_h) {
            return Err(invalid("worklist.deadline_h", "1 to 720 hours"));
        }
        if !(1..=3600).contains(&self.check_every_s) {
            return Err(invalid("worklist.check_every_s", "1 to 3600 seconds"));
        }
        if self.weekly_quota > 1000 {
            return Err(invalid("worklist.weekly_quota", "0 to 1000 visits"));
        }
        if self.monthly_quota > 5000 {
            return Err(invalid("worklist.monthly_quota", "0 to 5000 visits"));
        }
        if !(10..=3600).contains(&self.max_visit_s) {
            return Err(invalid("worklist.max_visit_s", "10 to 3600 seconds"));
        }
        Ok(())
    }

    /// The service's settings: the center's calendar, the queues and their
    /// members, the default queue and the agents of the config.
    pub fn service_config(
        &self,
        cfg: &crate::config::Config,
        center: &crate::config::settings::Center,
    ) -> hotline_api::worklist::WorklistConfig {
        let mut queues: std::collections::HashMap<_, _> = center
            .queues
            .iter()
            .map(|q| (q.id.clone(), q.acd.members.clone()))
            .collect();
        let default_queue = hotline_core::QueueId::new(cfg.hotline.queue.clone());
        queues.entry(default_queue.clone()).or_default();
        hotline_api::worklist::WorklistConfig {
            deadline_ms: i64::from(self.deadline_h) * 3_600_000,
            check_every_ms: u64::from(self.check_every_s) * 1000,
            quota: hotline_worklist::Quota {
                weekly: self.weekly_quota,
                monthly: self.monthly_quota,
                max_visit_ms: i64::from(self.max_visit_s) * 1000,
            },
            calendar: center.calendar.clone(),
            queues,
            default_queue,
            agents: cfg
                .agents
                .iter()
                .map(|a| hotline_core::AgentId::new(a.id.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        assert!(WorklistSection::default().validate().is_ok());
        for (s, key) in [
            (
                WorklistSection {
                    deadline_h: 0,
                    ..Default::default()
                },
                "worklist.deadline_h",
            ),
            (
                WorklistSection {
                    deadline_h: 721,
                    ..Default::default()
                },
                "worklist.deadline_h",
            ),
            (
                WorklistSection {
                    check_every_s: 0,
                    ..Default::default()
                },
                "worklist.check_every_s",
            ),
            (
                WorklistSection {
                    weekly_quota: 1001,
                    ..Default::default()
                },
                "worklist.weekly_quota",
            ),
            (
                WorklistSection {
                    monthly_quota: 5001,
                    ..Default::default()
                },
                "worklist.monthly_quota",
            ),
            (
                WorklistSection {
                    max_visit_s: 5,
                    ..Default::default()
                },
                "worklist.max_visit_s",
            ),
        ] {
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}
