//! The VMA dump (`--dump-vmas`): every guest VMA after each exec, at exit, and on SIGUSR1.

use crate::kernel::process::Process;
use parking_lot::Mutex;
use std::io::Write;

/// Where dumps go.
pub struct VmaDump {
    out: Mutex<Box<dyn Write + Send>>,
}

impl VmaDump {
    /// Dumps to `path`, or to stderr when `None`.
    pub fn open(path: Option<&std::path::Path>) -> std::io::Result<VmaDump> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(std::fs::File::create(p)?),
            None => Box::new(std::io::stderr()),
        };
        Ok(VmaDump {
            out: Mutex::new(out),
        })
    }

    /// Writes one block for `process`, labelled `when` (`exec`, `exit`, `signal`).
    pub fn write(&self, process: &Process, when: &str) {
        let vmas = process.mm().vmas();
        let text = format!(
            "== vmas pid={} stub={} when={when} ==\n{}== end ==\n",
            process.pid,
            process.stub_pid(),
            mm::dump::render_dump(&vmas)
        );
        let mut out = self.out.lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}
