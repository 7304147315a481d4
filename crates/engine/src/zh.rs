//! Mandarin announcements: numbers in Chinese words (「三」「十二」「两千零五」),
//! the queue position and the expected wait (「您前面还有三位」「预计等待两分钟」)
//! and the agent's number (「一零零一号客服为您服务」), built from recorded
//! syllables (`config/prompts/zh/announce/`, made by `scripts/prompts-zh.sh`).

use crate::announce::AnnounceError;
use hotline_media::prompt::Prompt;
use std::collections::HashMap;
use std::path::Path;

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// The largest number [`chinese_number`] says (九千九百九十九万九千九百九十九).
pub const MAX_CHINESE_NUMBER: u64 = 9999_9999;

/// A number below 10 000 in words; `leading` = it starts the whole number
/// (then 10–19 are 「十…」, not 「一十…」).
fn below_10k(n: u64, leading: bool) -> String {
    let places = [(1000, '千'), (100, '百'), (10, '十')];
    let mut out = String::new();
    let mut zero = false;
    let mut started = false;
    for (unit, name) in places {
        let d = (n / unit) % 10;
        if d == 0 {
            if started {
                zero = true;
            }
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        if !(unit == 10 && d == 1 && leading && !started) {
            out.push(DIGITS[d as usize]);
        }
        out.push(name);
        started = true;
    }
    let d = n % 10;
    if d != 0 {
        if zero {
            out.push('零');
        }
        out.push(DIGITS[d as usize]);
    }
    out
}

/// `n` in Chinese words, as read out: 0 「零」, 10 「十」, 12 「十二」, 20 「二十」,
/// 105 「一百零五」, 110 「一百一十」, 1005 「一千零五」, 10 010 「一万零一十」,
/// 120 000 「十二万」. None above [`MAX_CHINESE_NUMBER`].
pub fn chinese_number(n: u64) -> Option<String> {
    if n > MAX_CHINESE_NUMBER {
        return None;
    }
    if n == 0 {
        return Some("零".into());
    }
    let high = n / 10_000;
    let low = n % 10_000;
    let mut out = String::new();
    if high > 0 {
        out.push_str(&below_10k(high, true));
        out.push('万');
        if low > 0 {
            if low < 1000 {
                out.push('零');
            }
            out.push_str(&below_10k(low, false));
        }
    } else {
        out.push_str(&below_10k(low, true));
    }
    Some(out)
}

/// `n` as a count before a measure word (「两位」「两分钟」「两千」): like
/// [`chinese_number`], with 「两」 for a 2 that stands alone or leads 百, 千
/// or 万 at the start.
pub fn chinese_count(n: u64) -> Option<String> {
    let s = chinese_number(n)?;
    let mut chars: Vec<char> = s.chars().collect();
    if chars == ['二'] {
        return Some("两".into());
    }
    if chars.len() >= 2 && chars[0] == '二' && matches!(chars[1], '百' | '千' | '万') {
        chars[0] = '两';
    }
    Some(chars.into_iter().collect())
}

/// An agent's number read digit by digit (「一零零一」 for 1001), as work
/// numbers (工号) are read; None unless it is 1–8 ASCII digits.
pub fn digits_in_words(number: &str) -> Option<String> {
    if number.is_empty() || number.len() > 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        number
            .bytes()
            .map(|b| DIGITS[usize::from(b - b'0')])
            .collect(),
    )
}

/// The syllable files, by character.
const SYLLABLES: [(char, &str); 15] = [
    ('零', "ling"),
    ('一', "yi"),
    ('二', "er"),
    ('两', "liang"),
    ('三', "san"),
    ('四', "si"),
    ('五', "wu"),
    ('六', "liu"),
    ('七', "qi"),
    ('八', "ba"),
    ('九', "jiu"),
    ('十', "shi"),
    ('百', "bai"),
    ('千', "qian"),
    ('万', "wan"),
];

/// The recorded Mandarin words announcements are built from.
#[derive(Debug, Clone)]
pub struct ZhWords {
    /// 「您前面还有」.
    pub ahead: Prompt,
    /// 「位」.
    pub people: Prompt,
    /// 「您是下一位，请稍候」 (nobody ahead).
    pub next: Prompt,
    /// 「预计等待」.
    pub expected_wait: Prompt,
    /// 「分钟」.
    pub minutes: Prompt,
    /// 「预计等待不到一分钟」.
    pub less_than_a_minute: Prompt,
    /// 「号客服为您服务」 (after the agent's number).
    pub agent_number: Prompt,
    /// 零 一 二 两 三 … 十 百 千 万.
    pub syllables: HashMap<char, Prompt>,
}

impl ZhWords {
    /// Loads `ahead.wav`, `people.wav`, `next.wav`, `expected_wait.wav`,
    /// `minutes.wav`, `less_than.wav`, `agent_number.wav` and the syllables
    /// (`ling.wav`, `yi.wav`, `er.wav`, `liang.wav`, … `wan.wav`) from `dir`.
    pub fn load(dir: &Path) -> Result<Self, AnnounceError> {
        let load = |name: &str| {
            let path = dir.join(format!("{name}.wav"));
            Prompt::load_wav(name, &path).map_err(|e| AnnounceError {
                file: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let mut syllables = HashMap::new();
        for (c, name) in SYLLABLES {
            syllables.insert(c, load(name)?);
        }
        Ok(ZhWords {
            ahead: load("ahead")?,
            people: load("people")?,
            next: load("next")?,
            expected_wait: load("expected_wait")?,
            minutes: load("minutes")?,
            less_than_a_minute: load("less_than")?,
            agent_number: load("agent_number")?,
            syllables,
        })
    }

    /// The syllables of a text of number characters (None if one is missing).
    pub fn say(&self, text: &str) -> Option<Vec<Prompt>> {
        text.chars()
            .map(|c| self.syllables.get(&c).cloned())
            .collect()
    }

    /// 「您前面还有三位」 for a caller at `position` (1 = next: 「您是下一位」);
    /// empty for position 0 or one too large to say.
    pub fn position(&self, position: u32) -> Vec<Prompt> {
        match position {
            0 => Vec::new(),
            1 => vec![self.next.clone()],
            p => match chinese_count(u64::from(p - 1)).and_then(|t| self.say(&t)) {
                Some(n) => {
                    let mut out = vec![self.ahead.clone()];
                    out.extend(n);
                    out.push(self.people.clone());
                    out
                }
                None => Vec::new(),
            },
        }
    }

    /// 「预计等待两分钟」 (whole minutes, rounded up), 「预计等待不到一分钟」
    /// under a minute; empty for a negative wait or one of 100 minutes or
    /// more (not said honestly).
    pub fn expected_wait(&self, wait_ms: i64) -> Vec<Prompt> {
        if wait_ms < 0 {
            return Vec::new();
        }
        if wait_ms < 60_000 {
            return vec![self.less_than_a_minute.clone()];
        }
        let minutes = wait_ms / 60_000 + i64::from(wait_ms % 60_000 != 0);
        if minutes >= 100 {
            return Vec::new();
        }
        match u64::try_from(minutes)
            .ok()
            .and_then(chinese_count)
            .and_then(|t| self.say(&t))
        {
            Some(n) => {
                let mut out = vec![self.expected_wait.clone()];
                out.extend(n);
                out.push(self.minutes.clone());
                out
            }
            None => Vec::new(),
        }
    }

    /// 「一零零一号客服为您服务」 for agent `number`; empty when the number is not
    /// digits (nothing is said rather than a wrong number).
    pub fn agent(&self, number: &str) -> Vec<Prompt> {
        match digits_in_words(number).and_then(|t| self.say(&t)) {
            Some(n) => {
                let mut out = n;
                out.push(self.agent_number.clone());
                out
            }
            None => Vec::new(),
        }
    }
}

/// 报工号: the recorded words and each agent's work number (工号), the
/// digits said in 「X号客服为您服务」 when the agent answers. An agent's work
/// number is its `[[agents]] number`, else its id when the id is digits; an
/// agent with neither is not announced (nothing is said rather than letters
/// read as digits or a wrong number; the start logs a warning for each).
#[derive(Debug, Clone)]
pub struct AgentNumbers {
    /// The words the announcement is built from.
    pub words: ZhWords,
    /// Agent id → the work number said for it (1–8 ASCII digits).
    pub numbers: HashMap<String, String>,
}

impl AgentNumbers {
    /// The work number said for `agent`, if it has one.
    pub fn number_of(&self, agent: &str) -> Option<&str> {
        self.numbers.get(agent).map(String::as_str)
    }

    /// 「一二号客服为您服务」 for an agent whose work number is 12; empty for
    /// an agent without one (or one that is not 1–8 digits).
    pub fn announce(&self, agent: &str) -> Vec<Prompt> {
        match self.number_of(agent) {
            Some(n) => self.words.agent(n),
            None => {
                tracing::debug!(agent, "no work number (工号) to announce");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn numbers_are_read_as_chinese_speakers_read_them() {
        let cases: &[(u64, &str)] = &[
            (0, "零"),
            (1, "一"),
            (2, "二"),
            (9, "九"),
            (10, "十"),
            (11, "十一"),
            (12, "十二"),
            (19, "十九"),
            (20, "二十"),
            (21, "二十一"),
            (99, "九十九"),
            (100, "一百"),
            (101, "一百零一"),
            (105, "一百零五"),
            (110, "一百一十"),
            (111, "一百一十一"),
            (999, "九百九十九"),
            (1000, "一千"),
            (1001, "一千零一"),
            (1010, "一千零一十"),
            (1100, "一千一百"),
            (2005, "二千零五"),
            (9999, "九千九百九十九"),
            (10_000, "一万"),
            (10_001, "一万零一"),
            (10_010, "一万零一十"),
            (10_100, "一万零一百"),
            (11_000, "一万一千"),
            (100_000, "十万"),
            (120_000, "十二万"),
            (1_000_000, "一百万"),
            (1_000_100, "一百万零一百"),
            (12_345_678, "一千二百三十四万五千六百七十八"),
            (MAX_CHINESE_NUMBER, "九千九百九十九万九千九百九十九"),
        ];
        for (n, want) in cases {
            assert_eq!(chinese_number(*n).as_deref(), Some(*want), "{n}");
        }
        assert_eq!(chinese_number(MAX_CHINESE_NUMBER + 1), None);
        assert_eq!(chinese_number(u64::MAX), None);
    }

    #[test]
    fn counts_use_liang() {
        let cases: &[(u64, &str)] = &[
            (1, "一"),
            (2, "两"),
            (3, "三"),
            (12, "十二"),
            (20, "二十"),
            (22, "二十二"),
            (200, "两百"),
            (2000, "两千"),
            (2002, "两千零二"),
            (20_000, "两万"),
            (32, "三十二"),
        ];
        for (n, want) in cases {
            assert_eq!(chinese_count(*n).as_deref(), Some(*want), "{n}");
        }
        assert_eq!(chinese_count(u64::MAX), None);
    }

    #[test]
    fn agent_numbers_are_read_digit_by_digit() {
        assert_eq!(digits_in_words("1001").as_deref(), Some("一零零一"));
        assert_eq!(digits_in_words("7").as_deref(), Some("七"));
        for bad in ["", "10a1", "１２", "-1", "123456789", "1 2", "\u{0}"] {
            assert_eq!(digits_in_words(bad), None, "{bad:?}");
        }
    }

    fn words() -> ZhWords {
        let p = |name: &str| Prompt::from_samples(name, vec![0; 8]);
        ZhWords {
            ahead: p("ahead"),
            people: p("people"),
            next: p("next"),
            expected_wait: p("expected_wait"),
            minutes: p("minutes"),
            less_than_a_minute: p("less_than"),
            agent_number: p("agent_number"),
            syllables: SYLLABLES.iter().map(|(c, n)| (*c, p(n))).collect(),
        }
    }

    fn names(v: Vec<Prompt>) -> Vec<String> {
        v.iter().map(|p| p.name().to_string()).collect()
    }

    #[test]
    fn position_wait_and_agent_are_said_in_mandarin() {
        let w = words();
        // position 4: three callers ahead: 您前面还有 三 位
        assert_eq!(names(w.position(4)), ["ahead", "san", "people"]);
        // position 3: two ahead: 两位, not 二位
        assert_eq!(names(w.position(3)), ["ahead", "liang", "people"]);
        assert_eq!(names(w.position(13)), ["ahead", "shi", "er", "people"]);
        assert_eq!(names(w.position(1)), ["next"]);
        assert!(w.position(0).is_empty());
        assert_eq!(names(w.position(10_001)), ["ahead", "yi", "wan", "people"]);
        assert!(w.position(u32::MAX).is_empty(), "too large to say: nothing");
        // 预计等待 两 分钟 (90 s rounds up to two minutes)
        assert_eq!(
            names(w.expected_wait(90_000)),
            ["expected_wait", "liang", "minutes"]
        );
        assert_eq!(
            names(w.expected_wait(60_000)),
            ["expected_wait", "yi", "minutes"]
        );
        assert_eq!(
            names(w.expected_wait(20 * 60_000)),
            ["expected_wait", "er", "shi", "minutes"]
        );
        assert_eq!(names(w.expected_wait(59_999)), ["less_than"]);
        assert!(w.expected_wait(-1).is_empty());
        assert!(w.expected_wait(100 * 60_000).is_empty());
        assert!(w.expected_wait(i64::MAX).is_empty());
        assert_eq!(
            names(w.agent("1001")),
            ["yi", "ling", "ling", "yi", "agent_number"]
        );
        assert!(w.agent("ann").is_empty());
    }

    #[test]
    fn an_agent_is_announced_by_its_work_number_and_one_without_is_not() {
        let numbers = AgentNumbers {
            words: words(),
            numbers: [
                ("1001", "1001"),
                ("a12", "12"),
                ("zhang", "7"),
                ("bad", "x1"),
            ]
            .iter()
            .map(|(a, n)| (a.to_string(), n.to_string()))
            .collect(),
        };
        assert_eq!(
            names(numbers.announce("1001")),
            ["yi", "ling", "ling", "yi", "agent_number"]
        );
        // `[[agents]] number = "12"` for agent a12: 「一二号客服为您服务」
        assert_eq!(numbers.number_of("a12"), Some("12"));
        assert_eq!(names(numbers.announce("a12")), ["yi", "er", "agent_number"]);
        assert_eq!(names(numbers.announce("zhang")), ["qi", "agent_number"]);
        // no work number, or one that is not digits: nothing is said
        assert!(numbers.announce("li").is_empty());
        assert!(numbers.announce("bad").is_empty());
        assert!(numbers.announce("").is_empty());
        assert!(numbers.announce(&"9".repeat(10_000)).is_empty());
    }

    #[test]
    fn the_shipped_words_load_and_a_missing_word_is_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/prompts/zh/announce");
        let w = ZhWords::load(&dir).expect("shipped Mandarin words");
        assert_eq!(w.syllables.len(), SYLLABLES.len());
        for p in w.syllables.values() {
            assert!(
                p.duration_ms() > 100 && p.duration_ms() < 1500,
                "{}",
                p.name()
            );
        }
        let empty = tempfile::tempdir().expect("temp dir");
        let err = ZhWords::load(empty.path()).expect_err("nothing there");
        assert!(err.to_string().contains("ling.wav"), "{err}");
    }
}
