//! The kernel's `struct termios` (what `TCGETS`/`TCSETS` copy) and `struct winsize`,
//! with Linux's default settings for a new pseudo-terminal.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Control characters in `c_cc` (the kernel's `NCCS`).
pub const NCCS: usize = 19;

/// The kernel's `struct termios` (not glibc's larger one: `TCGETS` copies this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Termios {
    /// Input modes.
    pub iflag: u32,
    /// Output modes.
    pub oflag: u32,
    /// Control modes.
    pub cflag: u32,
    /// Local modes.
    pub lflag: u32,
    /// Line discipline (always `N_TTY`, 0).
    pub line: u8,
    /// Control characters, indexed by `V*`.
    pub cc: [u8; NCCS],
}

/// `struct winsize`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Winsize {
    /// Rows.
    pub row: u16,
    /// Columns.
    pub col: u16,
    /// Width in pixels.
    pub xpixel: u16,
    /// Height in pixels.
    pub ypixel: u16,
}

impl Termios {
    /// What a new pty's replica starts with (`tty_std_termios` with the pty driver's
    /// `B38400 | CS8 | CREAD`): canonical mode
    /// with echo and signals, `ICRNL`, `IXON`, `OPOST|ONLCR`, 38400 baud 8-bit, and the
    /// usual control characters (`^C`, `^\`, DEL, `^U`, `^D`, ...).
    pub fn default_pty() -> Termios {
        let mut cc = [0u8; NCCS];
        let set = [
            (libc::VINTR, 0o003),
            (libc::VQUIT, 0o034),
            (libc::VERASE, 0o177),
            (libc::VKILL, 0o025),
            (libc::VEOF, 0o004),
            (libc::VTIME, 0),
            (libc::VMIN, 1),
            (libc::VSTART, 0o021),
            (libc::VSTOP, 0o023),
            (libc::VSUSP, 0o032),
            (libc::VREPRINT, 0o022),
            (libc::VDISCARD, 0o017),
            (libc::VWERASE, 0o027),
            (libc::VLNEXT, 0o026),
        ];
        for (i, v) in set {
            cc[i] = v;
        }
        Termios {
            iflag: libc::ICRNL | libc::IXON,
            oflag: libc::OPOST | libc::ONLCR,
            cflag: libc::B38400 | libc::CS8 | libc::CREAD,
            lflag: libc::ISIG
                | libc::ICANON
                | libc::ECHO
                | libc::ECHOE
                | libc::ECHOK
                | libc::ECHOCTL
                | libc::ECHOKE
                | libc::IEXTEN,
            line: 0,
            cc,
        }
    }

    /// Whether input flag `f` is set.
    pub fn i(&self, f: u32) -> bool {
        self.iflag & f != 0
    }

    /// Whether output flag `f` is set.
    pub fn o(&self, f: u32) -> bool {
        self.oflag & f != 0
    }

    /// Whether local flag `f` is set.
    pub fn l(&self, f: u32) -> bool {
        self.lflag & f != 0
    }

    /// Whether `c` is control character `idx`; a character set to 0
    /// (`_POSIX_VDISABLE`) matches nothing.
    pub fn is(&self, c: u8, idx: usize) -> bool {
        self.cc[idx] != 0 && self.cc[idx] == c
    }
}
