//! The hotline in Mandarin (issue 20), over SIP and RTP: a caller nobody
//! answers hears the shipped Chinese greeting byte for byte; a caller an
//! agent answers hears 「一零零一号客服为您服务」 before the agent's voice.

use super::*;
use hotline_media::prompt::Prompt;
use hotline_media::Codec;

fn zh(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/prompts/zh")
        .join(path)
}

/// The hotline with the shipped Mandarin prompts (greeting, language, the
/// agent's number).
fn mandarin() -> Hotline {
    Hotline::start_with(HotlineOptions {
        greeting: Some(zh("greeting.wav")),
        prompts_toml: "language = \"zh\"\nagent_number = true\n".into(),
        extra_toml: format!(
            "[announcements]\nevery_s = 0\nwords = \"{}\"\n",
            zh("announce").display()
        ),
        ..HotlineOptions::default()
    })
}

/// Where `want` starts in `heard` (within the first `slack` bytes).
fn starts_at(heard: &[u8], want: &[u8], slack: usize) -> Option<usize> {
    let probe = &want[..want.len().min(800)];
    (0..=slack.min(heard.len().saturating_sub(probe.len())))
        .find(|i| heard[*i..].starts_with(probe))
}

#[test]
fn a_caller_hears_the_chinese_greeting_and_the_agent_number() {
    need_peers();
    let h = mandarin();

    // nobody staffed: the engine answers at the third ring with 您好！请问有
    // 什么可以帮到您？ — the RTP is the shipped file, from its first sample
    let sink = RtpSink::bind();
    let out = Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("4000")
        .key("caller", "0611111111")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(3000)
        .run();
    out.assert_success("caller waits in queue");
    let heard: Vec<u8> = sink
        .packets()
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    let greeting = Prompt::load_wav("greeting", &zh("greeting.wav")).expect("the shipped greeting");
    let expected = greeting.encoded(Codec::Pcmu);
    assert!(heard.len() > 8000, "only {} bytes of greeting", heard.len());
    let n = heard.len().min(expected.len());
    assert_eq!(
        &heard[..n],
        &expected[..n],
        "the caller hears the Chinese greeting from its start"
    );

    // agent 1001 answers the next call: the caller hears the agent's number
    // (一 零 零 一 + 号客服为您服务) before the agent's tone
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn();
    let sink = RtpSink::bind();
    let out = Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("4000")
        .key("caller", "0622222222")
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(6000)
        .run();
    out.assert_success("caller talks to 1001");
    agent.wait().assert_success("agent 1001");
    let words = hotline_engine::zh::ZhWords::load(&zh("announce")).expect("the shipped words");
    let parts = words.agent("1001");
    assert_eq!(parts.len(), 5, "four digits and 号客服为您服务");
    let samples: Vec<i16> = parts
        .iter()
        .flat_map(|p| p.samples().iter().copied())
        .collect();
    let number = Prompt::from_samples("agent_number", samples);
    let expected = number.encoded(Codec::Pcmu);
    let heard: Vec<u8> = sink
        .packets()
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    // (a packet or two of the agent's tone may come before the announcement
    // takes over the bridge)
    let at = starts_at(&heard, expected, 480).unwrap_or_else(|| {
        panic!(
            "the agent's number is not at the start of what the caller heard ({} bytes)\n{}",
            heard.len(),
            h.report()
        )
    });
    let n = (heard.len() - at).min(expected.len());
    assert!(
        n + 160 >= expected.len(),
        "the announcement was cut: {n} of {} bytes",
        expected.len()
    );
    assert_eq!(&heard[at..at + n], &expected[..n], "the whole announcement");
    let cdrs = wait_cdrs(&h, 2);
    let call = cdrs
        .iter()
        .find(|c| c.agent.as_ref().map(|a| a.as_str()) == Some("1001"))
        .expect("the answered call");
    let ev = events(&h, &call.call_id);
    assert!(
        ev.iter().any(|e| matches!(&e.kind, EventKind::PromptStarted { prompt } if prompt == "agent_number:1001")),
        "{ev:#?}"
    );
}

#[test]
fn back_from_hold_is_sorry_to_keep_you_waiting_and_the_close_key_says_goodbye() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        prompts_toml: format!(
            "language = \"zh\"\nhold_resume = \"{}\"\nclosing = \"{}\"\n",
            zh("hold_resume.wav").display(),
            zh("closing.wav").display()
        ),
        ..HotlineOptions::default()
    });
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn();
    // the caller talks until the engine hangs up
    let caller = Sipp::new("caller_until_bye.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0633333333")
        .timeout(Duration::from_secs(60))
        .spawn();
    let talking = crate::call_control::wait_talking(&h, "1001");
    let call_id = CallId::from_stored(talking["call_id"].as_str().expect("call_id"));
    let post = |action: &str| {
        crate::call_control::post(&h, &format!("/api/agents/1001/call/{action}"), "")
    };
    assert_eq!(post("hold").0, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(post("resume").0, 200);
    let closing_ms = Prompt::load_wav("closing", &zh("closing.wav"))
        .expect("closing")
        .duration_ms();
    let t0 = std::time::Instant::now();
    let (s, v) = post("close");
    assert_eq!(s, 200, "{v}");
    // the caller is hung up by the engine after the phrase, not before
    caller
        .wait()
        .assert_success("the caller gets the engine's BYE");
    let took = t0.elapsed().as_millis() as u64;
    assert!(
        took + 200 >= closing_ms,
        "hung up {took} ms after the close, the phrase lasts {closing_ms} ms"
    );
    agent
        .wait()
        .assert_success("the agent's leg is hung up too");
    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(cdr.ended_by, Some(hotline_core::EndedBy::Agent), "{cdr:#?}");
    let ev = events(&h, &call_id);
    let prompts: Vec<&str> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PromptStarted { prompt } => Some(prompt.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts, ["hold_resume", "closing"], "{ev:#?}");
    // a second close: the call is gone
    assert_eq!(post("close").0, 404);
}

/// Agent `agent` (registered from its own port) answers a call from
/// `caller`; what the caller heard and the call's id.
fn answered_by(h: &Hotline, agent: &str, caller: &str) -> (Vec<u8>, CallId) {
    let port = free_udp_port();
    register(h, agent, port);
    let uas = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", agent)
        .duration_ms(0)
        .timeout(Duration::from_secs(60))
        .spawn();
    let sink = RtpSink::bind();
    let out = Sipp::new("caller_wait_greeting.xml")
        .remote(&h.addr())
        .service("4000")
        .key("caller", caller)
        .key("rtp_port", &sink.port.to_string())
        .duration_ms(6000)
        .run();
    out.assert_success(&format!("caller talks to {agent}"));
    uas.wait().assert_success(agent);
    let heard = sink
        .packets()
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    let call = wait_until(Duration::from_secs(10), || {
        cdrs(h)
            .iter()
            .any(|c| c.agent.as_ref().map(|a| a.as_str()) == Some(agent))
    });
    assert!(call, "a CDR for {agent}\n{}", h.report());
    let id = cdrs(h)
        .into_iter()
        .find(|c| c.agent.as_ref().map(|a| a.as_str()) == Some(agent))
        .map(|c| c.call_id)
        .expect("the call");
    (heard, id)
}

#[test]
fn an_agent_without_a_digit_id_is_announced_by_its_work_number_or_not_at_all() {
    need_peers();
    // zhang has `number = "12"`; li has no number: warned about, not announced
    let h = Hotline::start_with(HotlineOptions {
        greeting: Some(zh("greeting.wav")),
        prompts_toml: "language = \"zh\"\nagent_number = true\n".into(),
        extra_toml: format!(
            "[announcements]\nevery_s = 0\nwords = \"{}\"\n\n[[agents]]\nid = \"zhang\"\npassword = \"demozhang\"\nnumber = \"12\"\n\n[[agents]]\nid = \"li\"\npassword = \"demoli\"\n",
            zh("announce").display()
        ),
        ..HotlineOptions::default()
    });
    assert!(
        wait_until(Duration::from_secs(5), || h
            .stderr()
            .contains("agent `li` has no work number")),
        "the start warns about li\n{}",
        h.report()
    );
    assert!(
        !h.stderr().contains("agent `zhang` has no"),
        "{}",
        h.report()
    );
    let words = hotline_engine::zh::ZhWords::load(&zh("announce")).expect("the shipped words");
    let encoded = |parts: Vec<Prompt>| {
        let samples: Vec<i16> = parts
            .iter()
            .flat_map(|p| p.samples().iter().copied())
            .collect();
        Prompt::from_samples("x", samples)
            .encoded(Codec::Pcmu)
            .to_vec()
    };
    // zhang answers: 「一二号客服为您服务」 (yi er + 号客服为您服务)
    let (heard, call) = answered_by(&h, "zhang", "0644444444");
    let expected = encoded(words.agent("12"));
    let at = starts_at(&heard, &expected, 480).unwrap_or_else(|| {
        panic!(
            "「一二号客服为您服务」 is not what the caller heard first ({} bytes)\n{}",
            heard.len(),
            h.report()
        )
    });
    let n = (heard.len() - at).min(expected.len());
    assert!(n + 160 >= expected.len(), "cut: {n} of {}", expected.len());
    assert_eq!(&heard[at..at + n], &expected[..n]);
    let ev = events(&h, &call);
    assert!(
        ev.iter().any(|e| matches!(&e.kind, EventKind::PromptStarted { prompt } if prompt == "agent_number:zhang")),
        "{ev:#?}"
    );
    // zhang pauses; li answers the next call: no number is said
    let (s, body) = http_with(
        &h.http_addr(),
        "POST",
        "/api/agents/zhang/pause",
        &[("Authorization", "Bearer test-token")],
        r#"{"reason":"break"}"#,
    );
    assert_eq!(s, 200, "{body}");
    let (heard, call) = answered_by(&h, "li", "0655555555");
    assert!(
        heard.len() > 8000,
        "the caller heard the call: {} bytes",
        heard.len()
    );
    let words_part = encoded(vec![words.agent_number.clone()]);
    assert_eq!(
        starts_at(&heard, &words_part, heard.len()),
        None,
        "no 「号客服为您服务」 for an agent without a work number"
    );
    let ev = events(&h, &call);
    assert!(
        !ev.iter().any(|e| matches!(&e.kind, EventKind::PromptStarted { prompt } if prompt.starts_with("agent_number"))),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e.kind, EventKind::AgentAnswered { .. })),
        "li answered: {ev:#?}"
    );
}
