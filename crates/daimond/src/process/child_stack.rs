//! Stacks for children between clone and exec, and the records they read.
//!
//! A child runs on a stack of its own in daimond's memory until its execve()
//! (see `spawn.rs`), and daimond does not wait for it; several may be on
//! their way at once during a burst of starts. Each one's stack and
//! [`Launch`] are kept here until the kernel has cleared its `tid` word
//! (CLONE_CHILD_CLEARTID): from then on the child no longer touches daimond's
//! memory, its record is dropped and its stack goes back to the pool.
//!
//! Stacks are mapped once and kept (a few, [`POOL`]): a fresh zeroed buffer per
//! spawn cost a memset and its page faults on the restart path, and a child
//! only ever touches a stack near its top. A guard page below each one makes
//! an overflowing child die of SIGSEGV rather than write into whatever lies
//! below. A child that dies of a core-dumping signal before exec leaves its
//! `tid` set (the kernel keeps it for the post-mortem); its stack then stays
//! taken, which costs memory, never safety.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::Ordering;

use super::spawn_child::Launch;

/// Usable size of a child's stack (it only makes system calls).
const SIZE: usize = 256 * 1024;

/// The page below each stack that faults when touched.
const GUARD: usize = 4096;

/// How many free stacks are kept mapped for the next spawns.
const POOL: usize = 4;

/// One mapped stack with its guard page.
pub struct Stack {
    map: *mut libc::c_void,
}

impl Stack {
    fn map() -> io::Result<Stack> {
        // SAFETY: a new private anonymous mapping; no existing memory is affected.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                GUARD + SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { map };
        // SAFETY: the first page of the mapping just made, used by nothing.
        if unsafe { libc::mprotect(map, GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error()); // dropping `stack` unmaps it
        }
        Ok(stack)
    }

    /// The initial stack pointer: the top, aligned to 16 bytes as the ABIs
    /// require (stacks grow down on every architecture we build for).
    pub fn top(&self) -> *mut libc::c_void {
        let top = self.map as usize + GUARD + SIZE;
        (top & !15) as *mut libc::c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, no longer used by any child.
        unsafe { libc::munmap(self.map, GUARD + SIZE) };
    }
}

#[derive(Default)]
struct Pool {
    free: Vec<Stack>,
    /// Children not yet done with daimond's memory.
    in_flight: Vec<(Box<Launch>, Stack)>,
}

impl Pool {
    /// Keeps a stack no child uses for the next spawn, or unmaps it if the
    /// pool is full.
    fn recycle(&mut self, stack: Stack) {
        if self.free.len() < POOL {
            self.free.push(stack);
        }
    }

    /// Drops the records of children done with our memory; keeps their stacks.
    fn sweep(&mut self) {
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].0.tid.load(Ordering::Acquire) == 0 {
                let (_, stack) = self.in_flight.swap_remove(i);
                self.recycle(stack);
            } else {
                i += 1;
            }
        }
    }
}

impl Drop for Pool {
    /// At thread exit a child may still be before its exec (blocked opening a
    /// FIFO, say) and it shares this memory: its record and stack are left
    /// mapped rather than pulled from under it.
    fn drop(&mut self) {
        self.sweep();
        for entry in self.in_flight.drain(..) {
            std::mem::forget(entry);
        }
    }
}

thread_local! {
    /// Per thread: a spawning thread only ever hands its own stacks out.
    static POOL_OF_THREAD: RefCell<Pool> = RefCell::new(Pool::default());
}

/// A stack no child is using.
pub fn take() -> io::Result<Stack> {
    POOL_OF_THREAD.with(|p| {
        let mut p = p.borrow_mut();
        p.sweep();
        match p.free.pop() {
            Some(s) => Ok(s),
            None => Stack::map(),
        }
    })
}

/// A stack whose child was never created.
pub fn give_back(stack: Stack) {
    POOL_OF_THREAD.with(|p| {
        p.borrow_mut().recycle(stack);
    })
}

/// Keeps `launch` and `stack` until the child they were given to is done with them.
pub fn keep_until_exec(launch: Box<Launch>, stack: Stack) {
    POOL_OF_THREAD.with(|p| {
        let mut p = p.borrow_mut();
        p.in_flight.push((launch, stack));
        // Records of children long gone go now rather than at the next spawn.
        p.sweep();
    })
}

/// Drops the records and stacks of children done with daimond's memory now,
/// rather than at the next spawn (after a burst of starts, that could be
/// hours away while up to a few dozen stacks stayed resident).
pub fn release_finished() {
    POOL_OF_THREAD.with(|p| p.borrow_mut().sweep())
}

/// How many children of this thread are still before their exec (tests).
#[cfg(test)]
pub fn in_flight() -> usize {
    POOL_OF_THREAD.with(|p| {
        let mut p = p.borrow_mut();
        p.sweep();
        p.in_flight.len()
    })
}
