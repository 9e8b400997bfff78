//! `[Unit]` directives, per systemd.unit(5) "[UNIT] SECTION OPTIONS".

use super::{Builder, Cx, Outcome, assign_list};
use crate::model::Condition;
use crate::name::is_valid_dependency_name;
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::boolean::parse_bool;
use crate::value::number::parse_unsigned;
use crate::value::timespan::parse_timespan;
use crate::value::words::split_words;
use std::time::Duration;

/// Space-separated unit names (dependency lists, [Install] lists).
pub(crate) fn unit_names(cx: &mut Cx<'_, '_>, e: &Entry) -> Option<Vec<String>> {
    let v = cx.expanded(e)?;
    let words = cx.ok(e, split_words(&v))?;
    for w in &words {
        if !is_valid_dependency_name(w) {
            cx.error(
                e,
                ValueError::new(
                    w,
                    "a unit name",
                    "names like foo.service, bar@1.service, baz.target",
                ),
            );
            return None;
        }
    }
    Some(words)
}

pub(crate) fn apply(b: &mut Builder, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let u = &mut b.unit;
    let list = match e.key.as_str() {
        "After" => Some(&mut u.after),
        "Before" => Some(&mut u.before),
        "Requires" => Some(&mut u.requires),
        "Requisite" => Some(&mut u.requisite),
        "Wants" => Some(&mut u.wants),
        "BindsTo" | "BindTo" => Some(&mut u.binds_to),
        "PartOf" => Some(&mut u.part_of),
        "Upholds" => Some(&mut u.upholds),
        "Conflicts" => Some(&mut u.conflicts),
        "OnFailure" => Some(&mut u.on_failure),
        "OnSuccess" => Some(&mut u.on_success),
        _ => None,
    };
    if let Some(list) = list {
        if let Some(names) = unit_names(cx, e) {
            assign_list(list, &e.value, names);
        }
        return Outcome::Done;
    }
    match e.key.as_str() {
        "Description" => {
            if let Some(v) = cx.expanded(e) {
                u.description = (!v.is_empty()).then_some(v);
            }
        }
        "Documentation" => {
            let Some(v) = cx.expanded(e) else {
                return Outcome::Done;
            };
            let Some(words) = cx.ok(e, split_words(&v)) else {
                return Outcome::Done;
            };
            // systemd.unit(5): only http(s)://, file:, info:, man: URIs; others are
            // ignored with a warning.
            let mut ok = Vec::new();
            for w in words {
                if ["http://", "https://", "file:", "info:", "man:"]
                    .iter()
                    .any(|s| w.starts_with(s))
                {
                    ok.push(w);
                } else {
                    cx.warn(e, format!("Documentation: {w:?} is not a http(s)://, file:, info: or man: URI; ignored"));
                }
            }
            assign_list(&mut u.documentation, &e.value, ok);
        }
        "StartLimitIntervalSec" | "StartLimitInterval" => {
            if let Some(t) = cx.parse(e, parse_timespan) {
                u.start_limit_interval = t.as_duration().unwrap_or(Duration::MAX);
            }
        }
        "StartLimitBurst" => {
            if let Some(n) = cx.parse(e, parse_unsigned) {
                u.start_limit_burst = n;
            }
        }
        "DefaultDependencies" | "RefuseManualStart" | "RefuseManualStop" | "StopWhenUnneeded" => {
            if let Some(v) = cx.parse(e, parse_bool) {
                match e.key.as_str() {
                    "DefaultDependencies" => u.default_dependencies = v,
                    "RefuseManualStart" => u.refuse_manual_start = v,
                    "RefuseManualStop" => u.refuse_manual_stop = v,
                    _ => u.stop_when_unneeded = v,
                }
            }
        }
        "SuccessAction" => {
            b.success_action = !e.value.is_empty();
            return Outcome::Unhandled;
        }
        key => {
            let (kind, is_assert) = if let Some(k) = key.strip_prefix("Condition") {
                (k, false)
            } else if let Some(k) = key.strip_prefix("Assert") {
                (k, true)
            } else {
                return Outcome::Unhandled;
            };
            if !super::known::is_known("Unit", key) {
                return Outcome::Unhandled;
            }
            let list = if is_assert {
                &mut u.asserts
            } else {
                &mut u.conditions
            };
            // systemd.unit(5): an empty assignment resets all conditions (or asserts).
            if e.value.is_empty() {
                list.clear();
                return Outcome::Done;
            }
            let Some(v) = cx.expanded(e) else {
                return Outcome::Done;
            };
            // `|` (trigger) then `!` (negate), each optional, as systemd parses them.
            let (trigger, rest) = match v.strip_prefix('|') {
                Some(r) => (true, r.trim_start()),
                None => (false, v.as_str()),
            };
            let (negate, rest) = match rest.strip_prefix('!') {
                Some(r) => (true, r.trim_start()),
                None => (false, rest),
            };
            let needs_path =
                kind.starts_with("Path") || kind.starts_with("File") || kind == "DirectoryNotEmpty";
            if needs_path && !rest.starts_with('/') {
                cx.error(
                    e,
                    ValueError::new(
                        rest,
                        "an absolute path",
                        "e.g. /etc/app.conf, optionally prefixed with ! or |",
                    ),
                );
                return Outcome::Done;
            }
            let c = Condition {
                kind: kind.to_string(),
                negate,
                trigger,
                value: rest.to_string(),
            };
            if is_assert {
                u.asserts.push(c)
            } else {
                u.conditions.push(c)
            }
        }
    }
    Outcome::Done
}
