//! The HTTP API: daimond's second door, on a loopback TCP port.
//!
//! Owns: the listener, the cap on connections, hyper's HTTP/1.1 connection
//! handling with its bounds, the guard every request passes (`guard`), and the
//! discovery file (`discovery`). It keeps no unit state and decides nothing:
//! `routes` turns each request into the `daimon_proto::Request` the socket
//! carries and sends it through the socket's own admission and dispatch
//! (`ipc::admit`, `ipc::dispatch`, `LogService::open`).
//!
//! Bounds, against hostile or broken clients: headers within
//! [`HEADER_TIMEOUT`] (a one-byte-a-second client is cut off), at most
//! [`MAX_HEADER_BYTES`] of them, bodies of at most `routes::MAX_BODY` within
//! `routes::BODY_TIMEOUT`, at most [`MAX_CONNECTIONS`] connections (a newcomer
//! beyond them gets `503` at once and is closed, never queued). Everything runs
//! on daimond's one current-thread runtime; no request waits on another.

mod discovery;
mod guard;
mod jobs;
mod metrics;
mod openapi;
mod query;
mod reply;
mod routes;
mod session;
mod sse;
mod stall;
mod verify;
mod web;

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use daimon_proto::Paths;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use discovery::ApiFile;

use crate::ipc::IpcContext;
use guard::Guard;

/// Connections served at once (log and event streams included).
pub const MAX_CONNECTIONS: usize = 256;
/// Longest wait for a request's headers, from the first byte or from the end
/// of the previous answer on a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer, and so the most header bytes a request may send.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What every request handler shares.
pub struct Api {
    pub ipc: Rc<IpcContext>,
    guard: Guard,
    metrics_open: bool,
    system_mode: bool,
    metrics: Rc<metrics::Metrics>,
    jobs: jobs::Jobs,
    sessions: session::Sessions,
    cookie_name: String,
}

/// A running API: its discovery file (removed when dropped) and its task.
pub struct Running {
    pub file: ApiFile,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds the API's port and starts serving, unless the environment turned it
/// off (`DAIMON_API_PORT=off`): `Ok(None)`. An error is one line for daimond's
/// log; the socket keeps working without the API.
pub fn start(
    paths: &Paths,
    ipc: Rc<IpcContext>,
    stop: watch::Receiver<bool>,
) -> Result<Option<Running>, String> {
    // A file left by a daimond that died names a closed port and an old token:
    // gone before anything else, so that a failure below leaves no stale file.
    let _ = std::fs::remove_file(paths.api_file());
    // daimond.conf's [API], under the environment.
    let conf = crate::config::path(paths);
    let (file, warnings) = crate::config::api_settings(&conf);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let lookup = |k: &str| {
        std::env::var(k).ok().or_else(|| {
            file.iter()
                .rev()
                .find(|(var, _)| *var == k)
                .map(|(_, v)| v.clone())
        })
    };
    let Some(settings) = discovery::settings(lookup)? else {
        return Ok(None);
    };
    if !settings.addr.is_loopback() {
        tracing::warn!(
            "the HTTP API listens on {} (DAIMON_API_ADDRESS), reachable from other machines; \
             only the token protects it, and it travels unencrypted",
            settings.addr
        );
    }
    let std_listener = std::net::TcpListener::bind(SocketAddr::new(settings.addr, settings.port))
        .map_err(|e| {
        format!(
            "the HTTP API cannot listen on {}:{}: {e}; set DAIMON_API_PORT to a free port, \
                 0 for any, or off",
            settings.addr, settings.port
        )
    })?;
    let listener = std_listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(std_listener))
        .map_err(|e| format!("the HTTP API: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the HTTP API: {e}"))?
        .port();
    let token = discovery::new_token()?;
    let host = match settings.addr {
        std::net::IpAddr::V6(a) => format!("[{a}]"),
        std::net::IpAddr::V4(a) => a.to_string(),
    };
    let url = format!("http://{host}:{port}/");
    let text = discovery::render(&url, port, &token, std::process::id());
    let file = ApiFile::write(&paths.api_file(), &text)?;
    let api = Rc::new(Api {
        ipc,
        guard: Guard::new(&token, settings.addr, port),
        metrics_open: settings.metrics_open,
        system_mode: paths.system_mode,
        metrics: Rc::default(),
        jobs: jobs::Jobs::default(),
        sessions: session::Sessions::default(),
        cookie_name: web::cookie_name(port),
    });
    metrics::refresh(api.ipc.clone(), api.metrics.clone());
    tracing::info!(
        "HTTP API on {url} (token in {})",
        paths.api_file().display()
    );
    let task = tokio::task::spawn_local(serve(listener, api, stop));
    Ok(Some(Running { file, task }))
}

/// Accepts until `stop` turns true; open connections end with the runtime.
async fn serve(listener: TcpListener, api: Rc<Api>, mut stop: watch::Receiver<bool>) {
    let open = Rc::new(Cell::new(0usize));
    let refusing = Rc::new(Cell::new(0usize));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    let builder = Rc::new(builder);
    while let Some((stream, _)) =
        crate::accept::next("HTTP API", &mut stop, || listener.accept()).await
    {
        if open.get() >= MAX_CONNECTIONS {
            busy(stream, &refusing);
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.set(open.get() + 1);
        let slot = Slot(open.clone());
        let api = api.clone();
        let builder = builder.clone();
        let mut stop = stop.clone();
        tokio::task::spawn_local(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(handle(&api, req).await) }
            });
            let conn = builder.serve_connection(TokioIo::new(stall::Stall::new(stream)), service);
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!("HTTP API connection ended: {e}");
                },
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

/// One connection's hold on [`MAX_CONNECTIONS`], given back when it ends.
struct Slot(Rc<Cell<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Every request: the guard (the token, or a dashboard session's cookie),
/// then the dashboard's own paths, then the route.
async fn handle(api: &Rc<Api>, req: hyper::Request<Incoming>) -> reply::Reply {
    let path = req.uri().path();
    let open = (api.metrics_open && path == "/metrics") || web::is_open(path);
    let session = api.sessions.valid(req.headers(), &api.cookie_name);
    let changes = !matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD);
    let checked = if session && !open {
        api.guard.check_session(req.headers(), changes)
    } else {
        api.guard.check(req.headers(), open)
    };
    if let Err(r) = checked {
        tracing::debug!(
            "HTTP API refused {} {}: {}",
            req.method(),
            req.uri().path(),
            r.code
        );
        return reply::error(r.status, r.code, r.message);
    }
    let (method, query) = (req.method().clone(), req.uri().query().map(str::to_owned));
    if let Some(r) = web::serve(api, &method, path, query.as_deref(), req.headers(), session).await
    {
        return r;
    }
    routes::route(api, req).await
}

/// Connections being told "busy" at once; past this many a newcomer is closed
/// without an answer (each lingers at most [`REFUSAL_LINGER`]).
const MAX_REFUSALS: usize = 1024;
/// How long a refused connection is kept to read what its client sends.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Tells a connection beyond the cap that we are busy, without waiting for it
/// in the accept loop: the answer goes out, our side shuts down for writing,
/// and what the client sends meanwhile is read until it closes (or for
/// [`REFUSAL_LINGER`]). Closing with unread data, or before a request that is
/// still on its way arrives, would reset the connection, and a reset throws
/// away the answer the client has not read yet.
fn busy(stream: tokio::net::TcpStream, refusing: &Rc<Cell<usize>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if refusing.get() >= MAX_REFUSALS {
        return;
    }
    let slot = Slot(refusing.clone());
    refusing.set(refusing.get() + 1);
    let body = format!(
        "{{\"code\":\"busy\",\"message\":\"daimond is serving {MAX_CONNECTIONS} HTTP connections; \
         try again in a moment\"}}\n"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::task::spawn_local(async move {
        let _slot = slot;
        let mut s = stream;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            s.write_all(answer.as_bytes()).await?;
            s.shutdown().await?;
            // Small: up to MAX_REFUSALS of these wait at once.
            let mut buf = [0u8; 512];
            while s.read(&mut buf).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}
