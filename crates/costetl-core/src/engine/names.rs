//! A container allocation's name, `cluster/node/namespace/pod/container`,
//! and the order of names from their parts.
//!
//! The set keeps its allocations in the byte order of their names. The
//! containers are put in that order while they are still keys (the
//! allocations are then built where they stay); ordering the parts as a
//! tuple is not the same order: `"web"` comes before `"web-1"`, but
//! `"…/web/app"` after `"…/web-1/app"`, since `-` sorts before `/`.

use std::cmp::Ordering;

use super::keys::ContainerKey;

/// The parts of a container allocation's name, in name order.
pub(crate) type Parts<'a> = [&'a str; 5];

/// The parts of the name of container `k` on `node`: one definition for
/// the name and for the order the containers are put in.
pub(crate) fn parts<'s>(k: &ContainerKey<'s>, node: &'s str) -> Parts<'s> {
    [k.cluster, node, k.namespace, k.pod, k.container]
}

/// The name of the container allocation with these parts.
pub(crate) fn name(p: Parts<'_>) -> String {
    p.join("/")
}

/// The order of the names of `a` and `b`; a tie (one name from different
/// parts, possible only when a part holds a `/`) is broken by the parts,
/// so that equal parts stay adjacent.
pub(crate) fn cmp(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    joined_cmp(a, b).then_with(|| a.cmp(b))
}

/// `a.join("/").cmp(&b.join("/"))`, without joining: the first parts that
/// differ decide, on their first differing byte, or, where one is a prefix
/// of the other, on the byte that follows it in its name (`/` or the end).
fn joined_cmp(a: &[&str], b: &[&str]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x == y {
            continue;
        }
        let common = x.len().min(y.len());
        let (x, y) = (x.as_bytes(), y.as_bytes());
        let order = x[..common].cmp(&y[..common]);
        if order != Ordering::Equal {
            return order;
        }
        let next = |parts: &[&str], part: &[u8]| {
            let more = i + 1 < parts.len();
            part.get(common).copied().or(more.then_some(b'/'))
        };
        return match next(a, x).cmp(&next(b, y)) {
            // A `/` in a part against the separator: the rest decides.
            Ordering::Equal => bytes(a).cmp(bytes(b)),
            order => order,
        };
    }
    a.len().cmp(&b.len())
}

/// The bytes of the parts joined with `/`.
fn bytes<'a>(parts: &'a [&'a str]) -> impl Iterator<Item = u8> + 'a {
    (parts.iter().enumerate())
        .flat_map(|(i, p)| (i > 0).then_some(b'/').into_iter().chain(p.bytes()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Parts from the bytes that decide the order around the separator.
    fn arb_parts() -> impl Strategy<Value = [String; 5]> {
        let part = "[a/_.-]{0,3}";
        (part, part, part, part, part).prop_map(|(a, b, c, d, e)| [a, b, c, d, e])
    }

    fn borrowed(p: &[String; 5]) -> Parts<'_> {
        p.each_ref().map(String::as_str)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// Comparing the parts is comparing the joined names.
        #[test]
        fn comparing_parts_is_comparing_names(a in arb_parts(), b in arb_parts()) {
            let (a, b) = (borrowed(&a), borrowed(&b));
            prop_assert_eq!(joined_cmp(&a, &b), name(a).cmp(&name(b)));
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
        }
    }

    #[test]
    fn a_shorter_part_is_not_always_first() {
        let web = ["c", "n", "ns", "web", "app"];
        let web_1 = ["c", "n", "ns", "web-1", "app"];
        assert!(web < web_1);
        assert_eq!(cmp(&web, &web_1), Ordering::Greater);
        let slash = ["c", "n/x", "ns", "p", "c"];
        let split = ["c/n", "x", "ns", "p", "c"];
        assert_eq!(joined_cmp(&slash, &split), Ordering::Equal);
        assert_eq!(cmp(&slash, &split), Ordering::Less);
    }
}
