//! The server's Ed25519 signing key in the data directory.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::EvidenceError;

/// Directory under the data directory that holds the key and the chain head.
pub const KEY_DIR: &str = "evidence";
/// File name of the secret key (64 hex digits, mode 0600).
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the public key (64 hex digits), written next to the secret.
pub const PUBLIC_KEY_FILE: &str = "public.key";
/// File name of the chain head.
pub const CHAIN_HEAD_FILE: &str = "chain.head";

/// `<data_dir>/evidence`.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_DIR)
}

/// Lowercase hex of a public key (what `hotline recordings pubkey` prints).
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// Short fingerprint of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    let h = Sha256::digest(key.as_bytes());
    hex::encode(&h[..8])
}

/// Parses 64 hex digits into a public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, expected 32", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not a valid Ed25519 point: {e}"))
}

/// Reads a small text file (keys are 65 bytes; refuse anything large).
fn read_small(path: &Path) -> Result<String, EvidenceError> {
    let f = File::open(path).map_err(EvidenceError::io(path))?;
    let mut s = String::new();
    f.take(4096)
        .read_to_string(&mut s)
        .map_err(EvidenceError::io(path))?;
    Ok(s)
}

fn read_signing_key(path: &Path) -> Result<SigningKey, EvidenceError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(EvidenceError::io(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(EvidenceError::KeyPermissions {
                path: path.to_path_buf(),
                mode: mode & 0o7777,
            });
        }
    }
    let text = read_small(path)?;
    let bad = |reason: String| EvidenceError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = hex::decode(text.trim()).map_err(|e| bad(format!("not hex: {e}")))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("{} bytes, expected 32", b.len())))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Loads the signing key from `<data_dir>/evidence/signing.key`, creating it
/// (and `public.key`) with mode 0600 if there is none. Returns the key and
/// whether it was created now. A key readable by group or others is refused.
pub fn load_or_create_signing_key(data_dir: &Path) -> Result<(SigningKey, bool), EvidenceError> {
    let dir = key_dir(data_dir);
    fs::create_dir_all(&dir).map_err(EvidenceError::io(&dir))?;
    let path = dir.join(SIGNING_KEY_FILE);
    if path.exists() {
        return Ok((read_signing_key(&path)?, false));
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = match opts.open(&path) {
        Ok(f) => f,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok((read_signing_key(&path)?, false));
        }
        Err(e) => return Err(EvidenceError::io(&path)(e)),
    };
    f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(EvidenceError::io(&path))?;
    let public = dir.join(PUBLIC_KEY_FILE);
    fs::write(
        &public,
        format!("{}\n", public_key_hex(&key.verifying_key())),
    )
    .map_err(EvidenceError::io(&public))?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok((key, true))
}

/// The server's public key: derived from `signing.key`, or read from
/// `public.key` when only that is present (a verification-only machine).
pub fn load_public_key(data_dir: &Path) -> Result<VerifyingKey, EvidenceError> {
    let dir = key_dir(data_dir);
    let secret = dir.join(SIGNING_KEY_FILE);
    let public = dir.join(PUBLIC_KEY_FILE);
    if secret.exists() {
        match read_signing_key(&secret) {
            Ok(k) => return Ok(k.verifying_key()),
            // An auditor's account may not read the secret: the public key
            // next to it is enough to verify.
            Err(EvidenceError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied && public.exists() => {}
            Err(e) => return Err(e),
        }
    }
    if public.exists() {
        let text = read_small(&public)?;
        return parse_public_key(&text).map_err(|reason| EvidenceError::BadKey {
            path: public,
            reason,
        });
    }
    Err(EvidenceError::NoKey(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_0600_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, created) = load_or_create_signing_key(dir.path()).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("evidence/signing.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, created) = load_or_create_signing_key(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(k1.to_bytes(), k2.to_bytes());
        assert_eq!(load_public_key(dir.path()).unwrap(), k1.verifying_key());
        // only the public key left: still loads
        fs::remove_file(dir.path().join("evidence/signing.key")).unwrap();
        assert_eq!(load_public_key(dir.path()).unwrap(), k1.verifying_key());
    }

    #[test]
    fn world_readable_or_garbage_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create_signing_key(dir.path()).unwrap();
        let path = dir.path().join("evidence/signing.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let e = load_or_create_signing_key(dir.path()).unwrap_err();
            assert!(matches!(e, EvidenceError::KeyPermissions { .. }), "{e}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::write(&path, "not a key at all").unwrap();
        let e = load_or_create_signing_key(dir.path()).unwrap_err();
        assert!(matches!(e, EvidenceError::BadKey { .. }), "{e}");
        assert!(parse_public_key("abcd").is_err());
        assert!(parse_public_key(&"zz".repeat(32)).is_err());
    }
}
