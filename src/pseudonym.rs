//! Keyed pseudonyms for personal data: HMAC-SHA256 under a key kept outside the Parquet data, so analyst tables can join on a phone or ID without holding it.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

/// Environment variable holding the key as 64 hex digits; it takes precedence over the key file.
pub const KEY_ENV: &str = "HOTLINE_KEY";

/// Bytes in a key.
const KEY_BYTES: usize = 32;

/// Nibbles kept of each pseudonym (128 bits: collisions are negligible at any realistic scale).
const PSEUDONYM_HEX: usize = 32;

/// Why a key could not be had. Messages name where the key came from, never its value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key is not 64 hex digits.
    #[error("{origin}: the key must be {} hex digits", KEY_BYTES * 2)]
    Malformed {
        /// Where it came from (the file or the environment variable).
        origin: String,
    },
    /// Others than the owner may read the key file.
    #[error("{path}: the key file is readable by others (mode {mode:o}); run chmod 600 on it")]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// `init` found a key file already there.
    #[error(
        "{path}: a key file already exists; refusing to replace it (pseudonyms made with it would no longer match)"
    )]
    Exists {
        /// The key file.
        path: PathBuf,
    },
}

/// The secret key of the pseudonyms, with the HMAC state it keys prepared once (setting up the
/// key costs as much as hashing a short value, and ingest makes two pseudonyms per call).
#[derive(Clone)]
pub struct PseudonymKey {
    bytes: [u8; KEY_BYTES],
    mac: Hmac<Sha256>,
}

impl PartialEq for PseudonymKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PseudonymKey {}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> PseudonymKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        PseudonymKey::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; KEY_BYTES]) -> PseudonymKey {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        PseudonymKey { bytes, mac }
    }

    /// Parses 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str, origin: &str) -> Result<PseudonymKey, KeyError> {
        let malformed = || KeyError::Malformed { origin: origin.to_owned() };
        let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| malformed())?;
        Ok(PseudonymKey::from_bytes(bytes))
    }

    /// The key from `HOTLINE_KEY` if set, else from the key file.
    pub fn resolve(key_file: &Path) -> Result<PseudonymKey, KeyError> {
        match std::env::var(KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => PseudonymKey::from_hex(&text, KEY_ENV),
            _ => PseudonymKey::load(key_file),
        }
    }

    /// Reads a key file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<PseudonymKey, KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed { path: path.to_owned(), mode });
            }
        }
        let text = fs::read_to_string(path).map_err(io)?;
        PseudonymKey::from_hex(&text, &path.display().to_string())
    }

    /// Writes a new random key to a new file readable by the owner only (mode 0600), durably.
    pub fn create_file(path: &Path) -> Result<PseudonymKey, KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        if path.exists() {
            return Err(KeyError::Exists { path: path.to_owned() });
        }
        let key = PseudonymKey::generate();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(format!("{}\n", hex::encode(key.bytes)).as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::File::open(parent).and_then(|dir| dir.sync_all()).map_err(io)?;
        }
        Ok(key)
    }

    /// The pseudonym of a value in a domain (`phone`, `id` ...): the same value in two domains
    /// gives unrelated pseudonyms, so a phone number cannot be matched against an ID number.
    pub fn pseudonym(&self, domain: &str, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        // Written with the letters a..p for the nibbles 0..15: the same information as hex, but a
        // pseudonym can never contain a run of digits that a scanner (or a person) takes for a phone
        // or ID number.
        digest.iter().flat_map(|b| [b >> 4, b & 0x0f]).take(PSEUDONYM_HEX).map(|n| char::from(b'a' + n)).collect()
    }

    /// A keyed digest (HMAC-SHA256) of several parts in a domain: the audit log's chain uses it,
    /// so that nobody without the key can rewrite a record and its successors consistently.
    /// Each part is preceded by its length, so parts cannot be shifted into one another.
    pub fn mac(&self, domain: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// `phone_key` of a canonical phone (see [`crate::pii::normalize_phone`]).
    pub fn phone_key(&self, canonical_phone: &str) -> String {
        self.pseudonym("phone", canonical_phone)
    }

    /// `id_key` of a canonical 18-character resident ID.
    pub fn id_key(&self, canonical_id: &str) -> String {
        self.pseudonym("id", canonical_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hotline-pseudonym-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_separated_by_domain() {
        let key = PseudonymKey::from_hex(&"ab".repeat(32), "test").unwrap();
        let other = PseudonymKey::from_hex(&"cd".repeat(32), "test").unwrap();
        let a = key.phone_key("13800001234");
        assert_eq!(a, key.phone_key("13800001234"));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| (b'a'..=b'p').contains(&b)), "letters only: {a}");
        assert_ne!(a, other.phone_key("13800001234"));
        assert_ne!(a, key.id_key("13800001234"));
        assert_ne!(a, key.phone_key("13800001235"));
        assert!(!a.contains("13800001234"));
    }

    #[test]
    fn key_files_are_private_and_never_replaced() {
        let dir = scratch("file");
        let path = dir.join("warehouse.key");
        let key = PseudonymKey::create_file(&path).unwrap();
        assert_eq!(PseudonymKey::load(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(PseudonymKey::load(&path), Err(KeyError::Exposed { .. })));
        }
        assert!(matches!(PseudonymKey::create_file(&path), Err(KeyError::Exists { .. })));
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn a_malformed_key_is_refused_naming_its_origin_not_its_value() {
        let error = PseudonymKey::from_hex("not-a-secret-zz", "HOTLINE_KEY").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("HOTLINE_KEY"));
        assert!(!message.contains("not-a-secret"));
        assert!(PseudonymKey::from_hex(&"ab".repeat(31), "x").is_err());
    }
}
