//! Property tests of what reads the socket: the frame decoder and the request
//! decoder never panic, whatever the bytes, and never allocate much beyond what
//! actually arrived, whatever length a header announces.
//!
//! Inputs are arbitrary bytes and mutations (flips, cuts, splices, lying
//! headers) of the seed corpus in `tests/corpus/`: one file per kind of frame
//! a client sends, plus the hostile shapes the daemon has met. The number of
//! cases is fixed so the run stays within a few seconds in CI.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::OnceLock;

use daimon_proto::{
    Frame, Hello, MAX_FRAME_LEN, MAX_REQUEST_LEN, Request, payload_len_within, read_any_frame,
    read_frame, read_payload,
};
use proptest::prelude::*;

/// Counts this thread's live heap bytes and their peak, so that one decode's
/// allocations can be bounded (other test threads do not disturb the count).
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + n;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn sub(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are plain thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        sub(layout.size());
        add(new_size);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes allocated at the peak of `f`, beyond what was live before it.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

/// What decoding `input` may cost at most: the first read chunk (64 KiB), a
/// few times the input for the parsed value, and slack for small buffers.
fn budget(input: &[u8]) -> usize {
    64 * 1024 + 16 * input.len() + 16 * 1024
}

fn corpus() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| std::fs::read(e.path()).expect("corpus file"))
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 10, "the seed corpus is missing");
        seeds
    })
}

/// Everything the daemon does with bytes from a client, as the sync reader
/// sees them: `Hello`, then requests until the input ends or is refused.
fn decode_all(input: &[u8]) {
    let mut r = input;
    let _ = read_frame::<_, Hello>(&mut r);
    for _ in 0..4 {
        let mut header = [0u8; 4];
        if std::io::Read::read_exact(&mut r, &mut header).is_err() {
            break;
        }
        let Ok(len) = payload_len_within(header, MAX_REQUEST_LEN) else {
            break;
        };
        let Ok(payload) = read_payload(&mut r, len) else {
            break;
        };
        if let Ok(req) = daimon_proto::decode::<Request>(&payload) {
            // What the daemon checks next: every name the request carries.
            for name in names(&req) {
                let _ = daimon_unit::check_requested(name);
            }
        }
    }
    let mut r = input;
    while let Ok(f) = read_any_frame(&mut r) {
        if let Frame::Json(p) = f {
            let _ = daimon_proto::decode::<daimon_proto::Response>(&p);
        }
    }
}

fn names(req: &Request) -> Vec<&String> {
    match req {
        Request::Start { units }
        | Request::Stop { units }
        | Request::Restart { units }
        | Request::Reload { units }
        | Request::Enable { units }
        | Request::Disable { units }
        | Request::Status { units, .. } => units.iter().collect(),
        Request::Logs(l) => l.units.iter().collect(),
        Request::Cat { unit } => vec![unit],
        Request::Run(r) => std::iter::once(&r.name)
            .chain(r.timer.as_ref().map(|t| &t.name))
            .collect(),
        _ => vec![],
    }
}

fn mutate(seed: &[u8], ops: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for &(op, at, byte) in ops {
        let at = if v.is_empty() { 0 } else { at % v.len() };
        match op % 5 {
            0 if !v.is_empty() => v[at] ^= byte,
            1 => v.insert(at, byte),
            2 if !v.is_empty() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            // A header that announces anything at all.
            _ if v.len() >= 4 => {
                let lie = u32::from_be_bytes([byte, byte, v[1], v[2]]);
                v[..4].copy_from_slice(&lie.to_be_bytes());
            }
            _ => {}
        }
    }
    v
}

const CASES: u32 = 4000;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_nor_overallocate(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let ((), peak) = peak_of(|| decode_all(&input));
        prop_assert!(peak <= budget(&input), "{peak} bytes for {} input bytes", input.len());
    }

    #[test]
    fn mutated_seeds_never_panic_nor_overallocate(
        pick in any::<usize>(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8),
    ) {
        let seeds = corpus();
        let input = mutate(&seeds[pick % seeds.len()], &ops);
        let ((), peak) = peak_of(|| decode_all(&input));
        prop_assert!(peak <= budget(&input), "{peak} bytes for {} input bytes", input.len());
    }
}

/// Each seed decodes as it should: the valid ones to their message, the
/// hostile ones to an error, within the same allocation bound.
#[test]
fn the_seed_corpus_decodes_within_bounds() {
    let seeds = corpus();
    for s in seeds {
        let ((), peak) = peak_of(|| decode_all(s));
        assert!(peak <= budget(s), "{peak} bytes for a seed of {}", s.len());
    }
    // A header announcing the maximum with 19 bytes behind it costs no 16 MiB.
    let mut lying = MAX_FRAME_LEN.to_be_bytes().to_vec();
    lying.extend_from_slice(b"{\"Start\":{\"units\":[");
    let (r, peak) = peak_of(|| read_frame::<_, Request>(&mut &lying[..]));
    assert!(r.is_err());
    assert!(
        peak <= 128 * 1024,
        "{peak} bytes allocated for a lying header"
    );
    eprintln!(
        "decoders: {} seeds, {} arbitrary and {} mutated cases",
        seeds.len(),
        CASES,
        CASES
    );
}
