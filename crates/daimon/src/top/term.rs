//! The terminal of `daimon top`: crossterm's raw mode, the alternate screen
//! and a hidden cursor while it runs, restored on every way out. A `Screen`
//! restores on drop (return, `?`, a panic that unwinds) and a panic hook
//! restores before the message is printed, so the message lands on the normal
//! screen in cooked mode; SIGTERM, SIGHUP and SIGINT become messages to the
//! main loop (`input`), which returns through the drop.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Buffered: a frame goes out in one write (ratatui flushes after each), not
/// in the pieces a line-buffered stdout would make of cursor moves.
pub type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Whether the screen is taken (raw mode, alternate screen): what `restore`
/// has to undo, at most once.
static TAKEN: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The terminal, taken until dropped.
pub struct Screen {
    pub term: Term,
}

impl Screen {
    pub fn enter() -> io::Result<Screen> {
        HOOK.call_once(|| {
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                hook(info);
            }));
        });
        take()?;
        match new_term() {
            Ok(term) => Ok(Screen { term }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Clears the screen and paints every cell on the next frame. Not
    /// ratatui's `Terminal::clear`: it asks the terminal where the cursor is
    /// and reads the answer from stdin, which is the key thread's to read.
    pub fn repaint(&mut self) -> io::Result<()> {
        execute!(io::stdout(), Clear(ClearType::All))?;
        self.term = new_term()?;
        Ok(())
    }

    /// Gives the terminal back for a while (another program runs in it).
    pub fn suspend(&mut self) {
        restore();
    }

    /// Takes it again after [`Screen::suspend`], and redraws everything on the
    /// next frame (the other program drew over it).
    pub fn resume(&mut self) -> io::Result<()> {
        take()?;
        self.repaint()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// A fresh terminal (its idea of the screen empty), drawing into a buffer.
fn new_term() -> io::Result<Term> {
    Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
        64 * 1024,
        io::stdout(),
    )))
}

fn take() -> io::Result<()> {
    enable_raw_mode()?;
    TAKEN.store(true, Ordering::SeqCst);
    execute!(io::stdout(), EnterAlternateScreen, Hide)
}

/// Leaves the alternate screen and puts the settings found at start back
/// (crossterm keeps them from `enable_raw_mode`). Safe to call twice.
pub fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(out, Show, LeaveAlternateScreen);
        let _ = out.flush();
        let _ = disable_raw_mode();
    }
}
