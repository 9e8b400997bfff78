use super::reader::CrLf;
use super::*;

fn with_console(f: impl FnOnce(&Console)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let p = pty::open().expect("pty");
        let c = Console::new("bot.service".into(), 1, p.master).expect("console");
        f(&c);
    });
}

#[test]
fn a_client_gets_the_replay_then_new_output() {
    with_console(|c| {
        c.output(b">>> ");
        let a = c.join();
        c.output(b"1+1\r\n2\r\n");
        assert_eq!(a.queue.borrow().output, b">>> 1+1\r\n2\r\n");
        let b = c.join();
        assert_eq!(b.queue.borrow().output, b">>> 1+1\r\n2\r\n");
        c.leave(a.id);
        c.output(b"x");
        assert_eq!(a.queue.borrow().output.len(), 12);
        assert_eq!(b.queue.borrow().output.len(), 13);
    });
}

#[test]
fn the_replay_keeps_the_last_bytes_from_a_line_start() {
    with_console(|c| {
        for i in 0..REPLAY / 8 + 100 {
            c.output(format!("{:07}\n", i % 10_000_000).as_bytes());
        }
        let r = c.replay();
        assert!(r.len() <= REPLAY && r.len() > REPLAY - 16);
        assert_eq!(r.len() % 8, 0, "starts on a line boundary");
    });
}

#[test]
fn a_client_that_falls_behind_is_dropped_with_a_reason_and_others_stay() {
    with_console(|c| {
        let slow = c.join();
        let fast = c.join();
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..CLIENT_QUEUE / chunk.len() + 1 {
            c.output(&chunk);
            fast.queue.borrow_mut().output.clear();
        }
        let q = slow.queue.borrow();
        assert!(q.output.is_empty());
        assert!(q.dropped.as_deref().is_some_and(|d| d.contains("fell")));
        assert!(fast.queue.borrow().dropped.is_none());
        assert_eq!(c.clients.borrow().len(), 1);
    });
}

#[test]
fn crlf_becomes_lf_across_chunks() {
    let mut s = CrLf::default();
    let mut out = s.strip(b"a\r\nb\r");
    out.extend(s.strip(b"\nc\rd\r"));
    out.extend(s.strip(b"e"));
    assert_eq!(out, b"a\nb\nc\rd\re");
}
