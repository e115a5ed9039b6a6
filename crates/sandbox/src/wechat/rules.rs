//! The business rules of the money-moving endpoints: amount ranges, the
//! `scene_id` rule, the night ban, rates, per-user and per-merchant daily
//! caps, and the balance.

use hongbao_proto::{Amount, AnyRequest, Endpoint, ErrorCode, OpenId, SceneId};

use super::{Rejection, reject};
use crate::clock::Timestamp;
use crate::ledger::Quota;
use crate::state::{Inner, Shared};

/// What the business rules need of a money-moving request, read from the
/// typed proto request (never from the raw text).
#[derive(Debug, Clone)]
pub(super) struct Facts {
    /// The payee (`re_openid` / `openid`).
    pub(super) openid: OpenId,
    /// The amount (`total_amount` / `amount`).
    pub(super) amount: Amount,
    /// The usage scene, if any (red packets).
    pub(super) scene_id: Option<SceneId>,
    /// Packets the amount is split into (`total_num` of a group red
    /// packet; 1 otherwise).
    pub(super) packets: u32,
}

impl Facts {
    /// The facts of a typed payout request; `None` for the other requests.
    pub(super) fn of(request: &AnyRequest) -> Option<Facts> {
        Some(Facts {
            openid: request.payee_openid()?.clone(),
            amount: request.amount()?,
            scene_id: request.scene_id().cloned(),
            packets: request.packets()?.max(1),
        })
    }
}

pub(super) fn secs(value: u32) -> i64 {
    i64::from(value)
}

pub(super) fn business_rules(
    shared: &Shared,
    inner: &mut Inner,
    endpoint: Endpoint,
    facts: &Facts,
    now: Timestamp,
) -> Result<(), Rejection> {
    let openid = facts.openid.as_str();
    let amount = facts.amount.fen();
    let limits = &shared.settings.limits;
    let family = endpoint.spec().family;
    let Some(quota) = Quota::of(family) else {
        return Ok(());
    };
    let today = now.beijing_date();
    let yuan = Amount::from_fen;
    match quota {
        Quota::RedPacket | Quota::WorkwxRedPacket => {
            let has_scene = facts.scene_id.is_some();
            // Outside the default range a scene_id is required, below it as
            // above it (endpoints.md #1: "above 200 yuan or below 1 yuan");
            // with one, only the merchant's own ceiling applies.
            let (min, max) = if has_scene {
                (1, limits.red_packet_max_with_scene_fen)
            } else {
                (limits.red_packet_min_fen, limits.red_packet_max_fen)
            };
            if endpoint == Endpoint::SendGroupRedPacket {
                let average = amount / u64::from(facts.packets);
                if average < min || average > max {
                    return Err(reject(
                        ErrorCode::MoneyLimit,
                        format!(
                            "每个红包的平均金额必须在{}元到{}元之间.",
                            yuan(min),
                            yuan(max)
                        ),
                    ));
                }
            } else if !has_scene && !(min..=max).contains(&amount) {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    format!(
                        "红包金额小于{}元或大于{}元时必须设置scene_id (outside {} to {} yuan a scene_id is required)",
                        yuan(min),
                        yuan(max),
                        yuan(min),
                        yuan(max)
                    ),
                ));
            } else if amount > max {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    format!(
                        "红包金额不能大于{}元 (above the largest amount per packet)",
                        yuan(max)
                    ),
                ));
            }
            if limits.red_packet_night_ban && now.beijing().hour < 8 {
                return Err(reject(
                    ErrorCode::TimeLimited,
                    "北京时间0点至8点不能发红包 (no sending between 00:00 and 08:00 Beijing time)",
                ));
            }
            let per_minute = usize::try_from(limits.red_packet_per_minute).unwrap_or(usize::MAX);
            if inner.ledger.recent_count(quota, now, 60_000) >= per_minute {
                // Cash red packets name the per-minute count with their own
                // code (errors.md §1); WeCom red packets list only FREQ_LIMIT.
                let code = if quota == Quota::RedPacket {
                    ErrorCode::SecondOverLimited
                } else {
                    ErrorCode::FreqLimit
                };
                return Err(reject(
                    code,
                    "超过频率限制,请稍后再试 (too many red packets this minute)",
                ));
            }
            let user = inner.ledger.user_tally(quota, openid, today);
            if user.count >= limits.red_packet_user_daily_count {
                return Err(reject(
                    ErrorCode::SendNumLimit,
                    "该用户今日领取红包个数超过限制 (this user reached today's packet count)",
                ));
            }
            if user.fen.saturating_add(amount) > limits.red_packet_user_daily_fen {
                return Err(reject(
                    ErrorCode::RcvdAmountLimit,
                    "该用户今日领取金额超过限制 (this user reached today's amount)",
                ));
            }
            let merchant = inner.ledger.merchant_tally(quota, today);
            if merchant.fen.saturating_add(amount) > limits.red_packet_merchant_daily_fen {
                return Err(reject(
                    ErrorCode::SendAmountLimit,
                    "商户今日发放金额超过限制 (the merchant reached today's total)",
                ));
            }
        }
        Quota::PayEmployee | Quota::Transfer => {
            let (min, single_max, user_daily_fen, user_daily_count, merchant_daily) =
                if quota == Quota::PayEmployee {
                    (
                        limits.employee_min_fen,
                        limits.employee_single_max_fen,
                        limits.employee_user_daily_fen,
                        limits.employee_user_daily_count,
                        limits.employee_merchant_daily_fen,
                    )
                } else {
                    (
                        limits.transfer_min_fen,
                        limits.transfer_single_max_fen,
                        limits.transfer_user_daily_fen,
                        limits.transfer_user_daily_count,
                        limits.transfer_merchant_daily_fen,
                    )
                };
            if amount < min {
                return Err(reject(
                    ErrorCode::AmountLimit,
                    format!(
                        "付款金额不能小于最低限额{}元 (below the minimum)",
                        yuan(min)
                    ),
                ));
            }
            if amount > single_max {
                return Err(reject(
                    ErrorCode::AmountLimit,
                    format!(
                        "付款金额超出单笔限额{}元 (above the single-payment limit)",
                        yuan(single_max)
                    ),
                ));
            }
            if quota == Quota::Transfer {
                let per_second = usize::try_from(limits.transfer_per_second).unwrap_or(usize::MAX);
                if inner.ledger.recent_count(quota, now, 1_000) >= per_second {
                    return Err(reject(
                        ErrorCode::FreqLimit,
                        "超过频率限制,请稍后再试 (too many transfers this second)",
                    ));
                }
            }
            if limits.same_user_interval_secs > 0
                && inner
                    .ledger
                    .last_paid(quota, openid)
                    .is_some_and(|t| now < t.add_secs(secs(limits.same_user_interval_secs)))
            {
                return Err(reject(
                    ErrorCode::FreqLimit,
                    format!(
                        "同一用户付款间隔不能少于{}秒 (pay the same user at most once per {} s)",
                        limits.same_user_interval_secs, limits.same_user_interval_secs
                    ),
                ));
            }
            let user = inner.ledger.user_tally(quota, openid, today);
            if user.count >= user_daily_count {
                return Err(reject(
                    ErrorCode::SendNumLimit,
                    "该用户今日付款次数超过限制 (this user reached today's payment count)",
                ));
            }
            if user.fen.saturating_add(amount) > user_daily_fen {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    "已达到付款给此用户额度上限 (this user reached today's amount)",
                ));
            }
            let merchant = inner.ledger.merchant_tally(quota, today);
            if merchant.fen.saturating_add(amount) > merchant_daily {
                return Err(reject(
                    ErrorCode::MoneyLimit,
                    "已达到今日商户付款额度上限 (the merchant reached today's total)",
                ));
            }
        }
    }
    if inner.ledger.balance_fen() < amount {
        return Err(reject(
            ErrorCode::NotEnough,
            "帐号余额不足，请到商户平台充值后再重试 (balance insufficient)",
        ));
    }
    Ok(())
}
