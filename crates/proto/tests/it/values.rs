//! Value types: bill numbers, amounts, ids and enumerations.

use hongbao_proto::*;

#[test]
fn bill_numbers() {
    assert!(BillNo::new("10000098201411111234567890").is_ok());
    assert!(BillNo::new("a".repeat(28)).is_ok());
    assert_eq!(
        BillNo::new("a".repeat(29)).expect_err("long").rule,
        Rule::MaxChars(28)
    );
    assert!(matches!(
        BillNo::new("abc-1").expect_err("symbol").rule,
        Rule::Charset(_)
    ));
    assert_eq!(BillNo::new("").expect_err("empty").rule, Rule::Required);
    assert_eq!(BillNo::new("").expect_err("empty").field, "mch_billno");
    assert!(TradeNo::new("a".repeat(32)).is_ok());
    assert!(TradeNo::new("a".repeat(33)).is_err());
    assert_eq!(
        TradeNo::new("x_y").expect_err("symbol").field,
        "partner_trade_no"
    );
}

#[test]
fn bill_number_generator() {
    let date = Date::new(2024, 2, 10).expect("date");
    let bill = BillNo::generate("10000098", date, 17).expect("fits");
    assert_eq!(bill.as_str(), "10000098202402100000000017");
    let bill = BillNo::generate("1900000109", date, 9_999_999_999).expect("28 exactly");
    assert_eq!(bill.as_str().len(), 28);
    assert!(
        BillNo::generate("19000001090", date, 1).is_err(),
        "29 characters"
    );
    assert!(
        BillNo::generate("10000098", date, 10_000_000_000).is_err(),
        "11 digits"
    );
    assert!(
        TradeNo::generate("19000001091234", date, 1).is_ok(),
        "32 allowed"
    );
    assert!(Date::new(2023, 2, 29).is_err());
    assert!(Date::new(2024, 2, 29).is_ok());
    assert!(Date::new(2024, 13, 1).is_err());
    assert!(
        BillNo::generate(
            "10000098",
            // Only deserialization can make a date that does not exist.
            serde_json::from_str::<Date>(r#"{"year":2024,"month":4,"day":31}"#)
                .expect("deserializes unchecked"),
            1
        )
        .is_err()
    );
}

#[test]
fn dates_from_unix_time() {
    assert_eq!(
        Date::from_unix_days(19_783),
        Date::new(2024, 3, 1),
        "day after a leap day"
    );
    // Consecutive days give consecutive valid dates, across leap years and centuries.
    let mut previous = Date::from_unix_days(-1).expect("1969");
    for days in 0..200_000 {
        let date = Date::from_unix_days(days).expect("in range");
        assert!(date.is_valid() && date > previous, "{days}: {date}");
        if date.day != 1 {
            assert_eq!(date.day, previous.day + 1, "{days}");
        }
        previous = date;
    }
    let early = Date::from_unix_days(-719_163).expect_err("before year 1000");
    assert_eq!((early.field.as_ref(), early.rule), ("date", Rule::Date));
    assert!(Date::from_unix_days(3_000_000).is_err(), "year 10183");
    // Beijing is UTC+8: 16:00 UTC is already the next day there.
    let feb_9_1559_utc = 1_707_494_399;
    assert_eq!(
        Date::beijing_from_unix_seconds(feb_9_1559_utc),
        Date::new(2024, 2, 9)
    );
    assert_eq!(
        Date::beijing_from_unix_seconds(feb_9_1559_utc + 1),
        Date::new(2024, 2, 10)
    );
    assert!(Date::beijing_from_unix_seconds(i64::MAX).is_err());
}

#[test]
fn amounts_parse_exactly() {
    for (s, fen) in [
        ("12.34", 1234),
        ("12", 1200),
        ("12.3", 1230),
        ("0.01", 1),
        ("0", 0),
        ("4999.00", 499_900),
    ] {
        assert_eq!(Amount::parse_yuan(s), Ok(Amount::from_fen(fen)), "{s}");
    }
    for bad in [
        "",
        ".5",
        "1.",
        "1.234",
        "-1",
        "+1",
        "1,00",
        " 1",
        "1e2",
        "0x10",
        "1.2.3",
        "99999999999999999999",
    ] {
        assert!(Amount::parse_yuan(bad).is_err(), "{bad}");
    }
    assert_eq!(Amount::from_fen(1234).to_string(), "12.34");
    assert_eq!(Amount::from_fen(5).to_string(), "0.05");
    assert_eq!(Amount::from_fen(20_000).to_string(), "200.00");
    assert_eq!("0.10".parse::<Amount>(), Ok(Amount::from_fen(10)));
    assert_eq!(Amount::from_yuan(200), Some(Amount::from_fen(20_000)));
}

#[test]
fn amounts_serialize_as_fen() {
    assert_eq!(
        serde_json::to_string(&Amount::from_fen(1000)).expect("json"),
        "1000"
    );
    assert_eq!(
        serde_json::from_str::<Amount>("1000").expect("json"),
        Amount::from_fen(1000)
    );
    assert_eq!(
        serde_json::from_str::<Amount>("\"1000\"").expect("json"),
        Amount::from_fen(1000)
    );
    assert!(serde_json::from_str::<Amount>("\"10.00\"").is_err());
    assert!(serde_json::from_str::<Amount>("-1").is_err());
}

#[test]
fn ids_and_enums_serialize_as_strings_and_validate() {
    assert_eq!(
        serde_json::to_string(&BillNo::new("abc").expect("bill")).expect("json"),
        "\"abc\""
    );
    assert!(serde_json::from_str::<BillNo>("\"a-b\"").is_err());
    assert_eq!(
        serde_json::from_str::<SceneId>("\"PRODUCT_8\"").expect("json"),
        SceneId::Product8
    );
    assert_eq!(
        SceneId::parse("PRODUCT_X"),
        SceneId::Unknown("PRODUCT_X".into())
    );
    assert_eq!(
        serde_json::from_str::<CheckName>("\"FORCE_CHECK\"").expect("json"),
        CheckName::ForceCheck
    );
    assert!(serde_json::from_str::<CheckName>("\"OPTION_CHECK\"").is_err());
    assert_eq!("APPROVAL_MSG".parse::<MsgType>(), Ok(MsgType::ApprovalMsg));
    assert_eq!(
        RedPacketStatus::parse("RFUND_ING"),
        RedPacketStatus::RefundInProgress
    );
    assert_eq!(RedPacketStatus::parse("X").as_str(), "X");
    assert_eq!(
        TransferStatus::parse("PROCESSING"),
        TransferStatus::Processing
    );
    assert!(OpenId::new("o7Ab_Mini-Program").is_ok());
    assert!(OpenId::new("o/1").is_err());
    assert!(NonceStr::new("a".repeat(33)).is_err());
}

#[test]
fn request_serde_round_trip() {
    let json = r#"{"mch_billno":"10000098201411111234567890","send_name":"Shop","re_openid":"o1","total_amount":30000,
        "wishing":"Thanks","client_ip":"192.168.0.1","act_name":"Lottery","remark":"Prize","scene_id":"PRODUCT_2"}"#;
    let p: RedPacket = serde_json::from_str(json).expect("json");
    assert_eq!(p.total_amount, Amount::from_fen(30_000));
    assert_eq!(p.scene_id, Some(SceneId::Product2));
    let back: RedPacket =
        serde_json::from_str(&serde_json::to_string(&p).expect("json")).expect("json");
    assert_eq!(back, p);
}

#[test]
fn nonce_from_random_bytes() {
    let n = NonceStr::from_random_bytes([7u8; 32]);
    assert_eq!(n.as_str().len(), 32);
    assert!(NonceStr::new(n.as_str()).is_ok());
    let m = NonceStr::from_random_bytes(core::array::from_fn(|i| i as u8 * 8));
    assert_ne!(n, m);
}

#[test]
fn endpoint_table() {
    assert_eq!(Endpoint::ALL.len(), 11);
    for e in Endpoint::ALL {
        assert_eq!(e.spec().endpoint, e);
        assert_eq!(Endpoint::from_path(e.path()), Some(e));
        assert_eq!(Endpoint::from_name(e.name()), Some(e));
        if e.spec().moves_money {
            let q = e.spec().query.expect("each send has a query");
            assert!(q.is_query());
            assert_eq!(q.spec().bill_field, e.spec().bill_field);
        }
        assert_eq!(e.spec().needs_client_cert, e != Endpoint::GetSignKey);
    }
    assert_eq!(
        Endpoint::from_path("/xdc/apiv2getsignkey/sign/getsignkey"),
        Some(Endpoint::GetSignKey)
    );
    assert_eq!(Endpoint::from_path("/mmpaymkttransfers/unknown"), None);
    let signed: Vec<_> = Endpoint::ALL
        .into_iter()
        .filter(|e| e.spec().reply_signed)
        .collect();
    assert_eq!(
        signed,
        vec![
            Endpoint::SendWorkwxRedPacket,
            Endpoint::QueryWorkwxRedPacket
        ]
    );
    assert_eq!(Endpoint::Transfer.spec().mch_id_field, "mchid");
    assert_eq!(Endpoint::Transfer.spec().appid_field, Some("mch_appid"));
    assert_eq!(
        Endpoint::SendGroupRedPacket.spec().product_state,
        ProductState::Offline {
            since: "2024-06-05"
        }
    );
    for e in [
        Endpoint::SendWorkwxRedPacket,
        Endpoint::QueryWorkwxRedPacket,
    ] {
        assert_eq!(e.spec().product_state, ProductState::Active);
    }
    assert_eq!(
        Endpoint::SendRedPacket.spec().product_state,
        ProductState::ClosedToNewMerchants
    );
    assert!(
        ProductState::Offline {
            since: "2024-06-05"
        }
        .warning()
        .expect("warning")
        .contains("2024-06-05")
    );
}

/// Defect 2: generated numbers drew from a 4-digit prefix per journal and
/// 10^10 per day. Random numbers fill the field after the date and the
/// `bill_prefix` namespace with base-62 characters.
#[test]
fn defect2_random_bill_numbers_fill_the_field_after_the_prefix() {
    let date = Date::new(2024, 2, 10).expect("a date");
    let a = BillNo::random("1900000109", date, "", 1).unwrap();
    let b = BillNo::random("1900000109", date, "", 2).unwrap();
    assert_eq!(a.as_str().len(), 28);
    assert!(a.as_str().starts_with("190000010920240210"));
    assert_ne!(a, b);
    let with_prefix = BillNo::random("1900000109", date, "K9", u128::MAX).unwrap();
    assert!(with_prefix.as_str().starts_with("190000010920240210K9"));
    assert_eq!(with_prefix.as_str().len(), 28);
    let trade = TradeNo::random("1900000109", date, "K9", u128::MAX / 3).unwrap();
    assert_eq!(trade.as_str().len(), 32);
    // 10 random base-62 characters: distinct across many draws.
    let mut seen = std::collections::HashSet::new();
    for i in 0..10_000u128 {
        let entropy = i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        assert!(seen.insert(BillNo::random("1900000109", date, "", entropy).unwrap()));
    }
    // A prefix that leaves fewer than 6 random characters is refused, as is
    // a prefix that is not alphanumeric.
    assert!(BillNo::random("1900000109", date, "ABCDE", 0).is_err());
    assert!(BillNo::random("1900000109", date, "a-b", 0).is_err());
    assert_eq!(MIN_RANDOM_CHARS, 6);
}
