//! Long answers in parts: no reply ever exceeds the frame limit.
//!
//! `status` of thousands of units, `list`, `timers` and job results are lists
//! whose size grows with what the daemon holds. The sender splits such a list
//! into frames that each fit ([`split`]): every frame but the last is a
//! [`Response::Part`], the last an ordinary final answer; the receiver joins
//! them back ([`join`]). A short answer is a single frame, as before.

use crate::{FrameError, MAX_FRAME_LEN, Response, encode_into};

/// Frames of `resp`, each within [`MAX_FRAME_LEN`], appended to `out`. A list
/// too long for one frame is halved until each half fits; an error only when a
/// single element does not fit, or the answer is not a list.
pub fn split(resp: Response, out: &mut Vec<u8>) -> Result<(), FrameError> {
    split_within(resp, out, MAX_FRAME_LEN as usize, true)
}

fn split_within(
    resp: Response,
    out: &mut Vec<u8>,
    limit: usize,
    last: bool,
) -> Result<(), FrameError> {
    let start = out.len();
    let msg = if last {
        resp
    } else {
        Response::Part(Box::new(resp))
    };
    match encode_into(out, &msg) {
        Ok(()) if out.len() - start - 4 <= limit => return Ok(()),
        Ok(()) => out.truncate(start),
        Err(FrameError::TooLarge(_)) => {}
        Err(e) => return Err(e),
    }
    let resp = match msg {
        Response::Part(b) => *b,
        other => other,
    };
    let len = u32::try_from(limit + 1).unwrap_or(u32::MAX);
    let (head, tail) = halve(resp).ok_or(FrameError::TooLarge(len))?;
    split_within(head, out, limit, false)?;
    split_within(tail, out, limit, last)
}

/// The two halves of a list answer with more than one element.
fn halve(resp: Response) -> Option<(Response, Response)> {
    fn cut<T>(mut v: Vec<T>, wrap: fn(Vec<T>) -> Response) -> Option<(Response, Response)> {
        if v.len() < 2 {
            return None;
        }
        let tail = v.split_off(v.len() / 2);
        Some((wrap(v), wrap(tail)))
    }
    match resp {
        Response::Status(v) => cut(v, Response::Status),
        Response::StatusTable(v) => cut(v, Response::StatusTable),
        Response::List(v) => cut(v, Response::List),
        Response::Timers(v) => cut(v, Response::Timers),
        Response::Jobs(v) => cut(v, Response::Jobs),
        Response::Cat(v) => cut(v, Response::Cat),
        _ => None,
    }
}

/// `earlier` (the parts so far) with the next frame's list appended; `Err`
/// with the frame when it is not the same kind of answer.
pub fn join(earlier: Response, next: Response) -> Result<Response, Box<(Response, Response)>> {
    Ok(match (earlier, next) {
        (Response::Status(mut a), Response::Status(b)) => {
            a.extend(b);
            Response::Status(a)
        }
        (Response::StatusTable(mut a), Response::StatusTable(b)) => {
            a.extend(b);
            Response::StatusTable(a)
        }
        (Response::List(mut a), Response::List(b)) => {
            a.extend(b);
            Response::List(a)
        }
        (Response::Timers(mut a), Response::Timers(b)) => {
            a.extend(b);
            Response::Timers(a)
        }
        (Response::Jobs(mut a), Response::Jobs(b)) => {
            a.extend(b);
            Response::Jobs(a)
        }
        (Response::Cat(mut a), Response::Cat(b)) => {
            a.extend(b);
            Response::Cat(a)
        }
        (a, b) => return Err(Box::new((a, b))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActiveState, UnitListEntry, read_frame};

    fn entry(i: usize) -> UnitListEntry {
        UnitListEntry {
            name: format!("{}{i}.service", "u".repeat(200)),
            load_state: "loaded".into(),
            state: ActiveState::Inactive,
            sub_state: "dead".into(),
            enabled: "disabled".into(),
            description: None,
        }
    }

    #[test]
    fn a_long_list_goes_in_parts_that_each_fit_and_join_back() {
        let list = Response::List((0..1000).map(entry).collect());
        let mut out = Vec::new();
        // A small limit stands for the real one: 1000 entries of ~300 bytes.
        split_within(list.clone(), &mut out, 20_000, true).unwrap();
        let mut r = &out[..];
        let mut joined: Option<Response> = None;
        let mut frames = 0;
        loop {
            let frame: Response = read_frame(&mut r).unwrap();
            frames += 1;
            let (body, last) = match frame {
                Response::Part(b) => (*b, false),
                other => (other, true),
            };
            joined = Some(match joined {
                None => body,
                Some(j) => join(j, body).unwrap(),
            });
            if last {
                break;
            }
        }
        assert!(r.is_empty());
        assert!(frames > 10, "{frames} frames");
        assert_eq!(joined, Some(list));
    }

    #[test]
    fn a_short_answer_is_one_frame_and_an_element_too_big_is_an_error() {
        let mut out = Vec::new();
        split(Response::Done, &mut out).unwrap();
        assert_eq!(
            read_frame::<_, Response>(&mut &out[..]).unwrap(),
            Response::Done
        );
        let one = Response::List(vec![entry(1)]);
        assert!(matches!(
            split_within(one, &mut Vec::new(), 100, true),
            Err(FrameError::TooLarge(_))
        ));
    }
}
