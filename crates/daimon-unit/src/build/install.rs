//! `[Install]` directives, per systemd.unit(5) "[INSTALL] SECTION OPTIONS".

use super::unit::unit_names;
use super::{Cx, Outcome, assign_list};
use crate::model::InstallSection;
use crate::syntax::Entry;

pub(crate) fn apply(i: &mut InstallSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let list = match e.key.as_str() {
        "WantedBy" => &mut i.wanted_by,
        "RequiredBy" => &mut i.required_by,
        "Alias" => &mut i.alias,
        "Also" => &mut i.also,
        "DefaultInstance" => {
            if let Some(v) = cx.expanded(e) {
                i.default_instance = (!v.is_empty()).then_some(v);
            }
            return Outcome::Done;
        }
        _ => return Outcome::Unhandled,
    };
    if let Some(names) = unit_names(cx, e) {
        assign_list(list, &e.value, names);
    }
    Outcome::Done
}
