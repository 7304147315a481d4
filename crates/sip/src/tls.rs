//! SIP over TLS: the server's certificate and key, checked at start and
//! reloaded while running.
//!
//! - [`TlsSettings`]: where the listener is and which PEM files hold the
//!   certificate chain, the private key and (optionally) the CA that agents'
//!   client certificates must chain to (mutual TLS).
//! - [`load_identity`]: reads and checks them — unreadable file, garbage PEM,
//!   no certificate or key, a key that does not belong to the certificate, a
//!   certificate outside its validity period — each a [`TlsError`] naming
//!   the file. `serve` and `check-config` both call it, so a bad certificate
//!   stops the start; there is never a plaintext fallback.
//! - [`CertStore`]: the certificate every new handshake presents; replaced in
//!   place by a reload (SIGHUP or a file change), so live connections and
//!   calls are not touched and the next handshake gets the new one. A reload
//!   that fails keeps the old certificate and says why.
//!
//! The accept loop is the TCP gate's ([`crate::tcp`]): the same per-source and
//! total connection bounds, the handshake and the first request within the
//! header timeout, the same idle timeout.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The default port of SIP over TLS (RFC 3261 §19.1.2).
pub const DEFAULT_TLS_PORT: u16 = 5061;

/// Largest PEM file read (a certificate chain or a key is a few KiB; a CA
/// bundle some hundred KiB).
const MAX_PEM: u64 = 4 * 1024 * 1024;

/// Where SIP over TLS listens and which files hold its identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Listen address (port 5061 by default).
    pub listen: SocketAddr,
    /// PEM file with the server certificate, then its intermediates.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM file with the CA certificates agents' client certificates must
    /// chain to; None = no client certificate asked (agents prove who they
    /// are with their digest password, as over UDP and TCP).
    pub client_ca: Option<PathBuf>,
}

/// A certificate, key or client CA that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {path}: {source}")]
    Read {
        /// certificate, key or client CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file is not PEM of the expected kind, or holds nothing of it.
    #[error("the TLS {what} {path} is not usable: {message}")]
    Pem {
        /// certificate, key or client CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The certificate's validity period is over or has not begun.
    #[error("the TLS certificate {path} is {state} (valid from {not_before} to {not_after}, UTC)")]
    Validity {
        /// The file.
        path: PathBuf,
        /// "expired" or "not valid yet".
        state: &'static str,
        /// Start of validity, `YYYY-MM-DD HH:MM:SS`.
        not_before: String,
        /// End of validity.
        not_after: String,
    },
    /// The key does not belong to the certificate (or rustls refuses the pair).
    #[error("the TLS key {key} does not match the certificate {cert}: {message}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's words.
        message: String,
    },
}

/// A checked certificate chain with its key, and the server config built on it.
#[derive(Debug)]
pub struct Identity {
    /// The chain and the signing key.
    pub certified: Arc<CertifiedKey>,
    /// End of the end-entity certificate's validity, epoch ms.
    pub not_after_ms: i64,
    /// Client certificate verifier roots, when a client CA is configured.
    client_roots: Option<Arc<rustls::RootCertStore>>,
}

/// The ring crypto provider (the project's rustls provider everywhere; no
/// process-wide default is relied upon).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > MAX_PEM {
        return Err(TlsError::Pem {
            what,
            path: path.to_path_buf(),
            message: format!(
                "{} bytes, more than a PEM file of this kind holds",
                meta.len()
            ),
        });
    }
    std::fs::read(path).map_err(read)
}

fn certificates(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |message: String| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no `BEGIN CERTIFICATE` block".into()));
    }
    Ok(certs)
}

/// Reads and checks the certificate, the key and the client CA named by
/// `settings`, at `now_ms` (epoch ms): see [`TlsError`] for what is refused.
pub fn load_identity(settings: &TlsSettings, now_ms: i64) -> Result<Identity, TlsError> {
    let cert_pem = read_pem("certificate", &settings.cert)?;
    let key_pem = read_pem("key", &settings.key)?;
    let certs = certificates("certificate", &settings.cert, &cert_pem)?;
    let validity = certs
        .first()
        .and_then(|c| validity(c.as_ref()))
        .ok_or_else(|| TlsError::Pem {
            what: "certificate",
            path: settings.cert.clone(),
            message: "the first certificate is not an X.509 certificate".into(),
        })?;
    let state = if now_ms < validity.0 {
        Some("not valid yet")
    } else if now_ms > validity.1 {
        Some("expired")
    } else {
        None
    };
    if let Some(state) = state {
        return Err(TlsError::Validity {
            path: settings.cert.clone(),
            state,
            not_before: format_utc(validity.0),
            not_after: format_utc(validity.1),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        what: "key",
        path: settings.key.clone(),
        message: match e {
            rustls_pki_types::pem::Error::NoItemsFound => "no `BEGIN PRIVATE KEY` block".into(),
            e => format!("bad PEM: {e}"),
        },
    })?;
    let provider = provider();
    let certified = CertifiedKey::from_der(certs, key, &provider)
        .and_then(|ck| ck.keys_match().map(|()| ck))
        .map_err(|e| TlsError::Mismatch {
            cert: settings.cert.clone(),
            key: settings.key.clone(),
            message: e.to_string(),
        })?;
    let client_roots = match &settings.client_ca {
        None => None,
        Some(path) => {
            let pem = read_pem("client CA", path)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in certificates("client CA", path, &pem)? {
                roots.add(c).map_err(|e| TlsError::Pem {
                    what: "client CA",
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            Some(Arc::new(roots))
        }
    };
    Ok(Identity {
        certified: Arc::new(certified),
        not_after_ms: validity.1,
        client_roots,
    })
}

/// The certificate new handshakes present; [`CertStore::replace`] swaps it
/// without touching open connections.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    /// A store presenting `identity`.
    pub fn new(identity: &Identity) -> Arc<CertStore> {
        Arc::new(CertStore {
            current: RwLock::new(identity.certified.clone()),
        })
    }

    /// Presents `identity` from the next handshake on.
    pub fn replace(&self, identity: &Identity) {
        if let Ok(mut c) = self.current.write() {
            *c = identity.certified.clone();
        }
    }

    /// The certificate presented now (its end-entity DER).
    pub fn current_der(&self) -> Option<Vec<u8>> {
        let c = self.current.read().ok()?;
        c.cert.first().map(|d| d.as_ref().to_vec())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// The acceptor for the listener: TLS 1.2 and 1.3 with the ring provider,
/// the certificate from `store`, client certificates required when the
/// identity has a client CA.
pub fn acceptor(identity: &Identity, store: Arc<CertStore>) -> Result<TlsAcceptor, TlsError> {
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Mismatch {
            cert: PathBuf::new(),
            key: PathBuf::new(),
            message: e.to_string(),
        })?;
    let builder = match &identity.client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                .build()
                .map_err(|e| TlsError::Pem {
                    what: "client CA",
                    path: PathBuf::new(),
                    message: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_cert_resolver(store);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The modification times of the files, to notice a change.
pub(crate) fn mtimes(settings: &TlsSettings) -> Vec<Option<SystemTime>> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut v = vec![m(&settings.cert), m(&settings.key)];
    if let Some(ca) = &settings.client_ca {
        v.push(m(ca));
    }
    v
}

/// One DER element: tag, content, and the rest after it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The validity period (notBefore, notAfter; epoch ms) of a DER X.509
/// certificate; None when it is not one.
pub fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    const SEQUENCE: u8 = 0x30;
    let (tag, certificate, _) = der(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] version (optional), serial, signature algorithm, issuer, validity
    let (tag, _, r) = der(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    for _ in 0..3 {
        let (_, _, r) = der(rest)?;
        rest = r;
    }
    let (tag, validity, _) = der(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (t1, nb, r) = der(validity)?;
    let (t2, na, _) = der(r)?;
    Some((asn1_time(t1, nb)?, asn1_time(t2, na)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as epoch ms.
fn asn1_time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        (0x18, 14) => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day, hour, min, sec) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + min) * 60_000 + sec * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch ms as `YYYY-MM-DD HH:MM:SS`.
fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil from days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    const NOW: i64 = 1_796_000_000_000; // 2026-11-30

    struct Files {
        dir: PathBuf,
    }

    impl Files {
        fn new(name: &str) -> Files {
            let dir =
                std::env::temp_dir().join(format!("hotline-tls-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Files { dir }
        }
        fn write(&self, name: &str, data: &[u8]) -> PathBuf {
            let p = self.dir.join(name);
            std::fs::write(&p, data).unwrap();
            p
        }
        fn settings(&self, cert: &[u8], key: &[u8]) -> TlsSettings {
            TlsSettings {
                listen: "127.0.0.1:5061".parse().unwrap(),
                cert: self.write("cert.pem", cert),
                key: self.write("key.pem", key),
                client_ca: None,
            }
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }

    fn cert(from: (i32, u8, u8), to: (i32, u8, u8)) -> (String, String) {
        let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
        p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let kp = KeyPair::generate().unwrap();
        let c = p.self_signed(&kp).unwrap();
        (c.pem(), kp.serialize_pem())
    }

    #[test]
    fn a_good_certificate_loads_with_its_validity() {
        let f = Files::new("good");
        let (c, k) = cert((2026, 1, 1), (2036, 1, 1));
        let id = load_identity(&f.settings(c.as_bytes(), k.as_bytes()), NOW).unwrap();
        assert_eq!(format_utc(id.not_after_ms), "2036-01-01 00:00:00");
        let store = CertStore::new(&id);
        assert!(acceptor(&id, store.clone()).is_ok());
        assert!(store.current_der().is_some());
    }

    #[test]
    fn missing_unreadable_and_garbage_files_are_errors_naming_the_file() {
        let f = Files::new("bad");
        let (c, k) = cert((2026, 1, 1), (2036, 1, 1));
        let mut s = f.settings(c.as_bytes(), k.as_bytes());
        s.cert = f.dir.join("nonexistent.pem");
        let e = load_identity(&s, NOW).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::Read {
                    what: "certificate",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("nonexistent.pem"), "{e}");

        let garbage: &[&[u8]] = &[
            b"",
            b"hello world",
            b"-----BEGIN CERTIFICATE-----\n%%%not base64%%%\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
            &[0xff; 4096],
        ];
        for g in garbage {
            let s = f.settings(g, k.as_bytes());
            let e = load_identity(&s, NOW).unwrap_err();
            assert!(
                matches!(
                    e,
                    TlsError::Pem {
                        what: "certificate",
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().contains("cert.pem"), "{e}");
        }
        // a key file that holds a certificate, garbage or nothing
        for g in [c.as_bytes(), b"garbage".as_slice(), b"".as_slice()] {
            let s = f.settings(c.as_bytes(), g);
            let e = load_identity(&s, NOW).unwrap_err();
            assert!(matches!(e, TlsError::Pem { what: "key", .. }), "{e}");
        }
        // a directory instead of a file
        let mut s = f.settings(c.as_bytes(), k.as_bytes());
        s.key = f.dir.clone();
        assert!(load_identity(&s, NOW).is_err());
        // an oversized file is not read whole
        let big = vec![b'A'; (MAX_PEM + 1) as usize];
        let s = f.settings(&big, k.as_bytes());
        let e = load_identity(&s, NOW).unwrap_err();
        assert!(e.to_string().contains("bytes"), "{e}");
    }

    #[test]
    fn expired_and_future_certificates_are_refused() {
        let f = Files::new("dates");
        let (c, k) = cert((2020, 1, 1), (2021, 1, 1));
        let e = load_identity(&f.settings(c.as_bytes(), k.as_bytes()), NOW).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::Validity {
                    state: "expired",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("2021-01-01 00:00:00"), "{e}");
        let (c, k) = cert((2030, 1, 1), (2031, 1, 1));
        let e = load_identity(&f.settings(c.as_bytes(), k.as_bytes()), NOW).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::Validity {
                    state: "not valid yet",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let f = Files::new("mismatch");
        let (c, _) = cert((2026, 1, 1), (2036, 1, 1));
        let (_, k2) = cert((2026, 1, 1), (2036, 1, 1));
        let e = load_identity(&f.settings(c.as_bytes(), k2.as_bytes()), NOW).unwrap_err();
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    }

    #[test]
    fn a_client_ca_must_be_certificates() {
        let f = Files::new("ca");
        let (c, k) = cert((2026, 1, 1), (2036, 1, 1));
        let mut s = f.settings(c.as_bytes(), k.as_bytes());
        s.client_ca = Some(f.write("ca.pem", b"not a CA"));
        let e = load_identity(&s, NOW).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::Pem {
                    what: "client CA",
                    ..
                }
            ),
            "{e}"
        );
        s.client_ca = Some(f.write("ca.pem", c.as_bytes()));
        let id = load_identity(&s, NOW).unwrap();
        assert!(acceptor(&id, CertStore::new(&id)).is_ok());
    }

    #[test]
    fn der_times_and_hostile_der() {
        assert_eq!(asn1_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(asn1_time(0x18, b"19700101000001Z"), Some(1000));
        assert_eq!(
            format_utc(asn1_time(0x17, b"491231235959Z").unwrap()),
            "2049-12-31 23:59:59"
        );
        for bad in [
            &b"7001010000Z"[..],
            b"70010100000aZ",
            b"701301000000Z",
            b"700101000000",
        ] {
            assert_eq!(asn1_time(0x17, bad), None);
        }
        // truncations and random bytes of a real certificate never panic
        let (c, _) = cert((2026, 1, 1), (2036, 1, 1));
        let der = CertificateDer::from_pem_slice(c.as_bytes()).unwrap();
        let der = der.as_ref();
        assert!(validity(der).is_some());
        for n in 0..der.len() {
            validity(&der[..n]);
        }
        let mut x = 0x2545_f491_u32;
        for _ in 0..2000 {
            let mut v = der.to_vec();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % v.len();
                v[i] = (x >> 8) as u8;
            }
            validity(&v);
        }
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
