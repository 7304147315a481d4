//! The calendar part of the configuration: `[schedule]` (time zone, holidays,
//! greeting periods) and each queue's `open` hours, checked (the error names
//! the key) and turned into the engine's [`Schedule`].

use crate::config::routing::QueueSettings;
use crate::config::{invalid, Config, ConfigError};
use hotline_core::TimeOfDay;
use hotline_core::{Calendar, CalendarError, Shift, ShiftPart};
use hotline_engine::schedule::{self, GreetingPeriod, OpenHours, Schedule};
use hotline_engine::ClosedTreatment;
use hotline_media::prompt::Prompt;
use serde::Deserialize;
use std::path::PathBuf;

/// `[schedule]`: the center's calendar.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSection {
    /// IANA time zone open hours and periods are written in (`Asia/Shanghai`);
    /// unset = the machine's zone.
    pub timezone: Option<String>,
    /// Days (`YYYY-MM-DD`) on which every queue with open hours is closed.
    pub holidays: Vec<String>,
    /// Greetings by period of the day; the first period covering the moment
    /// wins, outside them `prompts.greeting` plays.
    pub greetings: Vec<GreetingSection>,
    /// What a caller of a closed queue gets after `prompts.closed`:
    /// `message`, `voicemail` or `callback`.
    #[serde(deserialize_with = "crate::config::from_str")]
    pub closed_action: ClosedTreatment,
}

/// `[[schedule.greetings]]`: one period of the day and its greeting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GreetingSection {
    /// Name (`morning`, `evening`), in the `prompt_started` event.
    pub name: String,
    /// Start, `HH:MM` local time.
    pub from: String,
    /// End, `HH:MM`; at or before `from` runs past midnight.
    pub to: String,
    /// The greeting WAV.
    pub prompt: PathBuf,
}

impl Config {
    /// The center's calendar: `schedule.timezone`, else the machine's zone.
    pub fn calendar(&self) -> Result<Calendar, ConfigError> {
        match &self.schedule.timezone {
            Some(name) => {
                Calendar::named(name).map_err(|e| invalid("schedule.timezone", e.to_string()))
            }
            None => Ok(Calendar::system()),
        }
    }

    /// Checks the calendar: time zone, shifts, holidays, periods, open hours.
    pub fn validate_schedule(&self) -> Result<(), ConfigError> {
        self.calendar()?;
        shifts(&self.shifts)?;
        if self.schedule.closed_action == ClosedTreatment::Voicemail && !self.voicemail.enabled {
            return Err(invalid(
                "schedule.closed_action",
                "`voicemail` needs [voicemail] enabled = true",
            ));
        }
        if self.schedule.closed_action == ClosedTreatment::Callback && !self.callback.enabled {
            return Err(invalid(
                "schedule.closed_action",
                "`callback` needs [callback] enabled = true",
            ));
        }
        for (i, h) in self.schedule.holidays.iter().enumerate() {
            schedule::parse_holiday(h)
                .map_err(|e| invalid(format!("schedule.holidays[{i}]"), e.to_string()))?;
        }
        for (i, g) in self.schedule.greetings.iter().enumerate() {
            let key = format!("schedule.greetings[{i}]");
            if g.name.trim().is_empty() || g.name.len() > 64 {
                return Err(invalid(
                    format!("{key}.name"),
                    "name the period (1-64 characters)",
                ));
            }
            let from = schedule::minutes_of_day(&g.from)
                .map_err(|e| invalid(format!("{key}.from"), e.to_string()))?;
            let to = schedule::minutes_of_day(&g.to)
                .map_err(|e| invalid(format!("{key}.to"), e.to_string()))?;
            if from == to {
                return Err(invalid(format!("{key}.to"), "the period is empty"));
            }
        }
        for (i, q) in self.queues.iter().enumerate() {
            OpenHours::parse(&q.open)
                .map_err(|e| invalid(format!("queues[{i}].open"), e.to_string()))?;
        }
        Ok(())
    }

    /// The engine's calendar; `greetings` are the loaded prompts of
    /// `schedule.greetings`, in order, `queues` give the open hours. Call
    /// after `validate_schedule`.
    pub fn schedule(
        &self,
        greetings: Vec<Prompt>,
        queues: &[QueueSettings],
    ) -> Result<Schedule, ConfigError> {
        let mut s = Schedule::new(&self.calendar()?);
        for (i, h) in self.schedule.holidays.iter().enumerate() {
            let day = schedule::parse_holiday(h)
                .map_err(|e| invalid(format!("schedule.holidays[{i}]"), e.to_string()))?;
            s = s.with_holiday(day);
        }
        for (g, greeting) in self.schedule.greetings.iter().zip(greetings) {
            let key = "schedule.greetings";
            s = s.with_period(GreetingPeriod {
                name: g.name.clone(),
                start: schedule::minutes_of_day(&g.from)
                    .map_err(|e| invalid(key, e.to_string()))?,
                end: schedule::minutes_of_day(&g.to).map_err(|e| invalid(key, e.to_string()))?,
                greeting,
            });
        }
        for q in queues {
            if let Some(hours) = &q.open {
                s = s.with_open_hours(q.id.clone(), hours.clone());
            }
        }
        Ok(s)
    }
}

/// `[[shifts]]`: a named shift for `hotline report --shift NAME` and the
/// live `current_shift` figures, in the center's time zone
/// (`schedule.timezone`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSection {
    /// Its name (`day`, `night`, ...).
    pub name: String,
    /// Start, `HH:MM` local time (a shift of one part; with `end`).
    #[serde(default)]
    pub start: Option<String>,
    /// End, `HH:MM`; at or before the start = the shift ends the next day.
    #[serde(default)]
    pub end: Option<String>,
    /// A split shift: its parts in order, `["09:00-11:30", "12:30-18:30"]`
    /// (instead of `start` and `end`).
    #[serde(default)]
    pub parts: Vec<String>,
}

/// Checks `[[shifts]]` (names unique and plain, times `HH:MM`, parts in
/// order within a day) and builds them.
pub fn shifts(sections: &[ShiftSection]) -> Result<Vec<Shift>, ConfigError> {
    let mut out: Vec<Shift> = Vec::with_capacity(sections.len());
    for (i, s) in sections.iter().enumerate() {
        let key = |k: &str| format!("shifts[{i}].{k}");
        if s.name.is_empty()
            || s.name.len() > 32
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                key("name"),
                "1-32 characters among letters, digits, - and _",
            ));
        }
        if out.iter().any(|o| o.name == s.name) {
            return Err(invalid(
                key("name"),
                format!("shift `{}` is defined twice", s.name),
            ));
        }
        let parts = match (&s.start, &s.end, s.parts.is_empty()) {
            (Some(start), Some(end), true) => {
                let time = |k: &str, v: &str| {
                    v.parse::<TimeOfDay>()
                        .map_err(|e: CalendarError| invalid(key(k), e.to_string()))
                };
                let (start, end) = (time("start", start)?, time("end", end)?);
                if start == end {
                    return Err(invalid(key("end"), "a shift cannot end when it starts"));
                }
                vec![ShiftPart { start, end }]
            }
            (None, None, false) => s
                .parts
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    p.parse().map_err(|e: CalendarError| {
                        invalid(key(&format!("parts[{j}]")), e.to_string())
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(invalid(
                    key("start"),
                    "give `start` and `end`, or `parts` for a split shift",
                ))
            }
        };
        out.push(
            Shift::new(s.name.clone(), parts).map_err(|e| invalid(key("parts"), e.to_string()))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(extra: &str) -> Config {
        let text = format!(
            "[[agents]]\nid = \"1001\"\npassword = \"demo1001\"\n\n[[queues]]\nid = \"general\"\nopen = [\"mon-fri 08:00-20:00\"]\n{extra}"
        );
        toml::from_str(&text).expect("toml")
    }

    #[test]
    fn a_calendar_is_accepted() {
        let c = parse(
            "[schedule]\ntimezone = \"Asia/Shanghai\"\nholidays = [\"2026-10-01\"]\n[[schedule.greetings]]\nname = \"morning\"\nfrom = \"06:00\"\nto = \"12:00\"\nprompt = \"x.wav\"\n",
        );
        c.validate_schedule().expect("valid");
        let s = c
            .schedule(
                vec![hotline_media::prompt::Prompt::from_samples("m", vec![0; 8])],
                &c.queue_settings().expect("queues"),
            )
            .expect("schedule");
        let general = hotline_core::QueueId::new("general");
        // 2026-10-01 10:00 in Shanghai (02:00 UTC): a Thursday, but a holiday
        assert!(!s.is_open(&general, 1_790_820_000_000));
        // a week later, 10:00 on Thursday 2026-10-08: open
        assert!(s.is_open(&general, 1_790_820_000_000 + 7 * 86_400_000));
        // 22:00 that Thursday (14:00 UTC): closed
        assert!(!s.is_open(
            &general,
            1_790_820_000_000 + 7 * 86_400_000 + 12 * 3_600_000
        ));
        let m = s
            .period(1_790_820_000_000 - 3 * 3_600_000)
            .expect("07:00 is morning");
        assert_eq!(m.name, "morning");
    }

    #[test]
    fn calendar_errors_name_the_key() {
        for (extra, key) in [
            ("[schedule]\ntimezone = \"Nowhere/Land\"", "schedule.timezone"),
            ("[schedule]\nholidays = [\"2026-13-01\"]", "schedule.holidays[0]"),
            (
                "[[schedule.greetings]]\nname = \"m\"\nfrom = \"6\"\nto = \"12:00\"\nprompt = \"x\"",
                "schedule.greetings[0].from",
            ),
            (
                "[[schedule.greetings]]\nname = \"m\"\nfrom = \"06:00\"\nto = \"06:00\"\nprompt = \"x\"",
                "schedule.greetings[0].to",
            ),
            (
                "[[schedule.greetings]]\nname = \" \"\nfrom = \"06:00\"\nto = \"07:00\"\nprompt = \"x\"",
                "schedule.greetings[0].name",
            ),
            ("[[queues]]\nid = \"late\"\nopen = [\"mon-fry 08:00-20:00\"]", "queues[1].open"),
            ("[[shifts]]\nname = \"\"\nstart = \"22:00\"\nend = \"06:00\"", "shifts[0].name"),
            ("[[shifts]]\nname = \"a b\"\nstart = \"22:00\"\nend = \"06:00\"", "shifts[0].name"),
            ("[[shifts]]\nname = \"n\"\nstart = \"24:00\"\nend = \"06:00\"", "shifts[0].start"),
            ("[[shifts]]\nname = \"n\"\nstart = \"22:00\"\nend = \"6 am\"", "shifts[0].end"),
            ("[[shifts]]\nname = \"n\"\nstart = \"22:00\"\nend = \"22:00\"", "shifts[0].end"),
            ("[[shifts]]\nname = \"n\"\nstart = \"22:00\"", "shifts[0].start"),
            ("[[shifts]]\nname = \"n\"\nstart = \"09:00\"\nend = \"10:00\"\nparts = [\"11:00-12:00\"]", "shifts[0].start"),
            ("[[shifts]]\nname = \"n\"\nparts = [\"09:00-11:30\", \"1230-1830\"]", "shifts[0].parts[1]"),
            ("[[shifts]]\nname = \"n\"\nparts = [\"09:00-12:00\", \"11:00-18:00\"]", "shifts[0].parts"),
            ("[[shifts]]\nname = \"n\"\nstart = \"06:00\"\nend = \"14:00\"\n[[shifts]]\nname = \"n\"\nstart = \"14:00\"\nend = \"22:00\"", "shifts[1].name"),
        ] {
            let err = parse(extra).validate_schedule().expect_err(extra).to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
    }
}
