//! Validation: every rule, all violations at once, before any byte is built.

use crate::common;

use common::*;
use hongbao_proto::*;

fn violations<R: Request>(req: &R) -> Violations {
    req.validate().expect_err("invalid")
}

fn rules_for(v: &Violations, field: &str) -> Vec<Rule> {
    v.iter()
        .filter(|x| x.field == field)
        .map(|x| x.rule.clone())
        .collect()
}

#[test]
fn valid_examples_pass() {
    red_packet().validate().expect("valid");
}

#[test]
fn all_violations_are_reported_at_once() {
    let mut p = red_packet();
    p.send_name = String::new();
    p.wishing = "w".repeat(129);
    p.client_ip = "192.168.0.256".into();
    p.total_amount = Amount::from_fen(0);
    p.remark = "bell\u{7}".into();
    p.act_name = " padded".into();
    let v = violations(&p);
    assert_eq!(rules_for(&v, "send_name"), vec![Rule::Required]);
    assert_eq!(rules_for(&v, "wishing"), vec![Rule::MaxChars(128)]);
    assert_eq!(rules_for(&v, "client_ip"), vec![Rule::Ipv4]);
    assert_eq!(rules_for(&v, "remark"), vec![Rule::XmlChar]);
    assert_eq!(rules_for(&v, "act_name"), vec![Rule::Whitespace]);
    assert!(matches!(
        rules_for(&v, "total_amount")[..],
        [Rule::AmountRange { .. }]
    ));
    assert_eq!(v.len(), 6, "{v}");
    // Each names the offending value (except for missing ones).
    let ip = v.iter().find(|x| x.field == "client_ip").expect("ip");
    assert_eq!(ip.value.as_deref(), Some("192.168.0.256"));
    let text = v.to_string();
    assert!(
        text.contains("6 problems") && text.contains("`client_ip`"),
        "{text}"
    );
    // build refuses with the same list and writes nothing.
    match build(&p, &merchant(), &nonce(), &signer(), None) {
        Err(BuildError::Invalid(b)) => assert_eq!(b, v),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lengths_count_characters_not_bytes() {
    let mut p = red_packet();
    p.act_name = "汉".repeat(32);
    p.validate().expect("32 Chinese characters fit String(32)");
    p.act_name = "汉".repeat(33);
    assert_eq!(
        rules_for(&violations(&p), "act_name"),
        vec![Rule::MaxChars(32)]
    );
}

#[test]
fn red_packet_amounts_and_scene_id() {
    let mut p = red_packet();
    for fen in [100, 20_000] {
        p.total_amount = Amount::from_fen(fen);
        p.validate().expect("1–200 yuan without scene_id");
    }
    for fen in [99, 20_001, 1] {
        p.total_amount = Amount::from_fen(fen);
        p.scene_id = None;
        let v = violations(&p);
        assert!(
            matches!(rules_for(&v, "scene_id")[..], [Rule::RequiredWhen(_)]),
            "{fen}: {v}"
        );
        p.scene_id = Some(SceneId::Product2);
        p.validate().expect("allowed with scene_id");
    }
    p.total_amount = Amount::from_fen(499_900);
    p.validate().expect("4999 yuan is the ceiling");
    p.total_amount = Amount::from_fen(499_901);
    assert!(matches!(
        rules_for(&violations(&p), "total_amount")[..],
        [Rule::AmountRange { .. }]
    ));
    p.total_amount = Amount::from_fen(1000);
    p.scene_id = Some(SceneId::parse("PRODUCT_9"));
    assert!(matches!(
        rules_for(&violations(&p), "scene_id")[..],
        [Rule::OneOf(_)]
    ));
}

#[test]
fn re_openid_of_red_packets_is_at_most_32() {
    let mut p = red_packet();
    p.re_openid = OpenId::new("o".repeat(33)).expect("valid openid in general");
    assert_eq!(
        rules_for(&violations(&p), "re_openid"),
        vec![Rule::MaxChars(32)]
    );
}

fn group() -> GroupRedPacket {
    GroupRedPacket::builder(
        BillNo::new("10000098202402100000000017").expect("bill"),
        OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid"),
        Amount::from_fen(3000),
        3,
    )
    .send_name("天虹百货")
    .amt_type(AmtType::AllRand)
    .wishing("新春快乐")
    .act_name("新春裂变")
    .remark("分享给好友")
    .build()
    .expect("valid")
}

#[test]
fn group_red_packet_rules() {
    group().validate().expect("valid");
    let mut g = group();
    for n in [2, 21] {
        g.total_num = n;
        assert!(matches!(
            rules_for(&violations(&g), "total_num")[..],
            [Rule::Range { min: 3, max: 20 }]
        ));
    }
    g.total_num = 3;
    for fen in [299, 60_001] {
        g.total_amount = Amount::from_fen(fen);
        assert!(matches!(
            rules_for(&violations(&g), "total_amount")[..],
            [Rule::AverageAmountRange { .. }]
        ));
    }
    for fen in [300, 60_000] {
        g.total_amount = Amount::from_fen(fen);
        g.validate().expect("average 1–200 yuan");
    }
}

fn workwx_packet() -> WorkwxRedPacket {
    WorkwxRedPacket::builder(
        BillNo::new("10000098201411111234567890").expect("bill"),
        OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid"),
        Amount::from_fen(1000),
    )
    .agentid("1000002")
    .wishing("恭喜")
    .act_name("活动")
    .remark("备注")
    .build()
    .expect("valid")
}

#[test]
fn workwx_sender_name_and_agentid_are_optional_at_most_one() {
    workwx_packet().validate().expect("agentid only");
    let mut w = workwx_packet();
    w.agentid = None;
    w.sender_name = Some("张三".into());
    w.validate().expect("sender_name only");
    w.agentid = Some("1000002".into());
    assert!(matches!(
        rules_for(&violations(&w), "sender_name")[..],
        [Rule::AtMostOneOf("sender_name", "agentid")]
    ));
    // Neither: both are optional (the vendor's own sample sends neither
    // agentid nor, in some pages, sender_name).
    w.agentid = None;
    w.sender_name = None;
    w.validate().expect("neither sender_name nor agentid");
    w.agentid = Some("app1".into());
    assert!(matches!(
        rules_for(&violations(&w), "agentid")[..],
        [Rule::Charset(_)]
    ));
    // Building needs the WeCom secret.
    let w = workwx_packet();
    assert_eq!(
        build(&w, &merchant(), &nonce(), &signer(), None),
        Err(BuildError::MissingWorkwxSecret)
    );
    assert_eq!(w.agentid(), Some("1000002"));
}

fn pay_employee() -> PayEmployee {
    PayEmployee::builder(
        TradeNo::new("10000098201411111234567890").expect("no"),
        OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid"),
        Amount::from_fen(10_099),
    )
    .check_name(CheckName::NoCheck)
    .desc("报销")
    .spbill_create_ip("192.168.0.1")
    .ww_msg_type(MsgType::NormalMsg)
    .act_name("报销")
    .build()
    .expect("valid")
}

#[test]
fn pay_employee_rules() {
    pay_employee().validate().expect("valid");
    let mut p = pay_employee();
    p.check_name = CheckName::ForceCheck;
    p.ww_msg_type = MsgType::ApprovalMsg;
    p.amount = Amount::from_fen(99);
    p.act_name = "项".repeat(51);
    p.desc = "d".repeat(82);
    let v = violations(&p);
    assert!(matches!(
        rules_for(&v, "re_user_name")[..],
        [Rule::RequiredWhen(_)]
    ));
    assert!(matches!(
        rules_for(&v, "approval_number")[..],
        [Rule::RequiredWhen(_)]
    ));
    assert!(matches!(
        rules_for(&v, "approval_type")[..],
        [Rule::RequiredWhen(_)]
    ));
    assert!(matches!(
        rules_for(&v, "amount")[..],
        [Rule::AmountAtLeast(_)]
    ));
    assert_eq!(rules_for(&v, "act_name"), vec![Rule::MaxChars(50)]);
    assert_eq!(rules_for(&v, "desc"), vec![Rule::MaxChars(81)]);
    p.re_user_name = Some("王小王".into());
    p.approval_number = Some("201705160008".into());
    p.approval_type = Some(2);
    p.amount = Amount::from_fen(100);
    p.act_name = "项".repeat(50);
    p.desc = "d".repeat(81);
    assert!(matches!(
        rules_for(&violations(&p), "approval_type")[..],
        [Rule::Range { min: 1, max: 1 }]
    ));
    p.approval_type = Some(1);
    p.validate().expect("valid");
}

fn transfer() -> Transfer {
    Transfer::builder(
        TradeNo::new("100000982014120919616").expect("no"),
        OpenId::new("ohO4Gt7wVPxIT1A9GjFaMYMiZY1s").expect("openid"),
        Amount::from_fen(100),
    )
    .device_info("0")
    .check_name(CheckName::NoCheck)
    .desc("节日快乐!")
    .spbill_create_ip("10.2.3.10")
    .build()
    .expect("valid")
}

#[test]
fn transfer_rules() {
    transfer().validate().expect("valid");
    let mut t = transfer();
    t.scene = Some("BRAND_REDPACKET".into());
    t.spbill_create_ip = "::1".into();
    t.desc = "d".repeat(101);
    let v = violations(&t);
    assert!(matches!(
        rules_for(&v, "brand_id")[..],
        [Rule::RequiredWhen(_)]
    ));
    assert!(matches!(
        rules_for(&v, "finder_template_id")[..],
        [Rule::RequiredWhen(_)]
    ));
    assert!(
        rules_for(&v, "spbill_create_ip").is_empty(),
        "IPv6 is allowed"
    );
    assert_eq!(rules_for(&v, "desc"), vec![Rule::MaxChars(100)]);
}

#[test]
fn spbill_create_ip_is_string32_and_may_be_ipv6() {
    let mut t = transfer();
    t.spbill_create_ip = "2001:db8:85a3::8a2e:370:7334".into();
    t.validate().expect("IPv6 transfer");
    let mut p = pay_employee();
    p.spbill_create_ip = "fe80::1".into();
    p.validate().expect("IPv6 pay to employee");
    // Longer than String(32), though a valid address.
    p.spbill_create_ip = "2001:0db8:85a3:0000:0000:8a2e:0370:7334".into();
    assert_eq!(
        rules_for(&violations(&p), "spbill_create_ip"),
        vec![Rule::IpAddress(32)]
    );
    p.spbill_create_ip = "not an ip".into();
    assert_eq!(
        rules_for(&violations(&p), "spbill_create_ip"),
        vec![Rule::IpAddress(32)]
    );
}

#[test]
fn approval_number_has_no_invented_length_cap() {
    let mut p = pay_employee();
    p.ww_msg_type = MsgType::ApprovalMsg;
    p.approval_type = Some(1);
    p.approval_number = Some("2".repeat(200));
    p.validate().expect("a long approval number");
}

#[test]
fn workwx_red_packet_has_no_fixed_4999_yuan_ceiling() {
    let mut w = workwx_packet();
    w.scene_id = Some(SceneId::Product4);
    w.total_amount = Amount::from_fen(1_000_000);
    w.validate()
        .expect("10 000 yuan with scene_id: the merchant's range decides");
    w.scene_id = None;
    assert!(matches!(
        rules_for(&violations(&w), "scene_id")[..],
        [Rule::RequiredWhen(_)]
    ));
    w.total_amount = Amount::from_fen(0);
    assert!(matches!(
        rules_for(&violations(&w), "total_amount")[..],
        [Rule::AmountRange { .. }]
    ));
}

#[test]
fn merchant_is_validated_per_endpoint() {
    let bad = Merchant::new("", "wx 1");
    let v = bad.validate(Endpoint::Transfer).expect_err("invalid");
    assert_eq!(rules_for(&v, "mchid"), vec![Rule::Required]);
    assert!(matches!(rules_for(&v, "mch_appid")[..], [Rule::Charset(_)]));
    Merchant::new("1900000109", "")
        .validate(Endpoint::GetSignKey)
        .expect("no appid on getsignkey");
    let long = Merchant::new("1900000109", "w".repeat(33));
    assert!(long.validate(Endpoint::SendRedPacket).is_err());
    long.validate(Endpoint::Transfer).expect("128 on transfers");
}

#[test]
fn empty_optional_fields_are_omitted_and_never_signed() {
    let mut p = red_packet();
    p.risk_info = Some(String::new());
    p.consume_mch_id = Some(String::new());
    let with_empties = build(&p, &merchant(), &nonce(), &signer(), None).expect("valid");
    let plain = build(&red_packet(), &merchant(), &nonce(), &signer(), None).expect("valid");
    assert_eq!(with_empties, plain);
    let body = plain.body();
    assert!(!body.contains("risk_info") && !body.contains("sign_type"));
}

#[test]
fn from_wire_reports_everything_including_unexpected_fields() {
    let body = write_document(
        &[
            ("nonce_str", "abc"),
            ("mch_id", "10000098"),
            ("wxappid", "wx8888888888888888"),
            ("mch_billno", "bad-bill"),
            ("re_openid", "oxTWIuGaIt6gTKsQRLau2M0yL16E"),
            ("total_amount", "ten"),
            ("total_num", "2"),
            ("wishing", "w"),
            ("act_name", "a"),
            ("remark", "r"),
            ("sign_type", "MD5"),
            ("sign", "X"),
        ],
        None,
    );
    let v = RedPacket::from_wire(&RawXml::parse(&body).expect("parses")).expect_err("invalid");
    assert!(matches!(
        rules_for(&v, "mch_billno")[..],
        [Rule::Charset(_)]
    ));
    assert_eq!(rules_for(&v, "total_amount"), vec![Rule::Integer]);
    assert_eq!(rules_for(&v, "total_num"), vec![Rule::Fixed("1")]);
    assert_eq!(rules_for(&v, "send_name"), vec![Rule::Required]);
    assert_eq!(rules_for(&v, "client_ip"), vec![Rule::Required]);
    assert_eq!(rules_for(&v, "sign_type"), vec![Rule::Unexpected]);
}
