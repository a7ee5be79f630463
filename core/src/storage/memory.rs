//! Storage that lives and dies with the process: for tests and throwaway studies.

use super::{Event, Record, Storage};
use crate::error::Result;

/// Events kept in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    events: Vec<Event>,
    read: usize,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event appended so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

impl Storage for MemoryStorage {
    fn append(&mut self, event: &Event) -> Result<()> {
        self.events.push(event.clone());
        Ok(())
    }

    fn read_new(&mut self) -> Result<Vec<Record>> {
        let new = (self.read..self.events.len())
            .map(|i| Record {
                position: i as u64 + 1,
                event: self.events[i].clone(),
            })
            .collect();
        self.read = self.events.len();
        Ok(new)
    }

    /// Nothing to lock: only this process's study can reach the events, and its
    /// mutex already orders its threads.
    fn lock(&mut self) -> Result<()> {
        Ok(())
    }

    fn unlock(&mut self) -> Result<()> {
        Ok(())
    }

    fn rewind(&mut self) -> Result<()> {
        self.read = 0;
        Ok(())
    }

    fn location(&self) -> String {
        "memory".into()
    }
}
