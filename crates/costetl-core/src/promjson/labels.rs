//! A series' labels as symbols into its body's one string table.
//!
//! A day of a large cluster decodes to hundreds of thousands of series
//! (866,994 at 60,000 containers) carrying millions of labels (5.2 M) over
//! a few distinct strings per body. Each series owning a vector of shared
//! strings cost a heap allocation per series and two reference counts per
//! label — to build, to hold (32 bytes a label) and, above all, to drop:
//! freeing a day's results was a tenth of the end-to-end time. Here a body
//! holds its distinct strings once, in one buffer, and every label pair of
//! every series in one vector of `u32` symbol pairs; a series holds its
//! range of that vector and a reference to the table. Dropping a day's
//! results is a few frees per body.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

/// The label pairs of one series, sorted by name with unique names.
///
/// Cheap to clone (a reference count). Compares, orders and hashes by
/// content, so labels decoded from different bodies are equal when their
/// pairs are.
#[derive(Clone, Default)]
pub struct SeriesLabels {
    /// `None` for a series without labels (a scalar's).
    table: Option<Arc<LabelTable>>,
    start: u32,
    len: u32,
}

/// One body's strings and label pairs.
#[derive(Default)]
pub(super) struct LabelTable {
    /// Every distinct string, one after another.
    text: String,
    /// String `i` is `text[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<u32>,
    /// `[name, value]` symbols of every series, series after series.
    pairs: Vec<[u32; 2]>,
}

impl LabelTable {
    fn str(&self, symbol: u32) -> &str {
        let i = symbol as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Length of string `symbol` without touching its text: label lookups
    /// compare lengths first.
    fn str_len(&self, symbol: u32) -> usize {
        let i = symbol as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (self.ends[i] - start) as usize
    }
}

impl SeriesLabels {
    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        let (table, pairs) = self.parts()?;
        // The engine's join series carry a handful of labels: a scan that
        // compares lengths first does fewer string comparisons there than
        // a binary search; metadata series are long and sorted.
        if pairs.len() <= 8 {
            return pairs
                .iter()
                .find(|[k, _]| table.str_len(*k) == name.len() && table.str(*k) == name)
                .map(|&[_, v]| table.str(v));
        }
        pairs
            .binary_search_by(|&[k, _]| table.str(k).cmp(name))
            .ok()
            .map(|i| table.str(pairs[i][1]))
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> Iter<'_> {
        match self.parts() {
            Some((table, pairs)) => Iter {
                table: Some(table),
                pairs: pairs.iter(),
            },
            None => Iter {
                table: None,
                pairs: [].iter(),
            },
        }
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// These labels with `name` set to `value` (added in name order, or
    /// replaced), in a table of their own.
    pub fn with(&self, name: &str, value: &str) -> SeriesLabels {
        let mut pairs: Vec<(&str, &str)> = self.iter().collect();
        match pairs.binary_search_by(|(k, _)| (*k).cmp(name)) {
            Ok(i) => pairs[i].1 = value,
            Err(i) => pairs.insert(i, (name, value)),
        }
        pairs.into_iter().collect()
    }

    fn parts(&self) -> Option<(&LabelTable, &[[u32; 2]])> {
        let table = self.table.as_deref()?;
        let start = self.start as usize;
        // A range outside the table cannot be built here; read it as none
        // rather than panic.
        let pairs = table.pairs.get(start..start + self.len as usize)?;
        Some((table, pairs))
    }
}

/// Iterator over a series' `(name, value)` pairs.
#[derive(Clone)]
pub struct Iter<'a> {
    table: Option<&'a LabelTable>,
    pairs: std::slice::Iter<'a, [u32; 2]>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        let table = self.table?;
        self.pairs
            .next()
            .map(|&[k, v]| (table.str(k), table.str(v)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pairs.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a SeriesLabels {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Labels from pairs in any order; of a repeated name the last value wins
/// (as a JSON object read into a map).
impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for SeriesLabels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut builder = LabelsBuilder::default();
        let start = builder.start();
        for (k, v) in pairs {
            // Only a table past 4 GiB of text fails, not a handful of pairs.
            let (Ok(k), Ok(v)) = (builder.intern(k.as_ref()), builder.intern(v.as_ref())) else {
                unreachable!("labels built from pairs exceed 4 GiB");
            };
            builder.push(k, v);
        }
        let mut labels = builder.finish_series(start).unwrap_or_default();
        let table = builder.into_table();
        labels.attach(&table);
        labels
    }
}

impl PartialEq for SeriesLabels {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for SeriesLabels {}

impl<K: AsRef<str>, V: AsRef<str>> PartialEq<[(K, V)]> for SeriesLabels {
    fn eq(&self, other: &[(K, V)]) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|((k, v), (ok, ov))| k == ok.as_ref() && v == ov.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> PartialEq<[(K, V); N]> for SeriesLabels {
    fn eq(&self, other: &[(K, V); N]) -> bool {
        *self == other[..]
    }
}

impl Ord for SeriesLabels {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for SeriesLabels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for SeriesLabels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for pair in self {
            pair.hash(state);
        }
    }
}

impl fmt::Debug for SeriesLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A string table past what `u32` offsets address (4 GiB of distinct label
/// text, or 4 G label pairs, in one body).
#[derive(Debug)]
pub(super) struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the body's labels exceed 4 GiB of distinct text or 4 G label pairs")
    }
}

/// A body's table while it is decoded: each distinct string interned once
/// (found through a hash table of symbols), pairs appended series by series.
#[derive(Default)]
pub(super) struct LabelsBuilder {
    table: LabelTable,
    index: HashTable<Interned>,
    hasher: foldhash::fast::RandomState,
}

/// An entry of the interning index: a symbol and its string's hash. With
/// the hash at hand, growing the index and probing past other strings
/// never read the strings: a 60k day's pod names and uids are megabytes of
/// text per body, and reading them back at random was cache misses that
/// grew faster than the day.
#[derive(Clone, Copy)]
struct Interned {
    symbol: u32,
    hash: u32,
}

impl Interned {
    /// The index's 64-bit hash of a 32-bit one: the value twice, so the
    /// index's bucket (low bits) and tag (top bits) both vary.
    fn table_hash(hash: u32) -> u64 {
        (u64::from(hash) << 32) | u64::from(hash)
    }
}

impl LabelsBuilder {
    /// The symbol of `s`, added if new.
    pub(super) fn intern(&mut self, s: &str) -> Result<u32, TooLarge> {
        // 32 bits suffice: a body holds far fewer strings, and two strings
        // of one hash cost a comparison, not a wrong symbol.
        let hash = (self.hasher.hash_one(s) >> 32) as u32;
        let table = &self.table;
        let found = self.index.find(Interned::table_hash(hash), |e| {
            e.hash == hash && table.str(e.symbol) == s
        });
        if let Some(e) = found {
            return Ok(e.symbol);
        }
        let symbol = u32::try_from(self.table.ends.len()).map_err(|_| TooLarge)?;
        let end = u32::try_from(self.table.text.len() + s.len()).map_err(|_| TooLarge)?;
        self.table.text.push_str(s);
        self.table.ends.push(end);
        self.index
            .insert_unique(Interned::table_hash(hash), Interned { symbol, hash }, |e| {
                Interned::table_hash(e.hash)
            });
        Ok(symbol)
    }

    /// Where the next series' pairs start.
    pub(super) fn start(&self) -> usize {
        self.table.pairs.len()
    }

    pub(super) fn push(&mut self, name: u32, value: u32) {
        self.table.pairs.push([name, value]);
    }

    /// Forget the pairs pushed since `start` (a repeated `metric` key: the
    /// last one counts).
    pub(super) fn truncate(&mut self, start: usize) {
        self.table.pairs.truncate(start);
    }

    /// The labels of the series whose pairs were pushed since `start`,
    /// sorted by name with unique names (the last value of a repeated name
    /// wins), not yet attached to the table.
    pub(super) fn finish_series(&mut self, start: usize) -> Result<SeriesLabels, TooLarge> {
        self.normalise(start);
        let len = self.table.pairs.len() - start;
        Ok(SeriesLabels {
            table: None,
            start: u32::try_from(start).map_err(|_| TooLarge)?,
            len: u32::try_from(len).map_err(|_| TooLarge)?,
        })
    }

    /// Prometheus sends labels sorted, so the common case is one linear
    /// check.
    fn normalise(&mut self, start: usize) {
        let table = &self.table;
        let tail = &table.pairs[start..];
        if tail.is_sorted_by(|a, b| table.str(a[0]) < table.str(b[0])) {
            return;
        }
        let mut pairs = tail.to_vec();
        // Stable, so equal names keep their input order and the last wins.
        pairs.sort_by(|a, b| table.str(a[0]).cmp(table.str(b[0])));
        pairs.dedup_by(|later, kept| {
            if later[0] == kept[0] {
                kept[1] = later[1];
                true
            } else {
                false
            }
        });
        self.table.pairs.truncate(start);
        self.table.pairs.extend(pairs);
    }

    /// The finished table, trimmed to its contents (it is held as long as
    /// the results are).
    pub(super) fn into_table(self) -> Arc<LabelTable> {
        let mut table = self.table;
        table.text.shrink_to_fit();
        table.ends.shrink_to_fit();
        table.pairs.shrink_to_fit();
        Arc::new(table)
    }
}

impl SeriesLabels {
    /// Point labels from [`LabelsBuilder::finish_series`] at their table.
    pub(super) fn attach(&mut self, table: &Arc<LabelTable>) {
        if self.len > 0 {
            self.table = Some(Arc::clone(table));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_and_the_last_of_a_repeated_name_wins() {
        let l: SeriesLabels = [("pod", "a"), ("container", "c"), ("pod", "b")]
            .into_iter()
            .collect();
        assert_eq!(l, [("container", "c"), ("pod", "b")]);
        assert_eq!(l.get("pod"), Some("b"));
        assert_eq!(l.get("po"), None);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn long_label_lists_are_searched_by_name() {
        let names: Vec<String> = (0..20).map(|i| format!("label_{i:02}")).collect();
        let l: SeriesLabels = names.iter().map(|n| (n.as_str(), n.as_str())).collect();
        for n in &names {
            assert_eq!(l.get(n), Some(n.as_str()));
        }
        assert_eq!(l.get("label_20"), None);
    }

    #[test]
    fn equality_order_and_hash_go_by_content_not_table() {
        let a: SeriesLabels = [("a", "1"), ("b", "2")].into_iter().collect();
        let mut builder = LabelsBuilder::default();
        // Another table, whose symbols for the same strings differ.
        let start = builder.start();
        for (k, v) in [("x", "9"), ("b", "2"), ("a", "1")] {
            let (k, v) = (builder.intern(k).unwrap(), builder.intern(v).unwrap());
            builder.push(k, v);
        }
        builder.truncate(start);
        let start = builder.start();
        for (k, v) in [("b", "2"), ("a", "1")] {
            let (k, v) = (builder.intern(k).unwrap(), builder.intern(v).unwrap());
            builder.push(k, v);
        }
        let mut b = builder.finish_series(start).unwrap();
        b.attach(&builder.into_table());
        assert_eq!(a, b);
        let hash = |l: &SeriesLabels| foldhash::fast::FixedState::default().hash_one(l);
        assert_eq!(hash(&a), hash(&b));
        let c: SeriesLabels = [("a", "1"), ("b", "3")].into_iter().collect();
        assert!(a < c);
        assert_eq!(SeriesLabels::default().iter().count(), 0);
    }

    #[test]
    fn with_replaces_or_inserts_in_name_order() {
        let l: SeriesLabels = [("a", "1"), ("c", "3")].into_iter().collect();
        assert_eq!(l.with("b", "2"), [("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(l.with("c", "4"), [("a", "1"), ("c", "4")]);
        assert_eq!(l, [("a", "1"), ("c", "3")], "the original is unchanged");
    }
}
