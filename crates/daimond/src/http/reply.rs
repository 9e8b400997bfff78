//! What the HTTP API sends back: one body type (a whole answer, or a stream fed
//! through a bounded channel), JSON answers, and JSON errors with a stable
//! `code` and a message that says what to do. Never a stack trace.

use std::cell::RefCell;
use std::convert::Infallible;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use daimon_proto::ErrorKind;
use hyper::body::{Bytes, Frame};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use tokio::sync::mpsc;

pub type Reply = hyper::Response<Body>;

/// A response body: all at once, or pieces from a bounded channel, then an
/// optional last piece (a stream's close reason, set by its producer).
pub enum Body {
    Full(Option<Bytes>),
    Stream {
        rx: mpsc::Receiver<Bytes>,
        tail: Rc<RefCell<Option<Bytes>>>,
    },
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream { rx, tail } => match rx.poll_recv(cx) {
                Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(None) => {
                    Poll::Ready(tail.borrow_mut().take().map(|b| Ok(Frame::data(b))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => hyper::body::SizeHint::with_exact(0),
            Body::Stream { .. } => hyper::body::SizeHint::default(),
        }
    }
}

fn with_type(status: u16, content_type: &'static str, body: Body) -> Reply {
    let mut r = hyper::Response::new(body);
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Answers change with every state change; nothing may cache them.
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A whole answer of `content_type`.
pub fn bytes(status: u16, content_type: &'static str, b: impl Into<Bytes>) -> Reply {
    with_type(status, content_type, Body::Full(Some(b.into())))
}

/// A streamed answer of `content_type`, fed through `rx`.
pub fn stream(
    content_type: &'static str,
    rx: mpsc::Receiver<Bytes>,
    tail: Rc<RefCell<Option<Bytes>>>,
) -> Reply {
    with_type(200, content_type, Body::Stream { rx, tail })
}

pub fn json(status: u16, v: &impl serde::Serialize) -> Reply {
    json_sized(status, v, 128)
}

/// [`json`] into a buffer of `capacity` bytes to start with: a large answer
/// (the status of every unit is ~750 bytes a unit) is then not copied over and
/// over as the buffer doubles.
pub fn json_sized(status: u16, v: &impl serde::Serialize, capacity: usize) -> Reply {
    let mut b = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut b, v) {
        Ok(()) => {
            b.push(b'\n');
            bytes(status, "application/json", b)
        }
        Err(e) => error(
            500,
            "internal",
            format!("the answer could not be encoded: {e}"),
        ),
    }
}

/// A whole answer's status and body (a stream's body is not kept).
pub fn into_parts(r: Reply) -> (u16, Bytes) {
    let status = r.status().as_u16();
    match r.into_body() {
        Body::Full(b) => (status, b.unwrap_or_default()),
        Body::Stream { .. } => (status, Bytes::new()),
    }
}

/// `{"code": ..., "message": ...}` with `status`.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    let v = serde_json::json!({"code": code, "message": message.into()});
    let mut b = v.to_string().into_bytes();
    b.push(b'\n');
    let mut r = bytes(status, "application/json", b);
    if status == 401 {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// The HTTP status and stable code of a daemon error kind (the CLI maps the
/// same kinds to its exit codes).
pub fn kind_status(kind: ErrorKind) -> (u16, &'static str) {
    match kind {
        ErrorKind::Invalid => (400, "invalid"),
        ErrorKind::NotFound => (404, "not_found"),
        ErrorKind::Failed => (409, "failed"),
        ErrorKind::Unavailable => (503, "unavailable"),
        ErrorKind::Version | ErrorKind::Internal => (500, "internal"),
    }
}

/// A daemon error as an HTTP error.
pub fn from_kind(kind: ErrorKind, message: impl Into<String>) -> Reply {
    let (status, code) = kind_status(kind);
    error(status, code, message)
}
