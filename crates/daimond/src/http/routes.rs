//! The endpoints: each turns an HTTP request into the `daimon_proto::Request`
//! the socket would carry and sends it through the same admission and dispatch
//! (`ipc::admit`, `ipc::dispatch`, `LogService::open`). Nothing here decides
//! about units; it only translates.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use daimon_proto::{KillWhom, LogsRequest, Request, Response, RunRequest, RunTimer};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::{Bytes, Incoming};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::reply::{self, Reply};
use super::{Api, query};
use crate::ipc::{self, logs::Out};

/// Largest request body: a unit text for `run` or `verify` is a few KiB; the
/// socket allows a 1 MiB request, and so does this door.
pub const MAX_BODY: usize = 1024 * 1024;
/// A body must arrive within this time once the headers have (a client
/// trickling its body holds a connection slot for no longer than this).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every route the API serves, `(method, path template)`. The router matches
/// a request against this table first and then handles the template it found,
/// and the OpenAPI document lists exactly these (both checked by tests).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/units"),
    ("GET", "/api/units/{name}"),
    ("POST", "/api/units/{name}/start"),
    ("POST", "/api/units/{name}/stop"),
    ("POST", "/api/units/{name}/restart"),
    ("POST", "/api/units/{name}/reload"),
    ("POST", "/api/units/{name}/kill"),
    ("POST", "/api/units/{name}/enable"),
    ("POST", "/api/units/{name}/disable"),
    ("POST", "/api/run"),
    ("POST", "/api/daemon-reload"),
    ("POST", "/api/verify"),
    ("GET", "/api/jobs/{id}"),
    ("GET", "/api/timers"),
    ("GET", "/api/logs"),
    ("GET", "/api/logs/stream"),
    ("GET", "/api/events"),
    // These two are served by the dashboard's module (`web::serve`), before
    // this router; they are here so that the OpenAPI document lists them.
    ("GET", "/api/units/{name}/file"),
    ("POST", "/api/web/code"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
];

/// The template of [`ROUTES`] that `segs` matches (`{name}` and `{id}` match
/// one segment), and the methods it takes.
fn find(segs: &[&str]) -> Option<(&'static str, Vec<&'static str>)> {
    let mut found: Option<(&'static str, Vec<&'static str>)> = None;
    for (method, template) in ROUTES {
        let t: Vec<&str> = template.split('/').skip(1).collect();
        let fits = t.len() == segs.len()
            && t.iter()
                .zip(segs)
                .all(|(t, s)| t.starts_with('{') && !s.is_empty() || t == s);
        if fits {
            match &mut found {
                Some((_, methods)) => methods.push(method),
                None => found = Some((template, vec![method])),
            }
        }
    }
    found
}

/// Routes a request that passed the guard.
pub async fn route(api: &Rc<Api>, req: hyper::Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let q = parts.uri.query();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let Some((template, methods)) = find(&segs) else {
        return reply::error(
            404,
            "no_route",
            format!("no endpoint {path}; the endpoints are listed in /api/openapi.json"),
        );
    };
    let m = &parts.method;
    if !methods.iter().any(|x| *x == m.as_str()) {
        let allowed = methods.join(", ");
        let mut r = reply::error(
            405,
            "method_not_allowed",
            format!("{path} takes {allowed}, not {m}"),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&allowed) {
            r.headers_mut().insert(hyper::header::ALLOW, v);
        }
        return r;
    }
    // Query parameters are checked per endpoint; those without any refuse all.
    let no_query = || query::parse(q, &[]).err();
    let name = segs.get(2).copied().unwrap_or("");
    let needs_body = *m == Method::POST;
    // `?wait=false`: a job id at once instead of the job's result (`jobs`).
    let mut wait = true;
    let body = if needs_body {
        let takes_wait = template.starts_with("/api/units/") || template == "/api/run";
        let params = match query::parse(q, if takes_wait { &["wait"] } else { &[] }) {
            Ok(p) => p,
            Err(e) => return reply::error(400, "invalid", e),
        };
        for (_, v) in params {
            wait = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return reply::error(400, "invalid", format!("wait={v:?}: true or false")),
            };
        }
        match read_body(body, &parts.headers).await {
            Ok(b) => b,
            Err(r) => return r,
        }
    } else {
        Bytes::new()
    };
    match template {
        "/api/units" => match no_query() {
            Some(e) => reply::error(400, "invalid", e),
            None => units(api).await,
        },
        "/api/units/{name}" => match query::parse(q, &["lines"]) {
            Err(e) => reply::error(400, "invalid", e),
            Ok(params) => unit(api, name, &params).await,
        },
        "/api/units/{name}/start"
        | "/api/units/{name}/stop"
        | "/api/units/{name}/restart"
        | "/api/units/{name}/reload"
        | "/api/units/{name}/kill"
        | "/api/units/{name}/enable"
        | "/api/units/{name}/disable" => {
            let verb = segs.get(3).copied().unwrap_or("");
            match verb_request(name, verb, &body) {
                Ok(req) => submit(api, req, wait).await,
                Err(r) => r,
            }
        }
        "/api/run" => match parse_json::<RunBody>(&body) {
            Ok(b) => submit(api, Request::Run(b.into()), wait).await,
            Err(r) => r,
        },
        "/api/jobs/{id}" => match no_query() {
            Some(e) => reply::error(400, "invalid", e),
            None => super::jobs::show(api, name),
        },
        "/api/daemon-reload" if body.is_empty() || &body[..] == b"{}" => {
            send(api, Request::DaemonReload).await
        }
        "/api/daemon-reload" => reply::error(400, "bad_json", "daemon-reload takes no body"),
        "/api/verify" => match parse_json::<VerifyBody>(&body) {
            Ok(b) => super::verify::verify(&b.name, &b.text, api.system_mode),
            Err(r) => r,
        },
        "/api/timers" => match no_query() {
            Some(e) => reply::error(400, "invalid", e),
            None => send(api, Request::Timers).await,
        },
        "/api/logs" => match logs_request(q, false) {
            Ok(lr) => logs(api, lr).await,
            Err(e) => reply::error(400, "invalid", e),
        },
        "/api/logs/stream" => super::sse::logs(api, q).await,
        "/api/events" => super::sse::events(api, q),
        "/api/openapi.json" => match no_query() {
            Some(e) => reply::error(400, "invalid", e),
            None => reply::bytes(200, "application/json", super::openapi::DOCUMENT),
        },
        "/metrics" => match no_query() {
            Some(e) => reply::error(400, "invalid", e),
            None => super::metrics::scrape(&api.ipc, &api.metrics),
        },
        other => reply::error(
            500,
            "internal",
            format!("the route {other} has no handler; this is a bug in daimond"),
        ),
    }
}

/// The body of a POST, at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`]; a
/// non-empty one must say it is JSON.
async fn read_body(body: Incoming, headers: &hyper::HeaderMap) -> Result<Bytes, Reply> {
    let announced = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let b = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => {
            return Err(reply::error(
                408,
                "body_timeout",
                format!(
                    "the request body did not arrive within {}s",
                    BODY_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(reply::error(
                400,
                "bad_body",
                format!("reading the body: {e}"),
            ));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let json = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !b.is_empty() && !json {
        return Err(reply::error(
            415,
            "unsupported_media_type",
            "send the body as JSON with \"Content-Type: application/json\"",
        ));
    }
    Ok(b)
}

fn too_large() -> Reply {
    reply::error(
        413,
        "body_too_large",
        format!("the request body is over {} KiB", MAX_BODY / 1024),
    )
}

/// A JSON body of type `T`; unknown fields are refused (a typo must not be
/// ignored silently), and an empty body counts as `{}`.
fn parse_json<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, Reply> {
    let b: &[u8] = if b.is_empty() { b"{}" } else { b };
    serde_json::from_slice(b)
        .map_err(|e| reply::error(400, "bad_json", format!("request body: {e}")))
}

/// The job's result, or (not waiting) its id at once.
async fn submit(api: &Rc<Api>, req: Request, wait: bool) -> Reply {
    if wait {
        send(api, req).await
    } else {
        super::jobs::start(api, req)
    }
}

/// Admission, then the shared dispatch; the answer as HTTP.
pub async fn send(api: &Api, req: Request) -> Reply {
    if let Err(e) = ipc::admit(&req) {
        return reply::error(400, "invalid", e);
    }
    answer(ipc::dispatch(&api.ipc, req).await)
}

/// A daemon answer as HTTP: errors with their kind's status, the rest as JSON.
fn answer(r: Response) -> Reply {
    match r {
        Response::Error(e) => reply::from_kind(e.kind, e.message),
        Response::Jobs(jobs) => {
            if let Some(e) = jobs.iter().find_map(|j| j.error.as_ref()) {
                return reply::from_kind(e.kind, e.message.clone());
            }
            let done: Vec<_> = jobs
                .iter()
                .map(|j| serde_json::json!({"unit": j.unit, "result": "done"}))
                .collect();
            reply::json(200, &serde_json::json!({ "jobs": done }))
        }
        Response::Status(list) => reply::json_sized(200, &list, list.len() * 1024 + 1),
        Response::Timers(list) => reply::json(200, &list),
        Response::Done => reply::json(200, &serde_json::json!({"result": "done"})),
        other => reply::error(
            500,
            "internal",
            format!(
                "daimond answered with an unexpected {:?}",
                std::mem::discriminant(&other)
            ),
        ),
    }
}

async fn units(api: &Api) -> Reply {
    let req = Request::Status {
        units: Vec::new(),
        log_lines: 0,
        brief: false,
    };
    send(api, req).await
}

async fn unit(api: &Api, name: &str, params: &[(String, String)]) -> Reply {
    let name = match query::decode_segment(name) {
        Ok(n) => n,
        Err(e) => return reply::error(400, "invalid", e),
    };
    let mut lines = 0;
    for (_, v) in params {
        match v.parse::<usize>() {
            Ok(n) if n <= 1000 => lines = n,
            _ => return reply::error(400, "invalid", format!("lines={v:?}: expected 0 to 1000")),
        }
    }
    if daimon_proto::is_glob(&name) {
        return reply::error(
            400,
            "invalid",
            format!("{name:?} is a pattern; name one unit, or list them all with GET /api/units"),
        );
    }
    let req = Request::Status {
        units: vec![name],
        log_lines: lines,
        brief: false,
    };
    if let Err(e) = ipc::admit(&req) {
        return reply::error(400, "invalid", e);
    }
    match ipc::dispatch(&api.ipc, req).await {
        Response::Status(mut list) if list.len() == 1 => reply::json(200, &list.remove(0)),
        other => answer(other),
    }
}

/// The request a unit verb stands for.
fn verb_request(name: &str, verb: &str, body: &[u8]) -> Result<Request, Reply> {
    let name = query::decode_segment(name).map_err(|e| reply::error(400, "invalid", e))?;
    let units = vec![name];
    let req = match verb {
        "kill" => match parse_json::<KillBody>(body) {
            Ok(k) => Request::Kill {
                units,
                signal: k.signal,
                whom: k.whom,
            },
            Err(r) => return Err(r),
        },
        _ if !body.is_empty() && body != b"{}" => {
            return Err(reply::error(
                400,
                "bad_json",
                format!("{verb} takes no body"),
            ));
        }
        "start" => Request::Start { units },
        "stop" => Request::Stop { units },
        "restart" => Request::Restart { units },
        "reload" => Request::Reload { units },
        "enable" => Request::Enable { units },
        "disable" => Request::Disable { units },
        _ => {
            return Err(reply::error(
                404,
                "no_route",
                format!(
                    "no verb {verb:?}: a unit takes start, stop, restart, reload, kill, enable, disable"
                ),
            ));
        }
    };
    Ok(req)
}

/// `GET /api/logs` (and, with `follow`, the event stream): every filter of
/// `daimon logs`, by the same names.
pub const LOG_PARAMS: &[&str] = &[
    "unit",
    "invocation",
    "boot",
    "since",
    "until",
    "priority",
    "grep",
    "lines",
    "output",
    "match",
];

pub fn logs_request(q: Option<&str>, follow: bool) -> Result<LogsRequest, String> {
    let mut r = LogsRequest {
        follow,
        ..LogsRequest::default()
    };
    for (k, v) in query::parse(q, LOG_PARAMS)? {
        match k.as_str() {
            "unit" => r.units.push(v),
            "invocation" => r.invocation = Some(v),
            "boot" => r.boot = Some(v),
            "since" => r.since = Some(v),
            "until" => r.until = Some(v),
            "priority" => r.priority = Some(v),
            "grep" => r.grep = Some(v),
            "lines" => {
                r.lines = Some(
                    v.parse()
                        .map_err(|_| format!("lines={v:?}: expected a number of lines"))?,
                )
            }
            "output" => r.output = v,
            _ => r.matches.push(v),
        }
    }
    Ok(r)
}

/// A finite log query, streamed as it is read (the body never holds the whole
/// answer; a slow client slows only its own reader thread).
async fn logs(api: &Api, lr: LogsRequest) -> Reply {
    // Export's type is systemd-journal-gatewayd's for the same format.
    let ct = match lr.output.as_str() {
        "json" => "application/x-ndjson",
        "export" => "application/vnd.fdo.journal",
        _ => "text/plain; charset=utf-8",
    };
    if let Err(e) = ipc::admit(&Request::Logs(lr.clone())) {
        return reply::error(400, "invalid", e);
    }
    let mut feed = match api.ipc.logs.open(lr, &api.ipc.supervisor).await {
        Ok(f) => f,
        Err(Response::Error(e)) => return reply::from_kind(e.kind, e.message),
        Err(_) => return reply::error(500, "internal", "the log query could not start"),
    };
    // The first piece decides between an error answer and a 200 stream.
    let first = feed.next().await;
    let first = match first {
        Some(Err((kind, msg))) => {
            feed.finish().await;
            return reply::from_kind(kind, msg);
        }
        Some(Ok(Out::Text(t))) => Some(Bytes::from(t)),
        Some(Ok(Out::Frame(b))) => Some(Bytes::from(b)),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let tail = Rc::new(RefCell::new(None));
    let tail2 = tail.clone();
    tokio::task::spawn_local(async move {
        if let Some(b) = first
            && tx.send(b).await.is_err()
        {
            feed.finish().await;
            return;
        }
        while let Some(piece) = feed.next().await {
            let b = match piece {
                Ok(Out::Text(t)) => Bytes::from(t),
                Ok(Out::Frame(b)) => Bytes::from(b),
                Err((_, msg)) => {
                    // Headers are gone; say it in the text, as the CLI would.
                    *tail2.borrow_mut() = Some(Bytes::from(format!("-- error: {msg}\n")));
                    break;
                }
            };
            if tx.send(b).await.is_err() {
                break;
            }
        }
        drop(tx);
        feed.finish().await;
    });
    reply::stream(ct, rx, tail)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillBody {
    #[serde(default = "default_signal")]
    signal: String,
    #[serde(default = "default_whom")]
    whom: KillWhom,
}

fn default_signal() -> String {
    "TERM".into()
}

fn default_whom() -> KillWhom {
    KillWhom::All
}

/// `POST /api/run`: the socket's `RunRequest`, unknown fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    name: String,
    unit_text: String,
    #[serde(default)]
    save: bool,
    #[serde(default)]
    enable: bool,
    #[serde(default)]
    timer: Option<TimerBody>,
    #[serde(default)]
    socket: Option<TimerBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimerBody {
    name: String,
    unit_text: String,
}

impl From<RunBody> for RunRequest {
    fn from(b: RunBody) -> RunRequest {
        RunRequest {
            name: b.name,
            unit_text: b.unit_text,
            save: b.save,
            enable: b.enable,
            timer: b.timer.map(RunTimer::from),
            socket: b.socket.map(RunTimer::from),
        }
    }
}

impl From<TimerBody> for RunTimer {
    fn from(t: TimerBody) -> RunTimer {
        RunTimer {
            name: t.name,
            unit_text: t.unit_text,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    name: String,
    text: String,
}
