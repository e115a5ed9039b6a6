//! Table tests: every error code → class → outcome, per endpoint family,
//! against an independent transcription of errors.md.

use crate::common;

use common::signer;
use hongbao_proto::*;

/// errors.md, transcribed: `CODE CLASS RULE` per send family.
const RED_PACKET: &str = "
SYSTEMERROR U KEEP! | PROCESSING U KEEP! | SEND_FAILED F NEW | FATAL_ERROR C KEEP! |
PARAM_ERROR C QUERY | XML_ERROR C KEEP | SIGN_ERROR C KEEP | CA_ERROR A KEEP |
ILLEGAL_APPID C QUERY | OPENID_ERROR C QUERY | MSGAPPID_ERROR A KEEP | ACCEPTMODE_ERROR A KEEP |
NOTENOUGH A KEEP | API_METHOD_CLOSED A KEEP | NOAUTH A KEEP | NO_AUTH F QUERY |
MONEY_LIMIT C QUERY | SENDNUM_LIMIT L KEEP | SENDAMOUNT_LIMIT L KEEP | RCVDAMOUNT_LIMIT L KEEP |
FREQ_LIMIT L KEEP | SECOND_OVER_LIMITED L KEEP | DAY_OVER_LIMITED L KEEP | TIME_LIMITED L KEEP |
PAYER_ACCOUNT_ABNORMAL U KEEP!";

const WORKWX_RED_PACKET: &str = "
SYSTEMERROR U KEEP! | PROCESSING U KEEP! | SEND_FAILED F NEW | FATAL_ERROR C KEEP! |
PARAM_ERROR C QUERY | XML_ERROR C KEEP | SIGN_ERROR C KEEP | CA_ERROR A KEEP |
ILLEGAL_APPID C QUERY | OPENID_ERROR C QUERY | NO_COMPETENCE A KEEP | API_METHOD_CLOSED A KEEP |
NOTENOUGH A KEEP | NO_AUTH F QUERY | MONEY_LIMIT C QUERY | SENDNUM_LIMIT L KEEP |
SENDAMOUNT_LIMIT L KEEP | RCVDAMOUNT_LIMIT L KEEP | FREQ_LIMIT L KEEP";

const PAY_EMPLOYEE: &str = "
SYSTEMERROR U KEEP! | CA_ERROR A KEEP! | SENDNUM_LIMIT L KEEP! | FATAL_ERROR C KEEP! |
NOAUTH A KEEP | AMOUNT_LIMIT C QUERY | PARAM_ERROR C QUERY | OPENID_ERROR C QUERY |
NOTENOUGH A KEEP | NAME_MISMATCH C QUERY | SIGN_ERROR C KEEP | WORKWX_SIGN_ERROR C KEEP |
WORKWX_MCHID_ERROR A KEEP | XML_ERROR C KEEP | HTTP_METHOD_ERROR C KEEP | V2_ACCOUNT_SIMPLE_BAN F QUERY";

const TRANSFER: &str = "
SYSTEMERROR U KEEP! | SEND_FAILED U QUERY | FATAL_ERROR C KEEP! | NO_AUTH A KEEP |
AMOUNT_LIMIT C QUERY | PARAM_ERROR C QUERY | PARAM_IS_NOT_UTF8 C KEEP | OPENID_ERROR C QUERY |
NAME_MISMATCH C QUERY | V2_ACCOUNT_SIMPLE_BAN F QUERY | NOTENOUGH A KEEP | SIGN_ERROR C KEEP |
XML_ERROR C KEEP | CA_ERROR A KEEP | RECV_ACCOUNT_NOT_ALLOWED A KEEP | PAY_CHANNEL_NOT_ALLOWED A KEEP |
FREQ_LIMIT L KEEP | MONEY_LIMIT L KEEP | SENDNUM_LIMIT L KEEP | SEND_MONEY_LIMIT L KEEP |
RECEIVED_MONEY_LIMIT L KEEP";

const QUERY: &str =
    "NOT_FOUND SYSTEMERROR FREQ_LIMIT CA_ERROR SIGN_ERROR NO_AUTH XML_ERROR PARAM_ERROR";
const QUERY_PAY_EMPLOYEE: &str = "NOT_FOUND SYSTEMERROR FREQ_LIMIT CA_ERROR SIGN_ERROR NO_AUTH XML_ERROR PARAM_ERROR WORKWX_MCHID_ERROR WORKWX_SIGN_ERROR";

fn rows(table: &str) -> Vec<(String, ErrorClass, BillRule)> {
    table
        .split('|')
        .map(|row| {
            let parts: Vec<&str> = row.split_whitespace().collect();
            let class = match parts[1] {
                "U" => ErrorClass::Unknown,
                "F" => ErrorClass::Final,
                "C" => ErrorClass::Caller,
                "A" => ErrorClass::Account,
                "L" => ErrorClass::Limit,
                other => panic!("class {other}"),
            };
            let rule = match parts[2] {
                "KEEP!" => BillRule::KeepMandatory,
                "KEEP" => BillRule::Keep,
                "NEW" => BillRule::New,
                "QUERY" => BillRule::Query,
                other => panic!("rule {other}"),
            };
            (parts[0].to_owned(), class, rule)
        })
        .collect()
}

fn families() -> Vec<(Vec<Endpoint>, &'static str)> {
    vec![
        (
            vec![
                Endpoint::SendRedPacket,
                Endpoint::SendGroupRedPacket,
                Endpoint::SendMiniProgramRedPacket,
            ],
            RED_PACKET,
        ),
        (vec![Endpoint::SendWorkwxRedPacket], WORKWX_RED_PACKET),
        (vec![Endpoint::PayEmployee], PAY_EMPLOYEE),
        (vec![Endpoint::Transfer], TRANSFER),
    ]
}

const BILL: &str = "10000098201411111234567890";

/// A signed `result_code=FAIL` reply with `err_code`.
fn fail_reply(code: &str) -> Vec<u8> {
    let mut fields = vec![
        ("return_code", "SUCCESS"),
        ("result_code", "FAIL"),
        ("err_code", code),
        ("err_code_des", "text for people"),
    ];
    let sign = signer().sign_md5(fields.iter().copied()).expect("sign");
    fields.push(("sign", sign.as_str()));
    write_document(&fields, None)
}

fn outcome(endpoint: Endpoint, body: &[u8]) -> Outcome {
    interpret(endpoint, BILL, 200, body, &signer()).outcome
}

#[test]
fn every_send_code_has_its_documented_class_and_outcome() {
    for (endpoints, table) in families() {
        let rows = rows(table);
        for endpoint in endpoints {
            for (wire, class, rule) in &rows {
                let code = ErrorCode::parse(wire);
                assert!(
                    !matches!(code, ErrorCode::Unknown(_)),
                    "{wire} is a known code"
                );
                assert_eq!(code.as_str(), wire);
                assert_eq!(code.class(endpoint), (*class, *rule), "{endpoint} {wire}");
                assert!(code.is_documented_for(endpoint));
                let seen = outcome(endpoint, &fail_reply(wire));
                let must_be_unknown = endpoint == Endpoint::PayEmployee
                    || *class == ErrorClass::Unknown
                    || code == ErrorCode::FatalError;
                if must_be_unknown {
                    assert!(
                        matches!(&seen, Outcome::Unknown(Unknown { reason: UnknownReason::ErrorCode { code: c, .. }, .. }) if *c == code),
                        "{endpoint} {wire}: {seen:?}"
                    );
                } else {
                    let Outcome::NotPaid(not_paid) = &seen else {
                        panic!("{endpoint} {wire}: {seen:?}");
                    };
                    assert_eq!(not_paid.bill, BILL);
                    assert_eq!(&not_paid.code, &code);
                    assert_eq!((not_paid.class, not_paid.bill_rule), (*class, *rule));
                    assert_eq!(not_paid.message.as_deref(), Some("text for people"));
                    // The next step follows the documented rule: KEEP keeps
                    // the number (signature refusals re-sign), NEW allows a
                    // new one, QUERY needs a query first.
                    let next = match rule {
                        BillRule::New => NextStep::NewBill,
                        BillRule::Query => NextStep::Query,
                        BillRule::Keep | BillRule::KeepMandatory => NextStep::RetrySameBill {
                            resign: matches!(
                                code,
                                ErrorCode::SignError | ErrorCode::WorkwxSignError
                            ),
                        },
                    };
                    assert_eq!(not_paid.next, next, "{endpoint} {wire}");
                    assert_eq!(seen.next_step(), next);
                }
            }
            // The table in code has exactly the documented rows.
            let documented = ErrorCode::ALL
                .iter()
                .filter(|c| c.is_documented_for(endpoint))
                .count();
            assert_eq!(documented, rows.len(), "{endpoint}");
        }
    }
}

#[test]
fn codes_not_documented_for_a_family_are_unknown() {
    let red_packet_only = ErrorCode::TimeLimited;
    for endpoint in [Endpoint::SendWorkwxRedPacket, Endpoint::Transfer] {
        assert_eq!(
            red_packet_only.class(endpoint),
            (ErrorClass::Unknown, BillRule::KeepMandatory)
        );
        assert!(outcome(endpoint, &fail_reply("TIME_LIMITED")).is_unknown());
    }
    for wire in ["BRAND_NEW_CODE", "268458547", "SUCCESS", "0"] {
        for endpoint in Endpoint::ALL {
            assert_eq!(
                ErrorCode::parse(wire).class(endpoint).0,
                ErrorClass::Unknown
            );
            let seen = outcome(endpoint, &fail_reply(wire));
            assert!(seen.is_unknown(), "{endpoint} {wire}: {seen:?}");
        }
    }
}

#[test]
fn query_codes() {
    for (endpoint, table) in [
        (Endpoint::QueryRedPacket, QUERY),
        (Endpoint::QueryWorkwxRedPacket, QUERY),
        (Endpoint::QueryTransfer, QUERY),
        (Endpoint::QueryPayEmployee, QUERY_PAY_EMPLOYEE),
    ] {
        let codes: Vec<&str> = table.split_whitespace().collect();
        let documented = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_documented_for(endpoint))
            .count();
        assert_eq!(documented, codes.len(), "{endpoint}");
        for wire in codes {
            let code = ErrorCode::parse(wire);
            let expected_rule = if wire == "NOT_FOUND" {
                BillRule::KeepMandatory
            } else {
                BillRule::Keep
            };
            assert_eq!(
                code.class(endpoint),
                (ErrorClass::Query, expected_rule),
                "{endpoint} {wire}"
            );
            let seen = outcome(endpoint, &fail_reply(wire));
            let reason = match seen {
                Outcome::Unknown(u) => u.reason,
                other => panic!("{endpoint} {wire}: {other:?}"),
            };
            if wire == "NOT_FOUND" {
                assert_eq!(reason, UnknownReason::NotFound);
            } else {
                assert_eq!(reason, UnknownReason::QueryFailed { code });
            }
        }
    }
}

#[test]
fn psystemerror_is_systemerror() {
    assert_eq!(ErrorCode::parse("PSYSTEMERROR"), ErrorCode::SystemError);
    assert_eq!(ErrorCode::parse("PSYSTEMERROR").as_str(), "SYSTEMERROR");
    let seen = outcome(Endpoint::QueryWorkwxRedPacket, &fail_reply("PSYSTEMERROR"));
    assert!(matches!(
        seen,
        Outcome::Unknown(Unknown {
            reason: UnknownReason::QueryFailed {
                code: ErrorCode::SystemError
            },
            ..
        })
    ));
}

#[test]
fn every_code_in_errors_md_is_a_variant() {
    let all: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
    for table in [RED_PACKET, WORKWX_RED_PACKET, PAY_EMPLOYEE, TRANSFER] {
        for (wire, _, _) in rows(table) {
            assert!(all.contains(&wire.as_str()), "{wire}");
        }
    }
    for wire in QUERY_PAY_EMPLOYEE.split_whitespace() {
        assert!(all.contains(&wire), "{wire}");
    }
    for code in ErrorCode::ALL {
        assert_eq!(&ErrorCode::parse(code.as_str()), code);
    }
}

fn reply(fields: &[(&str, &str)]) -> Vec<u8> {
    write_document(fields, None)
}

#[test]
fn envelope_rules() {
    let unknown_reason =
        |endpoint, body: &[u8], status| match interpret(endpoint, BILL, status, body, &signer())
            .outcome
        {
            Outcome::Unknown(u) => u.reason,
            other => panic!("{other:?}"),
        };
    for endpoint in Endpoint::ALL {
        assert_eq!(
            unknown_reason(
                endpoint,
                &reply(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS")]),
                500
            ),
            UnknownReason::HttpStatus(500)
        );
        assert!(matches!(
            unknown_reason(endpoint, b"", 200),
            UnknownReason::Unparseable(_)
        ));
        assert!(matches!(
            unknown_reason(endpoint, b"<html>busy</html>", 200),
            UnknownReason::Unparseable(_)
        ));
        assert!(matches!(
            unknown_reason(endpoint, &reply(&[("result_code", "SUCCESS")]), 200),
            UnknownReason::Unparseable(_)
        ));
        assert_eq!(
            unknown_reason(
                endpoint,
                &reply(&[("return_code", "FAIL"), ("return_msg", "签名失败")]),
                200
            ),
            UnknownReason::ReturnFail {
                message: Some("签名失败".into())
            }
        );
        if endpoint != Endpoint::GetSignKey {
            assert_eq!(
                unknown_reason(endpoint, &reply(&[("return_code", "SUCCESS")]), 200),
                UnknownReason::NoResult
            );
            assert_eq!(
                unknown_reason(
                    endpoint,
                    &reply(&[("return_code", "SUCCESS"), ("result_code", "MAYBE")]),
                    200
                ),
                UnknownReason::NoResult
            );
            assert!(matches!(
                unknown_reason(
                    endpoint,
                    &reply(&[("return_code", "SUCCESS"), ("result_code", "FAIL")]),
                    200
                ),
                UnknownReason::FailWithoutCode { .. }
            ));
        }
        // A sign that does not verify is never trusted, on any endpoint.
        assert!(matches!(
            unknown_reason(
                endpoint,
                &reply(&[
                    ("return_code", "SUCCESS"),
                    ("result_code", "SUCCESS"),
                    ("sign", "0123456789ABCDEF0123456789ABCDEF")
                ]),
                200
            ),
            UnknownReason::BadSignature(_)
        ));
    }
}

#[test]
fn echo_mismatch_is_unknown() {
    let body = reply(&[
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("mch_billno", "10000098201411119999999999"),
        ("send_listid", "1"),
    ]);
    let seen = interpret(Endpoint::SendRedPacket, BILL, 200, &body, &signer());
    assert_eq!(
        seen.outcome,
        Outcome::Unknown(Unknown::new(
            BILL,
            UnknownReason::EchoMismatch {
                field: "mch_billno".into()
            }
        ))
    );
    // Amount and merchant echoes are checked against the signed request.
    let signed = build(
        &common::red_packet(),
        &common::merchant(),
        &common::nonce(),
        &signer(),
        None,
    )
    .expect("valid");
    for (field, value) in [
        ("total_amount", "1001"),
        ("mch_id", "10000099"),
        ("wxappid", "wx0"),
        ("re_openid", "other"),
    ] {
        let mut fields = vec![
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("mch_billno", BILL),
        ];
        fields.push((field, value));
        let seen = interpret_signed(&signed, 200, &reply(&fields), &signer());
        assert_eq!(
            seen.outcome,
            Outcome::Unknown(Unknown::new(
                BILL,
                UnknownReason::EchoMismatch {
                    field: field.into()
                }
            )),
            "{field}"
        );
    }
    let good = reply(&[
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("mch_billno", BILL),
        ("total_amount", "1000"),
        ("mch_id", "10000098"),
    ]);
    assert!(
        interpret_signed(&signed, 200, &good, &signer())
            .outcome
            .is_paid()
    );
}

fn query_reply(status: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        ("return_code", "SUCCESS"),
        ("result_code", "SUCCESS"),
        ("status", status),
    ];
    fields.extend_from_slice(extra);
    reply(&fields)
}

#[test]
fn red_packet_query_statuses() {
    for endpoint in [Endpoint::QueryRedPacket, Endpoint::QueryWorkwxRedPacket] {
        let signed_fields = |status: &str, extra: &[(&str, &str)]| {
            // queryworkwxredpack signs its replies.
            let raw = RawXml::parse(&query_reply(status, extra)).expect("parses");
            let mut fields: Vec<(String, String)> =
                raw.fields().map(|(n, v)| (n.into(), v.into())).collect();
            let sign = signer().sign_md5(raw.fields()).expect("sign");
            fields.push(("sign".into(), sign.as_str().into()));
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            interpret(
                endpoint,
                BILL,
                200,
                &write_document(&pairs, None),
                &signer(),
            )
            .outcome
        };
        assert!(matches!(
            signed_fields("SENDING", &[]),
            Outcome::Unknown(Unknown {
                reason: UnknownReason::InProgress { .. },
                ..
            })
        ));
        assert!(matches!(
            signed_fields("NEW_STATE", &[]),
            Outcome::Unknown(Unknown {
                reason: UnknownReason::InProgress { .. },
                ..
            })
        ));
        for (status, payout) in [
            ("SENT", PayoutStatus::Sent),
            ("RECEIVED", PayoutStatus::Received),
            ("RFUND_ING", PayoutStatus::RefundInProgress),
            ("REFUND", PayoutStatus::Refunded),
        ] {
            match signed_fields(
                status,
                &[
                    ("refund_amount", "1000"),
                    ("refund_time", "2024-02-11 20:00:00"),
                    ("total_amount", "1000"),
                ],
            ) {
                Outcome::Paid(r) => {
                    assert_eq!(r.status, Some(payout));
                    let refunded = matches!(
                        payout,
                        PayoutStatus::RefundInProgress | PayoutStatus::Refunded
                    );
                    assert_eq!(r.refund.is_some(), refunded, "{status}");
                    if let Some(refund) = r.refund {
                        assert_eq!(refund.amount, Some(Amount::from_fen(1000)));
                        assert_eq!(refund.in_progress, status == "RFUND_ING");
                    }
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(
            signed_fields("FAILED", &[("reason", "余额不足")]),
            Outcome::NotPaid(NotPaid {
                class: ErrorClass::Final,
                bill_rule: BillRule::New,
                ..
            })
        ));
        assert!(matches!(
            signed_fields("SENT", &[("total_amount", "ten")]),
            Outcome::Unknown(Unknown {
                reason: UnknownReason::Unparseable(_),
                ..
            })
        ));
    }
}

#[test]
fn transfer_query_statuses() {
    for endpoint in [Endpoint::QueryTransfer, Endpoint::QueryPayEmployee] {
        let o = |status: &str| {
            interpret(
                endpoint,
                BILL,
                200,
                &query_reply(status, &[("payment_amount", "650")]),
                &signer(),
            )
            .outcome
        };
        match o("SUCCESS") {
            Outcome::Paid(r) => {
                assert_eq!(r.status, Some(PayoutStatus::Succeeded));
                assert_eq!(r.amount, Some(Amount::from_fen(650)));
            }
            other => panic!("{other:?}"),
        }
        assert!(o("FAILED").is_not_paid());
        assert!(matches!(
            o("PROCESSING"),
            Outcome::Unknown(Unknown {
                reason: UnknownReason::InProgress { .. },
                ..
            })
        ));
        assert!(matches!(
            o("WHATEVER"),
            Outcome::Unknown(Unknown {
                reason: UnknownReason::InProgress { .. },
                ..
            })
        ));
        let no_status = reply(&[("return_code", "SUCCESS"), ("result_code", "SUCCESS")]);
        assert!(matches!(
            interpret(endpoint, BILL, 200, &no_status, &signer()).outcome,
            Outcome::Unknown(Unknown {
                reason: UnknownReason::NoStatus,
                ..
            })
        ));
    }
}

#[test]
fn sign_key_reply() {
    let body = reply(&[
        ("return_code", "SUCCESS"),
        ("mch_id", "1900000109"),
        ("sandbox_signkey", "0123456789abcdef0123456789abcdef"),
    ]);
    assert!(
        interpret(Endpoint::GetSignKey, "", 200, &body, &signer())
            .outcome
            .is_paid()
    );
    let typed = SignKeyReply::from_raw(&RawXml::parse(&body).expect("parses")).expect("typed");
    assert!(typed.sandbox_signkey.is_some());
    assert!(
        !format!("{typed:?}").contains("0123456789abcdef"),
        "key must not show in Debug"
    );
}
