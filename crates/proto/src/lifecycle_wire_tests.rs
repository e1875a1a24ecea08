//! Wire forms of the lifecycle messages (see the crate docs).

use super::*;

#[test]
fn lifecycle_frames_match_the_documented_shapes() {
    // Written by hand from the crate docs.
    let cmd = r#"{"type":"command","command":{"payload":"{}","signature":"c2ln"}}"#;
    let m = ServerMsg::decode(cmd).unwrap();
    assert_eq!(
        m,
        ServerMsg::Command {
            command: Signed {
                payload: "{}".into(),
                signature: "c2ln".into()
            }
        }
    );
    assert_eq!(m.encode(), cmd);
    let re = r#"{"type":"reidentify","agent_id":"ag_2","credential":"wa1.ag_2.s","reason":"copy"}"#;
    assert_eq!(ServerMsg::decode(re).unwrap().encode(), re);
    assert_eq!(
        ServerMsg::NoticeAck { id: "n1".into() }.encode(),
        r#"{"type":"notice_ack","id":"n1"}"#
    );
    let res =
        r#"{"type":"command_result","id":"cmd_1","outcome":"rejected","message":"bad signature"}"#;
    assert_eq!(
        AgentMsg::decode(res).unwrap(),
        AgentMsg::CommandResult {
            id: "cmd_1".into(),
            outcome: CommandOutcome::Rejected,
            message: Some("bad signature".into())
        }
    );
    let notice = r#"{"type":"notice","notice":{"id":"n1","kind":"tamper_attempt","action":"stop","at_ms":5,"reason":"no token","uid":0,"parent":"sh"}}"#;
    let AgentMsg::Notice { notice: n } = AgentMsg::decode(notice).unwrap() else {
        panic!("not a notice");
    };
    assert_eq!(n.action, Some(LocalAction::Stop));
    assert_eq!(n.uid, Some(0));
}

#[test]
fn hello_without_lifecycle_fields_still_decodes() {
    // What an agent of the first wire-1 release sends.
    let old = r#"{"type":"hello","wire_version":1,"agent_version":"0.1.0","fingerprint":"fp"}"#;
    let AgentMsg::Hello {
        instance,
        capabilities,
        ..
    } = AgentMsg::decode(old).unwrap()
    else {
        panic!("not a hello");
    };
    assert_eq!(instance, None);
    assert!(capabilities.is_empty());
    let welcome = r#"{"type":"welcome","agent_id":"a","policy":{"keepalive_secs":30,"missed_keepalives":3,"report_interval_secs":18000},"server_time_ms":1}"#;
    assert!(matches!(
        ServerMsg::decode(welcome).unwrap(),
        ServerMsg::Welcome {
            command_key: None,
            ..
        }
    ));
    assert_eq!(ErrorCode::AgentOffline.as_str(), "agent_offline");
}
