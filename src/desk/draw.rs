//! Drawing an announced task: the seed material offered must fit the
//! announcement; then the frozen snapshot, the fixed history and the merged
//! draws go through the one draw pipeline ([`crate::pipeline`]), the bundle
//! is put in the store, the draw recorded in the ledger with it, and the
//! bundle's cache folder written.
//! Asking again returns the same draw.

use serde::{Deserialize, Serialize};

use super::announce::{checked, Announcement, SeedMethod};
use super::publish::{bundle_rows, prepare};
use super::{blocking, inputs_error, parse_time, Desk, TaskError};
use crate::bundle;
use crate::ledger::{Appended, Entry, Head, Key, Kind, Payload};
use crate::pipeline::{self, DrawInputs, EarlierBundle};
use crate::plan::Plan;
use crate::seed::{commitment, Seed, SeedSpec};
use crate::snapshot::{bytes_hash, Hash32};

/// Seed material offered at draw time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeedMaterial {
    Ceremony {
        digits: String,
    },
    /// The announced round's signature, hex, as drand publishes it.
    Beacon {
        signature: String,
    },
    /// The server reveals its own committed secret (with the announced
    /// round's signature when one was named).
    Reveal {
        #[serde(default)]
        beacon_signature: Option<String>,
    },
}

/// The ledger payload of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRecord {
    pub task_id: String,
    pub bundle: String,
    pub seed: String,
    pub result_sha256: Hash32,
    /// SHA-256 of the bundle's (confidential) manifest.json bytes.
    pub manifest_sha256: Hash32,
    pub ledger_head_before: Head,
}

impl Payload for DrawRecord {
    const KIND: Kind = Kind::DrawMade;
}

impl Desk {
    pub async fn draw_record(&self, task_id: &str) -> Result<Option<(DrawRecord, Entry)>, TaskError> {
        match self.ledger.get(&Key::Draw(task_id)).await? {
            None => Ok(None),
            Some(entry) if entry.kind == DrawRecord::KIND => Ok(Some((entry.typed()?, entry))),
            Some(_) => Err(TaskError::Skipped(task_id.into())),
        }
    }

    pub async fn draw_records(&self) -> Result<Vec<(DrawRecord, Entry)>, TaskError> {
        Ok(self.ledger.all().await?)
    }

    /// Draws an announced task once. A second call returns the first draw.
    pub async fn draw(&self, task_id: &str, material: SeedMaterial) -> Result<(DrawRecord, Entry), TaskError> {
        let _one_at_a_time = self.drawing.lock().await;
        if let Some(done) = self.draw_record(task_id).await? {
            return Ok(done);
        }
        let (announcement, _) = self
            .announcement(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.into()))?;
        let seed = self.seed_for(&announcement, material).await?;
        self.draw_with(&announcement, &seed).await
    }

    /// An ad-hoc draw: announced and drawn at once with operating-system
    /// entropy. Allowed, but marked as unannounced everywhere.
    pub async fn draw_unannounced(&self, plan: Plan) -> Result<(DrawRecord, Entry), TaskError> {
        self.check_inspection_date(&plan)?;
        let merge_sources = self.merge_sources(&plan).await?;
        let _one_at_a_time = self.drawing.lock().await;
        let frozen = self.freeze_pools().await?;
        let snapshot = frozen.attached();
        let pools = frozen.pools;
        let task_id = format!("{}@adhoc-{}", plan.id(), &crate::entropy::random_seed().to_hex()[..8]);
        let (history_sources, history) = self.fixed_history(&task_id, &plan, &merge_sources).await?;
        let (pools, plan, history) = checked(pools, plan, history).await?;
        let mut announcement = Announcement::new(
            task_id.clone(),
            plan,
            &pools,
            SeedMethod::Ceremony {
                at: "—".into(),
                place: None,
            },
            None,
            None,
        );
        announcement.unannounced = true;
        announcement.merge_sources = merge_sources;
        announcement.history_sources = history_sources;
        announcement.history_sha256 = Some(history.hash());
        self.ledger
            .append_typed_with(&Key::Announce(&task_id), &announcement, &self.time.stamp(), &[snapshot])
            .await?;
        self.keep_copy(frozen.copy, &announcement.snapshot_combined).await;
        let seed = SeedSpec::random(crate::entropy::os_bytes());
        self.draw_with(&announcement, &seed).await
    }

    async fn seed_for(&self, announcement: &Announcement, material: SeedMaterial) -> Result<SeedSpec, TaskError> {
        let wrong = TaskError::WrongSeedMaterial;
        match (&announcement.seed_method, material) {
            (SeedMethod::Ceremony { at, .. }, SeedMaterial::Ceremony { digits }) => {
                let at = parse_time(at).ok_or_else(|| wrong(format!("announced time {at:?} is not RFC 3339")))?;
                if self.time.now() < at {
                    return Err(wrong(format!(
                        "the ceremony is announced for {at}; digits are accepted from then on"
                    )));
                }
                SeedSpec::ceremony(&digits).map_err(|e| wrong(e.to_string()))
            }
            (SeedMethod::Beacon { chain, round, .. }, SeedMaterial::Beacon { signature }) => {
                let record = beacon_record(chain, *round, &signature)?;
                SeedSpec::beacon(record).map_err(|e| wrong(e.to_string()))
            }
            (
                SeedMethod::Commit {
                    commitment: published,
                    beacon,
                },
                SeedMaterial::Reveal { beacon_signature },
            ) => {
                let text = self.stored_secret(published, &announcement.task_id).await?;
                let secret = Seed::parse_hex(&text).map_err(|e| wrong(e.to_string()))?;
                if commitment(&secret) != *published {
                    return Err(wrong("the stored secret does not match the commitment".into()));
                }
                let record = match (beacon, beacon_signature) {
                    (None, None) => None,
                    (Some(b), Some(signature)) => Some(beacon_record(&b.chain, b.round, &signature)?),
                    (Some(b), None) => return Err(wrong(format!("round {} of {} must be given", b.round, b.chain))),
                    (None, Some(_)) => return Err(wrong("this task's announcement named no beacon round".into())),
                };
                SeedSpec::reveal(&secret, record).map_err(|e| wrong(e.to_string()))
            }
            (method, material) => Err(TaskError::WrongSeedMaterial(format!(
                "the task was announced with {} but {} was offered",
                method_name(method),
                material_name(&material)
            ))),
        }
    }

    /// Draws on the frozen snapshot, puts the bundle's files in the store,
    /// records the draw with the rows naming them in one transaction, then
    /// writes the cache folder: a crash before the record leaves nothing
    /// served; after it, the folder is rebuilt from the database.
    async fn draw_with(&self, announcement: &Announcement, seed: &SeedSpec) -> Result<(DrawRecord, Entry), TaskError> {
        let unhashed = self.frozen_unhashed(&announcement.snapshot_combined).await?;
        let earlier = self.announced_history(announcement).await?;
        let to_merge = self.merge_inputs(announcement)?;
        let head_before = self.ledger.head().await?;
        let ledger = bundle::LedgerRef {
            task_id: announcement.task_id.clone(),
            head_seq: head_before.seq,
            head_hash: head_before.hash,
            unannounced: announcement.unannounced,
        };
        let stamp = self.time.stamp();
        #[cfg(test)]
        let before_draw = self.before_draw.lock().expect("the hook's lock").take();
        let (plan, fixed, task_id, spec) = (
            announcement.plan.clone(),
            announcement.history_sha256,
            announcement.task_id.clone(),
            seed.clone(),
        );
        // The draw and the bundle's rendering, hashing and compressing are
        // the longest work the service does: on a blocking thread.
        let (name, files, result_sha256, manifest_sha256) = blocking(move || {
            let inputs = DrawInputs::assemble(&plan, &earlier, &to_merge).map_err(inputs_error)?;
            if let Some(fixed) = fixed {
                if inputs.history.hash() != fixed {
                    return Err(TaskError::Invalid(format!(
                        "the history of {task_id} no longer has the hash its announcement fixed ({fixed})"
                    )));
                }
            }
            #[cfg(test)]
            if let Some(hook) = before_draw {
                hook();
            }
            // Drawn while the pools are hashed; nothing of it is kept unless
            // they are the announced snapshot.
            let (pools, outcome) = unhashed.hash_while(|records| inputs.outcome(records, &spec.seed))?;
            let pipeline::Drawn {
                name,
                confidential,
                public,
                ..
            } = inputs.drawn(&pools, &spec, outcome?, Some(ledger), &stamp);
            let files = prepare(bundle::files(&confidential, &public))?;
            let manifest = files
                .iter()
                .find(|f| f.path == "manifest.json")
                .expect("a bundle has a manifest");
            let manifest_sha256 = bytes_hash(&manifest.bytes);
            Ok((name, files, confidential.manifest.result_sha256, manifest_sha256))
        })
        .await?;
        let record = DrawRecord {
            task_id: announcement.task_id.clone(),
            bundle: name.clone(),
            seed: seed.seed.to_hex(),
            result_sha256,
            manifest_sha256,
            ledger_head_before: head_before,
        };
        // The bundle's content first, then the entry with the rows naming it
        // in one transaction: a crash between the two leaves content nothing
        // names, and no draw.
        self.store_prepared(&files).await?;
        let appended = self
            .ledger
            .append_typed_with(
                &Key::Draw(&announcement.task_id),
                &record,
                &self.time.stamp(),
                &bundle_rows(&name, &files),
            )
            .await?;
        match appended {
            Appended::New(entry) => {
                self.cache_after_entry(&name, entry.seq, files).await?;
                Ok((record, entry))
            }
            // Another instance drew it first: ours was never recorded.
            Appended::Existing(entry) => Ok((entry.typed()?, entry)),
        }
    }

    /// The earlier draws an announced task's history is rebuilt from: those
    /// its announcement fixed, with the substitutions it counted. Its hash
    /// is checked against the announcement's when the draw is assembled.
    async fn announced_history(&self, announcement: &Announcement) -> Result<Vec<EarlierBundle>, TaskError> {
        if announcement.history_sha256.is_none() {
            // Announced before histories were fixed: drawn without one, as then.
            return Ok(Vec::new());
        }
        self.earlier_bundles(&announcement.history_sources).await
    }

    /// The bundles an announced task merges with, from the draws its
    /// announcement fixed; none for a plan that merges with none.
    fn merge_inputs(&self, announcement: &Announcement) -> Result<Vec<bundle::Stored>, TaskError> {
        if announcement.plan.merge_with().is_none() {
            return Ok(Vec::new());
        }
        self.merge_bundles(&announcement.merge_sources)
    }
}

fn beacon_record(chain: &str, round: u64, signature: &str) -> Result<crate::seed::BeaconRecord, TaskError> {
    let bytes = hex::decode(signature.trim())
        .map_err(|e| TaskError::WrongSeedMaterial(format!("the beacon signature is not hex: {e}")))?;
    crate::seed::BeaconRecord::verified(chain, round, &bytes).map_err(|e| TaskError::WrongSeedMaterial(e.to_string()))
}

fn method_name(method: &SeedMethod) -> &'static str {
    match method {
        SeedMethod::Ceremony { .. } => "a public ceremony",
        SeedMethod::Beacon { .. } => "a beacon round",
        SeedMethod::Commit { .. } => "a server commitment",
    }
}

fn material_name(material: &SeedMaterial) -> &'static str {
    match material {
        SeedMaterial::Ceremony { .. } => "ceremony digits",
        SeedMaterial::Beacon { .. } => "a beacon signature",
        SeedMaterial::Reveal { .. } => "a reveal",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::{OfficeClock, Zone};
    use crate::desk::MethodRequest;
    use crate::generate::{generate, GenOptions};
    use crate::ledger::Ledger;
    use crate::pools::load;

    /// A plan over the busiest department's items of a generated pool.
    fn plan_for(pools: &crate::pools::Pools) -> Plan {
        let mut by_department: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for item in &pools.items {
            by_department
                .entry(&item.department)
                .or_default()
                .push(item.code.as_str());
        }
        let (department, codes) = by_department.into_iter().max_by_key(|(_, c)| c.len()).unwrap();
        let codes: Vec<String> = codes.iter().take(3).map(|c| format!("{c:?}")).collect();
        let toml = format!(
            "id = \"BLOCK-1\"\nname = \"测试\"\ndepartment = \"{department}\"\ninspection_date = \"2026-03-02\"\n\
             items = [{}]\n\n[teams]\nsize = 2\nworkload_cap = 40\n\n[recusal]\nsame_township = true\n",
            codes.join(", ")
        );
        Plan::parse_toml(&toml, "plan.toml").unwrap()
    }

    /// On a runtime with a single thread, another task still runs while a
    /// draw is in progress: the draw holds itself until a ledger read made by
    /// a concurrently spawned task has completed. Were the draw run on the
    /// runtime's only worker, that task could not run and the draw would
    /// give up waiting.
    #[tokio::test(flavor = "current_thread")]
    async fn the_runtime_keeps_serving_while_a_draw_runs() {
        let root = tempfile::tempdir().unwrap();
        let pools_dir = root.path().join("pools");
        let options = GenOptions {
            seed: 7,
            items: 40,
            inspectors: 120,
            targets: 1500,
            conflicts: 150,
        };
        generate(&options, &pools_dir).unwrap();
        let plan = plan_for(&load(&pools_dir, Default::default()).unwrap());
        let ledger = Ledger::open("sqlite::memory:").await.unwrap();
        // The day before the plan's inspection date, whatever day the test runs.
        let clock = Arc::new(crate::clock::FixedClock::at("2026-03-01T01:00:00Z".parse().unwrap()));
        let desk =
            Arc::new(Desk::new(ledger, pools_dir, root.path(), OfficeClock::new(clock, Zone::SHANGHAI)).unwrap());
        desk.announce(plan, MethodRequest::Commit { beacon_at: None }, None, None)
            .await
            .unwrap();

        let (served_tx, served_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        *desk.before_draw.lock().unwrap() = Some(Box::new(move || {
            started_tx.send(()).unwrap();
            served_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("a task on the runtime ran while the draw was in progress");
        }));
        let reader = desk.clone();
        let concurrent = tokio::spawn(async move {
            started_rx.await.unwrap();
            reader.ledger.head().await.unwrap();
            served_tx.send(()).unwrap();
        });
        let (record, _) = desk
            .draw("BLOCK-1", SeedMaterial::Reveal { beacon_signature: None })
            .await
            .unwrap();
        concurrent.await.unwrap();
        assert_eq!(record.task_id, "BLOCK-1");
        assert!(desk
            .publications_dir
            .join(&record.bundle)
            .join("manifest.json")
            .is_file());
    }
}
