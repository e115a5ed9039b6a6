//! `--help` in the language of the messages.
//!
//! The commands and options are declared once, with clap's derive (their
//! doc comments are the English help). Before the command line is parsed,
//! [`lang_in_args`] finds `--lang` and [`command`] builds the clap command
//! in that language: in Simplified Chinese every about and help text is
//! replaced with the catalog message of a stable id (see [`help_texts`]),
//! and so are the headings ("Usage", "Options", "Arguments", "Commands"),
//! the generated `--help`, `--version` and `help` texts, and the
//! `[default: …]`, `[env: …]`, `[aliases: …]` and `[possible values: …]`
//! notes. English is clap's own rendering of the doc comments, unchanged.
//!
//! The ids: `help-hongbao` (and `help-hongbao-long` for the long about)
//! for the root; `help-<command path>` for a command, e.g.
//! `help-batch-run`; `<command id>-<option>` for an option, e.g.
//! `help-batch-run-yes` (`help-hongbao-config` for a global one), with
//! `-long` for its long help; `help-value-<option>-<value>` for a possible
//! value, e.g. `help-value-kind-red-packet`. `en.ftl` holds the English of
//! every id, equal to the doc comments (a unit test checks it), and
//! `zh.ftl` its translation.

use crate::cli::Cli;
use crate::i18n::{self, Lang};
use clap::builder::PossibleValue;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command, CommandFactory};
use std::ffi::OsString;

/// The global options `hongbao sandbox` does not use: hidden from its help,
/// and an error when given on its command line (the sandbox has options of
/// its own and logs through its own subscriber; `--lang` still chooses the
/// language of its help).
pub const NOT_FOR_SANDBOX: [&str; 4] = ["config", "sandbox", "verbose", "log_format"];

/// The language named by `--lang X` or `--lang=X` in `args` (before a
/// `--`), if any and valid; parsing proper reports a bad value.
pub fn lang_in_args(args: &[OsString]) -> Option<Lang> {
    let parse = |value: &std::ffi::OsStr| match value.to_str()? {
        "en" => Some(Lang::En),
        "zh" => Some(Lang::Zh),
        _ => None,
    };
    let mut found = None;
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--lang" {
            found = iter.next().and_then(|v| parse(v)).or(found);
        } else if let Some(value) = text.strip_prefix("--lang=") {
            found = parse(std::ffi::OsStr::new(value)).or(found);
        }
    }
    found
}

/// The `hongbao` command (built), with its help in `lang`, and the global
/// options that do not apply to `hongbao sandbox` hidden there.
pub fn command(lang: Lang) -> Command {
    let mut command = Cli::command();
    if lang != Lang::En {
        command = localize(command, "help-hongbao", lang);
    }
    command.build();
    finish(command, lang)
}

/// The error for a global option given to `hongbao sandbox` that it does
/// not use (`None` when there is none). Values from the environment
/// (`HONGBAO_CONFIG`) are fine: they are meant for the other commands.
pub fn check_sandbox_args(command: &mut Command, matches: &ArgMatches) -> Option<clap::Error> {
    let sandbox = matches.subcommand_matches("sandbox")?;
    let given = NOT_FOR_SANDBOX
        .into_iter()
        .find(|id| sandbox.value_source(id) == Some(ValueSource::CommandLine))?;
    let flag = match given {
        "verbose" => "-v/--verbose".to_owned(),
        other => format!("--{}", kebab(other)),
    };
    let message = i18n::text_str("sandbox-unused-option", &[("option", flag)]);
    let sub = command.find_subcommand_mut("sandbox")?;
    Some(sub.error(clap::error::ErrorKind::ArgumentConflict, message))
}

/// The catalog message `id` in `lang`.
fn lookup(lang: Lang, id: &str) -> Option<String> {
    i18n::message(lang, id)
}

/// The catalog message `id` in `lang` (English if missing there).
fn say(lang: Lang, id: &str) -> String {
    i18n::message_str(lang, id, &[])
}

/// A clap id as it appears in a message id: `dry_run` → `dry-run`.
fn kebab(id: &str) -> String {
    id.replace('_', "-")
}

/// The id of the subcommand `name` of the command `parent` (`help-hongbao`
/// for the root).
fn child_id(parent: &str, name: &str) -> String {
    if parent == "help-hongbao" {
        format!("help-{name}")
    } else {
        format!("{parent}-{name}")
    }
}

/// The possible values of `arg` shown in help (declared ones, before the
/// command is built).
fn possible_values(arg: &Arg) -> Vec<PossibleValue> {
    if !arg.get_action().takes_values() {
        return Vec::new();
    }
    arg.get_value_parser()
        .possible_values()
        .map(|values| values.filter(|v| !v.is_hide_set()).collect())
        .unwrap_or_default()
}

/// Replaces the help texts of `command` and its subcommands (not yet
/// built) with the messages of `lang`.
fn localize(mut command: Command, id: &str, lang: Lang) -> Command {
    if command.get_about().is_some()
        && let Some(text) = lookup(lang, id)
    {
        command = command.about(text);
    }
    if command.get_long_about().is_some()
        && let Some(text) = lookup(lang, &format!("{id}-long"))
    {
        command = command.long_about(text);
    }
    command = command.mut_args(|arg| {
        let arg_id = format!("{id}-{}", kebab(arg.get_id().as_str()));
        localize_arg(arg, &arg_id, lang)
    });
    command.mut_subcommands(|sub| {
        let sub_id = child_id(id, sub.get_name());
        localize(sub, &sub_id, lang)
    })
}

/// Replaces the help of one option, and writes its notes (default,
/// environment variable, aliases, possible values) in `lang`.
fn localize_arg(mut arg: Arg, id: &str, lang: Lang) -> Arg {
    let mut help = arg.get_help().map(|h| h.to_string());
    if help.is_some()
        && let Some(text) = lookup(lang, id)
    {
        help = Some(text);
    }
    let mut long = arg.get_long_help().map(|h| h.to_string());
    if long.is_some()
        && let Some(text) = lookup(lang, &format!("{id}-long"))
    {
        long = Some(text);
    }
    let heading = if arg.is_positional() {
        "help-heading-arguments"
    } else {
        "help-heading-options"
    };
    arg = arg.help_heading(say(lang, heading));
    let mut notes = Vec::new();
    if let Some(env) = arg.get_env()
        && !arg.is_hide_env_set()
    {
        let name = env.to_string_lossy().into_owned();
        notes.push(i18n::message_str(lang, "help-note-env", &[("name", name)]));
        arg = arg.hide_env(true);
    }
    if arg.get_action().takes_values()
        && !arg.get_default_values().is_empty()
        && !arg.is_hide_default_value_set()
    {
        let values = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        notes.push(i18n::message_str(
            lang,
            "help-note-default",
            &[("value", values)],
        ));
        arg = arg.hide_default_value(true);
    }
    if let Some(visible) = arg.get_visible_aliases() {
        let shown = visible
            .iter()
            .map(|a| format!("--{a}"))
            .collect::<Vec<_>>()
            .join(", ");
        notes.push(i18n::message_str(
            lang,
            "help-note-aliases",
            &[("aliases", shown)],
        ));
        // Every alias stays, hidden (clap would note the visible ones in English).
        let all: Vec<String> = arg
            .get_all_aliases()
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect();
        arg = arg.alias(None).aliases(all);
    }
    // The values: in the short help as a note, in the long help as a list
    // with their help when they have some (as clap does in English).
    let values = possible_values(&arg);
    let mut value_note = None;
    let mut value_list = None;
    if !values.is_empty() && !arg.is_hide_possible_values_set() {
        let names = values
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect::<Vec<_>>()
            .join(", ");
        value_note = Some(i18n::message_str(
            lang,
            "help-note-values",
            &[("values", names)],
        ));
        if values.iter().any(|v| v.get_help().is_some()) {
            let mut list = say(lang, "help-values-heading");
            let arg_id = kebab(arg.get_id().as_str());
            for value in &values {
                let name = value.get_name();
                match value.get_help() {
                    Some(english) => {
                        let text = lookup(lang, &format!("help-value-{arg_id}-{name}"))
                            .unwrap_or_else(|| english.to_string());
                        list.push_str(&format!("\n- {name}: {text}"));
                    }
                    None => list.push_str(&format!("\n- {name}")),
                }
            }
            value_list = Some(list);
        }
        arg = arg.hide_possible_values(true);
    }
    if !notes.is_empty() || value_note.is_some() {
        let base = help.clone().unwrap_or_default();
        let short: Vec<&str> = std::iter::once(base.as_str())
            .chain(notes.iter().map(String::as_str))
            .chain(value_note.as_deref())
            .filter(|s| !s.is_empty())
            .collect();
        help = Some(short.join(" "));
        let mut text = long.clone().unwrap_or(base);
        let list = value_list.or(value_note);
        for part in list.iter().chain(notes.iter()) {
            text.push_str("\n\n");
            text.push_str(part);
        }
        long = Some(text);
    }
    if let Some(help) = help {
        arg = arg.help(help);
    }
    if let Some(long) = long {
        arg = arg.long_help(long);
    }
    arg
}

/// After the build: the texts clap generates (`--help`, `--version`, the
/// `help` command), the headings, and the options `hongbao sandbox` does
/// not use, hidden there.
fn finish(mut command: Command, lang: Lang) -> Command {
    let is_sandbox = command.get_name() == "sandbox";
    if lang != Lang::En {
        let usage = say(lang, "help-heading-usage");
        command = command
            .help_template(format!(
                "{{before-help}}{{about-with-newline}}\n{usage}: {{usage}}\n\n{{all-args}}{{after-help}}"
            ))
            .subcommand_help_heading(say(lang, "help-heading-commands"));
        if command.get_name() == "help" && command.get_about().is_some() {
            command = command.about(say(lang, "help-command-help"));
        }
        let options = say(lang, "help-heading-options");
        command = command.mut_args(|arg| match arg.get_id().as_str() {
            "help" => {
                let id = if arg.get_long_help().is_some() {
                    "help-flag-help-more"
                } else {
                    "help-flag-help"
                };
                let mut arg = arg.help(say(lang, id)).help_heading(options.clone());
                if arg.get_long_help().is_some() {
                    arg = arg.long_help(say(lang, "help-flag-help-summary"));
                }
                arg
            }
            "version" => arg
                .help(say(lang, "help-flag-version"))
                .help_heading(options.clone()),
            _ => arg,
        });
    }
    if is_sandbox {
        command = command.mut_args(|arg| {
            if NOT_FOR_SANDBOX.contains(&arg.get_id().as_str()) {
                arg.hide(true)
            } else {
                arg
            }
        });
    }
    command.mut_subcommands(|sub| finish(sub, lang))
}

/// Every help text of the command line in English, by id, in the order of
/// the command tree: the doc comments (about, long about, help and long
/// help of every command and option, the help of possible values), then
/// the texts clap generates and the notes. `en.ftl` must hold exactly
/// these (checked by a unit test), and `zh.ftl` a translation of each.
pub fn help_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(&Cli::command(), "help-hongbao", &mut out);
    out
}

fn collect(command: &Command, id: &str, out: &mut Vec<(String, String)>) {
    if let Some(about) = command.get_about() {
        out.push((id.to_owned(), about.to_string()));
    }
    if let Some(long) = command.get_long_about() {
        out.push((format!("{id}-long"), long.to_string()));
    }
    for arg in command.get_arguments() {
        let arg_id = format!("{id}-{}", kebab(arg.get_id().as_str()));
        if let Some(help) = arg.get_help() {
            out.push((arg_id.clone(), help.to_string()));
        }
        if let Some(long) = arg.get_long_help() {
            out.push((format!("{arg_id}-long"), long.to_string()));
        }
        for value in possible_values(arg) {
            if let Some(help) = value.get_help() {
                let value_id = format!(
                    "help-value-{}-{}",
                    kebab(arg.get_id().as_str()),
                    value.get_name()
                );
                if !out.iter().any(|(seen, _)| *seen == value_id) {
                    out.push((value_id, help.to_string()));
                }
            }
        }
    }
    for sub in command.get_subcommands() {
        collect(sub, &child_id(id, sub.get_name()), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_is_found_before_parsing() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            lang_in_args(&args(&["hongbao", "--lang", "zh", "--help"])),
            Some(Lang::Zh)
        );
        assert_eq!(
            lang_in_args(&args(&["hongbao", "batch", "run", "--lang=en"])),
            Some(Lang::En)
        );
        assert_eq!(lang_in_args(&args(&["hongbao", "--lang", "fr"])), None);
        assert_eq!(
            lang_in_args(&args(&["hongbao", "sign", "--", "--lang", "zh"])),
            None
        );
        assert_eq!(lang_in_args(&args(&["--lang", "zh"])), None);
    }

    #[test]
    fn every_help_id_is_unique_and_in_both_catalogs_with_the_english_unchanged() {
        let texts = help_texts();
        assert!(texts.len() > 80, "{}", texts.len());
        let mut ids: Vec<&str> = texts.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "two help texts share an id");
        for (id, english) in &texts {
            assert_eq!(
                lookup(Lang::En, id).as_deref(),
                Some(english.as_str()),
                "en.ftl {id} differs from the doc comment"
            );
            let chinese = lookup(Lang::Zh, id);
            assert!(chinese.is_some(), "zh.ftl misses {id}");
            assert_ne!(chinese.as_deref(), Some(english.as_str()), "{id}");
        }
    }

    #[test]
    fn the_chinese_command_has_chinese_help_and_the_english_one_is_clap_s_own() {
        let render = |lang, path: &[&str]| {
            let mut command = command(lang);
            let mut sub = &mut command;
            for name in path {
                sub = sub
                    .find_subcommand_mut(name)
                    .unwrap_or_else(|| panic!("{name}"));
            }
            sub.render_long_help().to_string()
        };
        let mut english = Cli::command();
        english.build();
        assert_eq!(
            render(Lang::En, &[]),
            english.render_long_help().to_string()
        );
        let zh = render(Lang::Zh, &["batch", "run"]);
        for expected in [
            "用法: ",
            "参数:",
            "选项:",
            "[默认值: 8]",
            "[别名: --ledger]",
        ] {
            assert!(zh.contains(expected), "{expected} in {zh}");
        }
        for english in ["Usage:", "Options:", "[default:", "[aliases:", "Print help"] {
            assert!(!zh.contains(english), "{english} in {zh}");
        }
    }

    #[test]
    fn sandbox_help_hides_the_options_it_does_not_use() {
        for lang in [Lang::En, Lang::Zh] {
            let mut command = command(lang);
            let help = command
                .find_subcommand_mut("sandbox")
                .map(|s| s.render_long_help().to_string())
                .unwrap_or_default();
            assert!(help.contains("--balance-yuan"), "{help}");
            for hidden in ["--config", "--sandbox ", "--verbose", "--log-format"] {
                assert!(!help.contains(hidden), "{hidden} in {help}");
            }
            assert!(help.contains("--lang"), "{help}");
        }
    }
}
