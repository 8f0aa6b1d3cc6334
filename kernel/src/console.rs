//! `/dev/console`: the serial port with a line discipline (canonical mode,
//! echo, erase, kill, ^C, ^D) and termios state.
//!
//! Console state is per machine, not replicated: it is device state, like
//! physical memory (see NROS.md).

use crate::arch::{cpu, serial};
use abi::flags::{ECHO, ECHOE, ICANON, ICRNL, ISIG, ONLCR, OPOST, VEOF, VERASE, VINTR, VKILL};
use abi::structs::{Termios, Winsize};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use spin::Mutex;

struct Tty {
    termios: Termios,
    winsize: Winsize,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Input ready for `read` in non-canonical mode.
    ready: VecDeque<u8>,
    /// Completed lines (canonical mode). A line ends with '\n' or was ended
    /// by ^D (without it); an empty one makes one `read` return 0 (EOF).
    lines: VecDeque<Vec<u8>>,
    /// Foreground process group.
    pgrp: i32,
}

static TTY: Mutex<Option<Tty>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Tty) -> R) -> R {
    let mut g = TTY.lock();
    let t = g.get_or_insert_with(|| Tty {
        termios: {
            let mut t = Termios::linux_default();
            if crate::cmdline().get("console.onlcr") == Some("0") {
                t.c_oflag &= !ONLCR;
            }
            t
        },
        winsize: Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
        line: Vec::new(),
        ready: VecDeque::new(),
        lines: VecDeque::new(),
        pgrp: 1,
    });
    f(t)
}

fn output(t: &Tty, data: &[u8]) {
    if t.termios.c_oflag & OPOST != 0 && t.termios.c_oflag & ONLCR != 0 && data.contains(&b'\n') {
        let mut out = Vec::with_capacity(data.len() + 16);
        for &b in data {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        serial::write_bytes(&out);
    } else {
        serial::write_bytes(data);
    }
}

/// Write program output to the console.
pub fn write(data: &[u8]) {
    with(|t| output(t, data));
}

/// What a console read produced.
pub enum ReadResult {
    /// Bytes (empty means end of file, after ^D on an empty line).
    Data(Vec<u8>),
    /// ^C was typed: the foreground process gets SIGINT.
    Interrupt,
    /// Nothing available and the descriptor is non-blocking.
    WouldBlock,
}

/// Feed received bytes through the line discipline. Returns true on ^C.
fn pump(t: &mut Tty) -> bool {
    while let Some(mut b) = serial::read_byte() {
        let lflag = t.termios.c_lflag;
        if t.termios.c_iflag & ICRNL != 0 && b == b'\r' {
            b = b'\n';
        }
        let cc = t.termios.c_cc;
        if lflag & ISIG != 0 && b == cc[VINTR] {
            t.line.clear();
            if lflag & ECHO != 0 {
                output(t, b"^C\n");
            }
            return true;
        }
        if lflag & ICANON == 0 {
            t.ready.push_back(b);
            if lflag & ECHO != 0 {
                output(t, &[b]);
            }
            continue;
        }
        if b == cc[VERASE] || b == 0x08 {
            if t.line.pop().is_some() && lflag & ECHO != 0 && lflag & ECHOE != 0 {
                output(t, b"\x08 \x08");
            }
        } else if b == cc[VKILL] {
            while t.line.pop().is_some() {
                if lflag & ECHO != 0 && lflag & ECHOE != 0 {
                    output(t, b"\x08 \x08");
                }
            }
        } else if b == cc[VEOF] {
            let line = core::mem::take(&mut t.line);
            t.lines.push_back(line);
        } else {
            t.line.push(b);
            if lflag & ECHO != 0 {
                output(t, &[b]);
            }
            if b == b'\n' {
                let line = core::mem::take(&mut t.line);
                t.lines.push_back(line);
            }
        }
    }
    false
}

/// Read up to `len` bytes, waiting for a line (canonical mode) or a byte.
pub fn read(len: usize, nonblock: bool) -> ReadResult {
    loop {
        let r = with(|t| {
            if pump(t) {
                return Some(ReadResult::Interrupt);
            }
            let canonical = t.termios.c_lflag & ICANON != 0;
            if canonical {
                let line = t.lines.front_mut()?;
                if line.len() <= len {
                    return t.lines.pop_front().map(ReadResult::Data);
                }
                let rest = line.split_off(len);
                let out = core::mem::replace(line, rest);
                Some(ReadResult::Data(out))
            } else if t.ready.is_empty() {
                None
            } else {
                let n = len.min(t.ready.len());
                Some(ReadResult::Data(t.ready.drain(..n).collect()))
            }
        });
        match r {
            Some(r) => return r,
            None if nonblock => return ReadResult::WouldBlock,
            None => cpu::idle_wait(),
        }
    }
}

/// Run received bytes through the line discipline now, not only when a
/// program reads: true if ^C was typed (with `ISIG`), so the foreground
/// process group gets SIGINT even while nobody reads the console.
pub fn poll_interrupt() -> bool {
    with(pump)
}

/// Bytes a read would return now (`FIONREAD`).
pub fn available() -> usize {
    with(|t| {
        pump(t);
        t.ready.len() + t.lines.iter().map(Vec::len).sum::<usize>()
    })
}

/// Current termios.
pub fn termios() -> Termios {
    with(|t| t.termios)
}

/// Set termios (`flush` drops pending input, as `TCSETSF`).
pub fn set_termios(new: Termios, flush: bool) {
    with(|t| {
        t.termios = new;
        if flush {
            t.line.clear();
            t.ready.clear();
            t.lines.clear();
        }
    })
}

/// Window size.
pub fn winsize() -> Winsize {
    with(|t| t.winsize)
}

/// Set the window size.
pub fn set_winsize(w: Winsize) {
    with(|t| t.winsize = w)
}

/// Foreground process group.
pub fn pgrp() -> i32 {
    with(|t| t.pgrp)
}

/// Set the foreground process group.
pub fn set_pgrp(p: i32) {
    with(|t| t.pgrp = p)
}

/// Whether console input arrived since the last call (wakes readers).
pub fn input_arrived() -> bool {
    serial::input_arrived()
}
