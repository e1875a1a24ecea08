//! Enrollment and the repair probe against a real TLS server in the test.

mod support;

use support::{closed_port, TestServer};
use ward_agent_core::enroll::{enroll, EnrollError};
use ward_agent_core::http::{connect_tls, Endpoint};
use ward_agent_core::session::probe;
use ward_proto::{EnrollRequest, ErrorCode, HostReport, Policy};

fn request(key: &str) -> EnrollRequest {
    EnrollRequest {
        key: key.into(),
        fingerprint: "fp-1".into(),
        agent_version: "0.1.0".into(),
        platform: "linux-x86_64".into(),
        report: HostReport {
            hostname: "h1".into(),
            ..Default::default()
        },
    }
}

fn try_enroll(
    server: &TestServer,
    url: &str,
    pin: &str,
    key: &str,
) -> Result<ward_proto::EnrollResponse, EnrollError> {
    let ep = Endpoint::parse(url).unwrap();
    let tls = ward_pki::pin::pinned_client_config(pin).unwrap();
    server.rt.block_on(enroll(&ep, tls, &request(key)))
}

#[test]
fn a_good_key_enrolls_and_the_credential_opens_a_session() {
    let server = TestServer::start(Policy::default());
    let resp = try_enroll(&server, &server.url, &server.pin(), "good-key").unwrap();
    assert_eq!(resp.agent_id, "ag_1");
    assert!(resp.credential.starts_with("wa1.ag_1."));
    let seen = server.state.lock().unwrap().enrollments[0].clone();
    assert_eq!(seen, request("good-key"));

    let ep = Endpoint::parse(&server.url).unwrap();
    let tls = ward_pki::pin::pinned_client_config(&server.pin()).unwrap();
    let welcome = server
        .rt
        .block_on(probe(&ep, tls.clone(), &resp.credential, "fp-1"))
        .unwrap();
    assert_eq!(welcome.agent_id, "ag_1");
    assert_eq!(welcome.policy, Policy::default());

    let err = server
        .rt
        .block_on(probe(&ep, tls, "wa1.ag_1.wrong", "fp-1"))
        .unwrap_err();
    assert!(err.is_auth_rejection(), "{err}");
    assert!(err.to_string().contains("unauthorized"), "{err}");
}

#[test]
fn unknown_and_revoked_keys_are_refused_with_exit_4() {
    let server = TestServer::start(Policy::default());
    let e = try_enroll(&server, &server.url, &server.pin(), "nope").unwrap_err();
    assert!(
        matches!(
            e,
            EnrollError::Refused {
                code: ErrorCode::KeyUnknown,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), 4);
    assert!(
        e.to_string().contains("verification key is not known"),
        "{e}"
    );
    let e = try_enroll(&server, &server.url, &server.pin(), "revoked-key").unwrap_err();
    assert!(
        matches!(
            e,
            EnrollError::Refused {
                code: ErrorCode::KeyRevoked,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("revoked"), "{e}");
    assert_eq!(server.enrollments(), 0);
}

#[test]
fn wrong_pin_and_unreachable_server_exit_5_with_the_cause() {
    let server = TestServer::start(Policy::default());
    let other = support::make_cert();
    let e = try_enroll(&server, &server.url, &other.pin, "good-key").unwrap_err();
    assert_eq!(e.exit_code(), 5);
    let text = e.to_string();
    assert!(text.contains("server key does not match pin"), "{text}");
    assert!(text.contains(&server.addr.to_string()), "{text}");
    assert_eq!(
        server.enrollments(),
        0,
        "the key never reaches an unpinned server"
    );

    let port = closed_port();
    let e = try_enroll(
        &server,
        &format!("https://127.0.0.1:{port}"),
        &server.pin(),
        "good-key",
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 5);
    assert_eq!(
        e.to_string(),
        format!("connect 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn pin_mismatch_is_detectable_on_the_connect_error() {
    let server = TestServer::start(Policy::default());
    let other = support::make_cert();
    let ep = Endpoint::parse(&server.url).unwrap();
    let tls = ward_pki::pin::pinned_client_config(&other.pin).unwrap();
    let err = server.rt.block_on(connect_tls(&ep, tls)).unwrap_err();
    assert!(err.is_pin_mismatch(), "{err}");
    let tls = ward_pki::pin::pinned_client_config(&server.pin()).unwrap();
    assert!(server.rt.block_on(connect_tls(&ep, tls)).is_ok());
}
