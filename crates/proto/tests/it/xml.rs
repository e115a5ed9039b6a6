//! The XML writer and reader: exact round trips, attacks refused, tolerance.

use crate::common;

use std::collections::BTreeMap;

use hongbao_proto::*;
use proptest::prelude::*;

fn parse(s: &str) -> Result<RawXml, XmlError> {
    RawXml::parse(s.as_bytes())
}

/// A second, independent conforming reader.
fn roxml_fields(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).expect("utf8");
    let doc = roxmltree::Document::parse(text).expect("roxmltree parses our body");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "xml");
    root.children()
        .filter(|n| n.is_element())
        .map(|n| {
            let value: String = n
                .children()
                .filter(|c| c.is_text())
                .map(|c| c.text().unwrap_or_default())
                .collect();
            (n.tag_name().name().to_owned(), value)
        })
        .collect()
}

fn ours(body: &[u8]) -> Vec<(String, String)> {
    RawXml::parse(body)
        .expect("our reader parses our body")
        .fields()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn cdata_terminator_is_split() {
    let body = write_document(&[("remark", "a]]>b <c> d & e")], None);
    let text = String::from_utf8(body.clone()).expect("utf8");
    assert!(
        text.contains("<remark><![CDATA[a]]]]><![CDATA[>b <c> d & e]]></remark>"),
        "{text}"
    );
    assert_eq!(
        ours(&body),
        vec![("remark".into(), "a]]>b <c> d & e".into())]
    );
    assert_eq!(roxml_fields(&body), ours(&body));
}

#[test]
fn carriage_return_is_a_character_reference() {
    for value in ["a\rb", "a\r\nb", "\r", "x & y\r\n<z>]]>"] {
        let body = write_document(&[("remark", value)], None);
        let text = String::from_utf8(body.clone()).expect("utf8");
        assert!(!text.contains('\r'), "literal CR written: {text:?}");
        assert!(text.contains("&#13;"));
        assert_eq!(ours(&body), vec![("remark".into(), value.into())]);
        assert_eq!(roxml_fields(&body), ours(&body));
    }
}

#[test]
fn plain_ascii_is_plain_text_and_others_cdata() {
    let body = write_document(
        &[
            ("a", "abc-123_x.y"),
            ("b", "汉字"),
            ("c", "tab\there"),
            ("d", ""),
        ],
        None,
    );
    let text = String::from_utf8(body).expect("utf8");
    assert!(text.contains("<a>abc-123_x.y</a>"));
    assert!(text.contains("<b><![CDATA[汉字]]></b>"));
    assert!(text.contains("<c><![CDATA[tab\there]]></c>"));
    assert!(text.contains("<d></d>"));
}

#[test]
fn buffer_is_sized_exactly() {
    let fields = [
        ("remark", "a]]>b]]>"),
        ("x", "\r\n&<>"),
        ("y", "中文"),
        ("z", "plain"),
    ];
    let records = Records::hblist(vec![vec![("openid", "o1"), ("amount", "100")]]);
    let body = write_document(&fields, Some(&records));
    assert_eq!(body.capacity(), body.len());
}

#[test]
fn records_round_trip() {
    let records = Records::hblist(vec![
        vec![("openid", "o1"), ("amount", "100")],
        vec![
            ("openid", "o2"),
            ("amount", "905"),
            ("rcv_time", "2024-02-10 20:07:52"),
        ],
    ]);
    let body = write_document(&[("return_code", "SUCCESS")], Some(&records));
    let raw = RawXml::parse(&body).expect("parses");
    assert_eq!(raw.records().len(), 2);
    assert_eq!(
        raw.records()[1][2],
        ("rcv_time".to_owned(), "2024-02-10 20:07:52".to_owned())
    );
    assert_eq!(raw.get("return_code"), Some("SUCCESS"));
    assert!(raw.get("hblist").is_none());
}

#[test]
fn one_record_is_still_a_list() {
    let raw = parse("<xml><status>SENT</status><hblist><hbinfo><openid>o</openid><amount>1</amount></hbinfo></hblist></xml>")
        .expect("parses");
    assert_eq!(raw.records().len(), 1);
    let reply = RedPacketQueryReply::from_raw(&parse(
        "<xml><return_code>SUCCESS</return_code><hblist><hbinfo><openid>o</openid></hbinfo></hblist></xml>",
    ).expect("parses")).expect("typed");
    assert_eq!(reply.hblist.len(), 1);
    let reply = RedPacketQueryReply::from_raw(
        &parse("<xml><return_code>SUCCESS</return_code></xml>").expect("parses"),
    )
    .expect("typed");
    assert!(reply.hblist.is_empty());
}

#[test]
fn doctype_and_external_entities_are_refused() {
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>"#;
    assert_eq!(parse(xxe), Err(XmlError::Dtd));
    let bomb = r#"<!DOCTYPE xml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><xml><a>&b;</a></xml>"#;
    assert_eq!(parse(bomb), Err(XmlError::Dtd));
    assert!(matches!(
        parse("<xml><a>&nbsp;</a></xml>"),
        Err(XmlError::Entity { .. })
    ));
    assert!(matches!(
        parse("<xml><a>&#0;</a></xml>"),
        Err(XmlError::Entity { .. })
    ));
    assert!(matches!(
        parse("<xml><a>&#x1;</a></xml>"),
        Err(XmlError::Entity { .. })
    ));
}

#[test]
fn predefined_entities_and_char_refs_are_decoded() {
    let raw =
        parse("<xml><a>&lt;&gt;&amp;&apos;&quot;&#20013;&#x6587;&#13;</a></xml>").expect("parses");
    assert_eq!(raw.get("a"), Some("<>&'\"中文\r"));
}

#[test]
fn line_ends_are_normalised_like_a_conforming_parser() {
    let raw = parse("<xml><a>x\r\ny\rz</a><b><![CDATA[p\r\nq]]></b><c>&#13;&#10;</c></xml>")
        .expect("parses");
    assert_eq!(raw.get("a"), Some("x\ny\nz"));
    assert_eq!(raw.get("b"), Some("p\nq"));
    assert_eq!(raw.get("c"), Some("\r\n"));
}

#[test]
fn values_are_never_trimmed_but_whitespace_between_elements_is_ignored() {
    let raw = parse("<xml>\n  <a>  x  </a>\r\n\t<b> </b>\n<c/>\n</xml>").expect("parses");
    assert_eq!(
        raw.fields().collect::<Vec<_>>(),
        vec![("a", "  x  "), ("b", " "), ("c", "")]
    );
}

#[test]
fn mixed_cdata_and_text_concatenate() {
    let raw = parse("<xml><a>x<![CDATA[<y>]]>&amp;z</a></xml>").expect("parses");
    assert_eq!(raw.get("a"), Some("x<y>&z"));
}

#[test]
fn unknown_fields_and_any_order_are_kept() {
    let raw =
        parse("<xml><future_field>new</future_field><return_code>SUCCESS</return_code></xml>")
            .expect("parses");
    assert_eq!(
        raw.fields().collect::<Vec<_>>(),
        vec![("future_field", "new"), ("return_code", "SUCCESS")]
    );
}

#[test]
fn duplicates_are_refused() {
    assert_eq!(
        parse("<xml><a>1</a><a>2</a></xml>"),
        Err(XmlError::Duplicate { field: "a".into() })
    );
    assert!(matches!(
        parse("<xml><hblist><hbinfo><o>1</o><o>2</o></hbinfo></hblist></xml>"),
        Err(XmlError::Duplicate { .. })
    ));
}

#[test]
fn malformed_documents_are_refused() {
    for bad in [
        "",
        "   ",
        "<xml>",
        "<xml><a>1</b></xml>",
        "<xml><a>1</a>",
        "<xml>text</xml>",
        "<xml></xml><xml></xml>",
        "<xml><a>&amp</a></xml>",
        "<xml><a>\u{1}</a></xml>",
        "<xml><a><![CDATA[\u{b}]]></a></xml>",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(parse("<root><a>1</a></root>"), Err(XmlError::NotXmlRoot));
    assert_eq!(RawXml::parse(&[0xff, 0xfe]), Err(XmlError::Utf8));
}

#[test]
fn size_and_depth_caps() {
    let big = format!("<xml><a>{}</a></xml>", "x".repeat(MAX_BODY_BYTES));
    assert_eq!(parse(&big), Err(XmlError::TooLarge));
    let deep = format!("<xml>{}{}</xml>", "<a>".repeat(40), "</a>".repeat(40));
    assert_eq!(parse(&deep), Err(XmlError::TooDeep));
    // Moderate unknown nesting is skipped, not fatal.
    let raw = parse("<xml><ext><x><y>1</y></x></ext><return_code>SUCCESS</return_code></xml>")
        .expect("parses");
    assert_eq!(
        raw.fields().collect::<Vec<_>>(),
        vec![("return_code", "SUCCESS")]
    );
}

#[test]
fn declaration_comments_and_processing_instructions_are_ignored() {
    let raw = parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><xml><?pi x?><a>1</a><!-- d --></xml>\n").expect("parses");
    assert_eq!(raw.get("a"), Some("1"));
}

#[test]
fn raw_body_is_kept() {
    let body = b"<xml><a>1</a></xml>";
    assert_eq!(RawXml::parse(body).expect("parses").body(), body);
}

/// Any string XML 1.0 can carry, biased towards the troublesome characters.
fn xml_value() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("]]>".to_owned()),
        Just("\r".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n".to_owned()),
        Just("\t".to_owned()),
        Just("&".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("]".to_owned()),
        Just("&amp;".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("\u{FFFD}".to_owned()),
        Just("😀".to_owned()),
        "[a-zA-Z0-9 ]{1,4}",
        any::<char>()
            .prop_filter("XML char", |c| is_xml_char(*c))
            .prop_map(String::from),
    ];
    proptest::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Both strict readers recover every value byte for byte.
    #[test]
    fn written_values_read_back_exactly(values in proptest::collection::vec(xml_value(), 1..6)) {
        let names = ["act_name", "remark", "wishing", "send_name", "desc", "risk_info"];
        let fields: Vec<(&str, &str)> = names.iter().zip(&values).map(|(n, v)| (*n, v.as_str())).collect();
        let body = write_document(&fields, None);
        let expected: Vec<(String, String)> =
            fields.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        prop_assert_eq!(&ours(&body), &expected);
        prop_assert_eq!(&roxml_fields(&body), &expected);
        prop_assert_eq!(body.capacity(), body.len());
    }

    /// A built request: the server reads back exactly the signed map, and
    /// the signature recomputed over what it reads matches.
    #[test]
    fn built_bodies_read_back_as_the_signed_map(remark in xml_value(), wishing in xml_value()) {
        let mut packet = common::red_packet();
        packet.remark = format!("r{remark}r");
        packet.wishing = format!("w{wishing}w");
        prop_assume!(packet.remark.chars().count() <= 256 && packet.wishing.chars().count() <= 128);
        let signed = build(&packet, &common::merchant(), &common::nonce(), &common::signer(), None)
            .expect("valid");
        let read: BTreeMap<String, String> = ours(signed.body().as_bytes()).into_iter().collect();
        let read2: BTreeMap<String, String> = roxml_fields(signed.body().as_bytes()).into_iter().collect();
        prop_assert_eq!(&read, &read2);
        prop_assert_eq!(read.get("remark"), Some(&packet.remark));
        prop_assert_eq!(read.get("wishing"), Some(&packet.wishing));
        let raw = RawXml::parse(signed.body().as_bytes()).expect("parses");
        prop_assert!(common::signer().verify_reply(raw.fields()).is_ok());
    }
}

#[test]
fn characters_xml_cannot_carry_make_the_body_unreadable_not_different() {
    // validate() refuses them before building; if one reaches the writer the
    // body must be rejected by strict readers, never read as another value.
    let body = write_document(&[("remark", "a\u{1}b")], None);
    let text = String::from_utf8(body.clone()).expect("utf8");
    assert!(text.contains("a&#x1;b"), "{text}");
    assert!(roxmltree::Document::parse(&text).is_err());
    assert!(RawXml::parse(&body).is_err());
}

#[test]
fn special_characters_request_snapshot() {
    // Vector `special_chars_raw_md5`, plus a CR variant.
    let mut packet = common::red_packet();
    packet.mch_billno = BillNo::new("10000098202401010000000001").expect("bill");
    packet.send_name = "A&B Co".into();
    packet.wishing = "x=1&y=2 <ok>".into();
    packet.act_name = "Spring Gala".into();
    packet.remark = "a]]>b <c> d & e".into();
    packet.client_ip = "10.0.0.1".into();
    packet.total_amount = Amount::from_fen(100);
    let merchant = common::merchant();
    let nonce = NonceStr::new("Ab12Cd34Ef56Gh78").expect("nonce");
    let debug = build_debug(&packet, &merchant, &nonce, &common::signer(), None).expect("valid");
    assert_eq!(debug.signed.sign(), "AE9397974D1DCF4E4C73C3BB0B9F231C");
    packet.remark = "line one\r\nline two".into();
    let cr = build_debug(&packet, &merchant, &nonce, &common::signer(), None).expect("valid");
    let out = format!(
        "string_to_sign: {}\nsign: {}\nbody:\n{}\n\nwith CR LF in remark:\nstring_to_sign: {:?}\nsign: {}\nbody:\n{}",
        debug.string_to_sign,
        debug.signed.sign(),
        debug.signed.body(),
        cr.string_to_sign,
        cr.signed.sign(),
        cr.signed.body(),
    );
    insta::assert_snapshot!("request_special_characters", out);
    let read = RawXml::parse(cr.signed.body().as_bytes()).expect("parses");
    assert_eq!(read.get("remark"), Some("line one\r\nline two"));
}
