//! The softphone's status lines in Chinese for the TUI (issue 20). The phone
//! and the engine view write their lines in English (the plain `STATUS`
//! output, logs and tests read them); the TUI shows them through
//! [`zh_line`]: every line the phone, its registration, the engine link and
//! the action answers write has a Chinese template here. Values inside (a
//! number, a reason from the server) are kept as they are.

/// (English template, Chinese template); `{}` holds a value, in order.
const TEMPLATES: &[(&str, &str)] = &[
    // registration (phone.rs)
    ("registering", "注册中"),
    (
        "registered at {} (expires {} s)",
        "已注册到 {}（{} 秒后过期）",
    ),
    (
        "registered {}@{} from {} (expires {} s)",
        "已注册 {}@{}，本机 {}（{} 秒后过期）",
    ),
    (
        "registered again (expires {} s)",
        "已重新注册（{} 秒后过期）",
    ),
    ("registered (expires {} s)", "已注册（{} 秒后过期）"),
    ("registration refreshed", "注册已刷新"),
    (
        "registration failed ({}); retrying in {} s",
        "注册失败（{}）；{} 秒后重试",
    ),
    (
        "registration refused: {}; retrying in {} s",
        "注册被拒绝：{}；{} 秒后重试",
    ),
    ("refused: {}", "被拒绝：{}"),
    ("not registered: retrying", "未注册：正在重试"),
    (
        "server not answering: re-registering",
        "服务器无应答：重新注册",
    ),
    (
        "server {} not answering keep-alives ({}); registering again",
        "服务器 {} 保活无应答（{}）；重新注册",
    ),
    (
        "server {} answering keep-alives again; registering",
        "服务器 {} 恢复应答；重新注册",
    ),
    ("stopped", "已停止"),
    // the audio device
    (
        "audio device lost ({}); the call stays up, waiting for the device to come back",
        "音频设备丢失（{}）；通话保持，等待设备恢复",
    ),
    ("LOST: {} (waiting for it)", "丢失：{}（等待恢复）"),
    ("audio device back", "音频设备已恢复"),
    (
        "audio device cannot be re-opened ({}): restart hotline-phone",
        "音频设备无法重新打开（{}）：请重启 hotline-phone",
    ),
    ("GONE: {}", "已断开：{}"),
    // calls on the phone
    ("busy: refused call from {}", "忙：拒接来自 {} 的来电"),
    ("refused call from {}: {}", "拒接来自 {} 的来电：{}"),
    ("refused call from {}", "拒接来自 {} 的来电"),
    ("ringing: call from {}", "振铃：来自 {} 的来电"),
    (
        "missed call from {} (cancelled)",
        "未接来自 {} 的来电（对方已取消）",
    ),
    ("answered call from {} ({})", "已接听来自 {} 的来电（{}）"),
    ("on call with {}: {}", "与 {} 通话中：{}"),
    ("muted", "已静音"),
    ("unmuted", "已取消静音"),
    (
        "call with {} ended after {} s: {}",
        "与 {} 的通话结束，历时 {} 秒：{}",
    ),
    // the engine link (api.rs)
    ("connecting", "连接中"),
    ("following {}", "已连接 {}"),
    (
        "not connected ({}); retrying in {} s",
        "未连接（{}）；{} 秒后重试",
    ),
    // the engine's events about this agent
    ("offered a call from {}", "分配来自 {} 的来电"),
    ("on call with {}", "与 {} 通话中"),
    ("missed call ({})", "未接来电（{}）"),
    ("the caller hung up before the answer", "来电者在接听前挂断"),
    ("handle-time warning", "处理时长预警"),
    ("handle-time limit exceeded", "已超出处理时限"),
    ("call on hold", "通话保持中"),
    ("call resumed", "通话已恢复"),
    ("call type set to {}", "通话类型设为 {}"),
    ("recording paused", "录音已暂停"),
    ("recording resumed", "录音已继续"),
    ("recording", "录音中"),
    (
        "an earlier recording is played into the call",
        "正在向通话播放之前的录音",
    ),
    ("call transferred to {}", "通话已转至 {}"),
    ("call ended ({})", "通话结束（{}）"),
    ("wrap-up {} s", "话后处理 {} 秒"),
    ("paused after this call ({})", "本通话后暂停（{}）"),
    ("paused ({})", "暂停（{}）"),
    ("available again", "恢复空闲"),
    ("logged in", "已签入"),
    ("logged out", "已签出"),
];

/// The agent's actions (`ApiAction::name`), then the answer after `: `.
const ACTIONS: &[(&str, &str)] = &[
    ("pause ({})", "暂停（{}）"),
    ("unpause", "恢复"),
    ("hold", "保持"),
    ("resume", "恢复通话"),
    ("transfer to the shift leader", "转班长"),
    ("transfer to {}", "转至 {}"),
    ("call type {}", "通话类型 {}"),
    ("mark abusive", "标记辱骂"),
    ("pause recording", "暂停录音"),
    ("resume recording", "继续录音"),
    ("start recording", "开始录音"),
    ("closing phrase and hang up", "结束语并挂机"),
    ("dial {}", "外呼 {}"),
];

const ANSWERS: &[(&str, &str)] = &[
    ("sending", "发送中"),
    ("done", "完成"),
    ("failed: {}", "失败：{}"),
    ("refused as a bad request{}", "请求无效，被拒绝{}"),
    (
        "the API token was refused (401): check --api-token-file",
        "API 令牌被拒绝（401）：请检查 --api-token-file",
    ),
    (
        "not allowed (403){}: is http.api_token set on the server?",
        "不允许（403）{}：服务器是否设置了 http.api_token？",
    ),
    ("not allowed (403){}", "不允许（403）{}"),
    ("no current call", "当前没有通话"),
    ("not possible now{}", "现在无法执行{}"),
    ("the server answered {}", "服务器返回 {}"),
];

/// The values of `text` in the holes of `template`, if it has its shape.
fn matches<'a>(template: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split("{}").collect();
    let first = parts.first().copied().unwrap_or("");
    let mut rest = text.strip_prefix(first)?;
    let mut values = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last {
            // the last literal ends the text
            if !rest.ends_with(lit) {
                return None;
            }
            rest.len() - lit.len()
        } else if lit.is_empty() {
            return None;
        } else {
            rest.find(lit)?
        };
        values.push(&rest[..at]);
        rest = &rest[at + lit.len()..];
    }
    (parts.len() > 1 || rest.is_empty()).then_some(values)
}

/// `template` with `{}` replaced by `values` in order.
fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::new();
    let mut v = values.iter();
    for (i, part) in template.split("{}").enumerate() {
        if i > 0 {
            out.push_str(v.next().copied().unwrap_or(""));
        }
        out.push_str(part);
    }
    out
}

fn translate(table: &[(&str, &str)], text: &str) -> Option<String> {
    table
        .iter()
        .find_map(|(en, zh)| matches(en, text).map(|v| fill(zh, &v)))
}

/// `line` in Chinese: a status line of the phone or the engine view, or an
/// action's answer (`hold: done` → 「保持：完成」). A line with no template
/// (a server's own error text) is shown as it is.
pub fn zh_line(line: &str) -> String {
    // a call's end carries statistics after the reason: keep them as they are
    if let Some((head, stats)) = line.split_once("; rx ") {
        if let Some(t) = translate(TEMPLATES, head) {
            return format!("{t}；rx {stats}");
        }
    }
    if let Some(t) = translate(TEMPLATES, line) {
        return t;
    }
    if let Some((action, answer)) = line.split_once(": ") {
        if let Some(a) = translate(ACTIONS, action) {
            let answer = translate(ANSWERS, answer).unwrap_or_else(|| answer.to_string());
            return format!("{a}：{answer}");
        }
    }
    // an engine refusal: "<request> refused: <reason>"
    if let Some((request, reason)) = line.split_once(" refused: ") {
        return format!("{request} 被拒绝：{reason}");
    }
    line.to_string()
}

/// A call type the engine names (`complaint`) in Chinese; others as they are.
pub fn zh_call_type(t: &str) -> String {
    match t {
        "order" => "订单/预订",
        "inquiry" => "咨询",
        "complaint" => "投诉",
        "callback" => "回电",
        "reply" => "答复回电",
        "return_visit" => "回访",
        "other" => "其他",
        other => other,
    }
    .to_string()
}

/// A pause reason the engine gives (its feature codes' `meal`, `training`,
/// `meeting`, the default `break`, the auto-pause's `missed calls`) in
/// Chinese; a reason typed by the agent as it is.
pub fn zh_reason(r: &str) -> String {
    match r {
        "break" => "休息",
        "meal" => "用餐",
        "training" => "培训",
        "meeting" => "会议",
        "missed calls" => "连续未接，自动暂停",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_as_many_holes_in_both_languages() {
        for table in [TEMPLATES, ACTIONS, ANSWERS] {
            for (en, zh) in table {
                assert_eq!(en.matches("{}").count(), zh.matches("{}").count(), "{en}");
                assert!(
                    zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{zh}"
                );
            }
        }
    }

    #[test]
    fn the_phones_lines_read_in_chinese() {
        let cases = [
            ("registering", "注册中"),
            (
                "registered at 127.0.0.1:5060 (expires 600 s)",
                "已注册到 127.0.0.1:5060（600 秒后过期）",
            ),
            ("registered (expires 300 s)", "已注册（300 秒后过期）"),
            ("refused: 403 Forbidden", "被拒绝：403 Forbidden"),
            (
                "ringing: call from 0612345678",
                "振铃：来自 0612345678 的来电",
            ),
            (
                "refused call from 061: no codec",
                "拒接来自 061 的来电：no codec",
            ),
            ("refused call from 061", "拒接来自 061 的来电"),
            (
                "on call with 0612345678: 1:05",
                "与 0612345678 通话中：1:05",
            ),
            ("on call with 0612345678", "与 0612345678 通话中"),
            ("connecting", "连接中"),
            ("following 127.0.0.1:8080", "已连接 127.0.0.1:8080"),
            (
                "not connected (refused); retrying in 5 s",
                "未连接（refused）；5 秒后重试",
            ),
            ("paused (lunch)", "暂停（lunch）"),
            ("wrap-up 10 s", "话后处理 10 秒"),
            ("hold: done", "保持：完成"),
            ("pause (break): sending", "暂停（break）：发送中"),
            (
                "dial 0612345678: not possible now: busy",
                "外呼 0612345678：现在无法执行: busy",
            ),
            (
                "transfer to the shift leader: no current call",
                "转班长：当前没有通话",
            ),
            ("transfer to leaders: done", "转至 leaders：完成"),
            ("hold: the server answered 500", "保持：服务器返回 500"),
            (
                "dial 13800000000: not allowed (403): 13800000000 is not an allowed number",
                "外呼 13800000000：不允许（403）: 13800000000 is not an allowed number",
            ),
            (
                "hold: not allowed (403): is http.api_token set on the server?",
                "保持：不允许（403）：服务器是否设置了 http.api_token？",
            ),
            (
                "pause refused: minimum staffing",
                "pause 被拒绝：minimum staffing",
            ),
            (
                "call with 061 ended after 3.5 s: bye; rx 100 frames, late 0",
                "与 061 的通话结束，历时 3.5 秒：bye；rx 100 frames, late 0",
            ),
        ];
        for (en, zh) in cases {
            assert_eq!(zh_line(en), zh, "{en}");
        }
    }

    #[test]
    fn unknown_and_hostile_lines_are_shown_as_they_are() {
        for s in [
            "",
            "something new",
            "{}",
            ": ",
            "registered",
            "x: y: z",
            "🙂 refused",
        ] {
            assert_eq!(zh_line(s), s, "{s:?}");
        }
        let long = "a".repeat(100_000);
        assert_eq!(zh_line(&long), long);
        // a value that looks like a template is not expanded again
        assert_eq!(zh_line("paused ({})"), "暂停（{}）");
        assert_eq!(zh_call_type("complaint"), "投诉");
        assert_eq!(zh_call_type("vip_special"), "vip_special");
        assert_eq!(zh_reason("training"), "培训");
        assert_eq!(zh_reason("missed calls"), "连续未接，自动暂停");
        assert_eq!(zh_reason("看病"), "看病");
    }
}
