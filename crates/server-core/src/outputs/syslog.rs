//! The syslog output: RFC 5424 messages whose MSG is the alert as JSON.
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME ward-server PROCID alert - {"id":...}
//! ```
//!
//! PRI is `facility * 8 + severity`, with urgent → 2 (critical),
//! suspicious → 4 (warning), reminder → 5 (notice). TIMESTAMP is UTC with
//! milliseconds; HOSTNAME is this server's host name. Over UDP each message
//! is one datagram; over TCP messages are framed by octet counting
//! (RFC 6587 §3.4.1: `LEN SP MSG`) on one connection, reopened on error.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::{after_attempt, Next, OutputStats, Tuning};
use crate::clock::{now_ms, rfc3339};
use crate::detect::settings::{split_host_port, OutputSettings, SyslogSettings, SyslogTransport};
use crate::detect::view::AlertView;

/// APP-NAME of every message.
pub const APP_NAME: &str = "ward-server";
/// MSGID of alert messages.
pub const MSG_ID: &str = "alert";

/// Syslog severity code of an alert severity.
pub fn severity_code(severity: &str) -> u8 {
    match severity {
        "urgent" => 2,
        "suspicious" => 4,
        _ => 5,
    }
}

/// An RFC 5424 header field: printable US-ASCII without spaces, at most
/// `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// One RFC 5424 message for `alert`.
pub fn format(alert: &AlertView, facility: u8, hostname: &str, pid: u32, at_ms: i64) -> String {
    let pri = u32::from(facility.min(23)) * 8 + u32::from(severity_code(alert.severity));
    let json = serde_json::to_string(alert).unwrap_or_else(|_| "{}".into());
    format!(
        "<{pri}>1 {} {} {APP_NAME} {pid} {MSG_ID} - {json}",
        rfc3339(at_ms),
        header_field(hostname, 255),
    )
}

/// `LEN SP MSG` (RFC 6587 octet counting).
pub fn octet_frame(msg: &str) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

async fn resolve(target: &str) -> Result<SocketAddr, String> {
    let (host, port) = split_host_port(target)?;
    let mut addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("resolving {target}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("{target} resolves to no address"))
}

/// Open connections and sockets, kept between messages.
#[derive(Default)]
struct Conn {
    tcp: Option<(String, TcpStream)>,
    udp: Option<UdpSocket>,
}

impl Conn {
    async fn send(&mut self, cfg: &SyslogSettings, msg: &str) -> Result<(), String> {
        match cfg.transport {
            SyslogTransport::Udp => {
                let addr = resolve(&cfg.target).await?;
                let fresh = match &self.udp {
                    Some(s) => s
                        .local_addr()
                        .map(|l| l.is_ipv4() != addr.is_ipv4())
                        .unwrap_or(true),
                    None => true,
                };
                if fresh {
                    let bind: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    let s = UdpSocket::bind(bind)
                        .await
                        .map_err(|e| format!("UDP socket: {e}"))?;
                    self.udp = Some(s);
                }
                let Some(sock) = &self.udp else {
                    return Err("no UDP socket".into());
                };
                sock.send_to(msg.as_bytes(), addr)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("UDP send to {addr}: {e}"))
            }
            SyslogTransport::Tcp => {
                if self
                    .tcp
                    .as_ref()
                    .is_some_and(|(t, s)| *t != cfg.target || peer_closed(s))
                {
                    self.tcp = None;
                }
                if self.tcp.is_none() {
                    let addr = resolve(&cfg.target).await?;
                    let s = TcpStream::connect(addr)
                        .await
                        .map_err(|e| format!("connecting to {addr}: {e}"))?;
                    let _ = s.set_nodelay(true);
                    self.tcp = Some((cfg.target.clone(), s));
                }
                let Some((_, s)) = self.tcp.as_mut() else {
                    return Err("no TCP connection".into());
                };
                let r = s.write_all(&octet_frame(msg)).await;
                if let Err(e) = r {
                    self.tcp = None;
                    return Err(format!("TCP send to {}: {e}", cfg.target));
                }
                Ok(())
            }
        }
    }
}

/// True when a collector closed (or reset) the connection. Collectors never
/// send, so anything readable means the connection is finished; writing to
/// it would seem to succeed and lose the message.
/// (A message written just before a collector dies can still be lost: TCP
/// syslog has no acknowledgements.)
fn peer_closed(s: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; 1];
    // SAFETY: a non-blocking peek of at most 1 byte into a buffer we own, on
    // a socket this TcpStream owns and keeps open during the call. The
    // kernel is asked directly: tokio's cached readiness may not yet know
    // about a FIN that arrived.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n >= 0 {
        return true;
    }
    let e = std::io::Error::last_os_error();
    !matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

/// The worker: sends queued alerts in order, retrying failures with backoff.
pub async fn worker(
    mut rx: mpsc::Receiver<Arc<AlertView>>,
    settings: watch::Receiver<OutputSettings>,
    tuning: Tuning,
    stats: Arc<OutputStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let hostname = local_hostname();
    let pid = std::process::id();
    let mut conn = Conn::default();
    loop {
        let alert = tokio::select! {
            a = rx.recv() => match a { Some(a) => a, None => return },
            _ = shutdown.changed() => return,
        };
        let mut attempt = 1;
        loop {
            let Some(cfg) = settings.borrow().syslog.clone() else {
                break;
            };
            let msg = format(&alert, cfg.facility, &hostname, pid, now_ms());
            let result = match tokio::time::timeout(tuning.timeout, conn.send(&cfg, &msg)).await {
                Ok(r) => r,
                Err(_) => {
                    conn.tcp = None;
                    Err("timed out".to_string())
                }
            };
            let next = after_attempt(
                "syslog",
                alert.id,
                &mut attempt,
                result,
                &tuning,
                &stats,
                &mut shutdown,
            );
            match next.await {
                Next::Retry => {}
                Next::Done => break,
                Next::Stop => return,
            }
        }
    }
}
