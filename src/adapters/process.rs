//! Adapters: the process's open-file capacity. Every connection and held event stream is a
//! descriptor, and many systems start services with a soft limit of 1,024 under a far higher
//! hard one; the gateway lifts its soft limit to the hard one at start-up and reports both
//! the limit and the descriptors in use to `/metrics`.

use std::io;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The soft limit on open files before and after [`raise_open_files_limit`] (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesLimit {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Raises this process's soft limit on open files to its hard limit. A process may always
/// do this without privileges; an error leaves the limit as it was.
pub fn raise_open_files_limit() -> io::Result<OpenFilesLimit> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    if before == limit.maximum {
        return Ok(OpenFilesLimit {
            before,
            after: before,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(OpenFilesLimit {
        before,
        after: getrlimit(Resource::Nofile).current,
    })
}

/// The soft limit on open files now (`None`: no limit).
pub fn open_files_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Descriptors open now and the soft limit; `None` where `/proc/self/fd` cannot be read.
/// Reads a directory of one entry per descriptor: call it off the async workers.
pub fn open_files() -> Option<(u64, Option<u64>)> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    // The listing itself holds one descriptor while it is read.
    let open = u64::try_from(entries.count()).ok()?.saturating_sub(1);
    Some((open, open_files_limit()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let raised = raise_open_files_limit().expect("a process may raise its soft limit");
        let now = getrlimit(Resource::Nofile);
        assert_eq!(raised.after, now.maximum);
        assert_eq!(now.current, now.maximum);
    }
}
