//! The session loop's network paths against real TLS + WebSocket servers in
//! the test: failover to the next endpoint, return to the preferred one when
//! it recovers, a CONNECT proxy, a host override, and the last connection
//! error carried in the next `Hello`.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{
    fast_agent_config, make_cert, runner_params, stop_agent, wait_for, TestServer, FAST,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use ward_agent_core::config::NetworkConfig;
use ward_agent_core::net::NetOptions;
use ward_agent_core::session::{run_sessions_with, NetRuntime};
use ward_agent_core::status_file::{AgentStatus, SessionState};
use ward_proto::AgentMsg;

struct Agent {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<ward_agent_core::session::SessionsEnd>,
    status_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn status(&self) -> Option<AgentStatus> {
        AgentStatus::read(&self.status_path).ok().flatten()
    }

    fn connected_to(&self, url: &str) -> bool {
        self.status().is_some_and(|s| {
            s.session == SessionState::Connected && s.endpoint.as_deref() == Some(url)
        })
    }

    fn shutdown(self, rt: &tokio::runtime::Runtime) {
        stop_agent(rt, &self.stop, self.task);
    }
}

fn start_agent(
    rt: &tokio::runtime::Runtime,
    endpoints: &[String],
    pin: &str,
    credential: &str,
    net: NetRuntime,
) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let status_path = dir.path().join("status.json");
    let params = runner_params(
        endpoints,
        pin,
        "ag_f",
        credential,
        "fp-f",
        fast_agent_config(),
        status_path.clone(),
    );
    let (stop, rx) = watch::channel(false);
    let task = rt.spawn(run_sessions_with(params, net, rx));
    Agent {
        stop,
        task,
        status_path,
        _dir: dir,
    }
}

fn hellos(server: &TestServer) -> Vec<AgentMsg> {
    (1..=server.sessions())
        .filter_map(|n| server.messages(n).into_iter().next().map(|(_, m)| m))
        .collect()
}

/// A TCP endpoint that forwards to `target` while `up`, and otherwise
/// accepts and closes at once (the TLS handshake then fails).
async fn switchable_forwarder(target: std::net::SocketAddr, up: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            if !up.load(Ordering::SeqCst) {
                continue; // dropped: closed
            }
            tokio::spawn(async move {
                if let Ok(mut s) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                }
            });
        }
    });
    port
}

/// A minimal CONNECT proxy recording the targets it was asked for.
async fn connect_proxy(seen: Arc<Mutex<Vec<String>>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if c.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let target = text.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(text.clone());
                let Ok(mut s) = TcpStream::connect(&target).await else {
                    let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = c
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
            });
        }
    });
    port
}

#[test]
fn fails_over_then_returns_to_the_preferred_endpoint() {
    let cert = make_cert();
    let preferred = TestServer::start_with_cert(FAST, cert.clone());
    let fallback = TestServer::start_with_cert(FAST, cert.clone());
    let cred = preferred.add_agent("ag_f");
    assert_eq!(fallback.add_agent("ag_f"), cred);
    let up = Arc::new(AtomicBool::new(false));
    let port = preferred
        .rt
        .block_on(switchable_forwarder(preferred.addr, up.clone()));
    let ep1 = format!("https://127.0.0.1:{port}");
    let net = NetRuntime {
        failback_every: Some(Duration::from_millis(200)),
        ..NetRuntime::default()
    };
    let agent = start_agent(
        &preferred.rt,
        &[ep1.clone(), fallback.url.clone()],
        &cert.pin,
        &cred,
        net,
    );
    wait_for(10, "session on the fallback", || {
        agent.connected_to(&fallback.url)
    });
    assert_eq!(preferred.sessions(), 0);
    // The fallback's Hello carries why the preferred endpoint failed.
    match &hellos(&fallback)[0] {
        AgentMsg::Hello {
            endpoint,
            last_error,
            ..
        } => {
            assert_eq!(endpoint.as_deref(), Some(fallback.url.as_str()));
            let e = last_error.as_deref().unwrap_or("");
            assert!(
                e.starts_with(&format!("TLS with 127.0.0.1:{port}: ")),
                "{e}"
            );
        }
        other => panic!("first message must be hello: {other:?}"),
    }

    up.store(true, Ordering::SeqCst);
    wait_for(10, "return to the preferred endpoint", || {
        agent.connected_to(&ep1)
    });
    wait_for(5, "a session on the preferred server", || {
        preferred.sessions() == 1
    });
    match &hellos(&preferred)[0] {
        AgentMsg::Hello {
            endpoint,
            last_error,
            ..
        } => {
            assert_eq!(endpoint.as_deref(), Some(ep1.as_str()));
            assert_eq!(*last_error, None, "a failback is not an error");
        }
        other => panic!("{other:?}"),
    }
    // It stays there: no further sessions on the fallback.
    let fallback_sessions = fallback.sessions();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(fallback.sessions(), fallback_sessions);
    assert!(agent.connected_to(&ep1));
    agent.shutdown(&preferred.rt);
}

#[test]
fn proxy_and_override_paths_are_used_and_reported() {
    let server = TestServer::start(FAST);
    let cred = server.add_agent("ag_f");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pport = server.rt.block_on(connect_proxy(seen.clone()));
    // A name that cannot resolve, mapped by an override, through the proxy
    // with credentials.
    let url = format!("https://ward.test.invalid:{}", server.addr.port());
    let mut cfg = NetworkConfig {
        proxy: Some(format!("http://agent:p%40ss@127.0.0.1:{pport}")),
        ..NetworkConfig::default()
    };
    cfg.overrides
        .insert("ward.test.invalid".into(), "127.0.0.1".into());
    let options = NetOptions::from_config(&cfg).unwrap();
    let agent = start_agent(
        &server.rt,
        std::slice::from_ref(&url),
        &server.pin(),
        &cred,
        NetRuntime {
            options: options.clone(),
            ..NetRuntime::default()
        },
    );
    wait_for(10, "connected through the proxy", || {
        agent.connected_to(&url)
    });
    let st = agent.status().unwrap();
    assert_eq!(
        st.path.as_deref(),
        Some(format!("via proxy http://agent@127.0.0.1:{pport}").as_str())
    );
    assert_eq!(
        st.addr.as_deref(),
        Some(format!("127.0.0.1:{pport}").as_str())
    );
    let req = seen.lock().unwrap()[0].clone();
    // The override's address is the CONNECT target; base64("agent:p@ss").
    assert!(
        req.starts_with(&format!(
            "CONNECT 127.0.0.1:{} HTTP/1.1\r\n",
            server.addr.port()
        )),
        "{req}"
    );
    assert!(
        req.contains("Proxy-Authorization: Basic YWdlbnQ6cEBzcw==\r\n"),
        "{req}"
    );
    let text = std::fs::read_to_string(&agent.status_path).unwrap();
    assert!(!text.contains("p@ss") && !text.contains("p%40ss"), "{text}");
    agent.shutdown(&server.rt);

    // Without the proxy, the override alone.
    let agent = start_agent(
        &server.rt,
        std::slice::from_ref(&url),
        &server.pin(),
        &cred,
        NetRuntime {
            options: NetOptions {
                proxy: None,
                ..options
            },
            ..NetRuntime::default()
        },
    );
    wait_for(10, "connected via the override", || {
        agent.connected_to(&url)
    });
    assert_eq!(
        agent.status().unwrap().path.as_deref(),
        Some("via override ward.test.invalid=127.0.0.1")
    );
    agent.shutdown(&server.rt);
}
