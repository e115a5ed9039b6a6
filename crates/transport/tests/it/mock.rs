//! `MockTransport`: scripted replies, closures, recording, hang, failures.
#![cfg(feature = "test-util")]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use hongbao_transport::{
    ErrorKind, HttpRequest, HttpResponse, MockTransport, RecordedRequest, Transport, TransportError,
};

const URL: &str = "https://api.mch.weixin.qq.com/mmpaymkttransfers/sendredpack";

fn req(body: &str) -> HttpRequest {
    HttpRequest::new(URL, body.to_owned())
}

#[tokio::test]
async fn scripted_replies_come_in_order_then_exhaustion_is_not_sent() {
    let mock = MockTransport::new();
    mock.push_reply(200, "first")
        .push_response(HttpResponse::new(503, "second").with_header("Retry-After", "1"))
        .push_reply(200, "third");
    assert_eq!(mock.remaining(), 3);

    let r1 = mock.send(req("a")).await.unwrap();
    let r2 = mock.send(req("b")).await.unwrap();
    let r3 = mock.send(req("c")).await.unwrap();
    assert_eq!((r1.status, &r1.body[..]), (200, &b"first"[..]));
    assert_eq!((r2.status, &r2.body[..]), (503, &b"second"[..]));
    assert_eq!(r2.header("retry-after"), Some("1"));
    assert_eq!(&r3.body[..], b"third");

    let err = mock.send(req("d")).await.unwrap_err();
    assert!(!err.may_have_been_sent());
    assert_eq!(err.kind(), ErrorKind::Mock);
    assert!(err.message().contains("mock script exhausted"), "{err}");
    assert!(err.message().contains("#4"), "{err}");

    let bodies: Vec<_> = mock.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec!["a", "b", "c"]);
    assert_eq!(mock.calls(), 4);
    assert_eq!(mock.remaining(), 0);
}

#[tokio::test]
async fn closure_mode_answers_from_the_request() {
    let mock = MockTransport::from_fn(|request: &HttpRequest| {
        // The transport knows no XML: a plain text search is enough here.
        let body = RecordedRequest::from(request.clone());
        let billno = body
            .body_str()
            .and_then(|b| b.split_once("<mch_billno>"))
            .and_then(|(_, rest)| rest.split_once("</mch_billno>"))
            .map(|(v, _)| v.to_owned())
            .unwrap_or_default();
        if billno.is_empty() {
            return Err(TransportError::not_sent(ErrorKind::Mock, "no bill number"));
        }
        Ok(HttpResponse::new(
            200,
            format!("<xml><mch_billno><![CDATA[{billno}]]></mch_billno></xml>"),
        ))
    });
    // A scripted step still goes first.
    mock.push_reply(500, "scripted");
    assert_eq!(mock.send(req("<xml/>")).await.unwrap().status, 500);

    let reply = mock
        .send(req("<xml><mch_billno>B1</mch_billno></xml>"))
        .await
        .unwrap();
    assert_eq!(
        &reply.body[..],
        b"<xml><mch_billno><![CDATA[B1]]></mch_billno></xml>"
    );
    let err = mock.send(req("<xml></xml>")).await.unwrap_err();
    assert!(!err.may_have_been_sent());
    // NotSent outcomes are not recorded.
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(mock.calls(), 3);
}

#[tokio::test]
async fn one_shot_closure_step() {
    let mock = MockTransport::new();
    mock.push_fn(|r: &HttpRequest| Ok(HttpResponse::new(200, r.body.clone())))
        .push_fn(|_: &HttpRequest| Err(TransportError::maybe_sent(ErrorKind::Io, "reset")));
    assert_eq!(&mock.send(req("echo")).await.unwrap().body[..], b"echo");
    let err = mock.send(req("x")).await.unwrap_err();
    assert!(err.may_have_been_sent());
    assert_eq!(mock.requests().len(), 2);
    assert!(mock.send(req("y")).await.is_err());
}

#[tokio::test]
async fn records_url_headers_and_body_verbatim() {
    let mock = MockTransport::new();
    mock.push_reply(200, "ok");
    let body = "<xml>\
        <mch_billno><![CDATA[19000001092024010100001]]></mch_billno>\
        <remark><![CDATA[a]]]]><![CDATA[>b]]></remark>\
        <wishing><![CDATA[恭喜发财]]>&#13;&#10;<![CDATA[大吉]]></wishing>\
        <total_amount>100</total_amount>\
        <act_name>a &amp; b &lt;c&gt;</act_name>\
        </xml>";
    mock.send(
        HttpRequest::new(URL, body)
            .with_header("X-Request-Id", "r1")
            .with_client_cert_required(true),
    )
    .await
    .unwrap();
    let recorded = mock.last_request().unwrap();
    assert_eq!(recorded.url, URL);
    assert_eq!(recorded.path(), "/mmpaymkttransfers/sendredpack");
    assert_eq!(recorded.header("x-request-id"), Some("r1"));
    assert!(recorded.client_cert_required);
    assert_eq!(recorded.body, body.as_bytes());
    assert_eq!(recorded.body_str(), Some(body));
}

#[tokio::test]
async fn a_non_utf8_body_is_recorded_as_bytes() {
    let mock = MockTransport::new();
    mock.push_reply(200, "ok");
    mock.send(HttpRequest::new(URL, vec![0xff, b'<']))
        .await
        .unwrap();
    let recorded = mock.last_request().unwrap();
    assert_eq!(&recorded.body[..], &[0xff, b'<'][..]);
    assert_eq!(recorded.body_str(), None);
}

#[tokio::test]
async fn hang_never_answers_and_the_caller_timeout_fires() {
    let mock = MockTransport::new();
    mock.hang().push_reply(200, "after");
    let outcome = tokio::time::timeout(Duration::from_millis(100), mock.send(req("h"))).await;
    assert!(outcome.is_err(), "hang must stay pending");
    // The hung request reached the "server".
    assert_eq!(mock.requests().len(), 1);
    // The next scripted step is unaffected.
    assert_eq!(&mock.send(req("n")).await.unwrap().body[..], b"after");
}

#[tokio::test]
async fn fail_after_send_records_then_maybe_sent() {
    let mock = MockTransport::new();
    mock.fail_after_send();
    let err = mock.send(req("<xml><a>1</a></xml>")).await.unwrap_err();
    assert!(err.may_have_been_sent());
    assert_eq!(err.kind(), ErrorKind::Mock);
    assert!(matches!(err, TransportError::MaybeSent { .. }));
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.requests()[0].body_str(), Some("<xml><a>1</a></xml>"));
}

#[tokio::test]
async fn fail_before_send_is_not_sent_and_not_recorded() {
    let mock = MockTransport::new();
    mock.fail_before_send();
    let err = mock.send(req("x")).await.unwrap_err();
    assert!(!err.may_have_been_sent());
    assert!(matches!(err, TransportError::NotSent { .. }));
    assert!(mock.requests().is_empty());
    assert_eq!(mock.calls(), 1);
}

#[tokio::test]
async fn pushed_errors_are_recorded_only_when_maybe_sent() {
    let mock = MockTransport::new();
    mock.push_error(TransportError::not_sent(ErrorKind::Connect, "refused"))
        .push_error(TransportError::maybe_sent(ErrorKind::Timeout, "timed out"));
    assert!(!mock.send(req("1")).await.unwrap_err().may_have_been_sent());
    let err = mock.send(req("2")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let bodies: Vec<_> = mock.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec!["2"]);
}

#[tokio::test]
async fn clones_share_script_and_records_across_tasks() {
    let mock = MockTransport::new();
    for i in 0..20 {
        mock.push_reply(200, format!("{i}"));
    }
    let transport: Arc<dyn Transport> = Arc::new(mock.clone());
    let mut handles = Vec::new();
    for i in 0..20 {
        let t = Arc::clone(&transport);
        handles.push(tokio::spawn(async move {
            t.send(req(&format!("<xml><n>{i}</n></xml>"))).await
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap().status, 200);
    }
    assert_eq!(mock.requests().len(), 20);
    assert_eq!(mock.remaining(), 0);
    let debug = format!("{mock:?}");
    assert!(debug.contains("recorded_requests: 20"), "{debug}");
}

#[test]
fn recorded_request_path() {
    let r = RecordedRequest::from(HttpRequest::new("https://h:1/p/q?x=1", ""));
    assert_eq!(r.path(), "/p/q");
    let r = RecordedRequest::from(HttpRequest::new("https://h", ""));
    assert_eq!(r.path(), "/");
    let r = RecordedRequest::from(HttpRequest::new("relative/thing", ""));
    assert_eq!(r.path(), "relative/thing");
}
