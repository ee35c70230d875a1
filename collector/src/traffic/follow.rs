//! Follows one log file by its path, as `tail -F` does, without reading a
//! line twice or skipping one across a rotation:
//! - it starts at the end of the file that is there when it starts, and at
//!   the beginning of any file that appears later;
//! - a rename (logrotate, or the agent's own rotation, then `nginx -s
//!   reopen`) leaves the old file open and read to its end until it has
//!   been quiet for a while: workers write to it until they reopen, and
//!   buffered lines are flushed into it;
//! - a file that shrinks was truncated (copytruncate): read it again from
//!   its start.
//!
//! Memory is bounded: one read buffer, and per open file at most one
//! partial line of [`MAX_LINE`] bytes; a longer line is skipped whole.

use super::line::{Skip, MAX_LINE};
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the lines go.
pub trait Lines {
    fn line(&mut self, line: &[u8]);
    fn skip(&mut self, why: Skip);
}

/// How long a rotated file must stay quiet before it is closed.
const DRAIN_QUIET: Duration = Duration::from_secs(5);
/// Rotated files still being drained, at most.
const MAX_DRAINING: usize = 4;

struct Open {
    file: File,
    id: (u64, u64),
    pos: u64,
    partial: Vec<u8>,
    /// Inside a line longer than MAX_LINE, until its newline.
    discarding: bool,
    last_data: Instant,
}

impl Open {
    fn new(file: File, id: (u64, u64), pos: u64) -> Self {
        Self {
            file,
            id,
            pos,
            partial: Vec::new(),
            discarding: false,
            last_data: Instant::now(),
        }
    }

    /// Everything written since the last read, line by line.
    fn read(&mut self, buf: &mut [u8], out: &mut dyn Lines) -> std::io::Result<()> {
        loop {
            let n = match self.file.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.pos += n as u64;
            self.last_data = Instant::now();
            let mut rest = &buf[..n];
            while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                let piece = &rest[..nl];
                rest = &rest[nl + 1..];
                if self.discarding {
                    self.discarding = false;
                    out.skip(Skip::TooLong);
                } else if self.partial.is_empty() {
                    out.line(piece);
                } else if self.partial.len() + piece.len() > MAX_LINE {
                    self.partial.clear();
                    out.skip(Skip::TooLong);
                } else {
                    self.partial.extend_from_slice(piece);
                    out.line(&self.partial);
                    self.partial.clear();
                }
            }
            if !self.discarding {
                if self.partial.len() + rest.len() > MAX_LINE {
                    self.partial.clear();
                    self.discarding = true;
                } else {
                    self.partial.extend_from_slice(rest);
                }
            }
        }
    }

    /// The file is closed for good: a line without its newline was cut.
    fn finish(self, out: &mut dyn Lines) {
        if self.discarding {
            out.skip(Skip::TooLong);
        } else if !self.partial.is_empty() {
            out.skip(Skip::Malformed);
        }
    }
}

pub struct Follower {
    path: PathBuf,
    current: Option<Open>,
    draining: Vec<Open>,
    buf: Vec<u8>,
    rotations: u64,
    truncations: u64,
}

impl Follower {
    /// Starts at the end of the file there now (if any).
    pub fn new(path: PathBuf) -> Self {
        let current = File::open(&path).ok().and_then(|mut f| {
            let m = f.metadata().ok()?;
            let end = f.seek(SeekFrom::End(0)).ok()?;
            Some(Open::new(f, (m.dev(), m.ino()), end))
        });
        Self {
            path,
            current,
            draining: Vec::new(),
            buf: vec![0; 64 * 1024],
            rotations: 0,
            truncations: 0,
        }
    }

    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    /// Reads whatever was written since the last poll.
    pub fn poll(&mut self, out: &mut dyn Lines) -> std::io::Result<()> {
        // Rotated files first: their lines came before the new file's.
        let mut i = 0;
        while i < self.draining.len() {
            let d = &mut self.draining[i];
            let res = d.read(&mut self.buf, out);
            if res.is_err() || d.last_data.elapsed() >= DRAIN_QUIET {
                self.draining.remove(i).finish(out);
            } else {
                i += 1;
            }
        }

        match std::fs::metadata(&self.path) {
            Ok(m) => {
                let id = (m.dev(), m.ino());
                match &mut self.current {
                    Some(c) if c.id == id => {
                        if m.len() < c.pos {
                            self.truncations += 1;
                            c.file.seek(SeekFrom::Start(0))?;
                            c.pos = 0;
                            c.partial.clear();
                            c.discarding = false;
                        }
                    }
                    _ => {
                        // A new file (or the first one): from its start.
                        let file = File::open(&self.path)?;
                        let m = file.metadata()?;
                        let next = Open::new(file, (m.dev(), m.ino()), 0);
                        if let Some(mut old) = self.current.replace(next) {
                            self.rotations += 1;
                            old.read(&mut self.buf, out)?;
                            old.last_data = Instant::now();
                            self.draining.push(old);
                            if self.draining.len() > MAX_DRAINING {
                                self.draining.remove(0).finish(out);
                            }
                        }
                    }
                }
            }
            // Renamed and not yet reopened: the old file still grows.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(c) = &mut self.current {
            c.read(&mut self.buf, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Default)]
    struct Seen {
        lines: Vec<String>,
        skipped: Vec<Skip>,
    }

    impl Lines for Seen {
        fn line(&mut self, l: &[u8]) {
            self.lines.push(String::from_utf8_lossy(l).into_owned());
        }
        fn skip(&mut self, why: Skip) {
            self.skipped.push(why);
        }
    }

    fn append(path: &std::path::Path, text: &[u8]) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(text)
            .unwrap();
    }

    #[test]
    fn starts_at_the_end_and_keeps_every_line_across_rename_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        append(&log, b"old 1\nold 2\n");
        let mut f = Follower::new(log.clone());
        let mut seen = Seen::default();
        f.poll(&mut seen).unwrap();
        assert!(seen.lines.is_empty(), "starts at the end");

        append(&log, b"a\nb");
        f.poll(&mut seen).unwrap();
        append(&log, b"c\n");
        // Rotation: renamed, then written once more before the reopen.
        std::fs::rename(&log, dir.path().join("access.log.1")).unwrap();
        append(&dir.path().join("access.log.1"), b"d\n");
        f.poll(&mut seen).unwrap();
        append(&log, b"e\n");
        append(&dir.path().join("access.log.1"), b"late\n");
        f.poll(&mut seen).unwrap();
        assert_eq!(seen.lines, ["a", "bc", "d", "late", "e"]);
        assert_eq!(f.rotations(), 1);

        // copytruncate: the file shrinks and starts over. (Refilled past
        // the read position between two polls, it would look unchanged:
        // tail -F has the same blind spot, which rename rotation has not.)
        std::fs::write(&log, b"").unwrap();
        f.poll(&mut seen).unwrap();
        append(&log, b"f\n");
        f.poll(&mut seen).unwrap();
        assert_eq!(seen.lines.last().unwrap(), "f");
        assert_eq!(f.truncations(), 1);
        assert!(seen.skipped.is_empty());
    }

    #[test]
    fn a_file_that_appears_later_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let mut f = Follower::new(log.clone());
        let mut seen = Seen::default();
        f.poll(&mut seen).unwrap();
        append(&log, b"first\n");
        f.poll(&mut seen).unwrap();
        assert_eq!(seen.lines, ["first"]);
    }

    #[test]
    fn huge_lines_are_skipped_whole_in_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        append(&log, b"");
        let mut f = Follower::new(log.clone());
        let mut seen = Seen::default();
        // 1 MiB without a newline, over several polls, then a good line.
        for _ in 0..16 {
            append(&log, &vec![b'x'; 64 * 1024]);
            f.poll(&mut seen).unwrap();
            assert!(f.current.as_ref().unwrap().partial.len() <= MAX_LINE);
        }
        append(&log, b"tail of the huge one\nok\n");
        f.poll(&mut seen).unwrap();
        assert_eq!(seen.lines, ["ok"]);
        assert_eq!(seen.skipped, [Skip::TooLong]);
    }
}
