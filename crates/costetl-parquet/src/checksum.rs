//! The file's content checksum: Parquet as written by the `parquet` crate
//! carries no page checksums, so a changed byte in a label or an average
//! would decode silently. The footer key `costetl.checksum` holds
//! `fnv1a64:<len>:<hex>`, the FNV-1a 64 hash of the file's first `len`
//! bytes (magic and every row group) followed by the `costetl.meta` JSON.
//!
//! FNV-1a is written out here because its definition is fixed forever
//! (std's hasher is not, and a CRC crate would be a dependency for ten
//! lines); it detects accidental corruption, which is all it is for.

use costetl_core::{Error, Result};

/// Footer key holding the checksum.
pub const CHECKSUM_KEY: &str = "costetl.checksum";

const ALGORITHM: &str = "fnv1a64";
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `parts`, one after the other.
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h = OFFSET_BASIS;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// The footer value for a file whose row groups are `data` and whose meta
/// JSON is `meta_json`.
pub(crate) fn footer_value(data: &[u8], meta_json: &str) -> String {
    let h = fnv1a64(&[data, meta_json.as_bytes()]);
    format!("{ALGORITHM}:{}:{h:016x}", data.len())
}

/// Check `file` and `meta_json` against the footer value `stored`.
///
/// # Errors
///
/// [`Error::EtlMeta`] for a value that is not `fnv1a64:<len>:<16 hex>`;
/// [`Error::EtlChecksum`] when the file is shorter than `len` or the hash
/// differs.
pub(crate) fn verify(file: &[u8], meta_json: &str, stored: &str) -> Result<()> {
    let malformed = || Error::EtlMeta {
        reason: format!(
            "{CHECKSUM_KEY:?} is {stored:?}, expected \"{ALGORITHM}:<length>:<16 hex digits>\""
        ),
    };
    let mut parts = stored.split(':');
    let (Some(ALGORITHM), Some(len), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let len: usize = len.parse().map_err(|_| malformed())?;
    if hex.len() != 16 {
        return Err(malformed());
    }
    let want = u64::from_str_radix(hex, 16).map_err(|_| malformed())?;
    let Some(data) = file.get(..len) else {
        return Err(Error::EtlChecksum {
            reason: format!(
                "the footer covers {len} bytes but the file has {}",
                file.len()
            ),
        });
    };
    let got = fnv1a64(&[data, meta_json.as_bytes()]);
    if got != want {
        return Err(Error::EtlChecksum {
            reason: format!("content hashes to {got:016x}, the footer says {want:016x}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        // From the FNV reference (Noll's test suite).
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a64(&[b"foo", b"bar"]), fnv1a64(&[b"foobar"]));
    }

    #[test]
    fn verify_accepts_its_own_value_and_catches_changes() {
        let file = b"PAR1 some row groups, then a footer";
        let value = footer_value(&file[..20], "{\"m\":1}");
        assert!(value.starts_with("fnv1a64:20:"), "{value}");
        verify(file, "{\"m\":1}", &value).unwrap();

        let mut flipped = *file;
        flipped[7] ^= 1;
        assert!(matches!(
            verify(&flipped, "{\"m\":1}", &value),
            Err(Error::EtlChecksum { .. })
        ));
        // Bytes after the covered range (the footer) do not count.
        flipped = *file;
        flipped[25] ^= 1;
        verify(&flipped, "{\"m\":1}", &value).unwrap();
        // The meta JSON is covered.
        assert!(matches!(
            verify(file, "{\"m\":2}", &value),
            Err(Error::EtlChecksum { .. })
        ));
        let e = verify(&file[..10], "{\"m\":1}", &value).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ETL file is corrupt: the footer covers 20 bytes but the file has 10"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        for bad in [
            "",
            "crc32:20:0011223344556677",
            "fnv1a64:20",
            "fnv1a64:x:0011223344556677",
            "fnv1a64:20:00112233",
            "fnv1a64:20:001122334455667g",
            "fnv1a64:20:0011223344556677:extra",
        ] {
            let e = verify(b"", "", bad).unwrap_err();
            assert!(
                matches!(&e, Error::EtlMeta { reason } if reason.contains("costetl.checksum")),
                "{bad:?}: {e}"
            );
        }
    }
}
