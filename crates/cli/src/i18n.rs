//! Messages in English (the default) or Simplified Chinese, from the
//! Project Fluent catalogs `crates/cli/i18n/{en,zh}.ftl` (compiled in).
//!
//! The language is `--lang`, else the first of `LC_ALL`, `LC_MESSAGES` and
//! `LANG` that is set (Chinese when it starts with `zh`), else English. It
//! covers the summary, the sandbox banner, the plan and refusals, the
//! progress, note and warning lines on stderr, the top-level errors and
//! `--help` ([`crate::help`]); WeChat's own Chinese error text is always
//! shown as WeChat sent it, beside ours. clap's own parse errors stay in
//! English.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use hongbao_ledger::{PayoutState, Summary};
use std::sync::OnceLock;

/// A language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
#[non_exhaustive]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

const EN: &str = include_str!("../i18n/en.ftl");
const ZH: &str = include_str!("../i18n/zh.ftl");

static CURRENT: OnceLock<Lang> = OnceLock::new();

/// The language for `flag` (`--lang`) and the environment (`env` reads a
/// variable): the flag, else `LC_ALL`, `LC_MESSAGES`, `LANG` (first set and
/// not empty; `zh…` is Chinese, anything else English).
pub fn detect(flag: Option<Lang>, env: &dyn Fn(&str) -> Option<String>) -> Lang {
    if let Some(lang) = flag {
        return lang;
    }
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|var| env(var).filter(|v| !v.is_empty()))
        .map_or(Lang::En, |value| {
            if value.to_ascii_lowercase().starts_with("zh") {
                Lang::Zh
            } else {
                Lang::En
            }
        })
}

/// Sets the language of this process's messages (once; later calls are
/// ignored).
pub fn init(lang: Lang) {
    let _ = CURRENT.set(lang);
}

/// The language of this process's messages.
pub fn current() -> Lang {
    CURRENT.get().copied().unwrap_or_default()
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: [OnceLock<FluentBundle<FluentResource>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    let (slot, source, tag) = match lang {
        Lang::En => (&BUNDLES[0], EN, "en"),
        Lang::Zh => (&BUNDLES[1], ZH, "zh-CN"),
    };
    slot.get_or_init(|| {
        let id: unic_langid::LanguageIdentifier = tag.parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around values: terminals show them.
        bundle.set_use_isolating(false);
        // The catalogs are ours and tested to parse: a broken entry is
        // skipped (and `text` falls back to the English, then the id).
        let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(r, _)| r);
        let _ = bundle.add_resource(resource);
        bundle
    })
}

fn format(lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> Option<String> {
    let bundle = bundle(lang);
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

/// The message `id` in `lang`, if the catalog of `lang` has it.
pub(crate) fn message(lang: Lang, id: &str) -> Option<String> {
    format(lang, id, None)
}

/// The message `id` in `lang` with text variables (English if missing
/// there, the id itself if missing everywhere).
pub(crate) fn message_str(lang: Lang, id: &str, vars: &[(&str, String)]) -> String {
    let mut args = FluentArgs::new();
    for (name, value) in vars {
        args.set(*name, FluentValue::from(value.clone()));
    }
    let args = (!vars.is_empty()).then_some(&args);
    format(lang, id, args)
        .or_else(|| format(Lang::En, id, args))
        .unwrap_or_else(|| id.to_owned())
}

/// The message `id` in the current language (English if missing there,
/// the id itself if missing everywhere).
pub fn text(id: &str) -> String {
    text_with(id, &[])
}

/// The message `id` with its variables, e.g. `("rows", 3)`.
pub fn text_with(id: &str, vars: &[(&str, u64)]) -> String {
    let mut args = FluentArgs::new();
    for (name, value) in vars {
        args.set(*name, FluentValue::from(*value));
    }
    let args = (!vars.is_empty()).then_some(&args);
    format(current(), id, args)
        .or_else(|| format(Lang::En, id, args))
        .unwrap_or_else(|| id.to_owned())
}

/// The message `id` with text variables, e.g. `("total", "12.00")`.
pub fn text_str(id: &str, vars: &[(&str, String)]) -> String {
    message_str(current(), id, vars)
}

/// Width of `text` on a terminal: CJK and full-width characters take two
/// columns.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if c >= '\u{2E80}' { 2 } else { 1 })
        .sum()
}

fn pad_right(text: &str, to: usize) -> String {
    format!("{text}{}", " ".repeat(to.saturating_sub(width(text))))
}

fn pad_left(text: &str, to: usize) -> String {
    format!("{}{text}", " ".repeat(to.saturating_sub(width(text))))
}

/// The summary table printed at the end of a run and by `batch status`, in
/// the current language (labels from the catalog; English by default).
pub fn summary_table(summary: &Summary) -> String {
    let yuan = |fen: u64| hongbao_proto::Amount::from_fen(fen).to_string();
    let line = |label: &str, rows: String, amount: String| {
        format!(
            "{} {} {}\n",
            pad_right(label, 22),
            pad_left(&rows, 8),
            pad_left(&amount, 14)
        )
    };
    let mut out = line(
        &text("summary-state"),
        text("summary-rows"),
        text("summary-yuan"),
    );
    for state in [
        PayoutState::Paid,
        PayoutState::Received,
        PayoutState::Refunded,
        PayoutState::NotPaid,
        PayoutState::Conflict,
        PayoutState::Unknown,
        PayoutState::Sending,
        PayoutState::Planned,
    ] {
        let (count, fen) = summary.get(state);
        if count == 0
            && matches!(
                state,
                PayoutState::Sending
                    | PayoutState::Planned
                    | PayoutState::Conflict
                    | PayoutState::Received
                    | PayoutState::Refunded
            )
        {
            continue;
        }
        let label = text(&format!("state-{}", state.as_str()));
        out.push_str(&line(&label, count.to_string(), yuan(fen)));
        if state == PayoutState::NotPaid {
            for (code, count, fen) in &summary.not_paid_by_code {
                out.push_str(&line(&format!("  {code}"), count.to_string(), yuan(*fen)));
            }
        }
    }
    let total_fen: u64 = summary.by_state.iter().map(|(_, _, fen)| fen).sum();
    out.push_str(&line(
        &text("summary-total"),
        summary.payouts().to_string(),
        yuan(total_fen),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Message ids of a catalog: `id = …` at the start of a line.
    fn ids(source: &str) -> Vec<String> {
        assert!(
            FluentResource::try_new(source.to_owned()).is_ok(),
            "catalog parses"
        );
        let mut ids: Vec<String> = source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.to_owned()))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn both_catalogs_parse_and_hold_the_same_messages() {
        let en = ids(EN);
        assert!(en.len() > 10);
        assert_eq!(en, ids(ZH));
        for lang in [Lang::En, Lang::Zh] {
            for id in &en {
                // Every variable any message uses.
                let vars = FluentArgs::from_iter(
                    [
                        "rows",
                        "total",
                        "largest",
                        "line",
                        "kind",
                        "openid",
                        "lines",
                        "amount",
                        "cap",
                        "payees",
                        "id",
                        "option",
                        "name",
                        "value",
                        "aliases",
                        "values",
                        "phase",
                        "done",
                        "url",
                        "banner",
                        "key",
                        "state",
                        "old",
                        "new",
                        "bill",
                        "holder",
                        "where",
                        "batch",
                        "journal",
                        "unchanged",
                        "replaced",
                        "skipped",
                        "path",
                        "why",
                        "error",
                        "causes",
                        "cause",
                        "rate",
                        "eta",
                        "n",
                        "h",
                        "m",
                        "elapsed",
                        "location",
                        "concurrency",
                        "limit",
                        "lease",
                        "paid",
                    ]
                    .map(|name| (name, FluentValue::from(3))),
                );
                assert!(format(lang, id, Some(&vars)).is_some(), "{lang:?} {id}");
            }
        }
    }

    #[test]
    fn the_language_comes_from_the_flag_then_the_locale() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(detect(None, &env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(
            detect(None, &env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN")])),
            Lang::En
        );
        assert_eq!(detect(Some(Lang::Zh), &env(&[("LANG", "C")])), Lang::Zh);
        assert_eq!(detect(None, &env(&[])), Lang::En);
        assert_eq!(
            format(
                Lang::Zh,
                "invalid-rows",
                Some(&FluentArgs::from_iter([("rows", FluentValue::from(2))]))
            )
            .as_deref(),
            Some("2 行无效：没有发送任何款项（请修改文件，或加 --skip-invalid 只支付有效的行）")
        );
    }

    #[test]
    fn chinese_labels_keep_the_columns_aligned() {
        assert_eq!(width("已支付"), 6);
        assert_eq!(pad_right("已支付", 8), "已支付  ");
        assert_eq!(pad_left("12", 4), "  12");
    }
}
