//! Wire decoders of `ward-proto` on arbitrary input: agent and server frames
//! and credentials never panic, and whatever decodes re-encodes to a frame
//! that decodes to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ward_proto::{AgentMsg, Credential, ServerMsg};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = AgentMsg::decode(text) {
        assert_eq!(AgentMsg::decode(&m.encode()).ok(), Some(m));
    }
    if let Ok(m) = ServerMsg::decode(text) {
        assert_eq!(ServerMsg::decode(&m.encode()).ok(), Some(m));
    }
    if let Ok(c) = Credential::parse(text) {
        assert_eq!(Credential::parse(&c.encode()).ok(), Some(c));
    }
});
