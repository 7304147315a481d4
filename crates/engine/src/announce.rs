//! What a waiting caller is told: their position in the queue and the
//! expected wait, built from recorded words ("you are caller number" "seven",
//! "your expected waiting time is about" "three" "minutes"), and the periodic
//! "please stay on the line" message.

use hotline_media::prompt::Prompt;
use std::collections::HashMap;
use std::path::Path;

/// Why the announcement words could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("announcement prompt {file}: {reason}")]
pub struct AnnounceError {
    /// The file that is missing or unreadable.
    pub file: String,
    /// What went wrong.
    pub reason: String,
}

/// The recorded words announcements are built from.
#[derive(Debug, Clone)]
pub struct AnnounceWords {
    /// "You are caller number".
    pub position: Prompt,
    /// "Your expected waiting time is about".
    pub expected_wait: Prompt,
    /// "minute".
    pub minute: Prompt,
    /// "minutes".
    pub minutes: Prompt,
    /// "less than one minute".
    pub less_than_a_minute: Prompt,
    /// 0–20, 30, 40, …, 90.
    pub numbers: HashMap<u32, Prompt>,
}

/// The number words a directory must hold.
const NUMBER_WORDS: [u32; 28] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 30, 40, 50, 60, 70,
    80, 90,
];

impl AnnounceWords {
    /// Loads `position.wav`, `expected_wait.wav`, `minute.wav`,
    /// `minutes.wav`, `less_than.wav` and `0.wav`…`20.wav`, `30.wav`…`90.wav`
    /// from `dir`.
    pub fn load(dir: &Path) -> Result<Self, AnnounceError> {
        let load = |name: &str| {
            let path = dir.join(format!("{name}.wav"));
            Prompt::load_wav(name, &path).map_err(|e| AnnounceError {
                file: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let mut numbers = HashMap::new();
        for n in NUMBER_WORDS {
            numbers.insert(n, load(&n.to_string())?);
        }
        Ok(AnnounceWords {
            position: load("position")?,
            expected_wait: load("expected_wait")?,
            minute: load("minute")?,
            minutes: load("minutes")?,
            less_than_a_minute: load("less_than")?,
            numbers,
        })
    }

    /// The words of `n` (0–99; None above, which is not announced).
    pub fn number(&self, n: u32) -> Option<Vec<Prompt>> {
        let word = |k: u32| self.numbers.get(&k).cloned();
        match n {
            0..=20 => Some(vec![word(n)?]),
            21..=99 => {
                let mut w = vec![word(n / 10 * 10)?];
                if !n.is_multiple_of(10) {
                    w.push(word(n % 10)?);
                }
                Some(w)
            }
            _ => None,
        }
    }
}

/// The words of announcements, in the language of the prompts
/// (`prompts.language`).
#[derive(Debug, Clone)]
pub enum Words {
    /// "You are caller number seven, your expected waiting time is about
    /// three minutes".
    English(AnnounceWords),
    /// 「您前面还有六位，预计等待三分钟」.
    Mandarin(crate::zh::ZhWords),
}

/// How waiting callers are kept informed.
#[derive(Debug, Clone)]
pub struct Announcements {
    /// Time between announcements (the first one comes this long after the
    /// greeting), ms.
    pub every_ms: i64,
    /// Tell the caller's position.
    pub position: bool,
    /// Tell the expected wait (when it can be estimated).
    pub expected_wait: bool,
    /// Handle time assumed before a queue has handled any call, ms.
    pub default_handle_ms: i64,
    /// The words (None: only `message` is played).
    pub words: Option<Words>,
    /// Played after the figures ("thank you for waiting ...").
    pub message: Option<Prompt>,
}

impl Announcements {
    /// The prompts of one announcement for a caller at `position` with an
    /// expected wait of `wait_ms` (either unknown); empty when there is
    /// nothing to say.
    pub fn build(&self, position: Option<u32>, wait_ms: Option<i64>) -> Vec<Prompt> {
        let mut out = Vec::new();
        if let Some(Words::Mandarin(w)) = &self.words {
            if self.position {
                out.extend(position.map(|p| w.position(p)).unwrap_or_default());
            }
            if self.expected_wait {
                out.extend(wait_ms.map(|ms| w.expected_wait(ms)).unwrap_or_default());
            }
        }
        if let Some(Words::English(w)) = &self.words {
            if self.position {
                if let Some(n) = position.and_then(|p| w.number(p)) {
                    out.push(w.position.clone());
                    out.extend(n);
                }
            }
            if self.expected_wait {
                if let Some(ms) = wait_ms.filter(|ms| *ms >= 0) {
                    let minutes = ms / 60_000 + i64::from(ms % 60_000 != 0);
                    if ms < 60_000 {
                        out.push(w.expected_wait.clone());
                        out.push(w.less_than_a_minute.clone());
                    } else if let Some(n) = u32::try_from(minutes).ok().and_then(|m| w.number(m)) {
                        out.push(w.expected_wait.clone());
                        out.extend(n);
                        out.push(if minutes == 1 {
                            w.minute.clone()
                        } else {
                            w.minutes.clone()
                        });
                    }
                }
            }
        }
        out.extend(self.message.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> AnnounceWords {
        let p = |name: &str| Prompt::from_samples(name, vec![0; 8]);
        AnnounceWords {
            position: p("position"),
            expected_wait: p("expected_wait"),
            minute: p("minute"),
            minutes: p("minutes"),
            less_than_a_minute: p("less_than"),
            numbers: NUMBER_WORDS
                .iter()
                .map(|n| (*n, p(&n.to_string())))
                .collect(),
        }
    }

    fn said(a: &Announcements, position: Option<u32>, wait: Option<i64>) -> Vec<String> {
        a.build(position, wait)
            .iter()
            .map(|p| p.name().to_string())
            .collect()
    }

    fn all() -> Announcements {
        Announcements {
            every_ms: 30_000,
            position: true,
            expected_wait: true,
            default_handle_ms: 180_000,
            words: Some(Words::English(words())),
            message: Some(Prompt::from_samples("still_waiting", vec![0; 8])),
        }
    }

    #[test]
    fn position_and_wait_are_spoken_in_words() {
        let a = all();
        assert_eq!(
            said(&a, Some(7), Some(150_000)),
            [
                "position",
                "7",
                "expected_wait",
                "3",
                "minutes",
                "still_waiting"
            ]
        );
        assert_eq!(
            said(&a, Some(42), Some(60_000)),
            [
                "position",
                "40",
                "2",
                "expected_wait",
                "1",
                "minute",
                "still_waiting"
            ]
        );
        assert_eq!(
            said(&a, Some(30), Some(59_999)),
            [
                "position",
                "30",
                "expected_wait",
                "less_than",
                "still_waiting"
            ]
        );
        assert_eq!(said(&a, Some(20), Some(60_001))[..2], ["position", "20"]);
        assert_eq!(
            said(&a, Some(21), None),
            ["position", "20", "1", "still_waiting"]
        );
    }

    #[test]
    fn what_cannot_be_said_honestly_is_left_out() {
        let a = all();
        // position 100+, waits of 100 minutes or more, unknown or negative waits
        assert_eq!(said(&a, Some(100), Some(6_000_000)), ["still_waiting"]);
        assert_eq!(said(&a, None, Some(-5)), ["still_waiting"]);
        assert_eq!(said(&a, Some(u32::MAX), Some(i64::MAX)), ["still_waiting"]);
        let quiet = Announcements {
            position: false,
            expected_wait: false,
            message: None,
            ..all()
        };
        assert!(quiet.build(Some(1), Some(1)).is_empty());
    }

    #[test]
    fn the_shipped_words_load_and_a_missing_word_is_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts/announce");
        let w = AnnounceWords::load(&dir).expect("shipped words");
        assert_eq!(w.numbers.len(), NUMBER_WORDS.len());
        let empty = tempfile::tempdir().expect("temp dir");
        let err = AnnounceWords::load(empty.path()).expect_err("nothing there");
        assert!(err.to_string().contains("0.wav"), "{err}");
    }
}
