//! The line discipline between a pty's master and replica, after Linux's `n_tty`.
//!
//! Bytes the master writes are *input*: `ISTRIP`, `IGNCR`/`ICRNL`/`INLCR`, the `ISIG`
//! characters (whose signals the caller sends), `IXON`'s start and stop characters, and
//! in canonical mode line editing (`VERASE`, `VWERASE`, `VKILL`, `VLNEXT`, `VREPRINT`,
//! `VEOF`, `VEOL`) with its echo (`ECHO`, `ECHOE`, `ECHOK`, `ECHOKE`, `ECHONL`,
//! `ECHOCTL`). Bytes the replica writes, and echoes, are *output*: `OPOST` with
//! `ONLCR`, `OCRNL`, `ONOCR`, `ONLRET` and `OLCUC`. This module holds the queues; it
//! neither blocks nor signals.

use super::termios::Termios;
use std::collections::VecDeque;

/// Input bytes the replica side holds at most (Linux's `N_TTY_BUF_SIZE`).
pub const INPUT_CAP: usize = 4096;
/// Output bytes the master side holds before replica writes block.
pub const OUTPUT_CAP: usize = 65536;

/// The queues of one pty.
#[derive(Default)]
pub struct Ldisc {
    /// Complete canonical lines, each with its terminator (none for `VEOF`).
    lines: VecDeque<Vec<u8>>,
    /// The line being edited.
    line: Vec<u8>,
    /// Non-canonical input.
    raw: VecDeque<u8>,
    /// Output for the master to read.
    pub out: VecDeque<u8>,
    /// Output column, for `ONOCR`.
    column: usize,
    /// The previous input byte was `VLNEXT`: take this one literally.
    lnext: bool,
    /// Where in `out` the echoes of the current input batch begin.
    batch_start: usize,
}

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl Ldisc {
    /// Whether a read finds something: a complete line in canonical mode, any byte
    /// otherwise.
    pub fn readable(&self, t: &Termios) -> bool {
        if t.l(libc::ICANON) {
            !self.lines.is_empty()
        } else {
            !self.raw.is_empty()
        }
    }

    /// Bytes a read can take now (`FIONREAD` on the replica).
    pub fn input_bytes(&self, t: &Termios) -> usize {
        if t.l(libc::ICANON) {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        }
    }

    /// Bytes held as input, complete or not.
    fn input_held(&self) -> usize {
        self.lines.iter().map(Vec::len).sum::<usize>() + self.line.len() + self.raw.len()
    }

    /// Whether input has no room for another byte that would have to be kept.
    pub fn input_full(&self, t: &Termios) -> bool {
        // A canonical line that fills the buffer cannot block its own newline: Linux
        // drops further bytes instead.
        self.input_held() >= INPUT_CAP && !(t.l(libc::ICANON) && self.lines.is_empty())
    }

    /// Takes up to `buf.len()` bytes: at most one line in canonical mode, where a line
    /// ended by `VEOF` with nothing on it reads as 0 bytes. `None` if nothing is readable.
    pub fn read(&mut self, t: &Termios, buf: &mut [u8]) -> Option<usize> {
        if t.l(libc::ICANON) {
            let line = self.lines.front_mut()?;
            let n = buf.len().min(line.len());
            buf[..n].copy_from_slice(&line[..n]);
            line.drain(..n);
            if line.is_empty() {
                self.lines.pop_front();
            }
            Some(n)
        } else {
            if self.raw.is_empty() {
                return None;
            }
            let n = buf.len().min(self.raw.len());
            for (d, s) in buf.iter_mut().zip(self.raw.drain(..n)) {
                *d = s;
            }
            Some(n)
        }
    }

    /// Discards unread input (`TCIFLUSH`, signal characters without `NOFLSH`).
    pub fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
    }

    /// The termios changed from `old` to `new`: leaving canonical mode makes the line
    /// being edited readable; entering it makes pending raw input one line.
    pub fn set_termios(&mut self, old: &Termios, new: &Termios) {
        let (was, is) = (old.l(libc::ICANON), new.l(libc::ICANON));
        if was && !is {
            for l in self.lines.drain(..) {
                self.raw.extend(l);
            }
            self.raw.extend(self.line.drain(..));
        } else if !was && is && !self.raw.is_empty() {
            self.lines.push_back(self.raw.drain(..).collect());
        }
    }

    /// Puts one output byte through `OPOST` processing into the master's queue.
    pub fn output(&mut self, t: &Termios, c: u8) {
        if !t.o(libc::OPOST) {
            self.out.push_back(c);
            return;
        }
        match c {
            b'\n' => {
                if t.o(libc::ONLRET) {
                    self.column = 0;
                }
                if t.o(libc::ONLCR) {
                    self.column = 0;
                    self.out.extend(b"\r\n");
                    return;
                }
                self.out.push_back(c);
            }
            b'\r' => {
                if t.o(libc::ONOCR) && self.column == 0 {
                    return;
                }
                if t.o(libc::OCRNL) {
                    if t.o(libc::ONLRET) {
                        self.column = 0;
                    }
                    self.out.push_back(b'\n');
                    return;
                }
                self.column = 0;
                self.out.push_back(c);
            }
            b'\t' => {
                self.column = (self.column | 7) + 1;
                self.out.push_back(c);
            }
            8 => {
                self.column = self.column.saturating_sub(1);
                self.out.push_back(c);
            }
            _ => {
                if is_cntrl(c) {
                    self.out.push_back(c);
                } else {
                    self.column += 1;
                    let c = if t.o(libc::OLCUC) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    };
                    self.out.push_back(c);
                }
            }
        }
    }

    /// Echoes `c` as `echo_char` does: a control character other than tab as `^X`
    /// with `ECHOCTL`, anything else as output.
    fn echo_char(&mut self, t: &Termios, c: u8) {
        if t.l(libc::ECHOCTL) && is_cntrl(c) && c != b'\t' {
            self.out.push_back(b'^');
            self.out.push_back(c ^ 0o100);
            self.column += 2;
        } else {
            self.output(t, c);
        }
    }

    /// Starts a batch of input (one master write): like `n_tty`, which sends a batch's
    /// echoes at its end, a signal character drops the echoes of the batch before it.
    pub fn begin_batch(&mut self) {
        self.batch_start = self.out.len();
    }

    /// Takes one input byte from the master; returns the signal it raises, if any.
    pub fn input(&mut self, t: &Termios, c: u8) -> Option<i32> {
        let c = if t.i(libc::ISTRIP) { c & 0x7f } else { c };
        let canon = t.l(libc::ICANON);
        if self.lnext {
            self.lnext = false;
            if t.l(libc::ECHO) {
                self.echo_char(t, c);
            }
            self.put(canon, c);
            return None;
        }
        if t.i(libc::IXON) && (t.is(c, libc::VSTART) || t.is(c, libc::VSTOP)) {
            return None;
        }
        if t.l(libc::ISIG) {
            let sig = if t.is(c, libc::VINTR) {
                Some(libc::SIGINT)
            } else if t.is(c, libc::VQUIT) {
                Some(libc::SIGQUIT)
            } else if t.is(c, libc::VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if !t.l(libc::NOFLSH) {
                    // Echoes of this batch not yet sent go with the input.
                    self.flush_input();
                    self.out.truncate(self.batch_start);
                }
                if t.l(libc::ECHO) {
                    self.echo_char(t, c);
                }
                return Some(sig);
            }
        }
        let mut c = c;
        let mut special = false;
        if c == b'\r' && (t.i(libc::IGNCR) || t.i(libc::ICRNL)) {
            if t.i(libc::IGNCR) {
                return None;
            }
            c = b'\n';
            special = true;
        } else if c == b'\n' && t.i(libc::INLCR) {
            c = b'\r';
            special = true;
        }
        if canon {
            let iexten = t.l(libc::IEXTEN);
            if t.is(c, libc::VERASE) || t.is(c, libc::VKILL) || (iexten && t.is(c, libc::VWERASE)) {
                self.erase(t, c);
                return None;
            }
            if iexten && t.is(c, libc::VLNEXT) {
                self.lnext = true;
                if t.l(libc::ECHO) && t.l(libc::ECHOCTL) {
                    self.out.extend(b"^\x08");
                }
                return None;
            }
            if iexten && t.l(libc::ECHO) && t.is(c, libc::VREPRINT) {
                self.echo_char(t, c);
                self.output(t, b'\n');
                let line = self.line.clone();
                for b in line {
                    self.echo_char(t, b);
                }
                return None;
            }
            if c == b'\n' {
                if t.l(libc::ECHO) || t.l(libc::ECHONL) {
                    self.output(t, b'\n');
                }
                self.line.push(c);
                self.commit();
                return None;
            }
            if t.is(c, libc::VEOF) {
                self.commit();
                return None;
            }
            if t.is(c, libc::VEOL) || (iexten && t.is(c, libc::VEOL2)) {
                if t.l(libc::ECHO) {
                    self.echo_char(t, c);
                }
                self.line.push(c);
                self.commit();
                return None;
            }
            special = true;
        }
        if t.l(libc::ECHO) {
            if special && c == b'\n' {
                self.output(t, b'\n');
            } else {
                self.echo_char(t, c);
            }
        }
        self.put(canon, c);
        None
    }

    fn put(&mut self, canon: bool, c: u8) {
        if canon {
            if self.input_held() < INPUT_CAP {
                self.line.push(c);
            }
        } else {
            self.raw.push_back(c);
        }
    }

    fn commit(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.lines.push_back(line);
    }

    /// `VERASE`, `VWERASE` or `VKILL` (`c`) on the line being edited, as `eraser` does.
    fn erase(&mut self, t: &Termios, c: u8) {
        if self.line.is_empty() {
            return;
        }
        let kill = t.is(c, libc::VKILL);
        let word = !kill && !t.is(c, libc::VERASE);
        let echo = t.l(libc::ECHO);
        if kill {
            if !echo {
                self.line.clear();
                return;
            }
            if !t.l(libc::ECHOK) || !t.l(libc::ECHOKE) || !t.l(libc::ECHOE) {
                self.line.clear();
                self.echo_char(t, c);
                if t.l(libc::ECHOK) {
                    self.output(t, b'\n');
                }
                return;
            }
        }
        let mut seen_alnums = 0;
        while let Some(&e) = self.line.last() {
            if word {
                if e.is_ascii_alphanumeric() || e == b'_' {
                    seen_alnums += 1;
                } else if seen_alnums > 0 {
                    break;
                }
            }
            self.line.pop();
            if echo {
                if !kill && !word && !t.l(libc::ECHOE) {
                    self.echo_char(t, c);
                } else {
                    if is_cntrl(e) && e != b'\t' && t.l(libc::ECHOCTL) {
                        self.rub_out(t);
                    }
                    if !is_cntrl(e) || t.l(libc::ECHOCTL) || e == b'\t' {
                        self.rub_out(t);
                    }
                }
            }
            if !kill && !word {
                break;
            }
        }
    }

    /// Erases one shown column: backspace, space, backspace.
    fn rub_out(&mut self, t: &Termios) {
        for b in *b"\x08 \x08" {
            self.output(t, b);
        }
    }
}
