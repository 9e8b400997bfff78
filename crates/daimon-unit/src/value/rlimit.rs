//! Resource limits (`Limit*=`), per systemd.exec(5) "PROCESS PROPERTIES": one value for
//! both limits or `soft:hard`; `infinity`; sizes with K/M/G suffixes for byte limits,
//! time spans for LimitCPU= (seconds) and LimitRTTIME= (microseconds), and nice levels
//! (`-5`, mapped to the kernel's 20 - nice) or raw values (0..40) for LimitNICE=.

use super::ValueError;
use super::size::parse_bytes;
use super::timespan::{TimeSpan, parse_with_default};

/// Which resource a `Limit*=` directive sets (the `RLIMIT_*` constant without prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Cpu,
    Fsize,
    Data,
    Stack,
    Core,
    Rss,
    Nofile,
    As,
    Nproc,
    Memlock,
    Locks,
    Sigpending,
    Msgqueue,
    Nice,
    Rtprio,
    Rttime,
}

impl Resource {
    /// The resource for a directive name such as `LimitNOFILE`.
    pub fn from_directive(key: &str) -> Option<Resource> {
        use Resource::*;
        Some(match key.strip_prefix("Limit")? {
            "CPU" => Cpu,
            "FSIZE" => Fsize,
            "DATA" => Data,
            "STACK" => Stack,
            "CORE" => Core,
            "RSS" => Rss,
            "NOFILE" => Nofile,
            "AS" => As,
            "NPROC" => Nproc,
            "MEMLOCK" => Memlock,
            "LOCKS" => Locks,
            "SIGPENDING" => Sigpending,
            "MSGQUEUE" => Msgqueue,
            "NICE" => Nice,
            "RTPRIO" => Rtprio,
            "RTTIME" => Rttime,
            _ => return None,
        })
    }

    fn is_bytes(self) -> bool {
        use Resource::*;
        matches!(
            self,
            Fsize | Data | Stack | Core | Rss | As | Memlock | Msgqueue
        )
    }
}

/// A soft and a hard limit; `None` is `infinity` (RLIM_INFINITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Parse the value of a `Limit*=` directive for `resource`.
pub fn parse_rlimit(resource: Resource, s: &str) -> Result<ResourceLimit, ValueError> {
    let t = s.trim();
    let (soft, hard) = match t.split_once(':') {
        Some((a, b)) => (parse_one(resource, a, s)?, parse_one(resource, b, s)?),
        None => {
            let v = parse_one(resource, t, s)?;
            (v, v)
        }
    };
    match (soft, hard) {
        (Some(a), Some(b)) if a > b => Err(order_error(s)),
        (None, Some(_)) => Err(order_error(s)),
        _ => Ok(ResourceLimit { soft, hard }),
    }
}

fn order_error(s: &str) -> ValueError {
    ValueError::new(
        s,
        "a valid limit",
        "the soft limit not above the hard limit, as soft:hard",
    )
}

fn parse_one(resource: Resource, v: &str, whole: &str) -> Result<Option<u64>, ValueError> {
    let v = v.trim();
    if v == "infinity" {
        return Ok(None);
    }
    let expected = match resource {
        r if r.is_bytes() => "a size such as 64M, a number, or infinity (soft:hard allowed)",
        Resource::Cpu => "seconds such as 30 or 1min, or infinity (soft:hard allowed)",
        Resource::Rttime => "microseconds such as 500000 or 1s, or infinity (soft:hard allowed)",
        Resource::Nice => "a nice level from -20 to 19 or a value from 0 to 40",
        _ => "a number such as 65536, or infinity (soft:hard allowed)",
    };
    let err = || ValueError::new(whole, "a resource limit", expected);
    let n = match resource {
        r if r.is_bytes() => parse_bytes(v).map_err(|_| err())?,
        Resource::Cpu => match parse_with_default(v, 1_000_000).map_err(|_| err())? {
            TimeSpan::Finite(d) => d.as_secs(),
            TimeSpan::Infinity => return Ok(None),
        },
        Resource::Rttime => match parse_with_default(v, 1).map_err(|_| err())? {
            TimeSpan::Finite(d) => u64::try_from(d.as_micros()).map_err(|_| err())?,
            TimeSpan::Infinity => return Ok(None),
        },
        Resource::Nice => {
            if v.starts_with(['-', '+']) {
                let nice: i64 = v.parse().map_err(|_| err())?;
                if !(-20..=19).contains(&nice) {
                    return Err(err());
                }
                (20 - nice) as u64
            } else {
                let raw: u64 = v.parse().map_err(|_| err())?;
                if raw > 40 {
                    return Err(err());
                }
                raw
            }
        }
        _ => v.parse().map_err(|_| err())?,
    };
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(soft: Option<u64>, hard: Option<u64>) -> ResourceLimit {
        ResourceLimit { soft, hard }
    }

    #[test]
    fn forms() {
        assert_eq!(
            Resource::from_directive("LimitNOFILE"),
            Some(Resource::Nofile)
        );
        assert_eq!(
            parse_rlimit(Resource::Nofile, "65536"),
            Ok(lim(Some(65536), Some(65536)))
        );
        assert_eq!(
            parse_rlimit(Resource::Nofile, "1024:524288"),
            Ok(lim(Some(1024), Some(524288)))
        );
        assert_eq!(
            parse_rlimit(Resource::Core, "infinity"),
            Ok(lim(None, None))
        );
        assert_eq!(
            parse_rlimit(Resource::Memlock, "64M"),
            Ok(lim(Some(64 << 20), Some(64 << 20)))
        );
        assert_eq!(
            parse_rlimit(Resource::Nofile, "4096:infinity"),
            Ok(lim(Some(4096), None))
        );
        assert_eq!(
            parse_rlimit(Resource::Cpu, "1min"),
            Ok(lim(Some(60), Some(60)))
        );
        assert_eq!(
            parse_rlimit(Resource::Nice, "-5"),
            Ok(lim(Some(25), Some(25)))
        );
    }

    #[test]
    fn failures() {
        assert_eq!(
            parse_rlimit(Resource::Nofile, "lots")
                .unwrap_err()
                .to_string(),
            "\"lots\" is not a resource limit; expected a number such as 65536, or infinity (soft:hard allowed)"
        );
        assert_eq!(
            parse_rlimit(Resource::Nofile, "10:5")
                .unwrap_err()
                .to_string(),
            "\"10:5\" is not a valid limit; expected the soft limit not above the hard limit, as soft:hard"
        );
        assert!(parse_rlimit(Resource::Nofile, "infinity:5").is_err());
        assert!(parse_rlimit(Resource::Nice, "-21").is_err());
    }
}
