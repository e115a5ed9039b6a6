//! No panic, ever: random bytes and mutated real replies through the parser,
//! the typed replies and `interpret`. Unreadable input is never `NotPaid`.

use crate::common;

use common::*;
use hongbao_proto::*;
use proptest::prelude::*;

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (name, _) in EXAMPLES {
        for n in 1..=2 {
            let path = format!(
                "{}/tests/fixtures/examples/{name}_reply_{n}.xml",
                env!("CARGO_MANIFEST_DIR")
            );
            if let Ok(body) = std::fs::read(path) {
                seeds.push(body);
            }
        }
    }
    seeds
}

fn exercise(body: &[u8]) {
    let signer = signer();
    for endpoint in Endpoint::ALL {
        let seen = interpret(endpoint, "10000098201411111234567890", 200, body, &signer);
        if seen.raw.is_none() {
            assert!(
                seen.outcome.is_unknown(),
                "unparseable body classified {:?}",
                seen.outcome
            );
        }
    }
    if let Ok(raw) = RawXml::parse(body) {
        for endpoint in Endpoint::ALL {
            let _ = AnyReply::from_raw(endpoint, &raw);
            let _ = AnyRequest::from_wire(endpoint, &raw);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippets = prop_oneof![
        Just(b"<".to_vec()),
        Just(b"]]>".to_vec()),
        Just(b"&amp;".to_vec()),
        Just(b"&#0;".to_vec()),
        Just(b"<!DOCTYPE x>".to_vec()),
        Just(b"<hblist><hbinfo>".to_vec()),
        Just(b"</xml>".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(vec![0xff, 0xc3]),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), snippets).prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 1..20usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation) {
    if body.is_empty() {
        return;
    }
    match m {
        Mutation::Flip(i, b) => {
            let i = i % body.len();
            body[i] ^= b;
        }
        Mutation::Truncate(i) => body.truncate(i % body.len()),
        Mutation::Insert(i, s) => {
            let i = i % (body.len() + 1);
            body.splice(i..i, s.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = i % body.len();
            let end = (i + n).min(body.len());
            body.drain(i..end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&body);
    }

    #[test]
    fn random_xmlish_text_never_panics(body in "<xml>(<[a-z_]{1,6}>[^<&]{0,8}</[a-z_]{1,6}>|&[a-z#0-9]{0,5};|<!\\[CDATA\\[.{0,5}\\]\\]>|<hblist>|</hblist>|<hbinfo>|</hbinfo>){0,12}</xml>") {
        exercise(body.as_bytes());
    }

    #[test]
    fn mutated_real_replies_never_panic(
        seed in 0usize..13,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut body = seeds[seed % seeds.len()].clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        exercise(&body);
    }
}
