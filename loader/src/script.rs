//! `#!` interpreter lines, parsed like Linux's `binfmt_script`.

/// Bytes of a file's head the kernel looks at (Linux: BINPRM_BUF_SIZE).
pub const BINPRM_BUF_SIZE: usize = 256;

/// An interpreter line: `#!interp [arg]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Shebang {
    /// Interpreter path.
    pub interp: Vec<u8>,
    /// The optional single argument (everything after the first blank, trimmed).
    pub arg: Option<Vec<u8>>,
}

fn blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parses the `#!` line in `head` (the file's first bytes). `None` if it is not a script
/// or names no interpreter.
pub fn parse_shebang(head: &[u8]) -> Option<Shebang> {
    let rest = head.strip_prefix(b"#!")?;
    // The line ends at a newline or, if none fits in the buffer, at the buffer's end;
    // then the interpreter's name must end inside the buffer (a blank or NUL after it),
    // else it is taken as truncated and the file is not a script.
    let line = match rest.iter().position(|&c| c == b'\n') {
        Some(n) => &rest[..n],
        None if head.len() < BINPRM_BUF_SIZE => rest,
        None => {
            let start = rest.iter().position(|&c| !blank(c))?;
            rest[start..].iter().position(|&c| blank(c) || c == 0)?;
            rest
        }
    };
    let line = line.split(|&c| c == 0).next().unwrap_or(&[]);
    let start = line.iter().position(|&c| !blank(c))?;
    let line = &line[start..];
    let end = line.iter().rposition(|&c| !blank(c)).map_or(0, |e| e + 1);
    let line = &line[..end];
    let (interp, arg) = match line.iter().position(|&c| blank(c)) {
        Some(i) => {
            let a = &line[i..];
            let a = &a[a.iter().position(|&c| !blank(c)).unwrap_or(a.len())..];
            (&line[..i], (!a.is_empty()).then(|| a.to_vec()))
        }
        None => (line, None),
    };
    (!interp.is_empty()).then(|| Shebang {
        interp: interp.to_vec(),
        arg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_linux() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some(Shebang {
                interp: b"/bin/sh".to_vec(),
                arg: None
            })
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some(Shebang {
                interp: b"/usr/bin/env".to_vec(),
                arg: Some(b"python3 -u".to_vec())
            })
        );
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"#!   \t\n"), None);
        assert_eq!(parse_shebang(b"\x7fELF"), None);
        let long = [b"#!/".as_slice(), &[b'x'; BINPRM_BUF_SIZE]].concat();
        assert_eq!(parse_shebang(&long[..BINPRM_BUF_SIZE]), None);
        let with_arg = [b"#!/bin/sh ".as_slice(), &[b'x'; BINPRM_BUF_SIZE]].concat();
        assert_eq!(
            parse_shebang(&with_arg[..BINPRM_BUF_SIZE]),
            Some(Shebang {
                interp: b"/bin/sh".to_vec(),
                arg: Some(with_arg[10..BINPRM_BUF_SIZE].to_vec())
            })
        );
        assert_eq!(
            parse_shebang(b"#!/bin/sh"),
            Some(Shebang {
                interp: b"/bin/sh".to_vec(),
                arg: None
            })
        );
    }
}
