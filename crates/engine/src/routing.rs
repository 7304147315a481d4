//! What decides where a call goes before the ACD sees it: the blacklist, VIP
//! numbers and the IVR menu. Plain data and pure functions, tested without IO.

use hotline_core::{CallType, QueueId};
use hotline_media::prompt::Prompt;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A caller-number pattern: an exact number, or a prefix written with a
/// trailing `*` (`+86139*`). Numbers are compared as written in the From
/// header, after removing spaces, dashes, dots and parentheses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberPattern {
    digits: String,
    prefix: bool,
}

/// Why a number pattern was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// Nothing left once the `*` and separators are removed.
    #[error("empty number pattern")]
    Empty,
    /// A character that never appears in a phone number.
    #[error("`{0}` is not a phone number or prefix (digits, +, #, and a trailing * for a prefix)")]
    Invalid(String),
}

/// Removes the separators people write in numbers.
pub fn normalize_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

impl NumberPattern {
    /// Parses `+8613800000000` (exact) or `+86138*` (prefix).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let t = normalize_number(text.trim());
        let (body, prefix) = match t.strip_suffix('*') {
            Some(b) => (b.to_string(), true),
            None => (t, false),
        };
        if body.is_empty() {
            return Err(PatternError::Empty);
        }
        let ok = body.len() <= 64
            && body
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || c == '#' || (c == '+' && i == 0));
        if !ok {
            return Err(PatternError::Invalid(text.to_string()));
        }
        Ok(NumberPattern {
            digits: body,
            prefix,
        })
    }

    /// Does the caller's number match?
    pub fn matches(&self, number: &str) -> bool {
        let n = normalize_number(number);
        if self.prefix {
            n.starts_with(&self.digits)
        } else {
            n == self.digits
        }
    }

    /// Longer patterns are more specific; an exact number beats any prefix.
    fn specificity(&self) -> (bool, usize) {
        (!self.prefix, self.digits.len())
    }
}

impl fmt::Display for NumberPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)?;
        if self.prefix {
            f.write_str("*")?;
        }
        Ok(())
    }
}

/// What happens to a blacklisted caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlacklistAction {
    /// Refused: the blacklist message is played if configured, else 603 Decline.
    Reject,
    /// Routed to a designated queue (e.g. the security desk).
    Queue(QueueId),
}

impl fmt::Display for BlacklistAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlacklistAction::Reject => f.write_str("reject"),
            BlacklistAction::Queue(q) => write!(f, "queue:{q}"),
        }
    }
}

/// One blacklist entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlacklistEntry {
    /// The numbers it covers.
    pub pattern: NumberPattern,
    /// What is done with them.
    pub action: BlacklistAction,
    /// Why they are on the list (shown to supervisors, written in the event).
    pub reason: String,
}

/// The most specific entry matching `number` (exact before prefix, longer
/// prefix before shorter), if any.
pub fn blacklisted<'a>(list: &'a [BlacklistEntry], number: &str) -> Option<&'a BlacklistEntry> {
    list.iter()
        .filter(|e| e.pattern.matches(number))
        .max_by_key(|e| e.pattern.specificity())
}

/// The blacklist the engine consults: the configured entries
/// (`[[blacklist]]`) plus the entries added at run time (the console's
/// blacklist, stored in the database), which a [`BlacklistHandle`] replaces
/// while calls run. Cloning shares the run-time part.
#[derive(Clone, Debug, Default)]
pub struct Blacklist {
    configured: Vec<BlacklistEntry>,
    runtime: BlacklistHandle,
}

/// Replaces the run-time entries of a [`Blacklist`] (shared with the engine).
#[derive(Clone, Debug, Default)]
pub struct BlacklistHandle(Arc<RwLock<Arc<Vec<BlacklistEntry>>>>);

impl BlacklistHandle {
    /// Puts `entries` in place of the run-time entries; calls arriving from
    /// now on are screened against them.
    pub fn replace(&self, entries: Vec<BlacklistEntry>) {
        let new = Arc::new(entries);
        match self.0.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// The run-time entries now.
    pub fn entries(&self) -> Arc<Vec<BlacklistEntry>> {
        match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl Blacklist {
    /// A blacklist of the configured entries, with no run-time entries yet.
    pub fn new(configured: Vec<BlacklistEntry>) -> Self {
        Blacklist {
            configured,
            runtime: BlacklistHandle::default(),
        }
    }

    /// The handle that replaces the run-time entries.
    pub fn handle(&self) -> BlacklistHandle {
        self.runtime.clone()
    }

    /// The configured entries.
    pub fn configured(&self) -> &[BlacklistEntry] {
        &self.configured
    }

    /// The most specific entry of either part matching `number` (the
    /// configured entry wins a tie).
    pub fn lookup(&self, number: &str) -> Option<BlacklistEntry> {
        let runtime = self.runtime.entries();
        let a = blacklisted(&self.configured, number);
        let b = blacklisted(&runtime, number);
        match (a, b) {
            (Some(a), Some(b)) if b.pattern.specificity() > a.pattern.specificity() => {
                Some(b.clone())
            }
            (Some(a), _) => Some(a.clone()),
            (None, b) => b.cloned(),
        }
    }
}

/// Does `number` match one of the VIP patterns?
pub fn is_vip(vip: &[NumberPattern], number: &str) -> bool {
    vip.iter().any(|p| p.matches(number))
}

/// Where one IVR choice sends the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrOption {
    /// The call's type from now on (and so its handle-time limit).
    pub call_type: CallType,
    /// The queue the call waits in.
    pub queue: QueueId,
    /// The language the caller needs (agents with this skill serve them).
    pub language: Option<String>,
}

/// The menu played after the greeting.
#[derive(Clone, Debug)]
pub struct IvrMenu {
    /// "For orders press 1, ..."
    pub prompt: Prompt,
    /// How long to wait for a key after the prompt ends, ms.
    pub timeout_ms: i64,
    /// How many times the menu is played before the default is taken.
    pub tries: u32,
    /// Key → choice.
    pub options: BTreeMap<char, IvrOption>,
    /// Taken when no valid key comes.
    pub default: IvrOption,
}

/// What a key press means to the menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MenuInput<'a> {
    /// One of the options.
    Choice(&'a IvrOption),
    /// Not an option: play the menu again (or take the default).
    Invalid,
}

impl IvrMenu {
    /// Looks a key up.
    pub fn input(&self, digit: char) -> MenuInput<'_> {
        match self.options.get(&digit) {
            Some(o) => MenuInput::Choice(o),
            None => MenuInput::Invalid,
        }
    }
}

/// The key carried by a SIP INFO body: `application/dtmf-relay`
/// (`Signal=5\r\nDuration=160`) or `application/dtmf` (`5`). Anything else,
/// or a body over 1 KiB, is no key.
pub fn dtmf_from_info(body: &[u8]) -> Option<char> {
    if body.len() > 1024 {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let key = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })
        .unwrap_or_else(|| text.trim());
    let mut chars = key.chars();
    let c = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() {
        // RFC 2976 dtmf-relay also allows event codes (10 = *, 11 = #)
        return match key {
            "10" => Some('*'),
            "11" => Some('#'),
            _ => None,
        };
    }
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(p: &str, action: BlacklistAction) -> BlacklistEntry {
        BlacklistEntry {
            pattern: NumberPattern::parse(p).unwrap(),
            action,
            reason: format!("reason for {p}"),
        }
    }

    #[test]
    fn patterns_match_exact_numbers_and_prefixes() {
        let exact = NumberPattern::parse("+86 138-0000 0000").unwrap();
        assert!(exact.matches("+8613800000000"));
        assert!(!exact.matches("+86138000000001"));
        assert_eq!(exact.to_string(), "+8613800000000");
        let prefix = NumberPattern::parse("+86139*").unwrap();
        assert!(prefix.matches("+8613912345678"));
        assert!(prefix.matches("+86 139 1"));
        assert!(!prefix.matches("+8613812345678"));
        assert_eq!(prefix.to_string(), "+86139*");
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in [
            "",
            "*",
            " - ",
            "abc",
            "+86*1",
            "1+2",
            "sip:evil@x",
            &"1".repeat(65),
        ] {
            assert!(NumberPattern::parse(p).is_err(), "{p:?} accepted");
        }
    }

    #[test]
    fn the_most_specific_blacklist_entry_wins() {
        let q = BlacklistAction::Queue(QueueId::new("security"));
        let list = vec![
            entry("+86*", q.clone()),
            entry("+86139*", BlacklistAction::Reject),
            entry("+8613912345678", q.clone()),
        ];
        assert_eq!(blacklisted(&list, "+8613912345678").unwrap().action, q);
        assert_eq!(
            blacklisted(&list, "+8613900000000").unwrap().action,
            BlacklistAction::Reject
        );
        assert_eq!(blacklisted(&list, "+8613800000000").unwrap().action, q);
        assert!(blacklisted(&list, "1001").is_none());
        assert!(blacklisted(&[], "+8613912345678").is_none());
    }

    #[test]
    fn vip_numbers() {
        let vip = vec![NumberPattern::parse("+8610*").unwrap()];
        assert!(is_vip(&vip, "+861012345"));
        assert!(!is_vip(&vip, "+862012345"));
        assert!(!is_vip(&[], "+861012345"));
    }

    #[test]
    fn info_bodies_carry_keys() {
        assert_eq!(dtmf_from_info(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(dtmf_from_info(b"signal= #\nduration=100"), Some('#'));
        assert_eq!(dtmf_from_info(b"Signal=11\r\n"), Some('#'));
        assert_eq!(dtmf_from_info(b"7"), Some('7'));
        assert_eq!(dtmf_from_info(b" d \r\n"), Some('D'));
        for bad in [
            &b""[..],
            b"Signal=",
            b"Signal=55",
            b"Signal=x",
            b"hello",
            b"\xff\xfe",
            &[b'1'; 2000][..],
        ] {
            assert_eq!(dtmf_from_info(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn menu_lookup() {
        let opt = |t, q: &str| IvrOption {
            call_type: t,
            queue: QueueId::new(q),
            language: None,
        };
        let menu = IvrMenu {
            prompt: Prompt::tone("menu", 400.0, 100, 1000),
            timeout_ms: 5000,
            tries: 2,
            options: BTreeMap::from([('1', opt(CallType::Order, "orders"))]),
            default: opt(CallType::Inquiry, "general"),
        };
        assert_eq!(
            menu.input('1'),
            MenuInput::Choice(&opt(CallType::Order, "orders"))
        );
        assert_eq!(menu.input('5'), MenuInput::Invalid);
    }

    #[test]
    fn run_time_entries_are_consulted_beside_the_configured_ones() {
        let entry = |p: &str, reason: &str| BlacklistEntry {
            pattern: NumberPattern::parse(p).unwrap(),
            action: BlacklistAction::Reject,
            reason: reason.into(),
        };
        let list = Blacklist::new(vec![entry("+86139*", "config")]);
        let handle = list.handle();
        assert_eq!(list.lookup("+8613900000001").unwrap().reason, "config");
        assert!(list.lookup("0611111111").is_none());
        handle.replace(vec![
            entry("0611111111", "console"),
            entry("+861390*", "longer"),
        ]);
        assert_eq!(list.lookup("0611111111").unwrap().reason, "console");
        // the more specific run-time prefix wins
        assert_eq!(list.lookup("+8613900000001").unwrap().reason, "longer");
        assert_eq!(list.lookup("+8613910000001").unwrap().reason, "config");
        // a clone shares the run-time part
        let clone = list.clone();
        handle.replace(Vec::new());
        assert!(clone.lookup("0611111111").is_none());
    }
}
