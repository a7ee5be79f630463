//! The MLP's trained state as bytes: every tensor by name, with its shape.
//!
//! The layout is small and stable, so a checkpoint written on one device loads on
//! another and across versions of dfdx:
//!
//! ```text
//! b"KNOBMLP1"  u8 optimizer (0 SGD, 1 Adam, 2 RMSprop)  u32 step  u32 entries
//! per entry:   u16 name length, name (UTF-8), u8 rank, u32 per dimension,
//!              f32 values (row-major)
//! ```
//!
//! All integers and floats are little-endian.

use knob_core::BoxError;

const MAGIC: &[u8; 8] = b"KNOBMLP1";

/// One named tensor of the state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub name: String,
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

/// The decoded state: the optimizer's tag and step count, and the tensors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub optimizer: u8,
    pub step: u32,
    pub entries: Vec<Entry>,
}

impl State {
    /// The tensor named `name`, checked to have `dims`.
    pub fn get(&self, name: &str, dims: &[usize]) -> Result<Option<&[f32]>, BoxError> {
        let Some(entry) = self.entries.iter().find(|e| e.name == name) else {
            return Ok(None);
        };
        if entry.dims != dims {
            return Err(format!(
                "checkpoint tensor `{name}` has shape {:?}, the model needs {dims:?}",
                entry.dims
            )
            .into());
        }
        Ok(Some(&entry.values))
    }

    pub fn encode(&self) -> Vec<u8> {
        let floats: usize = self.entries.iter().map(|e| e.values.len()).sum();
        let mut out = Vec::with_capacity(17 + 4 * floats + 64 * self.entries.len());
        out.extend_from_slice(MAGIC);
        out.push(self.optimizer);
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(e.name.as_bytes());
            out.push(e.dims.len() as u8);
            for &d in &e.dims {
                out.extend_from_slice(&(d as u32).to_le_bytes());
            }
            for v in &e.values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BoxError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("not an MLP checkpoint (its first bytes are not KNOBMLP1)".into());
        }
        let optimizer = r.take(1)?[0];
        let step = r.u32()?;
        let count = r.u32()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let len = u16::from_le_bytes(r.take(2)?.try_into()?) as usize;
            let name = String::from_utf8(r.take(len)?.to_vec())?;
            let rank = r.take(1)?[0] as usize;
            let dims = (0..rank)
                .map(|_| r.u32().map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let n: usize = dims.iter().product();
            let values = r
                .take(4 * n)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            entries.push(Entry { name, dims, values });
        }
        if r.at != bytes.len() {
            return Err(format!(
                "checkpoint has {} unexpected bytes after its last tensor",
                bytes.len() - r.at
            )
            .into());
        }
        Ok(Self {
            optimizer,
            step,
            entries,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BoxError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "checkpoint is truncated: {} bytes, needed {} more at byte {}",
                self.bytes.len(),
                n,
                self.at
            )
            .into());
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, BoxError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            optimizer: 1,
            step: 42,
            entries: vec![
                Entry {
                    name: "dense_0/kernel".into(),
                    dims: vec![2, 3],
                    values: vec![1.0, -2.5, 3.25, 0.0, f32::MIN_POSITIVE, 7.0],
                },
                Entry {
                    name: "dense_0/bias".into(),
                    dims: vec![3],
                    values: vec![0.5; 3],
                },
            ],
        }
    }

    #[test]
    fn encoding_round_trips_exactly() {
        let s = state();
        assert_eq!(State::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn damaged_bytes_are_refused_with_a_reason() {
        let bytes = state().encode();
        for cut in [0, 5, 20, bytes.len() - 1] {
            let e = State::decode(&bytes[..cut]).unwrap_err().to_string();
            assert!(e.contains("truncated") || e.contains("KNOBMLP1"), "{e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(State::decode(&longer)
            .unwrap_err()
            .to_string()
            .contains("unexpected bytes"));
        let s = State::decode(&bytes).unwrap();
        let e = s.get("dense_0/bias", &[4]).unwrap_err().to_string();
        assert!(e.contains("dense_0/bias") && e.contains("[3]"), "{e}");
        assert!(s.get("dense_9/bias", &[3]).unwrap().is_none());
    }
}
