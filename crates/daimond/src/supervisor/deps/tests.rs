//! Table tests of the dependency graph: order, failure chains, cycles,
//! Conflicts=, stop propagation over Requires=/BindsTo=/PartOf=.

use std::collections::BTreeMap;

use daimon_unit::UnitSection;

use super::*;
use crate::supervisor::jobs::{Reply, Txn};

/// `spec`: one line per unit, `name: Key=a,b Key=c` (names without `.service`).
fn sections(spec: &str) -> BTreeMap<String, UnitSection> {
    let mut out = BTreeMap::new();
    for line in spec.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, rest) = line.split_once(':').unwrap_or((line, ""));
        let mut s = UnitSection::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("Key=value");
            let list: Vec<String> = v.split(',').map(full).collect();
            let field = match k {
                "After" => &mut s.after,
                "Before" => &mut s.before,
                "Requires" => &mut s.requires,
                "Wants" => &mut s.wants,
                "BindsTo" => &mut s.binds_to,
                "PartOf" => &mut s.part_of,
                "Conflicts" => &mut s.conflicts,
                "Requisite" => &mut s.requisite,
                other => panic!("unknown key {other}"),
            };
            field.extend(list);
        }
        out.insert(full(name.trim()), s);
    }
    out
}

fn full(n: &str) -> String {
    if n.contains('.') {
        n.to_string()
    } else {
        format!("{n}.service")
    }
}

fn universe<'a>(s: &'a BTreeMap<String, UnitSection>, active: &[&str]) -> Universe<'a> {
    s.iter()
        .map(|(k, v)| {
            let node = Node {
                deps: Some(v),
                refused: None,
                active: active.iter().any(|a| full(a) == *k),
            };
            (k.clone(), node)
        })
        .collect()
}

fn txn(plan: Plan, requested: &[&str]) -> Txn {
    Txn {
        items: plan.items,
        reply: Reply::Nobody,
        early: plan.early,
        order: requested.iter().map(|n| full(n)).collect(),
        unstarted: plan.unstarted,
    }
}

/// Runs the transaction to the end, every issued job finishing in issue order
/// with the outcome `outcome` gives; returns the issue order as `verb unit`.
fn run(t: &mut Txn, outcome: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut log = Vec::new();
    for _ in 0..100 {
        let ready = t.ready();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            let unit = t.items[i].unit.clone();
            let verb = match t.items[i].verb {
                Verb::Start => "start",
                Verb::Stop => "stop",
                Verb::Restart => "restart",
                Verb::Reload => "reload",
            };
            log.push(format!("{verb} {}", unit.trim_end_matches(".service")));
            t.finish_item(i, outcome(&unit));
        }
    }
    assert!(
        t.is_complete(),
        "transaction did not complete: {:?}",
        t.items
    );
    log
}

fn plan_of(spec: &str, active: &[&str], verb: Verb, req: &[&str]) -> (Plan, Txn) {
    let s = sections(spec);
    let u = universe(&s, active);
    let names: Vec<String> = req.iter().map(|n| full(n)).collect();
    let p = plan(verb, &names, &u);
    let p2 = plan(verb, &names, &u);
    (p2, txn(p, req))
}

#[test]
fn start_pulls_requirements_in_and_orders_them_by_after() {
    let spec =
        "db:\ncache:\nweb: Requires=db Wants=cache After=db,cache\nlb: Requires=web After=web";
    let (_, mut t) = plan_of(spec, &[], Verb::Start, &["lb"]);
    let order = run(&mut t, |_| None);
    assert_eq!(order.len(), 4);
    let pos = |n: &str| order.iter().position(|o| o == n).expect(n);
    assert!(pos("start db") < pos("start web"));
    assert!(pos("start cache") < pos("start web"));
    assert!(pos("start web") < pos("start lb"));
}

#[test]
fn before_orders_like_after_from_the_other_side() {
    let (_, mut t) = plan_of("a: Before=b Wants=b\nb:", &[], Verb::Start, &["a"]);
    assert_eq!(run(&mut t, |_| None), ["start a", "start b"]);
}

#[test]
fn a_failed_requirement_fails_the_chain_with_its_reason() {
    let spec = "db:\nweb: Requires=db After=db\napp: Requires=web After=web";
    let (_, mut t) = plan_of(spec, &[], Verb::Start, &["app"]);
    let order = run(&mut t, |u| {
        (u == "db.service").then(|| "db.service failed to start: exited with status 1".into())
    });
    assert_eq!(order, ["start db"]);
    let r = t.results();
    assert_eq!(
        r[0].error.as_ref().map(|e| e.message.as_str()),
        Some(
            "app.service failed to start: dependency web.service failed: dependency \
             db.service failed: exited with status 1"
        )
    );
    let told: Vec<&str> = t.unstarted.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(told, ["web.service", "app.service"]);
}

#[test]
fn a_failed_want_does_not_fail_the_wanter() {
    let (_, mut t) = plan_of("log:\nweb: Wants=log After=log", &[], Verb::Start, &["web"]);
    run(&mut t, |u| {
        (u == "log.service").then(|| "log failed".into())
    });
    assert!(t.results()[0].error.is_none());
}

#[test]
fn a_missing_required_service_fails_and_other_kinds_are_met() {
    let spec = "web: Requires=db,var-lib.mount,syslog.socket,network-online.target \
                Wants=nothere,dbus.socket After=db,network.target";
    let (p, mut t) = plan_of(spec, &[], Verb::Start, &["web"]);
    assert_eq!(p.notes.len(), 3, "{:?}", p.notes);
    run(&mut t, |_| None);
    assert_eq!(
        t.results()[0].error.as_ref().map(|e| e.message.as_str()),
        Some("web.service failed to start: dependency db.service failed: unit not found")
    );

    let (_, mut t) = plan_of(
        "web: Requires=syslog.socket After=multi-user.target",
        &[],
        Verb::Start,
        &["web"],
    );
    assert_eq!(run(&mut t, |_| None), ["start web"]);
    assert!(t.results()[0].error.is_none());
}

#[test]
fn requires_without_after_starts_both_at_once() {
    let (_, mut t) = plan_of("db:\nweb: Requires=db", &[], Verb::Start, &["web"]);
    let mut ready = t.ready();
    ready.sort();
    assert_eq!(ready.len(), 2);
}

#[test]
fn a_refused_requirement_fails_with_its_reason() {
    let s = sections("db:\nweb: Requires=db After=db");
    let mut u = universe(&s, &[]);
    if let Some(n) = u.get_mut("db.service") {
        n.refused = Some("db.service is masked".into());
    }
    let p = plan(Verb::Start, &["web.service".into()], &u);
    let mut t = txn(p, &["web"]);
    run(&mut t, |_| None);
    assert_eq!(
        t.results()[0].error.as_ref().map(|e| e.message.as_str()),
        Some("web.service failed to start: dependency db.service failed: db.service is masked")
    );
}

#[test]
fn ordering_cycles_are_found_and_printed() {
    let s = sections("a: After=b\nb: After=c\nc: After=a\nd: After=a\ne: Before=f\nf: Before=e");
    let c = ordering_cycles(&universe(&s, &[]));
    assert_eq!(
        c.get("a.service").map(String::as_str),
        Some("ordering cycle: a.service -> b.service -> c.service -> a.service")
    );
    assert_eq!(c.get("c.service"), c.get("a.service"));
    assert!(!c.contains_key("d.service"));
    assert_eq!(
        c.get("e.service").map(String::as_str),
        Some("ordering cycle: e.service -> f.service -> e.service")
    );
    assert!(ordering_cycles(&universe(&sections("a: After=b\nb:\nc: After=c"), &[])).is_empty());
}

#[test]
fn units_on_a_cycle_do_not_start_and_their_dependents_say_why() {
    let spec = "a: After=b\nb: After=a\nc: Requires=a After=a";
    let (_, mut t) = plan_of(spec, &[], Verb::Start, &["c"]);
    assert!(run(&mut t, |_| None).is_empty());
    assert_eq!(
        t.results()[0].error.as_ref().map(|e| e.message.as_str()),
        Some(
            "c.service failed to start: dependency a.service failed: ordering cycle: \
             a.service -> b.service -> a.service"
        )
    );
    // Stopping them still works.
    let (_, mut t) = plan_of(spec, &["a", "b"], Verb::Stop, &["a", "b"]);
    assert_eq!(run(&mut t, |_| None).len(), 2);
}

#[test]
fn stop_reaches_requirers_binders_and_parts_first() {
    let spec = "db:\nweb: Requires=db After=db\nbound: BindsTo=db After=db\npart: PartOf=db\n\
                idle: Requires=db\nwanter: Wants=db After=db\nfar: Requires=web After=web";
    let active = ["db", "web", "bound", "part", "wanter", "far"];
    let (_, mut t) = plan_of(spec, &active, Verb::Stop, &["db"]);
    let order = run(&mut t, |_| None);
    let pos = |n: &str| order.iter().position(|o| o == n);
    for n in ["stop web", "stop bound", "stop part", "stop far"] {
        assert!(pos(n).is_some(), "{n} missing from {order:?}");
    }
    assert!(pos("stop idle").is_none() && pos("stop wanter").is_none());
    assert!(pos("stop far") < pos("stop web"));
    assert!(pos("stop web") < pos("stop db"));
    assert!(pos("stop bound") < pos("stop db"));
}

#[test]
fn conflicts_stop_the_other_first_either_way() {
    let spec = "a: Conflicts=b\nb:\nc: Requires=b After=b";
    let (_, mut t) = plan_of(spec, &["b", "c"], Verb::Start, &["a"]);
    let order = run(&mut t, |_| None);
    assert_eq!(order.last().map(String::as_str), Some("start a"));
    assert!(order.contains(&"stop b".to_string()) && order.contains(&"stop c".to_string()));

    let (_, mut t) = plan_of(spec, &["a"], Verb::Start, &["b"]);
    assert_eq!(run(&mut t, |_| None), ["stop a", "start b"]);

    // Inside one transaction the pulled-in side loses.
    let (_, mut t) = plan_of("a: Wants=b Conflicts=b\nb:", &[], Verb::Start, &["a"]);
    run(&mut t, |_| None);
    assert!(t.results()[0].error.is_none());
    assert!(
        t.unstarted
            .iter()
            .any(|(u, m)| u == "b.service" && m.contains("conflicts"))
    );
}

#[test]
fn binds_to_pulls_in_and_fails_like_requires() {
    let (_, mut t) = plan_of("dev:\nx: BindsTo=dev After=dev", &[], Verb::Start, &["x"]);
    run(&mut t, |u| {
        (u == "dev.service").then(|| "dev.service failed to start: no".into())
    });
    assert!(
        t.results()[0]
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("dependency dev"))
    );
}

#[test]
fn requisite_needs_an_active_unit() {
    let spec = "db:\nweb: Requisite=db After=db";
    let (_, mut t) = plan_of(spec, &[], Verb::Start, &["web"]);
    assert!(run(&mut t, |_| None).is_empty());
    assert!(
        t.results()[0]
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("Requisite="))
    );
    let (_, mut t) = plan_of(spec, &["db"], Verb::Start, &["web"]);
    assert_eq!(run(&mut t, |_| None), ["start web"]);
}

#[test]
fn restart_reaches_active_requirers_binders_and_parts_after_it() {
    let spec =
        "db:\nweb: Requires=db After=db\npart: PartOf=db\nidle: Requires=db\nwanter: Wants=db";
    let (_, mut t) = plan_of(
        spec,
        &["db", "web", "part", "wanter"],
        Verb::Restart,
        &["db"],
    );
    let order = run(&mut t, |_| None);
    assert_eq!(order[0], "restart db");
    let mut rest = order[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["restart part", "restart web"]);
}
