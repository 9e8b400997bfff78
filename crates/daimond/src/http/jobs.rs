//! Jobs a client chose not to wait for (`?wait=false` on a unit verb or
//! `run`): the request goes through the same dispatch in the background, the
//! client gets `202` with a job id at once, and `GET /api/jobs/{id}` tells
//! whether it is done and with what answer, as systemd's `StartUnit` returns
//! a job the caller may wait on or ignore.
//!
//! Only outcomes are kept here, never unit state: at most [`MAX_JOBS`], the
//! oldest finished one giving way to a new one.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use daimon_proto::Request;
use hyper::body::Bytes;

use super::reply::{self, Reply};
use super::{Api, routes};
use crate::ipc;

/// Outcomes kept (finished or not).
pub const MAX_JOBS: usize = 1024;

#[derive(Default)]
pub struct Jobs {
    last: Cell<u64>,
    /// Job id -> its answer (HTTP status and JSON body) once done.
    table: RefCell<BTreeMap<u64, Option<(u16, Bytes)>>>,
}

/// Starts `req` in the background; `202` with its id.
pub fn start(api: &Rc<Api>, req: Request) -> Reply {
    // Refused now, not in the job: a bad name is the caller's mistake.
    if let Err(e) = ipc::admit(&req) {
        return reply::error(400, "invalid", e);
    }
    let id = {
        let mut table = api.jobs.table.borrow_mut();
        if table.len() >= MAX_JOBS {
            match table.iter().find(|(_, v)| v.is_some()).map(|(k, _)| *k) {
                Some(oldest) => {
                    table.remove(&oldest);
                }
                None => {
                    return reply::error(
                        503,
                        "unavailable",
                        format!("{MAX_JOBS} jobs are still running; wait for some to finish"),
                    );
                }
            }
        }
        let id = api.jobs.last.get() + 1;
        api.jobs.last.set(id);
        table.insert(id, None);
        id
    };
    let api2 = api.clone();
    tokio::task::spawn_local(async move {
        let answer = reply::into_parts(routes::send(&api2, req).await);
        if let Some(slot) = api2.jobs.table.borrow_mut().get_mut(&id) {
            *slot = Some(answer);
        }
    });
    reply::json(
        202,
        &serde_json::json!({"id": id, "state": "running", "url": format!("/api/jobs/{id}")}),
    )
}

/// `GET /api/jobs/{id}`: `running`, or `done` with the answer a waiting
/// request would have had (its HTTP status and JSON).
pub fn show(api: &Api, id: &str) -> Reply {
    let missing = || {
        reply::error(
            404,
            "not_found",
            format!("no job {id:?}; the last {MAX_JOBS} jobs are kept"),
        )
    };
    let Ok(n) = id.parse::<u64>() else {
        return missing();
    };
    match api.jobs.table.borrow().get(&n) {
        None => missing(),
        Some(None) => reply::json(200, &serde_json::json!({"id": n, "state": "running"})),
        Some(Some((status, body))) => {
            let answer: serde_json::Value =
                serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
            reply::json(
                200,
                &serde_json::json!({"id": n, "state": "done", "status": status, "answer": answer}),
            )
        }
    }
}
