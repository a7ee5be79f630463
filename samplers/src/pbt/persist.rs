//! Saving a PBT population after each generation, and resuming it.
//!
//! The directory holds `population.json` (settings, params, lineage) and one
//! checkpoint file per member, named after the generation it ends (`g3-m0.ckpt`). The
//! checkpoints are written first and the JSON is renamed into place last, so a run
//! killed at any moment leaves the previous generation's files whole.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use knob_core::{Checkpoint, Error, Params, Result, SearchSpace};

use super::{Member, Pbt, Step};

const FILE: &str = "population.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    space: SearchSpace,
    seed: u64,
    interval: usize,
    /// The first generation still to train.
    next_generation: usize,
    members: Vec<SavedMember>,
}

#[derive(Serialize, Deserialize)]
struct SavedMember {
    params: Params,
    history: Vec<Step>,
    checkpoint: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::PopulationFile {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

impl Pbt {
    /// Saves the members, whose generations before `next_generation` are trained.
    pub(super) fn save(&self, members: &[Member], next_generation: usize) -> Result<()> {
        let Some(dir) = &self.directory else {
            return Ok(());
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut saved = Vec::new();
        for m in members {
            let checkpoint = match &m.checkpoint {
                Some(c) => {
                    let name = format!("g{next_generation}-m{}.ckpt", m.id);
                    write_atomically(&dir.join(&name), c.as_bytes())?;
                    Some(name)
                }
                None => None,
            };
            saved.push(SavedMember {
                params: m.params.clone(),
                history: m.history.clone(),
                checkpoint,
            });
        }
        let state = Saved {
            space: (*self.space).clone(),
            seed: self.seed,
            interval: self.interval,
            next_generation,
            members: saved,
        };
        let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::PopulationFile {
            path: dir.join(FILE),
            message: e.to_string(),
        })?;
        write_atomically(&dir.join(FILE), &json)?;
        // Older generations' checkpoints are no longer referenced.
        let current = format!("g{next_generation}-");
        for entry in fs::read_dir(dir).map_err(io(dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ckpt") && name.starts_with('g') && !name.starts_with(&current) {
                fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        Ok(())
    }

    /// The saved members and the first generation left to train, if `directory` holds
    /// a population of this run's settings.
    pub(super) fn load(&self) -> Result<Option<(Vec<Member>, usize)>> {
        let Some(dir) = &self.directory else {
            return Ok(None);
        };
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read(&path).map_err(io(&path))?;
        let saved: Saved = serde_json::from_slice(&text).map_err(|e| Error::PopulationFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mismatch = if saved.space != *self.space {
            Some(saved.space.differences(&self.space))
        } else if saved.members.len() != self.population {
            Some(format!(
                "it has {} members, this run {}",
                saved.members.len(),
                self.population
            ))
        } else if (saved.seed, saved.interval) != (self.seed, self.interval) {
            Some(format!(
                "it was run with seed {} and interval {}, this run with {} and {}",
                saved.seed, saved.interval, self.seed, self.interval
            ))
        } else {
            None
        };
        if let Some(why) = mismatch {
            let message = format!("saved by a run with other settings: {why}");
            return Err(Error::PopulationFile { path, message });
        }
        let members = saved
            .members
            .into_iter()
            .enumerate()
            .map(|(id, m)| {
                let checkpoint = match m.checkpoint {
                    Some(name) => {
                        if !is_plain_file_name(&name) {
                            return Err(Error::PopulationFile {
                                path: path.clone(),
                                message: format!(
                                    "member {id}'s checkpoint {name:?} is not a file name inside \
                                     the population directory"
                                ),
                            });
                        }
                        let file = dir.join(name);
                        Some(Checkpoint::new(fs::read(&file).map_err(io(&file))?))
                    }
                    None => None,
                };
                Ok(Member {
                    id,
                    params: m.params,
                    checkpoint,
                    history: m.history,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((members, saved.next_generation)))
    }
}

/// Whether `name` names a file directly inside a directory: one normal component, so
/// neither `../x`, `/etc/x` nor `a/b`. A hand-edited or hostile `population.json` must
/// not make a resume read files outside its population.
fn is_plain_file_name(name: &str) -> bool {
    let mut parts = std::path::Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    )
}
