//! The registrar: digest authentication, user enumeration, OPTIONS, Server header.

use super::*;

#[test]
fn agents_register_with_md5_digest_and_bad_credentials_are_refused() {
    need_peers();
    let h = Hotline::start();
    let port = free_udp_port();
    register(&h, "1001", port);

    // wrong password: 401 again (or 403), never 200
    Sipp::new("agent_register_reject.xml")
        .remote(&h.addr())
        .credentials("1002", "not-the-password")
        .run()
        .assert_success("wrong password refused");
    // the normal scenario fails with it
    Sipp::new("agent_register.xml")
        .remote(&h.addr())
        .credentials("1002", "not-the-password")
        .timeout(Duration::from_secs(5))
        .run()
        .assert_failure("wrong password must not register");

    // the registration is on record
    let registered = wait_until(Duration::from_secs(5), || {
        all_events(&h)
            .iter()
            .any(|e| matches!(&e.kind, EventKind::AgentRegistered { contact, .. } if contact.contains(&format!(":{port}"))))
    });
    assert!(registered, "no agent_registered event\n{}", h.report());

    // unregister (Expires: 0) from the same port
    Sipp::new("agent_unregister.xml")
        .remote(&h.addr())
        .port(port)
        .credentials("1001", "demo1001")
        .run()
        .assert_success("unregister");
    let unregistered = wait_until(Duration::from_secs(5), || {
        all_events(&h)
            .iter()
            .any(|e| matches!(&e.kind, EventKind::AgentUnregistered { .. }))
    });
    assert!(unregistered, "no agent_unregistered event\n{}", h.report());
}

#[test]
fn unknown_users_get_exactly_the_same_challenge_as_known_users() {
    need_peers();
    let h = Hotline::start();
    let mut prints = Vec::new();
    for user in ["1001", "9999", "admin"] {
        let out = Sipp::new("agent_register_challenge.xml")
            .remote(&h.addr())
            .credentials(user, "x")
            .run();
        out.assert_success(user);
        let got = out.received();
        assert_eq!(got.len(), 1, "{}", out.report());
        let challenge = &got[0];
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        assert!(
            challenge.contains("algorithm=MD5"),
            "MD5 is the default challenge: {challenge}"
        );
        assert!(
            !challenge.contains("SHA-256"),
            "SHA-256 is off by default: {challenge}"
        );
        prints.push(challenge_fingerprint(challenge));
    }
    assert_eq!(prints[0], prints[1], "known vs unknown user");
    assert_eq!(prints[0], prints[2], "known vs unknown user");
}

#[test]
fn options_is_answered_200_and_the_product_header_has_no_version() {
    let h = Hotline::start();
    let mut sip = RawSip::new(&h);
    let uri = format!("sip:hotline@{}", h.addr());
    let req = sip.request("OPTIONS", &uri, "", "");
    sip.send(req.as_bytes());
    let resp = sip
        .final_response(Duration::from_secs(3))
        .expect("a response to OPTIONS");
    assert_eq!(status_of(&resp), Some(200), "{resp}");
    // rsipstack labels its responses with User-Agent; either way, no version
    let product: Vec<&str> = resp
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("server:") || l.starts_with("user-agent:")
        })
        .collect();
    assert_eq!(product.len(), 1, "{resp}");
    assert!(product[0].ends_with(": hotline"), "{resp}");
    assert!(
        !resp.contains(env!("CARGO_PKG_VERSION")),
        "no version anywhere: {resp}"
    );
}

#[test]
fn sha256_can_be_enabled_per_agent_and_md5_stays_for_the_others() {
    let h = Hotline::start_with(HotlineOptions {
        extra_toml: "[[agents]]\nid = \"2001\"\npassword = \"demo2001\"\nalgorithms = [\"SHA-256\", \"MD5\"]\n".into(),
        ..HotlineOptions::default()
    });
    let mut sip = RawSip::new(&h);
    for (user, want_sha) in [("2001", true), ("1001", false)] {
        let uri = format!("sip:{}", h.addr());
        let req = sip
            .request("REGISTER", &uri, "Expires: 60\r\n", "")
            .replace(
                &format!("From: <sip:2001@{}>", sip.local()),
                &format!("From: <sip:{user}@{}>", h.addr()),
            )
            .replace(
                &format!("To: <{uri}>"),
                &format!("To: <sip:{user}@{}>", h.addr()),
            );
        sip.send(req.as_bytes());
        let resp = sip.final_response(Duration::from_secs(3)).expect("401");
        assert_eq!(status_of(&resp), Some(401), "{resp}");
        let challenges: Vec<&str> = resp
            .lines()
            .filter(|l| l.starts_with("WWW-Authenticate"))
            .collect();
        if want_sha {
            assert_eq!(challenges.len(), 2, "{resp}");
            assert!(
                challenges[0].contains("algorithm=SHA-256")
                    && challenges[1].contains("algorithm=MD5"),
                "{resp}"
            );
        } else {
            assert_eq!(challenges.len(), 1, "{resp}");
            assert!(challenges[0].contains("algorithm=MD5"), "{resp}");
        }
    }
}
