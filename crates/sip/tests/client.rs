#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The phone's user agent against the real registrar (in-process, loopback):
//! REGISTER with digest, then OPTIONS keep-alives; and a server that stops
//! answering.

use hotline_sip::{
    AgentAccount, RegisterOutcome, SipConfig, SipServer, UserAgent, UserAgentConfig,
    OPTIONS_TIMEOUT,
};
use std::net::SocketAddr;
use std::time::Instant;

fn ua_config(server: SocketAddr) -> UserAgentConfig {
    UserAgentConfig {
        server,
        bind: "127.0.0.1:0".parse().unwrap(),
        user: "1001".into(),
        password: "secret1".into(),
        expires_s: 60,
    }
}

#[tokio::test]
async fn options_keepalive_is_answered_by_the_registrar_and_a_silent_server_times_out() {
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SipConfig::default()
    };
    let accounts = vec![AgentAccount {
        id: "1001".into(),
        password: "secret1".into(),
        algorithms: None,
        nat: false,
    }];
    let (server, _events) = SipServer::start(cfg, accounts).await.unwrap();
    let (ua, _calls) = UserAgent::start(ua_config(server.local_addr()))
        .await
        .unwrap();
    assert!(matches!(
        ua.register().await.unwrap(),
        RegisterOutcome::Registered { .. }
    ));
    for _ in 0..3 {
        assert_eq!(ua.ping().await.unwrap(), 200);
    }
    ua.shutdown();
    server.shutdown();

    // a "server" that reads and never answers
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (ua, _calls) = UserAgent::start(ua_config(silent.local_addr().unwrap()))
        .await
        .unwrap();
    let t = Instant::now();
    let e = ua.ping().await.unwrap_err().to_string();
    assert!(e.contains("no answer to OPTIONS"), "{e}");
    assert!(t.elapsed() >= OPTIONS_TIMEOUT && t.elapsed() < OPTIONS_TIMEOUT * 2);
    let mut buf = [0u8; 2048];
    let (n, _) = silent.recv_from(&mut buf).await.unwrap();
    let req = String::from_utf8_lossy(&buf[..n]);
    assert!(req.starts_with("OPTIONS sip:"), "{req}");
    ua.shutdown();
}
