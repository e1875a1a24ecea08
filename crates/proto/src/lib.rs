//! The wire contract between `ward-agent` and `ward-server`.
//!
//! This crate owns every byte that crosses the network between an agent and
//! the server, and nothing else: no sockets, no TLS, no storage.
//!
//! # Transport (wire version 1)
//!
//! * Everything runs over the server's single HTTPS port (TLS 1.2/1.3). The
//!   agent pins the server's public key (SHA-256 of the SubjectPublicKeyInfo,
//!   written `sha256//BASE64` as curl's `--pinnedpubkey` does).
//! * **Enrollment** is one `POST` [`ENROLL_PATH`] with an [`EnrollRequest`]
//!   JSON body. The answer is an [`EnrollResponse`] (HTTP 200) or an
//!   [`ApiError`] body with a 4xx status.
//! * **The session** is a WebSocket opened with `GET` [`SESSION_PATH`],
//!   carrying `Authorization: Bearer <credential>` (see [`Credential`]) and
//!   the header [`WIRE_VERSION_HEADER`]. Every WebSocket message is one UTF-8
//!   **text** frame holding one JSON object: an [`AgentMsg`] from the agent or
//!   a [`ServerMsg`] from the server, tagged by its `"type"` field.
//! * A frame larger than [`MAX_FRAME_BYTES`], a binary frame, malformed JSON
//!   or an unknown `"type"` is a protocol error: the receiver sends
//!   [`ServerMsg::Error`] (server side) and closes that session. Unknown
//!   *fields* are ignored, so fields can be added without a version bump;
//!   removing or changing a field bumps [`WIRE_VERSION`].
//!
//! # Session flow
//!
//! ```text
//! agent                                   server
//!   | -- Hello{wire_version, fingerprint} -> |  (credential checked at upgrade)
//!   | <- Welcome{agent_id, policy, time} --- |
//!   | -- Report{HostReport} ---------------> |  at start, on change, every report_interval
//!   | -- Keepalive{seq} -------------------> |  every policy.keepalive_secs
//!   | <- KeepaliveAck{seq} ----------------- |
//!   | <- Policy{policy} -------------------- |  whenever an operator changes it
//!   | -- Events{events} -------------------> |  host events from the agent's disk spool
//!   | <- EventsAck{up_to} ------------------ |  all events with id <= up_to are stored
//!   | -- SpoolStats{depth, dropped_total} -> |  spool health, with keepalives
//! ```
//!
//! # Events and acknowledgement
//!
//! Event ids are a per-agent sequence that only grows (it survives agent
//! restarts: the spool keeps it). An `Events` batch carries events in
//! increasing id order, at most [`MAX_EVENTS_PER_BATCH`] of them and within
//! [`MAX_FRAME_BYTES`]. The server answers `EventsAck{up_to}` only after the
//! events are durably stored; the ack is cumulative. The agent deletes spooled
//! events only once acknowledged and re-sends unacknowledged ones after a
//! reconnect; the server drops events whose id is not above the highest id it
//! already stored for that asset, so each event is stored exactly once.
//!
//! # Agent lifecycle (updater and guardian)
//!
//! Plain HTTPS requests on the same port, authenticated with the agent
//! credential (`Authorization: Bearer wa1.…`) like the session upgrade:
//!
//! * `GET` [`RELEASE_PATH`] → [`ReleaseOffer`]: the signed release metadata
//!   (an envelope of the `ward-release` crate), the version the server's
//!   rollout chose for this agent, and the release public key.
//! * `GET /download/release/<version>/<platform>/<file>` (public, like the
//!   installer's `/download/agent/<platform>`): a release file; its SHA-256
//!   and size are in the signed metadata, not trusted from the transport.
//! * `POST` [`LIFECYCLE_PATH`] with a [`LifecycleReport`] → 204: what the
//!   updater or the guardian did (update installed, rolled back, refused,
//!   failed; crash loop; resource cap). The server stores it on the asset of
//!   the credential.
//!
//! The release public key reaches an agent first in [`EnrollResponse`]
//! (`release_key`), over the pinned TLS; an install that kept its identity
//! (a repair) gets it from [`ReleaseOffer::release_key`] over the same
//! pinned, authenticated channel. The updater never replaces a key it
//! already trusts.
//!
//! # Lifecycle: commands, tamper protection, cloned hosts
//!
//! Additive messages of version 1 (see [`lifecycle`]), sent by the server
//! only to agents that list the matching [`lifecycle::capability`] in
//! `Hello.capabilities`:
//!
//! ```text
//!   | <- Command{command: Signed} ---------- |  signed, bound to the agent, expiring
//!   | -- CommandResult{id, outcome, ..} ---> |  accepted | done | failed | rejected
//!   | <- Protection{statement: Signed} ----- |  tamper protection on/off, after Welcome and on change
//!   | -- Notice{notice} -------------------> |  tamper attempts (also POST NOTICE_PATH)
//!   | <- NoticeAck{id} --------------------- |
//!   | <- Reidentify{agent_id, credential} -- |  instead of Welcome: this install is a copy
//! ```
//!
//! `Reidentify` answers a `Hello` whose fingerprint is not the one the
//! identity was enrolled with, or a second live session of the identity
//! from another agent process that keeps coming back: the copy receives a
//! new identity of its own (a new asset), saves it and reconnects with it.

pub mod lifecycle;
mod updates;

pub use updates::{LifecycleKind, LifecycleReport, ReleaseOffer, MAX_LIFECYCLE_MESSAGE};

pub use lifecycle::{
    AgentNotice, CommandKind, CommandOutcome, CommandPayload, LocalAction, NoticeKind,
    ProtectionPayload, Signed, UninstallTokenPayload,
};

use serde::{Deserialize, Serialize};

/// Version of the wire contract described in this crate.
pub const WIRE_VERSION: u16 = 1;
/// HTTP header the agent sends on the session upgrade with its wire version.
pub const WIRE_VERSION_HEADER: &str = "x-ward-wire-version";
/// WebSocket endpoint for agent sessions.
pub const SESSION_PATH: &str = "/api/v1/agent/session";
/// Enrollment endpoint: a verification key is exchanged for an agent identity.
pub const ENROLL_PATH: &str = "/api/v1/agent/enroll";
/// Release offer for the authenticated agent (`GET`).
pub const RELEASE_PATH: &str = "/api/v1/agent/release";
/// Lifecycle reports of the authenticated agent (`POST`).
pub const LIFECYCLE_PATH: &str = "/api/v1/agent/lifecycle";
/// Prefix of release file downloads: `<prefix><version>/<platform>/<file>`.
pub const RELEASE_DOWNLOAD_PREFIX: &str = "/download/release/";
/// Largest frame either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// Most events one `Events` frame may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;

/// Intervals the server pushes to agents. Server settings, never agent-local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Seconds between two keepalives (default 30).
    pub keepalive_secs: u32,
    /// Missed keepalives after which an asset is declared offline (default 3).
    pub missed_keepalives: u32,
    /// Seconds between two full host reports (default 5 h, the seed's interval).
    pub report_interval_secs: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keepalive_secs: 30,
            missed_keepalives: 3,
            report_interval_secs: 5 * 60 * 60,
        }
    }
}

impl Policy {
    /// Milliseconds of silence after which an asset is offline.
    pub fn offline_after_ms(&self) -> i64 {
        i64::from(self.keepalive_secs) * i64::from(self.missed_keepalives) * 1000
    }

    /// Checks the values are usable; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.keepalive_secs == 0 || self.keepalive_secs > 3600 {
            return Err(format!(
                "keepalive_secs must be between 1 and 3600, got {}",
                self.keepalive_secs
            ));
        }
        if self.missed_keepalives == 0 || self.missed_keepalives > 100 {
            return Err(format!(
                "missed_keepalives must be between 1 and 100, got {}",
                self.missed_keepalives
            ));
        }
        if self.report_interval_secs < 10 {
            return Err(format!(
                "report_interval_secs must be at least 10, got {}",
                self.report_interval_secs
            ));
        }
        Ok(())
    }
}

/// The "online data" of a host: what the console shows about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    pub hostname: String,
    /// Pretty OS name, e.g. `Debian GNU/Linux 12 (bookworm)`.
    pub os: String,
    pub kernel: String,
    /// CPU architecture, e.g. `x86_64`.
    pub arch: String,
    /// Non-loopback addresses of the host.
    pub ips: Vec<String>,
    pub agent_version: String,
    /// Agent process CPU use, percent of one core, averaged since last report.
    pub agent_cpu_percent: f32,
    /// Agent process resident set size in bytes.
    pub agent_rss_bytes: u64,
    /// Host uptime in seconds.
    pub uptime_secs: u64,
}

impl HostReport {
    /// True when two reports differ in something other than the agent's own
    /// resource use and the uptime (which change all the time).
    pub fn differs_materially(&self, other: &HostReport) -> bool {
        self.hostname != other.hostname
            || self.os != other.os
            || self.kernel != other.kernel
            || self.arch != other.arch
            || self.ips != other.ips
            || self.agent_version != other.agent_version
    }
}

/// Messages from agent to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMsg {
    /// First message of a session.
    Hello {
        wire_version: u16,
        agent_version: String,
        /// Host fingerprint the identity is bound to.
        fingerprint: String,
        /// Last error the agent hit while it could not reach the server, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
        /// Endpoint the agent used for this session (as configured).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Random id of this agent process (new at every start): two live
        /// sessions of one identity with different instances are two copies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        /// What this agent understands ([`lifecycle::capability`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        capabilities: Vec<String>,
    },
    /// A full host report.
    Report { report: HostReport },
    /// Liveness signal, every `policy.keepalive_secs`.
    Keepalive { seq: u64 },
    /// Host events, increasing ids, at most [`MAX_EVENTS_PER_BATCH`].
    Events { events: Vec<ward_events::Event> },
    /// Spool health: events waiting, and events dropped because the spool was
    /// full (a counter since the spool was created; never decreases).
    SpoolStats { depth: u64, dropped_total: u64 },
    /// The agent's answer to a [`ServerMsg::Command`].
    CommandResult {
        id: String,
        outcome: CommandOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Something the agent tells the server (tamper attempts); acknowledged
    /// with [`ServerMsg::NoticeAck`].
    Notice { notice: AgentNotice },
}

/// Messages from server to agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to [`AgentMsg::Hello`].
    Welcome {
        agent_id: String,
        policy: Policy,
        /// Server clock, Unix milliseconds (agents use it to measure skew).
        server_time_ms: i64,
        /// Public half of the command-signing key (standard base64, 32 bytes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command_key: Option<String>,
    },
    /// New intervals; replaces the previous policy at once.
    Policy { policy: Policy },
    /// Acknowledges a keepalive.
    KeepaliveAck { seq: u64 },
    /// Every event of this agent with `id <= up_to` is durably stored.
    EventsAck { up_to: u64 },
    /// The server is closing the session because of this error.
    Error { code: ErrorCode, message: String },
    /// A signed command ([`CommandPayload`]).
    Command { command: Signed },
    /// The signed tamper-protection statement ([`ProtectionPayload`]).
    Protection { statement: Signed },
    /// Instead of `Welcome`: this install is a copy of the identity's host;
    /// here is its own new identity. The server closes the session after it.
    Reidentify {
        agent_id: String,
        credential: String,
        /// Why, for the agent's log.
        reason: String,
    },
    /// The notice with this id is stored.
    NoticeAck { id: String },
}

/// Stable machine-readable error codes, shared by the session and the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The verification key is not known.
    KeyUnknown,
    /// The verification key was revoked.
    KeyRevoked,
    /// Missing or wrong agent credential / API token.
    Unauthorized,
    /// The asset was uninstalled; its credential no longer works.
    AssetUninstalled,
    /// The agent speaks a wire version the server does not.
    UnsupportedVersion,
    /// Malformed, unexpected or oversized frame.
    Protocol,
    /// The request is invalid (bad parameter, bad body).
    BadRequest,
    /// No such object.
    NotFound,
    /// Too many requests.
    RateLimited,
    /// Another session with this identity took over.
    Superseded,
    /// The agent has no session now; the command cannot be delivered.
    AgentOffline,
    /// The request conflicts with the object's state.
    Conflict,
    /// Something failed inside the server; details are in the server log only.
    Internal,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::KeyUnknown => "key_unknown",
            ErrorCode::KeyRevoked => "key_revoked",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::AssetUninstalled => "asset_uninstalled",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Protocol => "protocol",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Superseded => "superseded",
            ErrorCode::AgentOffline => "agent_offline",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Error body of every REST answer that is not 2xx: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            error: ApiErrorBody {
                code,
                message: message.into(),
            },
        }
    }
}

/// `POST /api/v1/agent/enroll` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The verification key printed by `ward-server keys` / the console.
    pub key: String,
    /// Host fingerprint the new identity will be bound to.
    pub fingerprint: String,
    pub agent_version: String,
    /// Platform name, e.g. `linux-x86_64`.
    pub platform: String,
    pub report: HostReport,
}

/// Successful enrollment: the agent's own identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: String,
    /// Secret credential, shown once; the server keeps only its hash.
    pub credential: String,
    pub policy: Policy,
    /// The server's release public key (standard base64 ed25519) the
    /// updater verifies release metadata with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_key: Option<String>,
    /// Public half of the command-signing key (standard base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_key: Option<String>,
}

/// An agent credential: `wa1.<agent_id>.<secret>`.
///
/// The agent id is inside the credential so the server can find the stored
/// hash without a scan; the server never trusts an agent id from anywhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub agent_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Credential")
            .field("agent_id", &self.agent_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credential {
    const PREFIX: &'static str = "wa1";

    /// Parses `wa1.<agent_id>.<secret>`.
    pub fn parse(s: &str) -> Result<Credential, ProtoError> {
        let mut parts = s.trim().splitn(3, '.');
        let (Some(prefix), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ProtoError::BadCredential);
        };
        let ok_chars = |v: &str| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if prefix != Self::PREFIX || !ok_chars(id) || !ok_chars(secret) {
            return Err(ProtoError::BadCredential);
        }
        Ok(Credential {
            agent_id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The string form, `wa1.<agent_id>.<secret>`.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", Self::PREFIX, self.agent_id, self.secret)
    }
}

/// Errors decoding wire data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("frame of {size} bytes exceeds the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("malformed credential")]
    BadCredential,
}

fn decode<T: for<'de> Deserialize<'de>>(frame: &str) -> Result<T, ProtoError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(ProtoError::TooLarge {
            size: frame.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    serde_json::from_str(frame).map_err(|e| ProtoError::Malformed(e.to_string()))
}

fn encode<T: Serialize>(msg: &T) -> String {
    // Serializing these plain data types cannot fail: no maps with non-string
    // keys, no custom Serialize impls that error.
    serde_json::to_string(msg).unwrap_or_else(|_| String::from("{}"))
}

impl AgentMsg {
    pub fn decode(frame: &str) -> Result<AgentMsg, ProtoError> {
        decode(frame)
    }
    pub fn encode(&self) -> String {
        encode(self)
    }
}

impl ServerMsg {
    pub fn decode(frame: &str) -> Result<ServerMsg, ProtoError> {
        decode(frame)
    }
    pub fn encode(&self) -> String {
        encode(self)
    }
}

/// Platforms an agent package exists for, as named in install commands.
pub const PLATFORMS: &[&str] = &["linux-x86_64", "linux-i686", "linux-aarch64"];

/// The platform name of the running binary, if it is one Ward ships.
pub fn current_platform() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("linux-x86_64"),
        ("linux", "x86") => Some("linux-i686"),
        ("linux", "aarch64") => Some("linux-aarch64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod event_tests {
    use super::*;

    #[test]
    fn events_frame_matches_the_documented_shape() {
        // Written by hand from the contract: a flat event object tagged by "kind".
        let frame = r#"{"type":"events","events":[{"id":7,"host_time_ms":1765349748000,"source":"/var/log/auth.log","kind":"auth.ssh_failed","user":"root","src_ip":"192.0.2.10","src_port":38926,"method":"password","invalid_user":false}]}"#;
        let AgentMsg::Events { events } = AgentMsg::decode(frame).expect("decodes") else {
            panic!("not an events frame");
        };
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, 7);
        assert_eq!(events[0].source, "/var/log/auth.log");
        let again = AgentMsg::Events { events }.encode();
        assert_eq!(AgentMsg::decode(&again).ok(), AgentMsg::decode(frame).ok());
    }

    #[test]
    fn ack_and_spool_stats_wire_form() {
        assert_eq!(
            ServerMsg::EventsAck { up_to: 5 }.encode(),
            r#"{"type":"events_ack","up_to":5}"#
        );
        assert_eq!(
            AgentMsg::decode(r#"{"type":"spool_stats","depth":3,"dropped_total":1}"#).unwrap(),
            AgentMsg::SpoolStats {
                depth: 3,
                dropped_total: 1
            }
        );
    }
}

#[cfg(test)]
mod lifecycle_wire_tests;
