//! Text renderings of an address space: the VMA dump and `/proc/pid/maps`.

use crate::space::VmaInfo;
use std::fmt::Write;

fn perms(v: &VmaInfo) -> String {
    let [r, w, x] = v.prot.rwx();
    format!("{r}{w}{x}{}", if v.shared { 's' } else { 'p' })
}

/// The VMA dump body: one line per VMA, `start-end perms memfd-offset name`.
pub fn render_dump(vmas: &[VmaInfo]) -> String {
    let mut out = String::new();
    for v in vmas {
        let _ = writeln!(
            out,
            "{:x}-{:x} {} {:x} {}",
            v.start,
            v.end,
            perms(v),
            v.memfd_offset,
            v.name
        );
    }
    out
}

/// `/proc/pid/maps` as Linux formats it.
pub fn render_proc_maps(vmas: &[VmaInfo]) -> String {
    let mut out = String::new();
    for v in vmas {
        let (dev, ino) = v.dev_ino;
        let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
        let head = format!(
            "{:08x}-{:08x} {} {:08x} {:02x}:{:02x} {}",
            v.start,
            v.end,
            perms(v),
            v.file_offset,
            major,
            minor,
            ino
        );
        if v.name.is_empty() {
            let _ = writeln!(out, "{head}");
        } else {
            let _ = writeln!(out, "{head:<73}{}", v.name);
        }
    }
    out
}
