//! Simulated days on the floor.

use super::*;
use hotline_core::{CallEvent, EventKind, Shift};
use jiff::civil::Weekday;

const H: i64 = 3_600_000;
const M: i64 = 60_000;

fn a(s: &str) -> AgentId {
    AgentId::new(s)
}

fn shift(name: &str, parts: &[&str]) -> Shift {
    Shift::new(name, parts.iter().map(|p| p.parse().unwrap()).collect()).unwrap()
}

fn all_week() -> Vec<Weekday> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| roster::parse_weekday(d).unwrap())
        .collect()
}

/// Day 08:00-15:00 (1001), late 13:00-20:00 (1002), every day, Shanghai.
fn two_shifts() -> (Calendar, Roster) {
    let cal = Calendar::named("Asia/Shanghai").unwrap();
    let r = Roster::new(
        vec![
            shift("day", &["08:00-15:00"]),
            shift("late", &["13:00-20:00"]),
        ],
        [a("1001"), a("1002"), a("1003")],
        vec![
            WeeklyEntry {
                agent: a("1001"),
                shift: "day".into(),
                days: all_week(),
            },
            WeeklyEntry {
                agent: a("1002"),
                shift: "late".into(),
                days: all_week(),
            },
        ],
    )
    .unwrap();
    (cal, r)
}

fn at(cal: &Calendar, s: &str) -> i64 {
    cal.parse_instant(s).unwrap()
}

fn ev(at_ms: i64, agent: &str, kind: EventKind) -> CallEvent {
    CallEvent {
        at_ms,
        call_id: None,
        agent: Some(a(agent)),
        queue: None,
        kind,
    }
}

fn reg(at_ms: i64, agent: &str) -> CallEvent {
    ev(
        at_ms,
        agent,
        EventKind::AgentRegistered {
            contact: format!("sip:{agent}@10.0.0.1"),
            expires_s: 0,
        },
    )
}

fn unreg(at_ms: i64, agent: &str) -> CallEvent {
    ev(
        at_ms,
        agent,
        EventKind::AgentUnregistered {
            contact: format!("sip:{agent}@10.0.0.1"),
        },
    )
}

fn paused(at_ms: i64, agent: &str) -> CallEvent {
    ev(
        at_ms,
        agent,
        EventKind::AgentPaused {
            reason: "meal".into(),
            by: "phone".into(),
            after_call: false,
        },
    )
}

fn unpaused(at_ms: i64, agent: &str) -> CallEvent {
    ev(
        at_ms,
        agent,
        EventKind::AgentUnpaused { by: "phone".into() },
    )
}

fn logout(at_ms: i64, agent: &str) -> CallEvent {
    ev(
        at_ms,
        agent,
        EventKind::AgentLoggedOut { by: "phone".into() },
    )
}

#[test]
fn relief_refuses_the_last_agent_until_the_next_shift_logs_in() {
    let (cal, r) = two_shifts();
    let mut f = Floor::new(cal.clone(), DutyRules::default());
    f.observe(&r, &reg(at(&cal, "2026-12-07T07:55"), "1001"));
    // 10:00, alone on the day shift: the floor is never empty
    let now = at(&cal, "2026-12-07T10:00");
    let v = decide(&f, &r, now, &a("1001"), Leave::Pause, None);
    assert!(
        matches!(&v, Verdict::Refused { reason } if reason.contains("last agent")),
        "{v:?}"
    );
    // 15:05: the day shift is over, 1002 (late) rostered but not logged in
    let now = at(&cal, "2026-12-07T15:05");
    let v = decide(&f, &r, now, &a("1001"), Leave::Logout, None);
    assert!(
        matches!(&v, Verdict::Refused { reason } if reason.contains("1002")),
        "{v:?}"
    );
    // a supervisor overrides
    let v = decide(&f, &r, now, &a("1001"), Leave::Logout, Some("api:lead"));
    assert!(matches!(v, Verdict::Overridden { .. }), "{v:?}");
    // 1002 logs in: 1001 may go
    f.observe(&r, &reg(now + M, "1002"));
    assert_eq!(
        decide(&f, &r, now + 2 * M, &a("1001"), Leave::Logout, None),
        Verdict::Allowed
    );
    // 20:05, 1002 last, nobody rostered next within the hour: may go
    f.observe(&r, &logout(now + 3 * M, "1001"));
    let late = at(&cal, "2026-12-07T20:05");
    assert_eq!(
        decide(&f, &r, late, &a("1002"), Leave::Logout, None),
        Verdict::Allowed
    );
    // 07:30 next morning 1002 would be the last before 1001's day shift
    let morning = at(&cal, "2026-12-08T07:30");
    assert!(matches!(
        decide(&f, &r, morning, &a("1002"), Leave::Pause, None),
        Verdict::Refused { .. }
    ));
    // relief off: allowed
    let f2 = Floor::new(
        cal.clone(),
        DutyRules {
            relief: false,
            ..DutyRules::default()
        },
    );
    assert_eq!(
        decide(&f2, &r, morning, &a("1002"), Leave::Pause, None),
        Verdict::Allowed
    );
    // an agent already paused may always log out
    let mut f3 = Floor::new(cal.clone(), DutyRules::default());
    f3.observe(&r, &reg(now, "1001"));
    f3.observe(&r, &paused(now, "1001"));
    assert_eq!(
        decide(&f3, &r, now + M, &a("1001"), Leave::Logout, None),
        Verdict::Allowed
    );
}

#[test]
fn meal_minimum_holds_during_the_meal_period() {
    let (cal, r) = two_shifts();
    let rules = DutyRules {
        relief: false,
        meals: vec![MealRule {
            shift: "day".into(),
            period: "11:30-13:00".parse().unwrap(),
            queue: None,
            members: vec![],
            min_on_floor: 2,
        }],
        ..DutyRules::default()
    };
    let mut f = Floor::new(cal.clone(), rules);
    let t0 = at(&cal, "2026-12-07T08:00");
    for ag in ["1001", "1002", "1003"] {
        f.observe(&r, &reg(t0, ag));
    }
    let meal = at(&cal, "2026-12-07T12:00");
    // three on the floor: the first may go to eat
    assert_eq!(
        decide(&f, &r, meal, &a("1001"), Leave::Pause, None),
        Verdict::Allowed
    );
    f.observe(&r, &paused(meal, "1001"));
    // two left: neither may pause now
    let v = decide(&f, &r, meal + M, &a("1002"), Leave::Pause, None);
    assert!(
        matches!(&v, Verdict::Refused { reason } if reason.contains("meal period 11:30-13:00")),
        "{v:?}"
    );
    // outside the period they may
    let after = at(&cal, "2026-12-07T13:30");
    assert_eq!(
        decide(&f, &r, after, &a("1002"), Leave::Pause, None),
        Verdict::Allowed
    );
    // back from the meal: again three, one may go
    f.observe(&r, &unpaused(meal + 30 * M, "1001"));
    assert_eq!(
        decide(&f, &r, meal + 31 * M, &a("1002"), Leave::Pause, None),
        Verdict::Allowed
    );
}

#[test]
fn unregistering_while_needed_raises_a_floor_alarm() {
    let (cal, r) = two_shifts();
    let mut f = Floor::new(cal.clone(), DutyRules::default());
    let t = at(&cal, "2026-12-07T09:00");
    f.observe(&r, &reg(t, "1001"));
    let alarms = f.observe(&r, &unreg(t + H, "1001"));
    assert_eq!(alarms.len(), 1);
    assert!(
        matches!(&alarms[0].kind, EventKind::FloorAlarm { reason, shift } if reason.contains("1001") && shift.as_deref() == Some("day")),
        "{alarms:?}"
    );
    assert_eq!(alarms[0].agent, Some(a("1001")));
    // with a colleague on the floor, no alarm
    f.observe(&r, &reg(t + 2 * H, "1001"));
    f.observe(&r, &reg(t + 2 * H, "1003"));
    assert!(f.observe(&r, &unreg(t + 3 * H, "1001")).is_empty());
    // the empty floor alarm once, while rostered agents are missing
    f.observe(&r, &unreg(t + 3 * H, "1003"));
    let e = f.tick(&r, t + 3 * H + M);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(matches!(&e[0].kind, EventKind::FloorAlarm { reason, .. } if reason.contains("empty")));
    assert!(f.tick(&r, t + 3 * H + 2 * M).is_empty());
    // at 23:00 nobody is rostered: an empty floor is no alarm
    let mut g = Floor::new(cal.clone(), DutyRules::default());
    assert!(g.tick(&r, at(&cal, "2026-12-07T23:00")).is_empty());
}

#[test]
fn eight_hours_of_continuous_work_warn_once() {
    let (cal, r) = two_shifts();
    let mut f = Floor::new(cal.clone(), DutyRules::default());
    let t = at(&cal, "2026-12-07T07:00");
    f.observe(&r, &reg(t, "1001"));
    f.observe(&r, &reg(t, "1003"));
    // a 10-minute pause is no rest break
    f.observe(&r, &paused(t + 3 * H, "1001"));
    f.observe(&r, &unpaused(t + 3 * H + 10 * M, "1001"));
    // 1003 rests 45 minutes at 4 h: a new stretch begins
    f.observe(&r, &paused(t + 4 * H, "1003"));
    f.observe(&r, &unpaused(t + 4 * H + 45 * M, "1003"));
    let mut warnings = Vec::new();
    let mut now = t;
    // tick through a simulated 12 hours, every minute
    while now < t + 12 * H {
        for e in f.tick(&r, now) {
            warnings.push(e);
        }
        now += M;
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(w.agent, Some(a("1001")));
    assert!(w.at_ms > t + 8 * H && w.at_ms <= t + 8 * H + M);
    assert!(matches!(
        w.kind,
        EventKind::ContinuousWorkWarning { limit_ms, .. } if limit_ms == 8 * H
    ));
    // 1003 reaches 8 h of its second stretch at 4:45 + 8 h, past the 12 h
    // simulated; the next tick is never later than a minute
    assert!(f.next_tick(now) <= now + M);
}

#[test]
fn attendance_late_absent_left_early_over_a_week() {
    let (cal, r) = two_shifts();
    let mon = jiff::civil::date(2026, 12, 7);
    let (from, _) = cal.day_bounds(mon).unwrap();
    let mut events = Vec::new();
    // 1001: Monday on time all day; Tuesday 20 min late; Wednesday leaves at
    // 13:00; Thursday absent; Friday present with a 1 h pause
    let day = |d: i64, hm: &str| {
        let (h, m) = hm.split_once(':').unwrap();
        from + d * 24 * H + h.parse::<i64>().unwrap() * H + m.parse::<i64>().unwrap() * M
    };
    for (d, on, off) in [
        (0, "07:58", "15:02"),
        (1, "08:20", "15:00"),
        (2, "08:00", "13:00"),
        (4, "07:50", "15:10"),
    ] {
        events.push(reg(day(d, on), "1001"));
        events.push(unreg(day(d, off), "1001"));
    }
    events.push(paused(day(4, "10:00"), "1001"));
    events.push(unpaused(day(4, "11:00"), "1001"));
    let now = from + 5 * 24 * H;
    let duties: Vec<Duty> = r
        .between(&cal, from, now)
        .unwrap()
        .into_iter()
        .filter(|d| d.agent == a("1001"))
        .collect();
    assert_eq!(duties.len(), 5);
    let att = attendance(
        &duties,
        &events,
        Grace {
            late_ms: 5 * M,
            early_ms: 5 * M,
        },
        now,
    );
    let st: Vec<&str> = att.duties.iter().map(|d| d.status.as_str()).collect();
    assert_eq!(st, ["present", "late", "left_early", "absent", "present"]);
    assert_eq!(
        (
            att.scheduled,
            att.present,
            att.late,
            att.absent,
            att.left_early
        ),
        (5, 4, 1, 1, 1)
    );
    assert_eq!(att.attendance_rate, Some(0.8));
    // available: 7 h + 6h40 + 5 h + 0 + 6 h of 35 h
    let expect = (7.0 * 60.0 + 400.0 + 300.0 + 360.0) / (35.0 * 60.0);
    assert!(
        (att.adherence.unwrap() - expect).abs() < 1e-9,
        "{:?}",
        att.adherence
    );
    // a duty in progress that has not started counts as upcoming
    let early = attendance(
        &duties,
        &events,
        Grace {
            late_ms: 5 * M,
            early_ms: 5 * M,
        },
        from + 7 * H,
    );
    assert_eq!(early.scheduled, 0);
    assert_eq!(early.attendance_rate, None);
}

#[test]
fn missed_calls_are_charged_to_the_people_on_duty() {
    let (cal, r) = two_shifts();
    let mut rules = DutyRules::default();
    rules
        .supervisors
        .insert("day".into(), vec!["lead-a".into()]);
    rules
        .supervisors
        .insert("late".into(), vec!["lead-b".into()]);
    let d = on_duty(&r, &rules, &cal, at(&cal, "2026-12-07T09:00"));
    assert_eq!(d.agents, ["1001"]);
    assert_eq!(d.supervisors, ["lead-a"]);
    let d = on_duty(&r, &rules, &cal, at(&cal, "2026-12-07T14:00"));
    assert_eq!(d.agents, ["1001", "1002"]);
    assert_eq!(d.supervisors, ["lead-a", "lead-b"]);
    let d = on_duty(&r, &rules, &cal, at(&cal, "2026-12-07T23:00"));
    assert!(d.agents.is_empty() && d.supervisors.is_empty());
}

#[test]
fn a_simulated_month_runs_fast() {
    let (cal, r) = two_shifts();
    let mut f = Floor::new(cal.clone(), DutyRules::default());
    let start = at(&cal, "2026-12-01T00:00");
    let started = std::time::Instant::now();
    let mut events = Vec::new();
    for d in 0..30 {
        let base = start + d * 24 * H;
        for (ag, on, off) in [("1001", 8, 15), ("1002", 13, 20)] {
            let e = reg(base + on * H - 2 * M, ag);
            f.observe(&r, &e);
            events.push(e);
            let e = unreg(base + off * H + 2 * M, ag);
            f.observe(&r, &e);
            events.push(e);
        }
        let mut t = base;
        while t < base + 24 * H {
            f.tick(&r, t);
            t += 5 * M;
        }
    }
    let now = start + 30 * 24 * H;
    let duties = r.between(&cal, start, now).unwrap();
    let att = attendance(
        &duties,
        &events,
        Grace {
            late_ms: 5 * M,
            early_ms: 5 * M,
        },
        now,
    );
    assert_eq!(att.scheduled, 60);
    assert_eq!(att.attendance_rate, Some(1.0));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_scripted_day_charges_each_missed_call_to_the_people_on_duty() {
    use report::{charge, per_person, Missed};
    let (cal, r) = two_shifts();
    let mut rules = DutyRules::default();
    rules
        .supervisors
        .insert("day".into(), vec!["lead-a".into()]);
    rules
        .supervisors
        .insert("late".into(), vec!["lead-b".into()]);
    let missed = |id: &str, hm: &str| Missed {
        call_id: id.into(),
        arrived_ms: at(&cal, &format!("2026-12-07T{hm}")),
        caller: "13800000000".into(),
        outcome: "abandoned".into(),
    };
    // 09:10 day only, 14:30 both shifts, 19:59 late only, 22:00 nobody
    let calls = [
        missed("c1", "09:10"),
        missed("c2", "14:30"),
        missed("c3", "19:59"),
        missed("c4", "22:00"),
    ];
    let charged = charge(&r, &rules, &cal, &calls);
    let who: Vec<(Vec<String>, Vec<String>)> = charged
        .iter()
        .map(|c| (c.on_duty.agents.clone(), c.on_duty.supervisors.clone()))
        .collect();
    assert_eq!(
        who,
        [
            (vec!["1001".to_string()], vec!["lead-a".to_string()]),
            (
                vec!["1001".to_string(), "1002".to_string()],
                vec!["lead-a".to_string(), "lead-b".to_string()]
            ),
            (vec!["1002".to_string()], vec!["lead-b".to_string()]),
            (vec![], vec![]),
        ]
    );
    let n = per_person(&charged);
    assert_eq!(n.get("1001"), Some(&2));
    assert_eq!(n.get("1002"), Some(&2));
    assert_eq!(n.get("lead-a"), Some(&2));
    assert_eq!(n.get("lead-b"), Some(&2));
    // the rendered section names them, and attendance per shift
    let (from, _) = cal.day_bounds(jiff::civil::date(2026, 12, 7)).unwrap();
    let duties = r.between(&cal, from, from + 24 * H).unwrap();
    let events = vec![reg(at(&cal, "2026-12-07T07:59"), "1001")];
    let att = attendance(
        &duties,
        &events,
        Grace {
            late_ms: 5 * M,
            early_ms: 5 * M,
        },
        from + 24 * H,
    );
    let handovers = vec![report::HandoverRow {
        shift: "day".into(),
        date: "2026-12-07".into(),
        written_by: "1001".into(),
        written_ms: at(&cal, "2026-12-07T14:55"),
        acknowledged_by: Some("1002".into()),
        acknowledged_ms: Some(at(&cal, "2026-12-07T15:01")),
        items: 3,
    }];
    let text = report::csv(&cal, &charged, &att, &handovers, from + 24 * H);
    assert!(
        text.contains("c2,2026-12-07 14:30,13800000000,abandoned,day late,1001 1002,lead-a lead-b"),
        "{text}"
    );
    assert!(
        text.contains("c4,2026-12-07 22:00,13800000000,abandoned,,,"),
        "{text}"
    );
    assert!(
        text.contains("day,2026-12-07,1,1,0,0,0,1.000,1.000"),
        "{text}"
    );
    assert!(
        text.contains("late,2026-12-07,1,0,0,1,0,0.000,0.000"),
        "{text}"
    );
    // the day shift's handover is listed, the late shift's is missing
    assert!(
        text.contains("day,2026-12-07,1001,2026-12-07 14:55,1002,2026-12-07 15:01,3"),
        "{text}"
    );
    assert!(text.contains("late,2026-12-07,missing,,,,"), "{text}");
    let page = report::html(&cal, &charged, &att, &handovers, from + 24 * H);
    assert!(page.contains("<td>1001 1002</td>") && page.starts_with("<section"));
}
