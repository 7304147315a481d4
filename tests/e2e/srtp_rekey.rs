//! SRTP re-key and the SRTP record (issue 18): a caller written here (raw
//! SIP over UDP, SRTP from hotline-media; SIPp 3.6 has no SRTP and baresip
//! never changes its key) offers RTP/SAVP with a key, talks a second,
//! sends a re-INVITE with a new key under a new tag, talks a second more
//! under it, then sends a few packets under the old key (refused) and
//! hangs up. A SIPp agent answers on plain RTP. The recording has the
//! caller's tone over both seconds (the second only if the relay took the
//! new key); the re-INVITE's answer repeats the new tag with our same key;
//! the event log has `media_encrypted` and one `media_rekeyed` for the
//! caller's leg (a later re-INVITE repeating the key is no re-key); /metrics
//! counts the SRTP leg, the re-key and the refused packets.

use super::calls::slow_ring;
use super::*;
use hotline_media::g711::encode_ulaw_into;
use hotline_media::srtp::{SdesKey, SrtpSession};
use std::net::UdpSocket;
use std::time::Instant;

struct RawCaller {
    sip: UdpSocket,
    rtp: UdpSocket,
    to: String,
    call_id: String,
    tag: String,
    cseq: u32,
    to_tag: Option<String>,
}

impl RawCaller {
    fn new(to: &str) -> RawCaller {
        let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
        sip.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let n = std::process::id();
        RawCaller {
            sip,
            rtp,
            to: to.to_string(),
            call_id: format!("rekey-{n}@127.0.0.1"),
            tag: format!("rk{n}"),
            cseq: 0,
            to_tag: None,
        }
    }

    fn sdp(&self, key: &SdesKey) -> String {
        let port = self.rtp.local_addr().unwrap().port();
        format!(
            "v=0\r\no=- 1 {v} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/SAVP 0\r\na={}\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
            key.attribute(),
            v = self.cseq
        )
    }

    fn request(&mut self, method: &str, body: &str, cseq: Option<u32>) -> String {
        let cseq = cseq.unwrap_or_else(|| {
            self.cseq += 1;
            self.cseq
        });
        let local = self.sip.local_addr().unwrap();
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".into()
        };
        let msg = format!(
            "{method} sip:hotline@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bK-{tag}-{cseq}-{m}\r\nMax-Forwards: 70\r\nFrom: <sip:0612345678@{local}>;tag={tag}\r\nTo: <sip:hotline@{to}>{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:0612345678@{local}>\r\n{ctype}Content-Length: {len}\r\n\r\n{body}",
            to = self.to,
            tag = self.tag,
            m = method.to_lowercase(),
            cid = self.call_id,
            len = body.len()
        );
        self.sip.send_to(msg.as_bytes(), &self.to).unwrap();
        msg
    }

    /// The final answer to CSeq `cseq` (provisional ones skipped).
    fn final_answer(&mut self, cseq: u32) -> String {
        let mut buf = vec![0u8; 65536];
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            let Ok(n) = self.sip.recv(&mut buf) else {
                break;
            };
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let Some(code) = status_of(&text) else {
                continue; // a request from the hotline (none expected)
            };
            let cseq_line = header_values(&text, "CSeq");
            if code < 200 || !cseq_line.iter().any(|c| c.starts_with(&format!("{cseq} "))) {
                continue;
            }
            if let Some(t) = header_values(&text, "To")
                .first()
                .and_then(|v| v.split(";tag=").nth(1))
            {
                self.to_tag = Some(t.split(';').next().unwrap_or(t).trim().to_string());
            }
            return text;
        }
        panic!("no final answer to CSeq {cseq}");
    }

    fn ack(&mut self, cseq: u32) {
        self.request("ACK", "", Some(cseq));
    }
}

/// The hotline's `a=crypto` line and media port in an answer.
fn answer_key(msg: &str) -> (SdesKey, u16) {
    let body = msg.split("\r\n\r\n").nth(1).unwrap_or_default();
    let key = hotline_media::srtp::offered_key(body).unwrap_or_else(|| panic!("no key in\n{msg}"));
    let port = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    (key, port)
}

/// `n` 20 ms packets of the caller's 1000 Hz tone, paced, protected.
fn talk(c: &RawCaller, srtp: &mut SrtpSession, to: u16, seq: &mut u16, n: usize) {
    let pcm = sine(8000, CALLER_TONE_HZ, 0.5, 20);
    let mut payload = vec![0u8; 160];
    encode_ulaw_into(&pcm, &mut payload);
    let start = Instant::now();
    for i in 0..n {
        *seq = seq.wrapping_add(1);
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(*seq) * 160).to_be_bytes());
        p.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
        p.extend_from_slice(&payload);
        let wire = srtp.protect(&p).unwrap();
        c.rtp.send_to(&wire, ("127.0.0.1", to)).unwrap();
        let due = start + Duration::from_millis(20 * (i as u64 + 1));
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

fn metric(h: &Hotline, line_start: &str) -> u64 {
    let (status, body) = http(&h.http_addr(), "GET", "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line_start} not in /metrics:\n{body}"))
}

#[test]
fn a_caller_who_changes_its_srtp_key_in_a_re_invite_is_heard_under_both_keys() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        // keys over plain UDP: the test's own lab network
        media_toml: "srtp_allow_without_tls = true".into(),
        ..slow_ring()
    });
    let port = free_udp_port();
    register(&h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .duration_ms(0)
        .timeout(Duration::from_secs(40))
        .spawn();

    let mut c = RawCaller::new(&h.addr());
    let k1 = SdesKey::generate(1);
    let offer = c.sdp(&k1);
    c.request("INVITE", &offer, None);
    let ok = c.final_answer(1);
    assert_eq!(status_of(&ok), Some(200), "{ok}");
    c.ack(1);
    let (hk, media_port) = answer_key(&ok);
    assert!(ok.contains("RTP/SAVP"), "{ok}");
    let mut seq = 100u16;
    let mut s1 = SrtpSession::new(&k1, &hk).unwrap();
    // wait until the agent answered and the call is bridged (recording on)
    assert!(
        wait_until(Duration::from_secs(20), || all_events(&h)
            .iter()
            .any(|e| matches!(e.kind, EventKind::AgentAnswered { .. }))),
        "agent 1001 never answered\n{}\n{}",
        h.report(),
        agent.stop().report()
    );
    std::thread::sleep(Duration::from_millis(300));
    talk(&c, &mut s1, media_port, &mut seq, 50);

    // the re-INVITE with a new key under tag 2
    let mut k2 = SdesKey::generate(2);
    k2.tag = 2;
    let reoffer = c.sdp(&k2);
    c.request("INVITE", &reoffer, None);
    let ok2 = c.final_answer(2);
    assert_eq!(status_of(&ok2), Some(200), "{ok2}");
    c.ack(2);
    let (hk2, port2) = answer_key(&ok2);
    assert_eq!(port2, media_port);
    assert_eq!(hk2.tag, 2, "the answer repeats the new tag:\n{ok2}");
    assert_eq!((hk2.key, hk2.salt), (hk.key, hk.salt), "our key stays");
    // the same sender goes on (sequence and rollover) under the new key
    let mut s2 = SrtpSession::new(&k2, &hk).unwrap();
    talk(&c, &mut s2, media_port, &mut seq, 50);
    // packets under the old key after the switch: refused
    talk(&c, &mut s1, media_port, &mut seq, 5);
    // a session refresh repeating the same key is no re-key
    let refresh = c.sdp(&k2);
    c.request("INVITE", &refresh, None);
    let ok3 = c.final_answer(3);
    assert_eq!(status_of(&ok3), Some(200), "{ok3}");
    c.ack(3);
    std::thread::sleep(Duration::from_millis(200));
    c.request("BYE", "", None);
    let bye = c.final_answer(4);
    assert_eq!(status_of(&bye), Some(200), "{bye}");
    let agent = agent.wait();

    let cdr = wait_cdrs(&h, 1).remove(0);
    assert_eq!(
        cdr.agent.as_ref().map(|a| a.as_str()),
        Some("1001"),
        "{cdr:#?}\n{}\n{}",
        h.report(),
        agent.report()
    );
    let rel = cdr.recording_path.as_deref().expect("recorded");
    let wav = Wav::read(&h.recordings_dir().join(rel));
    let left = wav.channel(0);
    // about 2 s of the caller's tone: 1 s under each key
    let windows = tone_windows(&left, 8000, 100, TONES);
    let tone = windows
        .iter()
        .filter(|w| **w == Some(CALLER_TONE_HZ))
        .count();
    assert!(
        tone >= 17,
        "{tone} windows of 100 ms with the caller's tone (the second key's second lost?)\n{}",
        h.report()
    );

    let ev = events(&h, &cdr.call_id);
    let encrypted = find(&ev, |k| {
        matches!(
            k,
            EventKind::MediaEncrypted {
                side: hotline_core::Side::Caller,
                ..
            }
        )
    });
    assert!(encrypted.is_some(), "{:?}", kinds(&ev));
    if let Some(EventKind::MediaEncrypted { suite, .. }) = encrypted.map(|e| &e.kind) {
        assert_eq!(suite, "AES_CM_128_HMAC_SHA1_80");
    }
    // the caller's re-key is in the log once, its leg named (no agent)
    let rekeyed: Vec<&CallEvent> = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MediaRekeyed { .. }))
        .collect();
    assert_eq!(rekeyed.len(), 1, "{:?}", kinds(&ev));
    assert_eq!(
        rekeyed[0].kind,
        EventKind::MediaRekeyed {
            side: hotline_core::Side::Caller
        }
    );
    assert_eq!(rekeyed[0].agent, None);
    // /metrics: the leg, the re-key, the refused packets
    assert_eq!(metric(&h, "hotline_srtp_legs_total{side=\"caller\"}"), 1);
    assert_eq!(metric(&h, "hotline_srtp_rekeys_total{side=\"caller\"}"), 1);
    assert!(metric(&h, "hotline_srtp_auth_failures_total{side=\"caller\"}") >= 5);
    assert_eq!(metric(&h, "hotline_srtp_legs_total{side=\"agent\"}"), 0);
}
