//! Helpers shared by the integration tests.
#![allow(dead_code)]

use daimon_journal::{Journal, JournalConfig, JournalReader, Query, SourceMeta, Stream};

pub fn meta(unit: &str, stream: Stream) -> SourceMeta {
    SourceMeta {
        unit: unit.to_string(),
        invocation: "0123456789abcdef0123456789abcdef".to_string(),
        pid: 4242,
        stream,
        level_prefix: true,
        identifier: None,
    }
}

pub fn open(dir: &std::path::Path) -> Journal {
    let cfg = JournalConfig {
        hostname: "testhost".into(),
        max_use: Some(1 << 30),
        ..Default::default()
    };
    Journal::open(dir, cfg).expect("open store")
}

/// Opens the store as its owner (the one that repairs it). A child another
/// test of this binary is spawning holds a copy of every descriptor, the
/// store's lock included, until its exec: a store opened in that instant is
/// not its own owner, so it is opened again, within a bound.
pub fn open_owner(dir: &std::path::Path) -> Journal {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let j = open(dir);
        if j.owns_store() {
            return j;
        }
        assert!(
            std::time::Instant::now() < until,
            "the store in {} stayed locked by another process",
            dir.display()
        );
        drop(j);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// (message, priority, flags) of every record a query returns.
pub fn collect(r: &mut JournalReader, q: &Query) -> Vec<(Vec<u8>, u8, bool, bool)> {
    let mut out = Vec::new();
    r.query(q, &mut |rec| {
        out.push((
            rec.message.to_vec(),
            rec.priority,
            rec.continued,
            rec.partial,
        ));
        true
    })
    .expect("query");
    out
}

pub fn messages(r: &mut JournalReader, q: &Query) -> Vec<String> {
    collect(r, q)
        .into_iter()
        .map(|(m, ..)| String::from_utf8_lossy(&m).into_owned())
        .collect()
}
