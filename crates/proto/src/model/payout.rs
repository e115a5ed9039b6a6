//! What pay-to-employee and transfers share beyond their declarations: the
//! 1 yuan minimum and the real-name rule.

use crate::validate::{Checker, Rule};
use crate::values::CheckName;

/// Smallest payment of pay-to-employee and transfers (1 yuan).
pub(crate) const MIN_PAYMENT_FEN: u64 = 100;

/// `re_user_name` is required with `FORCE_CHECK`.
pub(crate) fn real_name_rule(c: &mut Checker, check_name: CheckName, re_user_name: Option<&str>) {
    if check_name == CheckName::ForceCheck && re_user_name.is_none_or(str::is_empty) {
        c.push(
            "re_user_name",
            Rule::RequiredWhen("check_name is FORCE_CHECK"),
            None,
        );
    }
}
