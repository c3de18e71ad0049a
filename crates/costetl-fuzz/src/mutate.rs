//! The mutator: byte- and token-level edits of a corpus input, splices of
//! two inputs, and now and then random bytes, from a small seeded PRNG
//! (SplitMix64: deterministic per seed, no dependency for a test tool).

/// SplitMix64.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that matter to JSON, TOML, PromQL-ish filters, windows and
/// numbers: inserted whole, they reach deeper than random bytes.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"=",
    b"\\",
    b"\n",
    b"null",
    b"true",
    b"-",
    b"NaN",
    b"+Inf",
    b"-Inf",
    b"1e309",
    b"-0",
    b"18446744073709551616",
    b"0.1",
    b"\"\"",
    b"\\u0000",
    b"\\ud800",
    b"'",
    b"~",
    b"!:",
    b"+",
    b"[[",
    b"]]",
    b"#",
    b"\xff",
    b"\xe2\x82",
    b"T",
    b"Z",
    b"2023-11-14T00:00:00Z",
    b"24h",
    b"offset",
    b"7d",
    b"PAR1",
];

/// Largest input tried: parsers must be safe at any size, but the harness
/// looks for panics, not for slow paths of megabyte inputs.
pub(crate) const MAX_LEN: usize = 64 * 1024;

/// A mutation of `input` (with `other` for splices).
pub(crate) fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        edit(rng, &mut out, other);
    }
    out.truncate(MAX_LEN);
    out
}

fn edit(rng: &mut Rng, out: &mut Vec<u8>, other: &[u8]) {
    let at = |rng: &mut Rng, v: &Vec<u8>| rng.below(v.len() + 1);
    match rng.below(9) {
        0 if !out.is_empty() => {
            let i = rng.below(out.len());
            out[i] ^= 1 << rng.below(8);
        }
        1 if !out.is_empty() => {
            let i = rng.below(out.len());
            out[i] = [0, 0x7f, 0x80, 0xff, b'0', b'9', b' '][rng.below(7)];
        }
        2 if !out.is_empty() => {
            let i = rng.below(out.len());
            let n = 1 + rng.below((out.len() - i).min(64));
            out.drain(i..i + n);
        }
        3 if !out.is_empty() => {
            let i = rng.below(out.len());
            let n = 1 + rng.below((out.len() - i).min(64));
            let chunk = out[i..i + n].to_vec();
            let j = at(rng, out);
            out.splice(j..j, chunk);
        }
        4 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            let j = at(rng, out);
            out.splice(j..j, t.iter().copied());
        }
        5 if !other.is_empty() => {
            let cut = at(rng, out);
            let from = rng.below(other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        6 => {
            let cut = at(rng, out);
            out.truncate(cut);
        }
        7 => {
            let n = rng.below(16);
            let j = at(rng, out);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.splice(j..j, bytes);
        }
        _ if !out.is_empty() => {
            // Overwrite a span with a repeat of one of its bytes: long runs
            // (deep nesting, long numbers) from short inputs.
            let i = rng.below(out.len());
            let b = out[i];
            let n = 1 + rng.below(256);
            let j = at(rng, out);
            out.splice(j..j, std::iter::repeat_n(b, n));
        }
        _ => out.push(rng.next() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_per_seed_and_bounded() {
        let input = b"{\"status\":\"success\"}";
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| mutate(&mut rng, input, b"[1,2]"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(5).iter().all(|m| m.len() <= MAX_LEN));
        assert!(run(5).iter().any(|m| m.as_slice() != input));
    }
}
