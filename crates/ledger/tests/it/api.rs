//! The records of the `Store` trait are `#[non_exhaustive]`; a backend of
//! another crate (`hongbao-ledger` without features is the trait alone)
//! must still be able to build every record it returns. This test is such
//! a crate.

use crate::conformance::payout;
use hongbao_ledger::{
    AttemptAction, AttemptRecord, BatchSpec, Binding, ChangedRow, Claim, Claimed, ImportPlan,
    Payout, PayoutState, ServerId, SimilarPayout, Submitted, Summary,
};

#[test]
fn a_backend_of_another_crate_builds_every_record_it_returns() {
    let new = payout("k1", "o1", 100, "BILL1").in_batch("june", 2);
    let mut stored = Payout::new(7, &new);
    assert_eq!(
        (
            stored.id,
            stored.key.as_str(),
            stored.batch.as_deref(),
            stored.line
        ),
        (7, "k1", Some("june"), 2)
    );
    assert_eq!(
        (
            stored.openid.as_str(),
            stored.amount_fen,
            stored.bill.as_str()
        ),
        ("o1", 100, "BILL1")
    );
    assert_eq!(
        (stored.params.as_str(), stored.generated),
        (new.params.as_str(), true)
    );
    assert_eq!(stored.request_json, new.request_json);
    assert_eq!(
        (stored.state, stored.attempts, stored.fence),
        (PayoutState::Planned, 0, 0)
    );
    assert!(stored.body.is_none() && stored.next_step.is_none());
    // What it read from its rows goes on the fields.
    stored.state = PayoutState::Paid;
    stored.fence = 3;
    let claim = Claim {
        payout: 7,
        fence: 3,
    };
    let claimed = Claimed::new(claim, stored.clone());
    assert_eq!(
        (claimed.claim, claimed.payout.state),
        (claim, PayoutState::Paid)
    );
    let submitted = Submitted::new(stored.clone(), false);
    assert!(!submitted.created);

    let mut plan = ImportPlan::default();
    plan.new.push(3);
    plan.refused.push(ChangedRow::new(
        2,
        "k1",
        "a (bill B)",
        "b",
        PayoutState::Paid,
    ));
    plan.similar
        .push(SimilarPayout::new(3, "o2", 100, None, "solo"));
    assert!(plan.is_refused());
    assert_eq!(plan.similar[0].other_key, "solo");

    let mut summary = Summary::empty();
    summary.not_paid_by_code.push(("NOTENOUGH".into(), 1, 100));
    assert_eq!(summary.payouts(), 0);

    let attempt = AttemptRecord::new(
        claim,
        "BILL1",
        AttemptAction::Query,
        PayoutState::Paid,
        1,
        2,
    );
    assert_eq!((attempt.started_ms, attempt.finished_ms), (1, 2));
    let spec = BatchSpec::new("june", "june.csv", "ab", "red-packet");
    assert_eq!(spec.kind, "red-packet");
    let binding = Binding::new(
        "10000098",
        "wx8888888888888888",
        ServerId::new("sandbox:x", true),
    );
    assert!(binding.server.sandbox);
}
