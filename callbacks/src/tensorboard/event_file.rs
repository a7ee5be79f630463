//! TensorBoard event files: TFRecord framing with masked CRC32C, written in whole
//! records, and an independent reader that checks every CRC.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use super::proto::{event, Event};

/// The CRC32C of `bytes`, masked as TFRecord (and LevelDB) do.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its masked CRC, the payload, the payload's masked CRC.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out
}

fn now_secs() -> f64 {
    knob_core::now_secs()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// An event file being written: records are buffered and reach the disk on
/// [`EventWriter::flush`] and on drop, each written whole, so a killed process leaves
/// at most its last record incomplete.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Starts a new event file in `dir` (created if needed), named
    /// `events.out.tfevents.<secs>.<host>.<pid>.<n>`, with its version record. `n`
    /// counts the files this process opened, zero-padded like the seconds: readers take
    /// a run's files in name order, which must be the order they were written (a PBT
    /// member opens a file per generation, several in one second).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "events.out.tfevents.{:010}.{}.{}.{n:08}",
            now_secs() as u64,
            hostname(),
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::options()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| at(&path, e))?;
        let mut writer = Self {
            path,
            out: BufWriter::with_capacity(1 << 16, file),
        };
        writer.write(&Event {
            wall_time: now_secs(),
            step: 0,
            what: Some(event::What::FileVersion("brain.Event:2".into())),
        })?;
        Ok(writer)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        self.out
            .write_all(&frame(&event.encode_to_vec()))
            .map_err(|e| at(&self.path, e))
    }

    /// Pushes buffered records to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush().map_err(|e| at(&self.path, e))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// `e`, with the path it happened at in its message, since a bare "Permission denied"
/// or "No space left on device" leaves the user guessing which file it was.
fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// What [`read_records`] found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    /// The payloads of the complete records, in order.
    pub payloads: Vec<Vec<u8>>,
    /// Bytes at the end that do not make a complete record (a torn last write).
    pub torn_tail: usize,
}

/// Why an event file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("event file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record whose length or data does not match its CRC: the file was changed or
    /// damaged after it was written.
    #[error("event file {path}: {what} CRC mismatch in the record at byte {offset}")]
    Crc {
        /// The file.
        path: PathBuf,
        /// `length` or `data`.
        what: &'static str,
        /// Where the record starts.
        offset: usize,
    },
}

/// Reads every complete record of an event file, checking both CRCs of each; a CRC
/// mismatch is an error naming the record's offset, an incomplete tail is not.
pub fn read_records(path: &Path) -> Result<Records, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let crc_error = |what, offset| ReadError::Crc {
        path: path.to_owned(),
        what,
        offset,
    };
    let mut payloads = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= 12 {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if masked_crc(len_bytes) != len_crc {
            return Err(crc_error("length", at));
        }
        let end = at + 12 + len + 4;
        if end > bytes.len() {
            break;
        }
        let payload = &bytes[at + 12..at + 12 + len];
        let crc = u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        if masked_crc(payload) != crc {
            return Err(crc_error("data", at));
        }
        payloads.push(payload.to_vec());
        at = end;
    }
    Ok(Records {
        payloads,
        torn_tail: bytes.len() - at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::proto::{value, Summary, Value};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn crc_and_framing_match_the_reference_vectors() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let mut payload = hex("1a 11");
        payload.extend_from_slice(b"CRC test, one two");
        assert_eq!(masked_crc(&payload), 0x5794_d08a);

        let version = Event {
            wall_time: 1_700_000_000.5,
            step: 0,
            what: Some(event::What::FileVersion("brain.Event:2".into())),
        };
        let golden = hex("18 00 00 00 00 00 00 00 a3 7f 4b 22 09 00 00 20 40 fc 54 d9 41 1a 0d 62 72 61 69 6e 2e 45 76 65 6e 74 3a 32 2b 35 31 10");
        assert_eq!(frame(&version.encode_to_vec()), golden);

        let scalar = Event {
            wall_time: 1_700_000_000.5,
            step: 3,
            what: Some(event::What::Summary(Summary {
                value: vec![Value {
                    tag: "loss".into(),
                    kind: Some(value::Kind::SimpleValue(0.25)),
                    metadata: None,
                }],
            })),
        };
        let golden = hex("1a 00 00 00 00 00 00 00 12 9b d8 2d 09 00 00 20 40 fc 54 d9 41 10 03 2a 0d 0a 0b 0a 04 6c 6f 73 73 15 00 00 80 3e bc f2 9b 54");
        assert_eq!(frame(&scalar.encode_to_vec()), golden);
    }

    #[test]
    fn files_of_one_run_sort_by_name_in_the_order_they_were_opened() {
        let dir = tempfile::tempdir().unwrap();
        // Past 9 and 99, where an unpadded counter sorts out of order.
        let opened: Vec<PathBuf> = (0..120)
            .map(|_| EventWriter::create(dir.path()).unwrap().path().to_owned())
            .collect();
        let mut by_name = opened.clone();
        by_name.sort();
        assert_eq!(by_name, opened);
    }

    #[test]
    fn a_truncated_file_still_yields_every_complete_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let mut w = EventWriter::create(dir.path()).unwrap();
            for step in 0..10 {
                let summary = Summary {
                    value: vec![Value {
                        tag: "x".into(),
                        kind: Some(value::Kind::SimpleValue(step as f32)),
                        metadata: None,
                    }],
                };
                w.write(&Event {
                    wall_time: 1.0,
                    step,
                    what: Some(event::What::Summary(summary)),
                })
                .unwrap();
            }
            w.path().to_owned()
        };
        let whole = read_records(&path).unwrap();
        assert_eq!((whole.payloads.len(), whole.torn_tail), (11, 0));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let torn = read_records(&path).unwrap();
        assert_eq!(torn.payloads.len(), 10);
        assert_eq!(torn.payloads[..], whole.payloads[..10]);
        assert!(torn.torn_tail > 0);
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last - 6] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        let e = read_records(&path).unwrap_err();
        assert!(matches!(e, ReadError::Crc { what: "data", .. }), "{e}");
        assert!(e.to_string().contains("data CRC mismatch"), "{e}");
    }
}
