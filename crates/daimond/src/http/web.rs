//! The dashboard: the page, its two assets, the login-code exchange and the
//! unit-file endpoint the page shows.
//!
//! The page is one HTML file, one CSS file and one small vanilla script,
//! embedded with `include_str!`: no framework, no build step, no CDN. It is
//! small enough that a framework would outweigh it, needs no toolchain besides
//! cargo, and works offline, behind `ssh -L` and under a proxy's path prefix
//! (every URL in it is relative).

use std::rc::Rc;

use daimon_proto::{Request, Response};
use hyper::header::{HeaderValue, LOCATION, SET_COOKIE};
use hyper::{HeaderMap, Method};

use super::Api;
use super::reply::{self, Reply};
use crate::ipc;

const INDEX: &str = include_str!("web/index.html");
const CSS: &str = include_str!("web/app.css");
const JS: &str = include_str!("web/app.js");

/// Paths the guard lets through without a token or a cookie: the page decides
/// itself (it trades a code, or asks for one), and the assets hold no secret.
pub fn is_open(path: &str) -> bool {
    matches!(path, "/" | "/app.css" | "/app.js")
}

/// The session cookie's name: cookies are shared by every port of a host
/// (RFC 6265 §8.5), so two daimonds on one machine each need their own.
pub fn cookie_name(port: u16) -> String {
    format!("daimon_session_{port}")
}

/// The dashboard's own answers, or `None` for the API's routes.
pub async fn serve(
    api: &Rc<Api>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    session: bool,
) -> Option<Reply> {
    let get = *method == Method::GET || *method == Method::HEAD;
    let r = match path {
        "/" if get => index(api, query, session),
        "/app.css" if get => reply::bytes(200, "text/css; charset=utf-8", CSS),
        "/app.js" if get => reply::bytes(200, "text/javascript; charset=utf-8", JS),
        "/api/web/code" if *method == Method::POST => match api.guard.token(headers) {
            // Only the token's holder may mint logins, never a session.
            Err(r) => reply::error(r.status, r.code, r.message),
            Ok(()) => match api.sessions.new_code() {
                Ok(code) => reply::json(200, &serde_json::json!({ "code": code })),
                Err(e) => reply::error(500, "internal", e),
            },
        },
        _ => {
            let name = path
                .strip_prefix("/api/units/")
                .and_then(|p| p.strip_suffix("/file"))
                .filter(|n| !n.is_empty() && !n.contains('/'))?;
            if !get {
                return Some(reply::error(405, "method_not_allowed", "takes GET"));
            }
            unit_file(api, name).await
        }
    };
    Some(r)
}

/// `/`: with `?code=` trade it for a cookie and come back without it (the
/// code leaves the address bar and the history); with a session, the page;
/// otherwise a page saying how to get in.
fn index(api: &Api, query: Option<&str>, session: bool) -> Reply {
    let code = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("code="));
    if let Some(code) = code {
        let Some(id) = api.sessions.trade(code) else {
            return page(
                403,
                "This login link was used already or is older than a minute. \
                 Run <code>daimon web</code> again for a new one.",
            );
        };
        let mut r = reply::bytes(303, "text/plain; charset=utf-8", "signed in\n");
        let cookie = format!(
            "{}={id}; HttpOnly; SameSite=Strict; Path=/",
            api.cookie_name
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(SET_COOKIE, v);
        }
        // Relative: under a proxy's prefix the page stays under it.
        r.headers_mut()
            .insert(LOCATION, HeaderValue::from_static("./"));
        return r;
    }
    if !session {
        return page(
            401,
            "Not signed in. Run <code>daimon web</code> on the machine daimond runs on \
             and open the link it prints.",
        );
    }
    reply::bytes(200, "text/html; charset=utf-8", INDEX)
}

fn page(status: u16, msg: &str) -> Reply {
    let html = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport \
         content=\"width=device-width\"><title>daimon</title><p>{msg}</p>\n"
    );
    reply::bytes(status, "text/html; charset=utf-8", html)
}

/// `GET /api/units/{name}/file`: what `daimon cat` prints, as
/// `[{"path", "text"}]` (the unit file, then its drop-ins).
async fn unit_file(api: &Api, name: &str) -> Reply {
    let unit = match super::query::decode_segment(name) {
        Ok(n) => n,
        Err(e) => return reply::error(400, "invalid", e),
    };
    let req = Request::Cat { unit };
    if let Err(e) = ipc::admit(&req) {
        return reply::error(400, "invalid", e);
    }
    match ipc::dispatch(&api.ipc, req).await {
        Response::Cat(files) => reply::json(200, &files),
        Response::Error(e) => reply::from_kind(e.kind, e.message),
        _ => reply::error(500, "internal", "daimond answered cat with something else"),
    }
}
