//! Alert outputs against real sockets on loopback: a webhook receiver that
//! fails the first attempts, and syslog collectors over UDP and TCP whose
//! messages are checked against the RFC 5424 header grammar.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use ward_server_core::detect::settings::{
    OutputSettings, SecretHeader, SyslogSettings, SyslogTransport, WebhookSettings,
};
use ward_server_core::detect::view::AlertView;
use ward_server_core::outputs::{OutputStats, Outputs, Tuning};

fn alert(id: i64, severity: &'static str) -> AlertView {
    let mut group = BTreeMap::new();
    group.insert("SourceIp".to_string(), "192.0.2.7".to_string());
    AlertView {
        id,
        rule_id: "ward-login-001".into(),
        rule_title: "SSH brute force from one source".into(),
        author: Some("Ward".into()),
        severity,
        technique: Some("T1110.001".into()),
        asset_id: "as_1".into(),
        hostname: Some("web-1".into()),
        group_key: "SourceIp=192.0.2.7".into(),
        group,
        first_at: "2026-01-01T00:00:00.000Z".into(),
        last_at: "2026-01-01T00:01:00.000Z".into(),
        evidence: vec![1, 2, 3],
        state: "unhandled",
        state_at: "2026-01-01T00:01:00.000Z".into(),
        created_at: "2026-01-01T00:01:00.000Z".into(),
        repeats: 0,
    }
}

fn fast() -> Tuning {
    Tuning {
        queue: 16,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: 6,
        timeout: Duration::from_secs(5),
    }
}

async fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request read from a connection: (head, body).
async fn read_request(s: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before the request ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("content-length");
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    (head, buf[head_end..head_end + len].to_vec())
}

/// A request the receiver saw: head, body, arrival time.
type Request = (String, Vec<u8>, Instant);

#[tokio::test]
async fn webhook_retries_until_the_receiver_accepts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            n += 1;
            let (head, body) = read_request(&mut s).await;
            seen2.lock().unwrap().push((head, body, Instant::now()));
            // The first two attempts fail: 503, then a dropped connection.
            let reply: &[u8] = match n {
                1 => b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                2 => b"",
                _ => b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n",
            };
            let _ = s.write_all(reply).await;
            let _ = s.shutdown().await;
        }
    });
    let settings = OutputSettings {
        webhook: Some(WebhookSettings {
            url: format!("http://127.0.0.1:{port}/hooks/ward?x=1"),
            secret_header: Some(SecretHeader {
                name: "X-Ward-Token".into(),
                value: Some("s3cret".into()),
            }),
        }),
        syslog: None,
    };
    let (_tx, rx) = watch::channel(settings);
    let (_stop, shutdown) = watch::channel(false);
    let (outputs, _tasks) = Outputs::spawn(rx, fast(), shutdown);
    outputs.enqueue(alert(7, "suspicious"));
    let stats = outputs.webhook_stats.clone();
    wait("the webhook to succeed", || {
        OutputStats::get(&stats.sent) == 1
    })
    .await;
    assert_eq!(OutputStats::get(&stats.failed_attempts), 2);
    assert_eq!(OutputStats::get(&stats.given_up), 0);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "two failures, then success");
    for (head, body, _) in seen.iter() {
        let first = head.lines().next().unwrap();
        assert_eq!(first, "POST /hooks/ward?x=1 HTTP/1.1");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("x-ward-token: s3cret"), "{head}");
        assert!(lower.contains("content-type: application/json"), "{head}");
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["rule_id"], "ward-login-001");
        assert_eq!(v["group"]["SourceIp"], "192.0.2.7");
    }
    // Exponential backoff: the second gap is at least the doubled delay.
    let gap1 = seen[1].2 - seen[0].2;
    let gap2 = seen[2].2 - seen[1].2;
    assert!(gap1 >= Duration::from_millis(50), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(100), "{gap2:?}");
}

#[tokio::test]
async fn webhook_gives_up_after_max_attempts_and_never_blocks() {
    // A port with nothing listening: connection refused every time.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let settings = OutputSettings {
        webhook: Some(WebhookSettings {
            url: format!("http://127.0.0.1:{port}/"),
            secret_header: None,
        }),
        syslog: None,
    };
    let (_tx, rx) = watch::channel(settings);
    let (_stop, shutdown) = watch::channel(false);
    let tuning = Tuning {
        queue: 2,
        max_attempts: 3,
        ..fast()
    };
    let (outputs, _tasks) = Outputs::spawn(rx, tuning, shutdown);
    // Enqueueing never waits, even far beyond the queue size.
    let start = Instant::now();
    for i in 0..50 {
        outputs.enqueue(alert(i, "reminder"));
    }
    assert!(start.elapsed() < Duration::from_millis(500));
    let stats = outputs.webhook_stats.clone();
    assert!(
        OutputStats::get(&stats.dropped) >= 45,
        "the queue is bounded"
    );
    wait("the first alert to be given up", || {
        OutputStats::get(&stats.given_up) >= 1
    })
    .await;
    assert_eq!(OutputStats::get(&stats.sent), 0);
}

/// Checks `msg` against RFC 5424's header grammar and returns
/// (PRI, HOSTNAME, APP-NAME, MSGID, MSG).
fn parse_5424(msg: &str) -> (u32, String, String, String, String) {
    let rest = msg.strip_prefix('<').expect("PRI starts with <");
    let (pri, rest) = rest.split_once('>').expect("PRI ends with >");
    assert!(
        !pri.is_empty() && pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()),
        "PRI {pri:?}"
    );
    let pri: u32 = pri.parse().unwrap();
    assert!(pri <= 191);
    let mut parts = rest.splitn(8, ' ');
    let mut next = || parts.next().expect("header field").to_string();
    let (version, ts, host, app, procid, msgid, sd, body) = (
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    assert_eq!(version, "1");
    // TIMESTAMP: FULL-DATE "T" FULL-TIME, here UTC with fractional seconds.
    let b = ts.as_bytes();
    assert!(ts.len() >= 20 && ts.ends_with('Z'), "{ts}");
    assert!(b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':');
    assert!(humantime::parse_rfc3339(&ts).is_ok(), "{ts}");
    for (field, max) in [(&host, 255), (&app, 48), (&procid, 128), (&msgid, 32)] {
        assert!(
            !field.is_empty()
                && field.len() <= max
                && field.bytes().all(|c| (33..=126).contains(&c)),
            "header field {field:?}"
        );
    }
    assert!(procid.parse::<u32>().is_ok(), "PROCID is our pid: {procid}");
    assert_eq!(sd, "-", "no structured data");
    (pri, host, app, msgid, body)
}

fn syslog_settings(target: String, transport: SyslogTransport) -> OutputSettings {
    OutputSettings {
        webhook: None,
        syslog: Some(SyslogSettings {
            target,
            transport,
            facility: 4,
        }),
    }
}

#[tokio::test]
async fn syslog_over_udp_is_rfc5424_with_a_json_payload() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = sock.local_addr().unwrap().to_string();
    let (_tx, rx) = watch::channel(syslog_settings(target, SyslogTransport::Udp));
    let (_stop, shutdown) = watch::channel(false);
    let (outputs, _tasks) = Outputs::spawn(rx, fast(), shutdown);
    outputs.enqueue(alert(1, "urgent"));
    outputs.enqueue(alert(2, "reminder"));
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..2 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("a datagram")
            .unwrap();
        got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    // Facility 4 (auth): urgent = 4*8+2 (critical), reminder = 4*8+5 (notice).
    let (pri, _, app, msgid, body) = parse_5424(&got[0]);
    assert_eq!(
        (pri, app.as_str(), msgid.as_str()),
        (34, "ward-server", "alert")
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["severity"], "urgent");
    let (pri, _, _, _, body) = parse_5424(&got[1]);
    assert_eq!(pri, 37);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"],
        2
    );
}

#[tokio::test]
async fn syslog_over_tcp_uses_octet_counting_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let (_tx, rx) = watch::channel(syslog_settings(target, SyslogTransport::Tcp));
    let (_stop, shutdown) = watch::channel(false);
    let (outputs, _tasks) = Outputs::spawn(rx, fast(), shutdown);
    for i in 1..=3 {
        outputs.enqueue(alert(i, "suspicious"));
    }
    let (mut conn, _) = listener.accept().await.unwrap();
    // Read frames "LEN SP MSG" until three messages arrived.
    let mut buf = Vec::new();
    let mut msgs = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while msgs.len() < 3 {
        assert!(Instant::now() < deadline, "frames: {msgs:?}");
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("data")
            .unwrap();
        buf.extend_from_slice(&chunk[..n]);
        while let Some(sp) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp])
                .unwrap()
                .parse()
                .expect("MSG-LEN is a decimal number");
            if buf.len() < sp + 1 + len {
                break;
            }
            msgs.push(String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap());
            buf.drain(..sp + 1 + len);
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        let (pri, _, _, _, body) = parse_5424(m);
        assert_eq!(pri, 36, "facility 4, warning");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["id"], i as i64 + 1, "in order");
    }
    // The collector goes away; the next alert arrives on a new connection.
    drop(conn);
    outputs.enqueue(alert(4, "suspicious"));
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("a reconnect")
        .unwrap();
    let mut text = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let n = conn.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            text.extend_from_slice(&chunk[..n]);
            if text.windows(8).any(|w| w == b"\"id\":4,\"") {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("\"id\":4,"), "{text}");
}
