//! Moving a store written by costetl before schema version 2 out of
//! Kubecost's federated layout (`federated/<cluster>/etl/parquet/…`, which
//! no SQL engine can prune by day) into the partitioned one
//! (`allocations/resolution=…/cluster=…/day=…/`), and the guard that stops
//! reads and syncs of a store holding both: a reader of one layout would
//! miss the other's files, and a sync would rebuild days the store has.
//!
//! A file is moved through [`EtlStore::put`]: decoded whole (a damaged file
//! stays where it is, named), described again and written with the
//! overwrite policy against whatever the new layout already holds, so a
//! move never replaces a better file; only then is the old one deleted. A
//! pending marker moves as a marker. Every step is idempotent: a migration
//! stopped half way is finished by running it again.

use costetl_core::etl::{self, Decision, EtlKey, EtlMeta, LEGACY_ROOT, OverwritePolicy};
use futures::TryStreamExt;

use crate::Result;
use crate::error::StoreError;
use crate::store::EtlStore;

/// What [`EtlStore::migrate`] did with one object of the old layout.
#[derive(Clone, Debug, PartialEq)]
pub enum Migrated {
    /// A file, written into the new layout or not (the stored one there
    /// was at least as good), and then deleted from the old.
    Moved {
        /// The file.
        key: EtlKey,
        /// What the overwrite policy decided in the new layout.
        decision: Decision,
    },
    /// A pending marker (an interrupted build), marked in the new layout.
    Marker(EtlKey),
    /// A file that does not decode: left where it is, with why.
    Damaged {
        /// The file.
        key: EtlKey,
        /// Where it is and why it does not decode.
        reason: String,
    },
}

impl EtlStore {
    /// The files (`false`) and pending markers (`true`) costetl before
    /// schema version 2 left in the store, in key order. One listing of
    /// `federated/`, and one per cluster directory there, so other tools'
    /// files under `federated/` (Kubecost's `bingen`) are never listed
    /// whole, and skipped.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn legacy(&self) -> Result<Vec<(EtlKey, bool)>> {
        let mut found = Vec::new();
        for cluster in self.directories(&self.path(LEGACY_ROOT)).await? {
            let prefix = self.path(&etl::legacy_cluster_prefix(&cluster));
            let objects: Vec<_> = (self.store.list(Some(&prefix)))
                .try_collect()
                .await
                .map_err(|source| self.io("list", &prefix, source))?;
            found.extend(
                (objects.iter())
                    .filter_map(|o| self.relative(&o.location))
                    .filter_map(|rel| EtlKey::parse_legacy(&rel)),
            );
        }
        found.sort();
        Ok(found)
    }

    /// Refuses a store that still holds files of the old layout.
    ///
    /// # Errors
    ///
    /// [`StoreError::LegacyLayout`] naming how many and one of them;
    /// [`StoreError::ObjectStore`] for IO failures.
    pub(crate) async fn refuse_legacy(&self) -> Result<()> {
        let legacy = self.legacy().await?;
        match legacy.first() {
            None => Ok(()),
            Some((key, marker)) => Err(StoreError::LegacyLayout {
                store: self.description().to_owned(),
                objects: legacy.len(),
                example: self.url_of(&self.path(&key.legacy_object(*marker))),
            }),
        }
    }

    /// Moves every file and marker of the old layout into the new one
    /// ([module docs](self)), in key order.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures, [`StoreError::Conflict`]
    /// when another writer changed a file meanwhile (run it again).
    pub async fn migrate(&self, policy: &OverwritePolicy) -> Result<Vec<Migrated>> {
        let mut done = Vec::new();
        for (key, marker) in self.legacy().await? {
            let old = key.legacy_object(marker);
            let moved = if marker {
                self.mark_pending(&key).await?;
                Migrated::Marker(key)
            } else {
                match self.move_file(&key, &old, policy).await? {
                    Ok(decision) => Migrated::Moved { key, decision },
                    Err(reason) => {
                        done.push(Migrated::Damaged { key, reason });
                        continue;
                    }
                }
            };
            self.delete_path(&old).await?;
            done.push(moved);
        }
        Ok(done)
    }

    /// Reads the old file at `old` and puts it under `key`: the overwrite
    /// decision, or why the old file does not decode.
    async fn move_file(
        &self,
        key: &EtlKey,
        old: &str,
        policy: &OverwritePolicy,
    ) -> Result<std::result::Result<Decision, String>> {
        let location = self.path(old);
        let Some((data, _)) = self.fetch(&location).await? else {
            // Gone since the listing: another migration moved it.
            return Ok(Err(format!("{}: gone", self.url_of(&location))));
        };
        let (set, meta) = match costetl_parquet::decode(&data) {
            Ok(read) => read,
            Err(e) => return Ok(Err(format!("{}: {e}", self.url_of(&location)))),
        };
        // The same content, described as this version writes it (the
        // producer and the build time stay the original build's).
        let meta = EtlMeta::describe(&set, key, &meta.producer, meta.built_at);
        Ok(Ok(self.put(&set, &meta, policy).await?.decision))
    }
}
