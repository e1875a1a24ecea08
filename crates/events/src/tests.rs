use super::*;
use std::net::IpAddr;

fn failed() -> Event {
    let mut e = Event::new(
        1_765_349_748_000,
        "/var/log/auth.log",
        EventData::SshFailed(SshFailed {
            user: "root".into(),
            src_ip: "192.0.2.10".parse().unwrap(),
            src_port: 38926,
            method: "password".into(),
            invalid_user: false,
        }),
    );
    e.id = 7;
    e.host = "web-1".into();
    e
}

#[test]
fn json_is_flat_and_tagged_by_kind() {
    let json = serde_json::to_string(&failed()).unwrap();
    assert_eq!(
        json,
        r#"{"id":7,"host_time_ms":1765349748000,"host":"web-1","source":"/var/log/auth.log","kind":"auth.ssh_failed","user":"root","src_ip":"192.0.2.10","src_port":38926,"method":"password","invalid_user":false}"#
    );
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, failed());
}

#[test]
fn unknown_kind_is_rejected() {
    let json = r#"{"id":1,"host_time_ms":0,"source":"x","kind":"auth.nope"}"#;
    assert!(serde_json::from_str::<Event>(json).is_err());
}

#[test]
fn fields_by_canonical_name_and_alias() {
    let e = failed();
    let ip: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(e.field("SourceIp"), Some(FieldValue::Ip(ip)));
    assert_eq!(e.field("src_ip"), Some(FieldValue::Ip(ip)));
    assert_eq!(e.field("sourceip"), Some(FieldValue::Ip(ip)));
    assert_eq!(e.field("User"), Some(FieldValue::Str("root")));
    assert_eq!(e.field("SourcePort"), Some(FieldValue::Int(38926)));
    assert_eq!(e.field("kind"), Some(FieldValue::Str("auth.ssh_failed")));
    assert_eq!(e.field("Computer"), Some(FieldValue::Str("web-1")));
    assert_eq!(e.field("InvalidUser"), Some(FieldValue::Bool(false)));
    // A field this kind does not have, and a name no kind has.
    assert_eq!(e.field("TargetUser"), None);
    assert_eq!(e.field("Image"), None);
    assert_eq!(e.field("Message"), None);
}

#[test]
fn every_kind_index_matches_its_name() {
    let e = failed();
    assert_eq!(KIND_NAMES[e.data.kind_index()], "auth.ssh_failed");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["kind"], e.kind());
}

#[test]
fn every_field_name_resolves_to_itself() {
    for (field, names) in FIELD_NAMES {
        assert_eq!(field.name(), names[0]);
        for n in *names {
            assert_eq!(Field::from_name(n), Some(*field), "{n}");
        }
    }
}

#[test]
fn raw_is_cut_at_a_char_boundary() {
    let mut e = failed();
    let line = "é".repeat(MAX_RAW_BYTES); // 2 bytes each
    e.set_raw(&line);
    let raw = e.raw.unwrap();
    assert_eq!(raw.len(), MAX_RAW_BYTES);
    let odd = format!("a{line}");
    let mut e = failed();
    e.set_raw(&odd);
    assert_eq!(e.raw.unwrap().len(), MAX_RAW_BYTES - 1);
}

#[test]
fn text_of_non_string_values_needs_no_allocation() {
    let mut buf = TextBuf::default();
    let v = FieldValue::Ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap());
    assert_eq!(
        v.as_text(&mut buf),
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    for ip in ["0.0.0.0", "9.10.99.100", "192.0.2.255", "255.255.255.255"] {
        let v = FieldValue::Ip(ip.parse().unwrap());
        assert_eq!(v.as_text(&mut buf), ip);
    }
    let v = FieldValue::Int(-42);
    assert_eq!(v.as_text(&mut buf), "-42");
    let v = FieldValue::Bool(true);
    assert_eq!(v.as_text(&mut buf), "true");
}
