//! `show UNIT... [-p PROP]... [--value]`: systemd's properties as `Key=value`
//! lines, one block per unit separated by an empty line (systemctl show).
//! `-p` keeps the named properties (in the daemon's order); `--value` prints
//! the values alone. A unit that is not loaded shows `LoadState=not-found`
//! and the command still succeeds, as with systemctl.

use daimon_proto::{Paths, Request, Response, UnitProperties, unit_name};

use super::args::ShowArgs;
use crate::client::{QUICK, unexpected};
use crate::commands::{connect, print};
use crate::error::CliResult;

pub fn show(paths: &Paths, a: &ShowArgs) -> CliResult {
    let req = Request::Show {
        units: a.units.iter().map(|u| unit_name(u)).collect(),
    };
    let mut list = match connect(paths)?.call(&req, QUICK)? {
        Response::Properties(l) => l,
        other => return Err(unexpected(other)),
    };
    // Descriptions, STATUS= and command lines come from services and unit
    // files: on a terminal their escape sequences are shown, not obeyed.
    if crate::render::escape_for_terminal(false) {
        for p in list.iter_mut().flat_map(|u| u.properties.iter_mut()) {
            p.value = daimon_proto::escape_terminal_str(&p.value);
        }
    }
    print(&render(&list, &a.properties, a.value))
}

fn render(list: &[UnitProperties], only: &[String], value: bool) -> String {
    let blocks: Vec<String> = list
        .iter()
        .map(|u| {
            u.properties
                .iter()
                .filter(|p| only.is_empty() || only.iter().any(|o| o == &p.name))
                .map(|p| {
                    if value {
                        format!("{}\n", p.value)
                    } else {
                        format!("{}={}\n", p.name, p.value)
                    }
                })
                .collect()
        })
        .collect();
    blocks.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_proto::Property;

    fn unit(name: &str) -> UnitProperties {
        let p = |k: &str, v: &str| Property {
            name: k.into(),
            value: v.into(),
        };
        UnitProperties {
            unit: name.into(),
            properties: vec![
                p("MainPID", "12"),
                p("Id", name),
                p("ActiveState", "active"),
            ],
        }
    }

    #[test]
    fn properties_filter_and_values_alone() {
        let list = [unit("a.service"), unit("b.service")];
        assert_eq!(
            render(&list[..1], &[], false),
            "MainPID=12\nId=a.service\nActiveState=active\n"
        );
        let only = ["ActiveState".to_string(), "MainPID".to_string()];
        assert_eq!(
            render(&list[..1], &only, false),
            "MainPID=12\nActiveState=active\n"
        );
        assert_eq!(render(&list[..1], &only[..1], true), "active\n");
        assert_eq!(
            render(&list, &only[..1], false),
            "ActiveState=active\n\nActiveState=active\n"
        );
    }
}
