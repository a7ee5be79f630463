//! The embedded default storage: an append-only JSON Lines journal.
//!
//! One event per line. Writers hold an OS file lock (`flock`) while they append, and
//! append each line with one write in append mode, so lines from several processes
//! never interleave. Finished trials are `fsync`'d before the append returns.
//!
//! A process killed mid-write can leave a torn last line. The next writer ends it with
//! [`TORN_SEAL`] and a newline, so that it stays a separate line that every reader skips,
//! even when the kill cut only the newline and the bytes before it form a whole event:
//! that writer never returned, so its event must not count. Reading skips it with a
//! warning; the next writer first ends it with a newline, so it stays a separate (and
//! skipped) line rather than gluing itself to the next event. A torn line is told
//! apart from real corruption by being a truncated JSON value: corruption anywhere
//! else is an error that names the file and line.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Event, Record, Storage};
use crate::error::{Error, Result};

/// What a writer appends to a torn last line before its own: a reader skips any line
/// that ends with it.
pub const TORN_SEAL: &[u8] = b" <- torn: its writer was stopped mid-write";

/// A study's events in a JSON Lines file.
///
/// ```
/// use knob_core::{Event, JournalStorage, Storage};
/// let dir = tempfile::tempdir()?;
/// let mut journal = JournalStorage::open(dir.path().join("study.jsonl"))?;
/// assert!(journal.read_new()?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JournalStorage {
    path: PathBuf,
    file: File,
    /// Bytes of the file consumed by `read_new` (always at a line boundary).
    offset: u64,
    /// Lines consumed, for error messages.
    lines: usize,
    locked: bool,
    warned_torn_at: Option<u64>,
}

impl JournalStorage {
    /// Opens the journal at `path`, creating it (and its folder) if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        // A device such as /dev/full or /dev/zero reads forever and cannot hold lines.
        if !file.metadata().map_err(io)?.is_file() {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a journal must be a regular file",
                ),
            });
        }
        Ok(Self {
            path,
            file,
            offset: 0,
            lines: 0,
            locked: false,
            warned_torn_at: None,
        })
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Whether the file's last byte is something other than a newline: a torn line
    /// (when the caller holds the lock, since writers write whole lines under it).
    fn ends_torn(&mut self) -> Result<bool> {
        let len = self.file.metadata().map_err(|e| self.io(e))?.len();
        if len == 0 {
            return Ok(false);
        }
        let mut last = [0u8; 1];
        (&self.file)
            .seek(SeekFrom::Start(len - 1))
            .and_then(|_| (&self.file).read_exact(&mut last))
            .map_err(|e| self.io(e))?;
        Ok(last[0] != b'\n')
    }

    fn write_line(&mut self, line: &[u8], durable: bool) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        if self.ends_torn()? {
            bytes.extend_from_slice(TORN_SEAL);
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(|e| self.io(e))?;
        if durable {
            self.file.sync_data().map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn warn_torn(&mut self, at: u64, len: usize) {
        if self.warned_torn_at != Some(at) {
            self.warned_torn_at = Some(at);
            eprintln!(
                "knob: warning: journal {}: skipping an incomplete line of {len} bytes at byte {at} \
                 (a writer was stopped mid-write)",
                self.path.display()
            );
        }
    }
}

impl Storage for JournalStorage {
    fn append(&mut self, event: &Event) -> Result<()> {
        if let Some(what) = event.non_finite() {
            return Err(Error::Io {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "refusing to write an event with a non-finite {what}: JSON cannot hold it"
                    ),
                ),
            });
        }
        let line = serde_json::to_vec(event).map_err(|e| self.io(e.into()))?;
        if self.locked {
            self.write_line(&line, event.is_durable())
        } else {
            self.lock()?;
            let written = self.write_line(&line, event.is_durable());
            self.unlock()?;
            written
        }
    }

    fn read_new(&mut self) -> Result<Vec<Record>> {
        let mut bytes = Vec::new();
        (&self.file)
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&self.file).read_to_end(&mut bytes))
            .map_err(|e| self.io(e))?;
        // Only whole lines are consumed; a tail without a newline is either being
        // written by another process (when we do not hold the lock) or torn.
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() && self.locked {
            self.warn_torn(self.offset + complete as u64, bytes.len() - complete);
        }
        let mut events = Vec::new();
        let mut at = self.offset;
        for raw in bytes[..complete].split_inclusive(|&b| b == b'\n') {
            self.lines += 1;
            let line = &raw[..raw.len() - 1];
            if line.ends_with(TORN_SEAL) {
                self.warn_torn(at, line.len() - TORN_SEAL.len());
            } else if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice::<Event>(line) {
                    Ok(event) => events.push(Record {
                        position: self.lines as u64,
                        event,
                    }),
                    Err(e) if e.is_eof() => self.warn_torn(at, line.len()),
                    Err(e) => {
                        return Err(Error::CorruptJournal {
                            path: self.path.clone(),
                            line: self.lines,
                            message: describe(&e),
                        })
                    }
                }
            }
            at += raw.len() as u64;
        }
        self.offset += complete as u64;
        Ok(events)
    }

    fn lock(&mut self) -> Result<()> {
        if !self.locked {
            self.file.lock().map_err(|e| self.io(e))?;
            self.locked = true;
        }
        Ok(())
    }

    fn unlock(&mut self) -> Result<()> {
        if self.locked {
            self.locked = false;
            self.file.unlock().map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn rewind(&mut self) -> Result<()> {
        self.offset = 0;
        self.lines = 0;
        Ok(())
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// serde's message without its "at line 1 column N", which would contradict the
/// journal's own line number; the column stays.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text);
    format!("{message} (column {})", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::TrialState;

    fn events(records: Vec<Record>) -> Vec<Event> {
        records.into_iter().map(|r| r.event).collect()
    }

    fn finished(number: u64) -> Event {
        Event::TrialFinished {
            number,
            state: TrialState::Complete,
            value: Some(number as f64),
            values: vec![],
            constraints: vec![],
            error: None,
            time: 1.0,
        }
    }

    #[test]
    fn events_round_trip_and_each_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut writer = JournalStorage::open(&path).unwrap();
        let mut reader = JournalStorage::open(&path).unwrap();
        writer.append(&finished(0)).unwrap();
        assert_eq!(events(reader.read_new().unwrap()), [finished(0)]);
        writer.append(&finished(1)).unwrap();
        writer.append(&finished(2)).unwrap();
        assert_eq!(
            events(reader.read_new().unwrap()),
            [finished(1), finished(2)]
        );
        assert!(events(reader.read_new().unwrap()).is_empty());
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_sealed_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = JournalStorage::open(&path).unwrap();
        j.append(&finished(0)).unwrap();
        let torn = serde_json::to_string(&finished(1)).unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&torn.as_bytes()[..torn.len() / 2])
            .unwrap();

        let mut reopened = JournalStorage::open(&path).unwrap();
        reopened.lock().unwrap();
        assert_eq!(events(reopened.read_new().unwrap()), [finished(0)]);
        reopened.append(&finished(2)).unwrap();
        reopened.unlock().unwrap();
        assert_eq!(events(reopened.read_new().unwrap()), [finished(2)]);

        let mut fresh = JournalStorage::open(&path).unwrap();
        let records = fresh.read_new().unwrap();
        assert_eq!(records[1].position, 3, "positions are line numbers");
        assert_eq!(events(records), [finished(0), finished(2)]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().count(),
            3,
            "the torn line stays, on its own line"
        );

        // Cut just before its newline: whole JSON, but its writer never returned.
        let whole = serde_json::to_string(&finished(3)).unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(whole.as_bytes())
            .unwrap();
        let mut writer = JournalStorage::open(&path).unwrap();
        writer.lock().unwrap();
        assert_eq!(events(writer.read_new().unwrap()).len(), 2);
        writer.append(&finished(4)).unwrap();
        writer.unlock().unwrap();
        let mut fresh = JournalStorage::open(&path).unwrap();
        assert_eq!(
            events(fresh.read_new().unwrap()),
            [finished(0), finished(2), finished(4)],
            "the unfinished write never counts"
        );
    }

    #[test]
    fn corruption_in_the_middle_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let good = serde_json::to_string(&finished(0)).unwrap();
        std::fs::write(
            &path,
            format!("{good}\n{{\"event\": \"nonsense\"}}\n{good}\n"),
        )
        .unwrap();
        let e = JournalStorage::open(&path).unwrap().read_new().unwrap_err();
        assert!(matches!(e, Error::CorruptJournal { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("j.jsonl"), "{e}");
    }

    #[test]
    fn floats_come_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let awkward = [0.002_866_260_524_283_774_6, 0.1 + 0.2, 1e-300, -7.0 / 3.0];
        let mut j = JournalStorage::open(&path).unwrap();
        for (step, &value) in awkward.iter().enumerate() {
            j.append(&Event::TrialReported {
                number: 0,
                step: step as u64,
                value,
            })
            .unwrap();
        }
        let back: Vec<f64> = JournalStorage::open(&path)
            .unwrap()
            .read_new()
            .unwrap()
            .into_iter()
            .map(|r| match r.event {
                Event::TrialReported { value, .. } => value,
                other => panic!("{other:?}"),
            })
            .collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&awkward));
    }

    #[test]
    fn open_creates_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/study.jsonl");
        JournalStorage::open(&path)
            .unwrap()
            .append(&finished(0))
            .unwrap();
        assert!(path.exists());
    }
}
