//! [`EtlStore`]: the ETL files of a fleet in one object store.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use costetl_core::etl;
use costetl_core::etl::{Decision, EtlKey, EtlMeta, Existing, OverwritePolicy, Resolution, Stored};
use costetl_core::{AllocationSet, AllocationSetRange, Error as CoreError, Window};
use costetl_parquet::FooterLen;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::{Path, PathPart};
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};

use crate::Result;
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::local::LocalDir;

/// How many files are read at once by [`EtlStore::load`].
const READ_CONCURRENCY: usize = 16;

/// Bytes read from the end of a file for its meta. A file's footer is
/// about 20–30 KB whatever its rows (61 columns' metadata); a longer one
/// costs a second request.
const META_SUFFIX: u64 = 64 * 1024;

/// The ETL files of one or many clusters, in a directory or a bucket.
#[derive(Clone, Debug)]
pub struct EtlStore {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// Prefix inside the store (`s3://bucket/<root>`), possibly empty.
    root: Path,
    /// `file:///…` or `s3://…`, for messages.
    description: String,
    /// A directory store's lock and durable writes (`None` for buckets,
    /// whose conditional PUT does the same).
    local: Option<Arc<LocalDir>>,
}

/// What [`EtlStore::put`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct PutOutcome {
    /// The file.
    pub key: EtlKey,
    /// Written (and why), or kept (and why the new build was refused).
    pub decision: Decision,
    /// Size of the encoded file, written or not.
    pub bytes: usize,
}

/// A federated range read by [`EtlStore::load`].
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// One set per window of the range, holding every cluster's
    /// allocations for it (empty where no cluster has a file).
    pub range: AllocationSetRange,
    /// The metadata of every file read, in key order.
    pub metas: Vec<EtlMeta>,
    /// The files of the clusters read that are not in the store: gaps to
    /// build or repair.
    pub missing: Vec<EtlKey>,
    /// The files that are there but do not decode (a damaged row group, a
    /// bad checksum, a newer schema), with why: left out of `range`, so
    /// their cost is missing, never read as a cheap day.
    pub damaged: Vec<(EtlKey, String)>,
}

impl EtlStore {
    /// Opens the store `cfg` names. A local directory is created if
    /// missing; nothing is read or written in a bucket until used.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for an unusable URL or setting.
    pub fn open(cfg: &StoreConfig) -> Result<Self> {
        Self::open_with(cfg, true)
    }

    /// As [`EtlStore::open`], for readers: a directory that does not
    /// exist is an error (a mistyped path must not read as an empty store,
    /// nor be created by a command that only reads).
    ///
    /// # Errors
    ///
    /// As [`EtlStore::open`], and [`StoreError::Config`] naming a missing
    /// directory.
    pub fn open_existing(cfg: &StoreConfig) -> Result<Self> {
        Self::open_with(cfg, false)
    }

    fn open_with(cfg: &StoreConfig, create: bool) -> Result<Self> {
        let text = cfg.url.trim();
        let config = |message: String| StoreError::Config { message };
        if text.is_empty() {
            return Err(config(
                "no store URL (file:///dir, a directory, s3://bucket/prefix, gs://bucket/prefix \
                 or az://container/prefix)"
                    .into(),
            ));
        }
        if let Some((store, root)) = crate::remote::open(text, cfg)? {
            return Ok(Self {
                store,
                root,
                description: text.to_owned(),
                local: None,
            });
        }
        let dir = match text.strip_prefix("file://") {
            Some(path) => std::path::PathBuf::from(path),
            None if text.contains("://") => {
                return Err(config(format!(
                    "{text}: unsupported scheme (use file://, s3://, gs:// or az://, or a \
                     directory path)"
                )));
            }
            None => std::path::PathBuf::from(text),
        };
        if create {
            std::fs::create_dir_all(&dir)
                .map_err(|e| config(format!("creating {}: {e}", dir.display())))?;
        } else if !dir.is_dir() {
            return Err(config(format!(
                "{} is not a directory (a mistyped --store?)",
                dir.display()
            )));
        }
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| config(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            store: Arc::new(store),
            root: Path::default(),
            description: format!("file://{}", dir.display()),
            local: Some(Arc::new(LocalDir::new(dir))),
        })
    }

    /// A store over any [`ObjectStore`] (GCS, Azure, in-memory, a wrapped
    /// one), with the files under `root`.
    pub fn from_object_store(store: Arc<dyn ObjectStore>, root: Path, description: &str) -> Self {
        Self {
            store,
            root,
            description: description.to_owned(),
            local: None,
        }
    }

    /// Where the store is, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub(crate) fn path(&self, relative: &str) -> Path {
        let mut p = self.root.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            // The core's segments are already escaped (a cluster id's `/`
            // is `%2F`): taken as they are, not escaped a second time.
            p = match PathPart::parse(part) {
                Ok(part) => p.clone().join(part),
                Err(_) => p.clone().join(part),
            };
        }
        p
    }

    /// `location` relative to the root, as the core's keys spell paths.
    pub(crate) fn relative(&self, location: &Path) -> Option<String> {
        let parts: Vec<_> = location.prefix_match(&self.root)?.collect();
        Some(
            parts
                .iter()
                .map(|p| p.as_ref())
                .collect::<Vec<&str>>()
                .join("/"),
        )
    }

    /// Writes `set` as the file `meta` describes, unless `policy` says the
    /// stored file is better (see [`etl::decide`]). The write is atomic and
    /// conditional on the stored file being the one compared against.
    ///
    /// # Errors
    ///
    /// - [`StoreError::Format`] if the set cannot be encoded (window or
    ///   cluster not matching `meta`, …);
    /// - [`StoreError::Conflict`] if another writer changed the file
    ///   meanwhile;
    /// - [`StoreError::ObjectStore`] for IO failures.
    pub async fn put(
        &self,
        set: &AllocationSet,
        meta: &EtlMeta,
        policy: &OverwritePolicy,
    ) -> Result<PutOutcome> {
        let key = meta.key().map_err(|source| StoreError::Format {
            path: format!("{}/{}", self.description, meta.cluster),
            error: source,
        })?;
        let location = self.path(&key.path());
        let bytes = costetl_parquet::encode(set, meta).map_err(|source| StoreError::Format {
            path: location.to_string(),
            error: source,
        })?;
        // A directory: the comparison and the write under one lock, which
        // also makes every staging file left in the key's directory an
        // orphan of a killed writer.
        let lock = match &self.local {
            Some(local) => {
                let lock = local
                    .lock()
                    .await
                    .map_err(|e| self.local_io("lock", &location, e))?;
                local
                    .remove_orphans(&key.path())
                    .map_err(|e| self.local_io("clean", &location, e))?;
                Some(lock)
            }
            None => None,
        };
        let mut read = self.fetch_meta(&location).await?;
        if matches!(&read, Some((Err(e), _)) if !is_newer(e)) {
            // A footer that does not decode may be one bad read on the
            // wire: read it again, then whole, before calling it unreadable.
            read = self.fetch_meta(&location).await?;
            if matches!(&read, Some((Err(e), _)) if !is_newer(e)) {
                read = self.fetch(&location).await?.map(|(data, version)| {
                    (
                        costetl_parquet::decode(&data).map(|(_, meta)| meta),
                        version,
                    )
                });
            }
        }
        let (existing, version) = match read {
            Some((meta, version)) => (Some(meta), Some(version)),
            None => (None, None),
        };
        let unreadable;
        let stored = match &existing {
            None => Existing::Absent,
            Some(Ok(m)) => Existing::File(m),
            Some(Err(CoreError::EtlNewerSchema { found, .. })) => {
                Existing::Newer { version: *found }
            }
            Some(Err(e)) => {
                unreadable = e.to_string();
                Existing::Unreadable(&unreadable)
            }
        };
        let decision = etl::decide(stored, meta, policy);
        let size = bytes.len();
        if let Decision::Write { .. } = decision {
            match &self.local {
                Some(local) => local
                    .write(&key.path(), &bytes)
                    .map_err(|e| self.local_io("write", &location, e))?,
                None => {
                    let mode = match version {
                        None => PutMode::Create,
                        Some(v) => PutMode::Update(v),
                    };
                    match self.put_conditional(&location, bytes, mode).await {
                        // A PUT whose answer was lost is retried by the
                        // client and then "conflicts" with itself: the
                        // file stored is the one we wrote.
                        Err(StoreError::Conflict { .. })
                            if self.stored_is(&location, meta).await =>
                        {
                            Ok(())
                        }
                        other => other,
                    }?;
                }
            }
        }
        drop(lock);
        Ok(PutOutcome {
            key,
            decision,
            bytes: size,
        })
    }

    /// Whether the file at `location` is the one `meta` describes (the
    /// build time and the producer make it this writer's).
    async fn stored_is(&self, location: &Path, meta: &EtlMeta) -> bool {
        matches!(self.fetch_meta(location).await, Ok(Some((Ok(m), _))) if m == *meta)
    }

    async fn put_conditional(&self, location: &Path, bytes: Vec<u8>, mode: PutMode) -> Result<()> {
        let payload = PutPayload::from(bytes);
        let opts = PutOptions {
            mode: mode.clone(),
            ..PutOptions::default()
        };
        match self.store.put_opts(location, payload.clone(), opts).await {
            Ok(_) => Ok(()),
            // A local directory cannot compare versions; it has one writer
            // (the process that owns the directory), and its rename is
            // atomic.
            Err(object_store::Error::NotImplemented { .. })
                if matches!(mode, PutMode::Update(_)) =>
            {
                self.store
                    .put_opts(location, payload, PutOptions::default())
                    .await
                    .map(|_| ())
                    .map_err(|source| self.io("put", location, source))
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(StoreError::Conflict {
                path: self.url_of(location),
            }),
            Err(source) => Err(self.io("put", location, source)),
        }
    }

    fn local_io(&self, op: &'static str, location: &Path, error: std::io::Error) -> StoreError {
        self.io(
            op,
            location,
            object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(error),
            },
        )
    }

    pub(crate) fn io(
        &self,
        op: &'static str,
        location: &Path,
        error: object_store::Error,
    ) -> StoreError {
        StoreError::ObjectStore {
            op,
            path: self.url_of(location),
            error,
        }
    }

    /// `location` as a URL for messages: the description (which names the
    /// prefix) and the path under it, the prefix not repeated.
    pub(crate) fn url_of(&self, location: &Path) -> String {
        match self.relative(location) {
            Some(rel) if rel.is_empty() => self.description.clone(),
            Some(rel) => format!("{}/{rel}", self.description.trim_end_matches('/')),
            None => format!("{}/{location}", self.description),
        }
    }

    /// The bytes stored at `location` and their version, if any.
    pub(crate) async fn fetch(&self, location: &Path) -> Result<Option<(Bytes, UpdateVersion)>> {
        self.fetch_range(location, None).await
    }

    /// The meta of the file at `location` (or why it does not decode) and
    /// its version, if there is a file, from ranged reads of its end: one
    /// request of [`META_SUFFIX`] bytes, a second when the footer is longer.
    async fn fetch_meta(
        &self,
        location: &Path,
    ) -> Result<Option<(std::result::Result<EtlMeta, CoreError>, UpdateVersion)>> {
        let mut want = META_SUFFIX;
        loop {
            let got = match self
                .fetch_range(location, Some(GetRange::Suffix(want)))
                .await
            {
                // S3 refuses any range of an empty object (416), and some
                // gateways do not serve ranges: read such a file whole.
                Err(StoreError::ObjectStore { .. }) => self.fetch(location).await?,
                other => other?,
            };
            let Some((data, version)) = got else {
                return Ok(None);
            };
            if let Ok(FooterLen::Short(n)) = costetl_parquet::footer_len(&data) {
                // A file shorter than we asked for came whole: it is short
                // of its own footer, which decode_meta reports.
                if (n as u64) > want && data.len() as u64 == want {
                    want = n as u64;
                    continue;
                }
            }
            return Ok(Some((costetl_parquet::decode_meta(&data), version)));
        }
    }

    /// `range` of the bytes at `location` (all of them for `None`) and
    /// their version, if there is an object.
    async fn fetch_range(
        &self,
        location: &Path,
        range: Option<GetRange>,
    ) -> Result<Option<(Bytes, UpdateVersion)>> {
        let opts = GetOptions {
            range,
            ..GetOptions::default()
        };
        match self.store.get_opts(location, opts).await {
            Ok(got) => {
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let data = got
                    .bytes()
                    .await
                    .map_err(|source| self.io("get", location, source))?;
                Ok(Some((data, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(self.io("get", location, source)),
        }
    }

    /// The set and metadata stored for `key`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Format`] for a file that does not decode (naming it),
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn get(&self, key: &EtlKey) -> Result<Option<(AllocationSet, EtlMeta)>> {
        let location = self.path(&key.path());
        let Some((data, _)) = self.fetch(&location).await? else {
            return Ok(None);
        };
        costetl_parquet::decode(&data)
            .map(Some)
            .map_err(|source| StoreError::Format {
                path: self.url_of(&location),
                error: source,
            })
    }

    /// Every file of `resolution` in the store, in key order, each with its
    /// meta or why that does not decode (or names another key): what
    /// [`etl::plan`] reads. Only each file's end is read (a ranged GET of
    /// its footer), not its rows.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn stored(&self, resolution: Resolution) -> Result<Vec<Stored>> {
        Ok(self.inventory(resolution, false).await?.0)
    }

    /// As [`EtlStore::stored`], but every file is read whole and decoded:
    /// its checksum, schema and rows checked, so a damaged row group is
    /// found (a footer read cannot see it). Reads every byte of the store.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn verified(&self, resolution: Resolution) -> Result<Vec<Stored>> {
        Ok(self.inventory(resolution, true).await?.0)
    }

    /// What a sync or a status needs, from one listing per cluster: every
    /// file of `resolution` with its meta (from its footer or, with
    /// `whole`, from decoding all of it, as [`EtlStore::verified`]), and
    /// the pending markers (as [`EtlStore::pending`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn inventory(
        &self,
        resolution: Resolution,
        whole: bool,
    ) -> Result<(Vec<Stored>, Vec<EtlKey>)> {
        self.refuse_legacy().await?;
        let (mut keys, mut pending) = (Vec::new(), Vec::new());
        for cluster in self.clusters().await? {
            let (files, markers) = self.keys(&cluster, resolution).await?;
            keys.extend(files);
            pending.extend(markers);
        }
        let found: Vec<Option<Stored>> = futures::stream::iter(keys.into_iter().map(|key| async {
            let location = self.path(&key.path());
            // Gone since the listing (a concurrent prune): not stored.
            let meta = if whole {
                let Some((data, _)) = self.fetch(&location).await? else {
                    return Ok(None);
                };
                costetl_parquet::decode(&data).map(|(_, meta)| meta)
            } else {
                let Some((meta, _)) = self.fetch_meta(&location).await? else {
                    return Ok(None);
                };
                meta
            };
            let meta = meta.map_err(|e| e.to_string()).and_then(|m| match m.key() {
                Ok(k) if k == key => Ok(m),
                _ => Err(format!(
                    "its meta describes {} {} {}",
                    m.cluster, m.resolution, m.window
                )),
            });
            Ok::<_, StoreError>(Some((key, meta)))
        }))
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
        Ok((found.into_iter().flatten().collect(), pending))
    }

    /// Removes `key`'s file; one already gone is not an error (S3 does not
    /// tell the two apart).
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn delete(&self, key: &EtlKey) -> Result<()> {
        self.delete_path(&key.path()).await
    }

    /// Deletes the object at `relative`; one already gone is not an error.
    pub(crate) async fn delete_path(&self, relative: &str) -> Result<()> {
        let location = self.path(relative);
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.io("delete", &location, source)),
        }
    }

    /// The clusters with files in the store (at either resolution),
    /// sorted: the `cluster=` partitions of both tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn clusters(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for resolution in [Resolution::Hourly, Resolution::Daily] {
            let prefix = self.path(&etl::resolution_prefix(resolution));
            out.extend(
                self.directories(&prefix)
                    .await?
                    .iter()
                    .filter_map(|d| etl::cluster_of_partition(d)),
            );
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The names of the directories right under `prefix`.
    pub(crate) async fn directories(&self, prefix: &Path) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(prefix))
            .await
            .map_err(|source| self.io("list", prefix, source))?;
        Ok((listed.common_prefixes.iter())
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect())
    }

    /// The files of `cluster` at `resolution`, in window order. Objects
    /// that are not ETL files (staging files, foreign files) are skipped.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn list(&self, cluster: &str, resolution: Resolution) -> Result<Vec<EtlKey>> {
        Ok(self.keys(cluster, resolution).await?.0)
    }

    /// The keys of `resolution` with a pending marker, every cluster's:
    /// builds that marked a window and did not finish it
    /// ([`EtlKey::pending_path`]), for [`etl::plan`].
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn pending(&self, resolution: Resolution) -> Result<Vec<EtlKey>> {
        let mut keys = Vec::new();
        for cluster in self.clusters().await? {
            keys.extend(self.keys(&cluster, resolution).await?.1);
        }
        Ok(keys)
    }

    /// Marks `key` as about to be written: a build marks every cluster of
    /// a window before writing any file, and [`EtlStore::clear_pending`]s
    /// each after its put, so a crash in between leaves a marker the next
    /// sync finds.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn mark_pending(&self, key: &EtlKey) -> Result<()> {
        let location = self.path(&key.pending_path());
        self.store
            .put(&location, PutPayload::default())
            .await
            .map(|_| ())
            .map_err(|source| self.io("put", &location, source))
    }

    /// Removes `key`'s pending marker, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::ObjectStore`] for IO failures.
    pub async fn clear_pending(&self, key: &EtlKey) -> Result<()> {
        self.delete_path(&key.pending_path()).await
    }

    /// The files and the pending markers of `cluster` at `resolution`,
    /// from one listing of its prefix, each sorted.
    async fn keys(
        &self,
        cluster: &str,
        resolution: Resolution,
    ) -> Result<(Vec<EtlKey>, Vec<EtlKey>)> {
        let prefix = self.path(&etl::cluster_prefix(cluster, resolution));
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| self.io("list", &prefix, source))?;
        let relative: Vec<String> = (objects.iter())
            .filter_map(|o| self.relative(&o.location))
            .collect();
        let parsed = |parse: fn(&str) -> Option<EtlKey>| {
            let mut keys: Vec<EtlKey> = (relative.iter())
                .filter_map(|rel| parse(rel))
                .filter(|k| k.cluster == cluster && k.resolution == resolution)
                .collect();
            keys.sort();
            keys
        };
        Ok((parsed(EtlKey::parse), parsed(EtlKey::parse_pending)))
    }

    /// Every cluster's files for the windows of `range` at `resolution`
    /// (`clusters`: only these; `None`: all in the store), merged into one
    /// set per window. Allocation names carry the cluster, so clusters
    /// never collide; each set's warnings and errors are kept.
    ///
    /// A file that does not decode is left out and named in
    /// [`Loaded::damaged`]: one damaged file does not stop a fleet's read.
    /// The whole range is held in memory: to aggregate a long range, read
    /// it file by file with [`EtlStore::fleet_keys`] and
    /// [`EtlStore::read_each`].
    ///
    /// # Errors
    ///
    /// - [`StoreError::Format`] if `range` is not aligned to `resolution`;
    /// - [`StoreError::ObjectStore`] for IO failures.
    pub async fn load(
        &self,
        clusters: Option<&[String]>,
        resolution: Resolution,
        range: Window,
    ) -> Result<Loaded> {
        let wanted = self.fleet_keys(clusters, resolution, range).await?;
        let mut merged: BTreeMap<Window, AllocationSet> = (resolution.windows(range))
            .into_iter()
            .flatten()
            .map(|w| (w, AllocationSet::new(w)))
            .collect();
        let mut metas = Vec::new();
        let mut missing = Vec::new();
        let mut damaged = Vec::new();
        let mut reads = std::pin::pin!(self.read_each(wanted));
        while let Some((key, got)) = reads.try_next().await? {
            match got {
                FileRead::Missing => missing.push(key),
                FileRead::Found(found) => {
                    let (set, meta) = *found;
                    if let Some(target) = merged.get_mut(&key.window) {
                        target.accumulate(&set);
                    }
                    metas.push(meta);
                }
                FileRead::Damaged(why) => damaged.push((key, why)),
            }
        }
        missing.sort();
        Ok(Loaded {
            range: AllocationSetRange::new(merged.into_values().collect()),
            metas,
            missing,
            damaged,
        })
    }

    /// The keys of every cluster's file for the windows of `range` at
    /// `resolution` (`clusters`: only these; `None`: all in the store),
    /// window by window (clusters in order within a window), whether the
    /// files exist or not.
    ///
    /// # Errors
    ///
    /// - [`StoreError::LegacyLayout`] for a store of the old layout;
    /// - [`StoreError::Format`] if `range` is not aligned to `resolution`;
    /// - [`StoreError::ObjectStore`] for IO failures listing clusters.
    pub async fn fleet_keys(
        &self,
        clusters: Option<&[String]>,
        resolution: Resolution,
        range: Window,
    ) -> Result<Vec<EtlKey>> {
        self.refuse_legacy().await?;
        let windows = resolution
            .windows(range)
            .map_err(|source| StoreError::Format {
                path: format!("{} (range {range})", self.description),
                error: source,
            })?;
        let clusters: Vec<String> = match clusters {
            Some(c) => c.to_vec(),
            None => self.clusters().await?,
        };
        let mut wanted = Vec::with_capacity(windows.len() * clusters.len());
        for w in &windows {
            for cluster in &clusters {
                let key = EtlKey::new(cluster.as_str(), resolution, *w).map_err(|source| {
                    StoreError::Format {
                        path: format!("{}/{cluster}", self.description),
                        error: source,
                    }
                })?;
                wanted.push(key);
            }
        }
        Ok(wanted)
    }

    /// Read `keys` in their order: what each holds, is missing, or why it
    /// does not decode (named and left out, like a missing file; never a
    /// cheap day). Up to `READ_CONCURRENCY` files are fetched at once (as
    /// bytes), but each is decoded only when the stream yields it, so one
    /// decoded file is alive at a time besides what the caller keeps.
    ///
    /// # Errors
    ///
    /// Each item: [`StoreError::ObjectStore`] for IO failures, which stop
    /// a read.
    pub fn read_each(
        &self,
        keys: Vec<EtlKey>,
    ) -> impl futures::Stream<Item = Result<(EtlKey, FileRead)>> + '_ {
        futures::stream::iter(keys.into_iter().map(move |key| async move {
            let location = self.path(&key.path());
            let data = self.fetch(&location).await?.map(|(data, _)| data);
            Ok::<_, StoreError>((key, location, data))
        }))
        .buffered(READ_CONCURRENCY)
        .map_ok(move |(key, location, data)| {
            let got = match data.map(|d| costetl_parquet::decode(&d)) {
                None => FileRead::Missing,
                Some(Ok(found)) => FileRead::Found(Box::new(found)),
                Some(Err(error)) => {
                    FileRead::Damaged(format!("{}: {error}", self.url_of(&location)))
                }
            };
            (key, got)
        })
    }
}

/// What one file of a fleet read holds.
#[derive(Debug)]
pub enum FileRead {
    /// Its set and meta (boxed: the stream moves items, and the other
    /// variants are small).
    Found(Box<(AllocationSet, EtlMeta)>),
    /// No file for this cluster and window.
    Missing,
    /// The file does not decode: why (its path and the format error).
    Damaged(String),
}

/// A file written by a newer costetl: not damaged, and not to be replaced.
fn is_newer(e: &CoreError) -> bool {
    matches!(e, CoreError::EtlNewerSchema { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_each_file_once_under_the_prefix() {
        let mem = Arc::new(object_store::memory::InMemory::new());
        let store = EtlStore::from_object_store(mem, Path::from("fleet"), "s3://bucket/fleet");
        let file = store.path("federated/c/etl/x.parquet");
        assert_eq!(
            store.url_of(&file),
            "s3://bucket/fleet/federated/c/etl/x.parquet"
        );
        assert_eq!(store.url_of(&store.root), "s3://bucket/fleet");
        // Outside the root (never made by the store): said in full.
        assert_eq!(
            store.url_of(&Path::from("other/y")),
            "s3://bucket/fleet/other/y"
        );
    }
}
