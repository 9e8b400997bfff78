//! The resource-control directives daimon enforces with cgroups, per
//! systemd.resource-control(5): `MemoryMax=`, `MemoryHigh=`, `CPUQuota=`,
//! `CPUWeight=`, `TasksMax=`. Their values take no specifiers (`50%` is a
//! percentage), and an empty value resets the directive to its default.

use super::{Cx, Outcome};
use crate::model::{ServiceSection, TasksMax};
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::size::{parse_byte_limit, parse_percent};

pub(crate) fn apply(s: &mut ServiceSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let v = e.value.trim();
    match e.key.as_str() {
        "MemoryMax" | "MemoryHigh" => {
            let slot = if e.key == "MemoryMax" {
                &mut s.memory_max
            } else {
                &mut s.memory_high
            };
            if v.is_empty() {
                *slot = None;
            } else if let Some(m) = cx.ok(e, parse_byte_limit(v)) {
                *slot = Some(m);
            }
        }
        "CPUQuota" => {
            if v.is_empty() {
                s.cpu_quota = None;
                return Outcome::Done;
            }
            match v
                .strip_suffix('%')
                .and_then(parse_percent)
                .filter(|&q| q > 0)
            {
                Some(q) => s.cpu_quota = Some(q),
                None => cx.error(
                    e,
                    ValueError::new(v, "a CPU quota", "a percentage such as 20% or 150%"),
                ),
            }
        }
        "CPUWeight" => {
            if v.is_empty() {
                s.cpu_weight = None;
                return Outcome::Done;
            }
            if v == "idle" {
                // systemd 251+: cgroup v2's cpu.idle. Valid, so not an error.
                cx.warn(e, "CPUWeight=idle is not enforced by daimon yet; ignored");
                return Outcome::Done;
            }
            match parse_cpu_weight(v) {
                Ok(w) => s.cpu_weight = Some(w),
                Err(err) => cx.error(e, err),
            }
        }
        "TasksMax" => {
            if v.is_empty() {
                s.tasks_max = None;
                return Outcome::Done;
            }
            match parse_tasks_max(v) {
                Ok(t) => s.tasks_max = Some(t),
                Err(err) => cx.error(e, err),
            }
        }
        // Not resource control, but a count with no other home here.
        "FileDescriptorStoreMax" => match v.parse::<u32>() {
            Ok(n) => s.fd_store_max = n,
            Err(_) => cx.error(
                e,
                ValueError::new(
                    v,
                    "a number of descriptors",
                    "e.g. 16 (0 disables the store)",
                ),
            ),
        },
        _ => return Outcome::Unhandled,
    }
    Outcome::Done
}

/// `CPUWeight=`: 1 to 10000 (systemd.resource-control(5); cgroup v2's
/// `cpu.weight` range).
pub(crate) fn parse_cpu_weight(v: &str) -> Result<u64, ValueError> {
    v.parse::<u64>()
        .ok()
        .filter(|w| (1..=10_000).contains(w))
        .ok_or_else(|| ValueError::new(v, "a CPU weight", "a number from 1 to 10000 (default 100)"))
}

/// `TasksMax=`: a count, a percentage of the system's maximum, or `infinity`.
pub(crate) fn parse_tasks_max(v: &str) -> Result<TasksMax, ValueError> {
    let err = || {
        ValueError::new(
            v,
            "a task limit",
            "a number, a percentage such as 10%, or infinity",
        )
    };
    if v == "infinity" {
        return Ok(TasksMax::Infinity);
    }
    if let Some(p) = v.strip_suffix('%') {
        return parse_percent(p)
            .filter(|&p| p > 0 && p <= 10_000)
            .map(TasksMax::Percent)
            .ok_or_else(err);
    }
    v.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .map(TasksMax::Count)
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_weight_range() {
        assert_eq!(parse_cpu_weight("100").ok(), Some(100));
        assert_eq!(parse_cpu_weight("10000").ok(), Some(10_000));
        assert!(parse_cpu_weight("0").is_err());
        assert!(parse_cpu_weight("10001").is_err());
        assert!(parse_cpu_weight("idle").is_err());
    }

    #[test]
    fn tasks_max_forms() {
        assert_eq!(parse_tasks_max("20").ok(), Some(TasksMax::Count(20)));
        assert_eq!(parse_tasks_max("15%").ok(), Some(TasksMax::Percent(1500)));
        assert_eq!(parse_tasks_max("infinity").ok(), Some(TasksMax::Infinity));
        assert!(parse_tasks_max("0").is_err());
        assert!(parse_tasks_max("-3").is_err());
        assert!(parse_tasks_max("101%").is_err());
        assert!(parse_tasks_max("many").is_err());
    }
}
