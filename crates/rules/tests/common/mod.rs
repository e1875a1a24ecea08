//! Event builders shared by the integration tests.
#![allow(dead_code)]

use ward_events::{Event, EventData, SshAccepted, SshFailed, SuFailed, SudoFailed, SudoFailure};

pub const T0: i64 = 1_796_885_746_000; // 2026-12-10T06:55:46Z

pub fn ev(id: u64, secs: i64, host: &str, data: EventData) -> Event {
    let mut e = Event::new(T0 + secs * 1000, "test", data);
    e.id = id;
    e.host = host.to_string();
    e
}

pub fn failed(id: u64, secs: i64, host: &str, ip: &str, user: &str) -> Event {
    failed_method(id, secs, host, ip, user, "password")
}

pub fn failed_method(id: u64, secs: i64, host: &str, ip: &str, user: &str, method: &str) -> Event {
    ev(
        id,
        secs,
        host,
        EventData::SshFailed(SshFailed {
            user: user.into(),
            src_ip: ip.parse().unwrap(),
            src_port: 40000,
            method: method.into(),
            invalid_user: false,
        }),
    )
}

pub fn accepted(id: u64, secs: i64, host: &str, ip: &str, user: &str, method: &str) -> Event {
    ev(
        id,
        secs,
        host,
        EventData::SshAccepted(SshAccepted {
            user: user.into(),
            src_ip: ip.parse().unwrap(),
            src_port: 40001,
            method: method.into(),
            key: None,
        }),
    )
}

pub fn su_failed(id: u64, secs: i64, user: &str) -> Event {
    ev(
        id,
        secs,
        "h",
        EventData::SuFailed(SuFailed {
            user: user.into(),
            target_user: "root".into(),
            tty: Some("pts/0".into()),
        }),
    )
}

pub fn sudo_failed(id: u64, secs: i64, user: &str) -> Event {
    ev(
        id,
        secs,
        "h",
        EventData::SudoFailed(SudoFailed {
            user: user.into(),
            reason: SudoFailure::IncorrectPassword,
            target_user: Some("root".into()),
            tty: None,
            pwd: None,
            command: None,
        }),
    )
}
