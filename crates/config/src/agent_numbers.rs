//! `[[agents]] number`: the work number (工号) said to the caller when the
//! agent answers (「12号客服为您服务」, `prompts.agent_number`, issue 20).
//!
//! An agent's work number is its `number`, else its id when the id is 1–8
//! digits. Agents with ids like `a12` or `zhang` need a `number` to be
//! announced; without one nothing is said for them (never letters read as
//! digits or someone else's number) and the start logs a warning naming them.

use crate::config::{invalid, AgentSection, Config, ConfigError};
use std::collections::HashMap;

/// The most digits a work number has.
pub const MAX_WORK_NUMBER_DIGITS: usize = 8;

/// Whether `s` can be said as a work number: 1–8 ASCII digits.
pub fn is_work_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_WORK_NUMBER_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
}

/// The work number said for `agent`: its `number`, else its id when the id
/// is digits; None: the agent is not announced.
pub fn work_number(agent: &AgentSection) -> Option<&str> {
    match &agent.number {
        Some(n) => Some(n.as_str()),
        None => is_work_number(&agent.id).then_some(agent.id.as_str()),
    }
}

impl Config {
    /// Checks every `[[agents]] number`: digits only, and no two agents
    /// announced with the same work number (callers name the agent by it).
    pub(crate) fn validate_agent_numbers(&self) -> Result<(), ConfigError> {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (i, a) in self.agents.iter().enumerate() {
            if let Some(n) = &a.number {
                if !is_work_number(n) {
                    let shown: String = n.chars().take(40).collect();
                    return Err(invalid(
                        format!("agents[{i}].number"),
                        format!(
                            "`{shown}` must be 1-{MAX_WORK_NUMBER_DIGITS} digits: the work number (工号) callers hear as 「{{number}}号客服为您服务」"
                        ),
                    ));
                }
            }
            if let Some(n) = work_number(a) {
                if let Some(other) = seen.insert(n, &a.id) {
                    return Err(invalid(
                        if a.number.is_some() {
                            format!("agents[{i}].number")
                        } else {
                            format!("agents[{i}].id")
                        },
                        format!(
                            "agents `{other}` and `{}` would both be announced as work number {n}: give one a `number` of its own",
                            a.id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Agent id → the work number said when it answers (agents without one
    /// are left out).
    pub fn agent_work_numbers(&self) -> HashMap<String, String> {
        self.agents
            .iter()
            .filter_map(|a| Some((a.id.clone(), work_number(a)?.to_string())))
            .collect()
    }

    /// The agents whose answers are not announced although
    /// `prompts.agent_number` is on (ids that are not digits, no `number`).
    pub fn unannounced_agents(&self) -> Vec<String> {
        if !self.prompts.agent_number {
            return Vec::new();
        }
        self.agents
            .iter()
            .filter(|a| work_number(a).is_none())
            .map(|a| a.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(agents: &[(&str, Option<&str>)], extra: &str) -> Result<Config, ConfigError> {
        let mut text = String::new();
        for (id, number) in agents {
            text.push_str(&format!(
                "[[agents]]\nid = \"{id}\"\npassword = \"secret1\"\n"
            ));
            if let Some(n) = number {
                text.push_str(&format!("number = {n}\n"));
            }
        }
        text.push_str(extra);
        Config::parse(&text)
    }

    #[test]
    fn digit_ids_are_their_own_number_and_others_take_a_number() {
        let c = parse(
            &[
                ("1001", None),
                ("a12", Some("\"12\"")),
                ("zhang", Some("\"0007\"")),
                ("li", None),
                ("1002", Some("\"2002\"")),
            ],
            "[prompts]\nlanguage = \"zh\"\nagent_number = true\n",
        )
        .unwrap();
        let n = c.agent_work_numbers();
        assert_eq!(n.get("1001").map(String::as_str), Some("1001"));
        assert_eq!(n.get("a12").map(String::as_str), Some("12"));
        assert_eq!(n.get("zhang").map(String::as_str), Some("0007"));
        assert_eq!(
            n.get("1002").map(String::as_str),
            Some("2002"),
            "a number wins over a digit id"
        );
        assert_eq!(n.get("li"), None);
        assert_eq!(c.unannounced_agents(), ["li"]);
        // announcements off: nobody is missing one
        let c = parse(&[("li", None)], "").unwrap();
        assert!(c.unannounced_agents().is_empty());
        assert!(c.agent_work_numbers().is_empty());
    }

    #[test]
    fn bad_and_hostile_numbers_name_their_key() {
        for (number, want) in [
            ("\"\"", "agents[0].number"),
            ("\"a12\"", "agents[0].number"),
            ("\"12 \"", "agents[0].number"),
            ("\"-1\"", "agents[0].number"),
            ("\"１２\"", "agents[0].number"),
            ("\"123456789\"", "agents[0].number"),
            ("\"1\\u0000\"", "agents[0].number"),
            ("12", "number"),
            ("[\"12\"]", "number"),
        ] {
            let err = parse(&[("a1", Some(number))], "").unwrap_err().to_string();
            assert!(err.contains(want), "{number}: {err}");
        }
        let long = format!("\"{}\"", "9".repeat(100_000));
        let err = parse(&[("a1", Some(&long))], "").unwrap_err().to_string();
        assert!(
            err.contains("agents[0].number") && err.len() < 400,
            "{}",
            &err[..200]
        );
    }

    #[test]
    fn two_agents_cannot_share_a_work_number() {
        let err = parse(&[("1001", None), ("wang", Some("\"1001\""))], "")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("agents[1].number") && err.contains("`1001` and `wang`"),
            "{err}"
        );
        let err = parse(&[("a", Some("\"7\"")), ("b", Some("\"7\""))], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agents[1].number"), "{err}");
        // a digit id after a number taken by another agent
        let err = parse(&[("a", Some("\"7\"")), ("7", None)], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agents[1].id"), "{err}");
    }
}
