//! Faults a real bucket cannot produce on demand, from an in-memory store
//! wrapped to misbehave once: a footer damaged on the wire (one byte
//! flipped in one ranged read) must not let a worse build replace a good
//! file, and a PUT whose answer was lost (the client's retry then
//! conflicts with its own write) must count as written.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::AllocationSet;
use costetl_core::etl::{EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::testing::mock_set;
use costetl_store::EtlStore;
use futures::stream::{BoxStream, StreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// An in-memory bucket that damages the next `damage` ranged reads and
/// loses the answer of the next `lose` PUTs.
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemory,
    damage: AtomicUsize,
    lose: AtomicUsize,
}

fn take(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flaky")
    }
}

#[async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let mode = opts.mode.clone();
        let done = self.inner.put_opts(location, payload, opts).await?;
        if !take(&self.lose) {
            return Ok(done);
        }
        // The write happened; the client never heard, retried, and the
        // retry's condition failed against its own write.
        let path = location.to_string();
        let source = "the retried PUT's condition failed".into();
        Err(match mode {
            PutMode::Create => object_store::Error::AlreadyExists { path, source },
            _ => object_store::Error::Precondition { path, source },
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let ranged = options.range.is_some();
        let r = self.inner.get_opts(location, options).await?;
        if !(ranged && take(&self.damage)) {
            return Ok(r);
        }
        let (meta, range, attributes, extensions) = (
            r.meta.clone(),
            r.range.clone(),
            r.attributes.clone(),
            r.extensions.clone(),
        );
        let mut bytes = r.bytes().await?.to_vec();
        // One byte flipped inside the footer's metadata.
        let at = bytes.len().saturating_sub(200);
        bytes[at] ^= 0x5a;
        Ok(GetResult {
            payload: GetResultPayload::Stream(
                futures::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed(),
            ),
            meta,
            range,
            attributes,
            extensions,
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn set(scale: f64) -> AllocationSet {
    let start = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
    let mock = mock_set(start);
    let mut out = AllocationSet::new(mock.window());
    for a in mock.iter().filter(|a| a.properties.cluster == "cluster1") {
        let mut a = a.clone();
        a.cpu_cost *= scale;
        out.insert(a);
    }
    out
}

fn meta(s: &AllocationSet) -> EtlMeta {
    let key = EtlKey::new("cluster1", Resolution::Daily, s.window()).unwrap();
    EtlMeta::describe(
        s,
        &key,
        "costetl-test",
        s.window().end() + TimeDelta::hours(1),
    )
}

fn store() -> (Arc<Flaky>, EtlStore) {
    let flaky = Arc::new(Flaky::default());
    let store = EtlStore::from_object_store(flaky.clone(), Path::default(), "flaky://");
    (flaky, store)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_footer_damaged_on_the_wire_does_not_let_a_worse_build_in() {
    let (flaky, store) = store();
    let (good, worse) = (set(1.0), set(0.5));
    let policy = OverwritePolicy::default();
    rt().block_on(async {
        store.put(&good, &meta(&good), &policy).await.unwrap();
        flaky.damage.store(1, Ordering::SeqCst);
        let out = store.put(&worse, &meta(&worse), &policy).await.unwrap();
        assert!(!out.decision.is_write(), "{:?}", out.decision);
        assert_eq!(
            flaky.damage.load(Ordering::SeqCst),
            0,
            "the damage happened"
        );
        let key = meta(&good).key().unwrap();
        assert_eq!(store.get(&key).await.unwrap().unwrap().0, good);
    });
}

#[test]
fn a_put_whose_answer_was_lost_counts_as_written() {
    let (flaky, store) = store();
    let (good, better) = (set(1.0), set(2.0));
    let policy = OverwritePolicy::default();
    let key = meta(&good).key().unwrap();
    rt().block_on(async {
        for s in [&good, &better] {
            flaky.lose.store(1, Ordering::SeqCst);
            let out = store.put(s, &meta(s), &policy).await.unwrap();
            assert!(out.decision.is_write(), "{:?}", out.decision);
            assert_eq!(flaky.lose.load(Ordering::SeqCst), 0, "the answer was lost");
            assert_eq!(&store.get(&key).await.unwrap().unwrap().0, s);
        }
    });
}
