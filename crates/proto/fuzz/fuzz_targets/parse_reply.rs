//! Fuzz the reply parser, the typed replies and `interpret`: no input may
//! panic, and an unparseable body is never anything but `Unknown`.
//!
//! Run with `cargo fuzz run parse_reply` from `crates/proto` (nightly).
#![no_main]

use hongbao_proto::{AnyReply, Endpoint, RawXml, interpret};
use hongbao_sign::{ApiKey, Signer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(key) = ApiKey::new("192006250b4c09247ec02edce69f6a2d") else {
        return;
    };
    let signer = Signer::new(key);
    if let Ok(raw) = RawXml::parse(body) {
        for endpoint in Endpoint::ALL {
            let _ = AnyReply::from_raw(endpoint, &raw);
        }
    }
    for endpoint in Endpoint::ALL {
        let seen = interpret(endpoint, "10000098201411111234567890", 200, body, &signer);
        if seen.raw.is_none() {
            assert!(seen.outcome.is_unknown());
        }
    }
});
