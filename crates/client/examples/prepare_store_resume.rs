//! Crash-safe payouts: prepare, store, execute; after a restart, resume.
//!
//! 1. [`Client::prepare`] validates and signs the request without sending
//!    anything. The [`Prepared`] request is stored (here as a JSON file)
//!    **before** the first send.
//! 2. [`Client::execute`] sends it. Here the connection drops after the
//!    request was written, and the process "crashes" with an unknown
//!    outcome: the money may or may not have moved.
//! 3. A new process reads the stored request and calls [`Client::resume`]:
//!    it queries the bill number first, and only if WeChat does not know it
//!    resends the **identical** request (same bill number), so the payee is
//!    paid exactly once.
//!
//! "WeChat" is the [`MockTransport`] (no network, no merchant account).
//!
//! ```sh
//! cargo run -p hongbao --example prepare_store_resume --features test-util
//! ```
//!
//! `cargo test -p hongbao --features test-util` runs it too.

use std::error::Error;
use std::path::{Path, PathBuf};

use hongbao::mock::{MockTransport, RecordedRequestExt};
use hongbao::{
    Amount, ApiKey, BillNo, Client, NextStep, OpenId, Outcome, Prepared, RedPacket, RetryPolicy,
};

const BILL: &str = "10000098202402100000000002";
const OPENID: &str = "oxTWIuGaIt6gTKsQRLau2M0yL16E";

/// The same configuration in both "processes", talking to the same "WeChat".
fn client(wechat: &MockTransport) -> Result<Client, Box<dyn Error>> {
    Ok(Client::builder()
        .mch_id("10000098")
        .appid("wx8888888888888888")
        .api_key(ApiKey::new("192006250b4c09247ec02edce69f6a2d")?)
        .transport(wechat.clone())
        .retry(RetryPolicy::none())
        .build()?)
}

/// The first process: prepare, store, send. Returns what it learnt.
async fn first_process(wechat: &MockTransport, journal: &Path) -> Result<Outcome, Box<dyn Error>> {
    let client = client(wechat)?;
    let packet = RedPacket::builder(
        BillNo::new(BILL)?,
        OpenId::new(OPENID)?,
        Amount::parse_yuan("10.00")?,
    )
    .send_name("天虹百货")
    .wishing("新春快乐")
    .act_name("新春红包")
    .remark("感谢支持")
    .client_ip("203.0.113.10")
    .build()?; // every broken rule at once, nothing sent
    let prepared = client.prepare(&packet)?;
    // Stored before the first send: after a crash, this is what is resent.
    std::fs::write(journal, serde_json::to_string_pretty(&prepared)?)?;

    // The request reaches WeChat, then the connection drops.
    wechat.fail_after_send();
    Ok(client.execute(&prepared).await?)
}

/// The restarted process: read the stored request and finish it.
async fn restarted_process(
    wechat: &MockTransport,
    journal: &Path,
) -> Result<Outcome, Box<dyn Error>> {
    let client = client(wechat)?;
    let stored: Prepared = serde_json::from_str(&std::fs::read_to_string(journal)?)?;
    println!("resuming bill {} ({:?})", stored.bill(), stored.endpoint());

    // WeChat never received the first attempt: the query says NOT_FOUND...
    wechat.push_reply(
        200,
        "<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code>\
         <err_code>NOT_FOUND</err_code><err_code_des>指定单号数据不存在</err_code_des></xml>",
    );
    // ...so the identical request is sent again, and this time it pays.
    wechat.push_reply(
        200,
        format!(
            "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>\
             <mch_billno>{BILL}</mch_billno><mch_id>10000098</mch_id>\
             <wxappid>wx8888888888888888</wxappid><re_openid>{OPENID}</re_openid>\
             <total_amount>1000</total_amount>\
             <send_listid>1000041701201411111234567890</send_listid></xml>"
        ),
    );
    Ok(client.resume(&stored).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let wechat = MockTransport::new();
    let journal: PathBuf =
        std::env::temp_dir().join(format!("hongbao-example-{}.json", std::process::id()));

    let outcome = first_process(&wechat, &journal).await?;
    println!("first process: {outcome}");
    assert!(outcome.is_unknown(), "{outcome:?}");
    // Unknown: keep the bill number and find out, never pay under a new one.
    assert_eq!(outcome.next_step(), NextStep::Query);

    let outcome = restarted_process(&wechat, &journal).await?;
    println!("restarted process: {outcome}");
    std::fs::remove_file(&journal)?;
    assert!(matches!(outcome, Outcome::Paid(_)), "{outcome:?}");
    assert_eq!(outcome.next_step(), NextStep::Done);

    // On the wire: the first send, the query, and the resend, which is the
    // stored request byte for byte (the key did not change).
    let sent = wechat.requests();
    assert_eq!(sent.len(), 3);
    assert!(sent[1].url.ends_with("/gethbinfo"), "{}", sent[1].url);
    assert_eq!(sent[2].body, sent[0].body);
    assert_eq!(sent[2].field("mch_billno").as_deref(), Some(BILL));
    Ok(())
}

/// `cargo test` runs this example (`test = true` in Cargo.toml).
#[test]
fn runs() -> Result<(), Box<dyn Error>> {
    main()
}
