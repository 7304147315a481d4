//! What a notification says: a subject and a plain-text body, Chinese first
//! (English per `notify.language`), the time in the center's time zone.

use hotline_core::{Calendar, CallEvent};
use serde_json::Value;

use crate::config::Language;

/// One message, ready for any channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What it is about (`event_id` of the delivery record).
    pub id: String,
    /// The event kind, or `daily_report`.
    pub kind: String,
    /// When it happened, epoch ms.
    pub at_ms: i64,
    /// The mail subject / first line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// The event itself (JSON webhooks carry it).
    pub event: Option<Value>,
}

/// The title of an alarm kind in a language (the kind itself when unknown).
pub fn title(kind: &str, lang: Language) -> String {
    let (zh, en) = match kind {
        "trunk_down" => ("中继线路中断", "Trunk down"),
        "trunk_up" => ("中继线路恢复", "Trunk up again"),
        "storage_alarm" => ("录音存储告警", "Storage alarm"),
        "work_item_overdue" => ("待办事项超时", "Work item overdue"),
        "case_overdue" => ("工单超时", "Case overdue"),
        "case_warning" => ("工单即将超时", "Case due soon"),
        "callback_expired" => ("回拨未接通已过期", "Callback expired"),
        "line_test_failed" => ("线路自检失败", "Line self-test failed"),
        "line_test_missing" => ("线路自检未执行", "Line self-test missing"),
        "line_test_passed" => ("线路自检通过", "Line self-test passed"),
        "floor_alarm" => ("值班席位告警", "Floor alarm"),
        "handover_missing" => ("交接班记录缺失", "Handover missing"),
        "continuous_work_warning" => ("连续工作超时提醒", "Continuous work warning"),
        "recording_failed" => ("录音失败", "Recording failed"),
        "limit_exceeded" => ("通话超时", "Call over its limit"),
        "minimum_staffing_overridden" => ("最低值班人数被越权", "Minimum staffing overridden"),
        "blacklisted" => ("黑名单来电", "Blacklisted caller"),
        "silent_line" => ("无声来电", "Silent line"),
        "daily_report" => ("日报", "Daily report"),
        other => (other, other),
    };
    match lang {
        Language::Zh => zh.to_string(),
        Language::En => en.to_string(),
    }
}

fn label(key: &str, lang: Language) -> String {
    let zh = match key {
        "trunk" => "中继",
        "reason" => "原因",
        "slot" => "时段",
        "shift" => "班次",
        "trigger" => "触发",
        "detail" => "详情",
        "due_ms" => "应执行时间",
        "deadline_ms" => "截止时间",
        "number" => "号码",
        "item" => "事项",
        "item_kind" => "类型",
        "case" => "工单",
        "attempts" => "尝试次数",
        "agent" => "座席",
        "queue" => "队列",
        "call" => "呼叫",
        "time" => "时间",
        "event" => "事件",
        other => other,
    };
    match lang {
        Language::Zh => zh.into(),
        Language::En => key.replace('_', " "),
    }
}

/// The message for an event.
pub fn for_event(e: &CallEvent, lang: Language, center: &str, cal: &Calendar) -> Message {
    let kind = e.kind.name().to_string();
    let t = title(&kind, lang);
    let subject = match lang {
        Language::Zh => format!("【{center}告警】{t}"),
        Language::En => format!("[{center} alarm] {t}"),
    };
    let mut lines = vec![
        format!("{}: {}", label("event", lang), t),
        format!("{}: {}", label("time", lang), cal.format(e.at_ms)),
    ];
    if let Some(c) = &e.call_id {
        lines.push(format!("{}: {c}", label("call", lang)));
    }
    if let Some(a) = &e.agent {
        lines.push(format!("{}: {a}", label("agent", lang)));
    }
    if let Some(q) = &e.queue {
        lines.push(format!("{}: {q}", label("queue", lang)));
    }
    let body = serde_json::to_value(&e.kind).unwrap_or(Value::Null);
    if let Value::Object(map) = &body {
        for (k, v) in map {
            if k == "type" {
                continue;
            }
            let text = match v {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => s.clone(),
                Value::Number(n) if k.ends_with("_ms") && k != "wait_ms" => n
                    .as_i64()
                    .map(|ms| cal.format(ms))
                    .unwrap_or_else(|| n.to_string()),
                other => other.to_string(),
            };
            lines.push(format!("{}: {text}", label(k, lang)));
        }
    }
    Message {
        id: event_id(e),
        kind,
        at_ms: e.at_ms,
        subject,
        body: lines.join("\n"),
        event: serde_json::to_value(e).ok(),
    }
}

/// The id a delivery record names an event by: its time, kind and call.
pub fn event_id(e: &CallEvent) -> String {
    match &e.call_id {
        Some(c) => format!("{}:{}:{c}", e.at_ms, e.kind.name()),
        None => format!("{}:{}", e.at_ms, e.kind.name()),
    }
}

/// The message carrying a report (already rendered as text).
pub fn for_report(day: &str, text: String, at_ms: i64, lang: Language, center: &str) -> Message {
    let subject = match lang {
        Language::Zh => format!("【{center}】{day} 日报"),
        Language::En => format!("[{center}] daily report {day}"),
    };
    Message {
        id: report_id(day),
        kind: "daily_report".into(),
        at_ms,
        subject,
        body: text,
        event: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::EventKind;

    #[test]
    fn an_alarm_reads_in_chinese_with_local_time() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let e = CallEvent {
            at_ms: 1_780_000_000_000,
            call_id: None,
            agent: None,
            queue: None,
            kind: EventKind::LineTestFailed {
                trigger: "scheduled".into(),
                slot: "08:30".into(),
                shift: Some("早班".into()),
                reason: "trunk down: no answer to OPTIONS".into(),
                detail: "options: timeout".into(),
            },
        };
        let m = for_event(&e, Language::Zh, "热线", &cal);
        assert_eq!(m.subject, "【热线告警】线路自检失败");
        assert!(
            m.body.contains("原因: trunk down: no answer to OPTIONS"),
            "{}",
            m.body
        );
        assert!(m.body.contains("班次: 早班"));
        assert!(m.body.contains("时段: 08:30"));
        assert!(m.body.contains(&cal.format(e.at_ms)));
        assert_eq!(m.kind, "line_test_failed");
        let en = for_event(&e, Language::En, "Hotline", &cal);
        assert_eq!(en.subject, "[Hotline alarm] Line self-test failed");
        assert!(en.body.contains("reason: trunk down"));
        assert_eq!(title("something_new", Language::Zh), "something_new");
    }
}

/// The next instant at `minutes` after local midnight strictly after `now`
/// (epoch ms) in `cal`, and the local day before it (the day its daily
/// report covers, `YYYY-MM-DD`). Sans-IO: the report task sleeps until it.
pub fn next_daily(cal: &Calendar, minutes: u16, now: i64) -> Option<(i64, String)> {
    let today = cal.date_of(now).ok()?;
    let (h, m) = ((minutes / 60) as i8, (minutes % 60) as i8);
    let mut day = today;
    for _ in 0..3 {
        let at = cal.instant(day.at(h, m, 0, 0)).ok()?;
        if at > now {
            let covered = day.yesterday().ok()?;
            return Some((at, covered.to_string()));
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The daily report slot that passed last, at or before `now` (within the
/// last day), and the day it covers: what a node becoming active sends if
/// no node sent it (see [`report_id`]).
pub fn last_daily(cal: &Calendar, minutes: u16, now: i64) -> Option<(i64, String)> {
    next_daily(cal, minutes, now.saturating_sub(86_400_000)).filter(|(at, _)| *at <= now)
}

/// The id a delivery record names the report of `day` by.
pub fn report_id(day: &str) -> String {
    format!("report:{day}")
}

#[cfg(test)]
mod daily_tests {
    use super::*;

    #[test]
    fn the_daily_report_goes_out_once_a_day_for_the_day_before() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let midnight = cal.instant("2026-12-07T00:00".parse().unwrap()).unwrap();
        let h = 3_600_000;
        // 07:00 on the 7th: the report of the 6th at 07:30
        let (at, day) = next_daily(&cal, 450, midnight + 7 * h).unwrap();
        assert_eq!(
            (at - midnight, day.as_str()),
            (7 * h + 30 * 60_000, "2026-12-06")
        );
        // just after it: tomorrow's, for the 7th
        let (at2, day2) = next_daily(&cal, 450, at).unwrap();
        assert_eq!((at2 - at, day2.as_str()), (24 * h, "2026-12-07"));
        // a simulated week sends seven reports, one per day
        let mut now = midnight;
        let mut days = vec![];
        while let Some((at, day)) = next_daily(&cal, 450, now) {
            if at > midnight + 7 * 24 * h {
                break;
            }
            days.push(day);
            now = at;
        }
        assert_eq!(days.len(), 7);
        assert_eq!(days[0], "2026-12-06");
    }

    #[test]
    fn the_slot_that_passed_last_is_the_one_a_new_active_node_checks() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let midnight = cal.instant("2026-12-07T00:00".parse().unwrap()).unwrap();
        let h = 3_600_000;
        let slot = midnight + 7 * h + 30 * 60_000;
        // just at and after 07:30 on the 7th: the report of the 6th
        for now in [slot, slot + 1, slot + 23 * h] {
            let (at, day) = last_daily(&cal, 450, now).unwrap();
            assert_eq!((at, day.as_str()), (slot, "2026-12-06"), "{now}");
        }
        // before it: yesterday's, for the 5th
        let (at, day) = last_daily(&cal, 450, slot - 1).unwrap();
        assert_eq!((at, day.as_str()), (slot - 24 * h, "2026-12-05"));
        assert_eq!(report_id("2026-12-06"), "report:2026-12-06");
    }
}
