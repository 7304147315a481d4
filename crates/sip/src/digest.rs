//! Server side of HTTP digest authentication for SIP (RFC 3261 §22, RFC 8760).
//!
//! Nonces are stateless: `<issued-ms hex>.<tag>` where the tag is a keyed hash of
//! the issue time, so any node holding the secret can check them and they expire
//! without a table. The challenge never depends on the user name, so unknown
//! users get exactly the same 401 as known ones.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;

/// A digest algorithm we can challenge with and verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617): the only one SIPp 3.6 and baresip 1.0 accept.
    Md5,
    /// SHA-256 (RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The token used in the `algorithm=` parameter.
    pub fn token(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }

    /// The credentials a proxy that challenges on our behalf keeps instead
    /// of the password (Kamailio's `subscriber` table, `calculate_ha1 = 0`):
    /// `HA1 = H(user:realm:password)` and `HA1b = H(user@realm:realm:password)`
    /// (for phones that send `user@domain` as their user name).
    pub fn ha1_pair(self, user: &str, realm: &str, password: &str) -> (String, String) {
        (
            self.hash(&format!("{user}:{realm}:{password}")),
            self.hash(&format!("{user}@{realm}:{realm}:{password}")),
        )
    }

    fn parse(s: &str) -> Option<DigestAlgorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(DigestAlgorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else {
            None
        }
    }
}

/// The parameters of an `Authorization: Digest ...` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestResponse {
    /// `username`
    pub username: String,
    /// `realm`
    pub realm: String,
    /// `nonce`
    pub nonce: String,
    /// `uri`, exactly as the client wrote it (the hash covers the text).
    pub uri: String,
    /// `response`
    pub response: String,
    /// `algorithm` (MD5 when absent, as RFC 2617 says).
    pub algorithm: String,
    /// `qop`, if any.
    pub qop: Option<String>,
    /// `nc`, with qop.
    pub nc: Option<String>,
    /// `cnonce`, with qop.
    pub cnonce: Option<String>,
    /// `opaque`, if any.
    pub opaque: Option<String>,
}

/// Why an Authorization header could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestParseError {
    /// Not the Digest scheme.
    #[error("authorization scheme is not Digest")]
    NotDigest,
    /// A required parameter is missing.
    #[error("digest parameter `{0}` missing")]
    Missing(&'static str),
    /// The header is syntactically broken.
    #[error("malformed digest parameters")]
    Malformed,
    /// Longer than any real header.
    #[error("authorization header too long")]
    TooLong,
}

/// Parses the value of an Authorization header (`Digest k=v, k="v", ...`).
pub fn parse_authorization(value: &str) -> Result<DigestResponse, DigestParseError> {
    if value.len() > 4096 {
        return Err(DigestParseError::TooLong);
    }
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(char::is_whitespace)
        .ok_or(DigestParseError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(DigestParseError::NotDigest);
    }
    let params = parse_params(rest).ok_or(DigestParseError::Malformed)?;
    let get = |k: &'static str| params.get(k).cloned();
    let need = |k: &'static str| get(k).ok_or(DigestParseError::Missing(k));
    Ok(DigestResponse {
        username: need("username")?,
        realm: need("realm")?,
        nonce: need("nonce")?,
        uri: need("uri")?,
        response: need("response")?,
        algorithm: get("algorithm").unwrap_or_else(|| "MD5".to_string()),
        qop: get("qop"),
        nc: get("nc"),
        cnonce: get("cnonce"),
        opaque: get("opaque"),
    })
}

/// Splits `k=v, k="quoted, v"` into a map with lowercase keys.
fn parse_params(s: &str) -> Option<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => val.push(chars.next()?),
                    c => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        if out.len() > 32 {
            return None;
        }
        out.insert(key.to_ascii_lowercase(), val);
    }
}

/// The outcome of checking a digest response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Password proven.
    Ok,
    /// The hash is right but the nonce has expired: challenge again with `stale=true`.
    Stale,
    /// Wrong password, unknown user, forged nonce, wrong realm or disallowed algorithm.
    Denied,
}

/// Issues and checks digest challenges for one realm.
#[derive(Clone)]
pub struct DigestAuthority {
    realm: String,
    secret: [u8; 32],
    nonce_ttl_ms: i64,
}

impl DigestAuthority {
    /// An authority for `realm` whose nonces live `nonce_ttl_ms`.
    pub fn new(realm: impl Into<String>, nonce_ttl_ms: i64) -> Self {
        DigestAuthority {
            realm: realm.into(),
            secret: rand::random(),
            nonce_ttl_ms,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn nonce_tag(&self, issued_ms: i64, source: Option<IpAddr>) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued_ms.to_be_bytes());
        if let Some(ip) = source {
            h.update(b"source");
            h.update(ip.to_canonical().to_string().as_bytes());
        }
        hex::encode(&h.finalize()[..12])
    }

    /// A fresh nonce issued at `now_ms`.
    pub fn nonce(&self, now_ms: i64) -> String {
        self.nonce_for(now_ms, None)
    }

    /// A fresh nonce issued at `now_ms` to `source`: only an answer from
    /// that address will verify (so a guess cannot be sent in another
    /// address' name to get it banned).
    pub fn nonce_for(&self, now_ms: i64, source: Option<IpAddr>) -> String {
        format!("{:x}.{}", now_ms, self.nonce_tag(now_ms, source))
    }

    /// `Some(true)` if the nonce is ours (for `source`) and fresh,
    /// `Some(false)` if ours but expired, `None` if forged.
    fn nonce_fresh(&self, nonce: &str, now_ms: i64, source: Option<IpAddr>) -> Option<bool> {
        let (ts, tag) = nonce.split_once('.')?;
        let issued = i64::from_str_radix(ts, 16).ok()?;
        if tag != self.nonce_tag(issued, source) {
            return None;
        }
        Some(now_ms >= issued && now_ms - issued <= self.nonce_ttl_ms)
    }

    /// Whether `nonce` was issued by this authority (fresh or not): a wrong
    /// answer to one of our nonces is a password guess; an answer to a nonce
    /// we never issued proves nothing either way.
    pub fn nonce_is_ours(&self, nonce: &str) -> bool {
        self.nonce_is_ours_for(nonce, None)
    }

    /// [`DigestAuthority::nonce_is_ours`] for a nonce issued to `source`.
    pub fn nonce_is_ours_for(&self, nonce: &str, source: Option<IpAddr>) -> bool {
        self.nonce_fresh(nonce, 0, source).is_some()
    }

    /// WWW-Authenticate header values for a challenge, strongest first.
    pub fn challenges(
        &self,
        now_ms: i64,
        algorithms: &[DigestAlgorithm],
        stale: bool,
    ) -> Vec<String> {
        self.challenges_for(now_ms, None, algorithms, stale)
    }

    /// [`DigestAuthority::challenges`] with a nonce issued to `source`.
    pub fn challenges_for(
        &self,
        now_ms: i64,
        source: Option<IpAddr>,
        algorithms: &[DigestAlgorithm],
        stale: bool,
    ) -> Vec<String> {
        let nonce = self.nonce_for(now_ms, source);
        algorithms
            .iter()
            .map(|a| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"{}",
                    self.realm,
                    nonce,
                    a.token(),
                    if stale { ", stale=true" } else { "" }
                )
            })
            .collect()
    }

    /// Checks `resp` for `method` against the user's password (None for an
    /// unknown user: the work done is the same, the answer is Denied).
    pub fn verify(
        &self,
        resp: &DigestResponse,
        method: &str,
        password: Option<&str>,
        allowed: &[DigestAlgorithm],
        now_ms: i64,
    ) -> Verdict {
        self.verify_from(resp, method, password, allowed, now_ms, None)
    }

    /// [`DigestAuthority::verify`] for an answer from `source` to a nonce
    /// issued to it ([`DigestAuthority::nonce_for`]); a nonce issued to
    /// another address is Denied, as a forged one.
    pub fn verify_from(
        &self,
        resp: &DigestResponse,
        method: &str,
        password: Option<&str>,
        allowed: &[DigestAlgorithm],
        now_ms: i64,
        source: Option<IpAddr>,
    ) -> Verdict {
        let Some(alg) = DigestAlgorithm::parse(&resp.algorithm) else {
            return Verdict::Denied;
        };
        if !allowed.contains(&alg) || resp.realm != self.realm {
            return Verdict::Denied;
        }
        let Some(fresh) = self.nonce_fresh(&resp.nonce, now_ms, source) else {
            return Verdict::Denied;
        };
        // Compute even for unknown users so timing does not tell them apart.
        let pw = password.unwrap_or("\u{0}unknown-user\u{0}");
        let ha1 = alg.hash(&format!("{}:{}:{}", resp.username, self.realm, pw));
        let ha2 = alg.hash(&format!("{}:{}", method, resp.uri));
        let expected = match (&resp.qop, &resp.nc, &resp.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", resp.nonce))
            }
            (None, _, _) => alg.hash(&format!("{ha1}:{}:{ha2}", resp.nonce)),
            _ => return Verdict::Denied,
        };
        let matches = constant_time_eq(
            expected.as_bytes(),
            resp.response.to_ascii_lowercase().as_bytes(),
        );
        match (password.is_some() && matches, fresh) {
            (true, true) => Verdict::Ok,
            (true, false) => Verdict::Stale,
            _ => Verdict::Denied,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_pair_is_rfc_2617_s_ha1() {
        // RFC 2617 3.5's example: Mufasa / testrealm@host.com / Circle Of Life
        let (ha1, ha1b) =
            DigestAlgorithm::Md5.ha1_pair("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(
            ha1b,
            DigestAlgorithm::Md5
                .hash("Mufasa@testrealm@host.com:testrealm@host.com:Circle Of Life")
        );
        assert_ne!(ha1, ha1b);
    }

    fn answer(
        auth: &DigestAuthority,
        alg: DigestAlgorithm,
        user: &str,
        pw: &str,
        nonce: &str,
    ) -> DigestResponse {
        let ha1 = alg.hash(&format!("{user}:{}:{pw}", auth.realm()));
        let ha2 = alg.hash("REGISTER:sip:127.0.0.1");
        let response = alg.hash(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
        DigestResponse {
            username: user.into(),
            realm: auth.realm().into(),
            nonce: nonce.into(),
            uri: "sip:127.0.0.1".into(),
            response,
            algorithm: alg.token().into(),
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("abc".into()),
            opaque: None,
        }
    }

    #[test]
    fn rfc2617_md5_example_verifies_without_qop() {
        // RFC 2617 §3.5-style computation, no qop.
        let auth = DigestAuthority::new("hotline", 60_000);
        let nonce = auth.nonce(1000);
        let ha1 = DigestAlgorithm::Md5.hash("1001:hotline:secret");
        let ha2 = DigestAlgorithm::Md5.hash("REGISTER:sip:h");
        let r = DigestResponse {
            username: "1001".into(),
            realm: "hotline".into(),
            nonce: nonce.clone(),
            uri: "sip:h".into(),
            response: DigestAlgorithm::Md5.hash(&format!("{ha1}:{nonce}:{ha2}")),
            algorithm: "MD5".into(),
            ..Default::default()
        };
        assert_eq!(
            auth.verify(
                &r,
                "REGISTER",
                Some("secret"),
                &[DigestAlgorithm::Md5],
                2000
            ),
            Verdict::Ok
        );
    }

    #[test]
    fn good_wrong_unknown_stale_forged() {
        let auth = DigestAuthority::new("hotline", 60_000);
        let algs = [DigestAlgorithm::Md5, DigestAlgorithm::Sha256];
        let nonce = auth.nonce(10_000);
        for alg in algs {
            let r = answer(&auth, alg, "1001", "pw", &nonce);
            assert_eq!(
                auth.verify(&r, "REGISTER", Some("pw"), &algs, 20_000),
                Verdict::Ok
            );
            assert_eq!(
                auth.verify(&r, "REGISTER", Some("other"), &algs, 20_000),
                Verdict::Denied
            );
            assert_eq!(
                auth.verify(&r, "REGISTER", None, &algs, 20_000),
                Verdict::Denied
            );
            assert_eq!(
                auth.verify(&r, "REGISTER", Some("pw"), &algs, 80_001),
                Verdict::Stale
            );
            assert_eq!(
                auth.verify(&r, "INVITE", Some("pw"), &algs, 20_000),
                Verdict::Denied
            );
        }
        // SHA-256 answered while only MD5 is allowed
        let r = answer(&auth, DigestAlgorithm::Sha256, "1001", "pw", &nonce);
        assert_eq!(
            auth.verify(&r, "REGISTER", Some("pw"), &[DigestAlgorithm::Md5], 20_000),
            Verdict::Denied
        );
        // forged nonce (another server's secret)
        let other = DigestAuthority::new("hotline", 60_000);
        let r = answer(
            &other,
            DigestAlgorithm::Md5,
            "1001",
            "pw",
            &other.nonce(10_000),
        );
        assert_eq!(
            auth.verify(&r, "REGISTER", Some("pw"), &algs, 20_000),
            Verdict::Denied
        );
    }

    #[test]
    fn a_nonce_issued_to_one_address_verifies_from_that_address_only() {
        let auth = DigestAuthority::new("hotline", 60_000);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let algs = [DigestAlgorithm::Md5];
        let nonce = auth.nonce_for(1_000, Some(a));
        let r = answer(&auth, DigestAlgorithm::Md5, "1001", "pw", &nonce);
        let check = |src| auth.verify_from(&r, "REGISTER", Some("pw"), &algs, 2_000, src);
        assert_eq!(check(Some(a)), Verdict::Ok);
        assert_eq!(check(Some(mapped)), Verdict::Ok, "the same address");
        assert_eq!(check(Some(b)), Verdict::Denied);
        assert_eq!(check(None), Verdict::Denied);
        assert!(auth.nonce_is_ours_for(&nonce, Some(a)));
        assert!(!auth.nonce_is_ours_for(&nonce, Some(b)));
        assert!(!auth.nonce_is_ours(&nonce));
        // a challenge carries the bound nonce
        assert!(auth.challenges_for(1_000, Some(a), &algs, false)[0].contains(&nonce));
    }

    #[test]
    fn only_our_own_nonces_are_ours() {
        let auth = DigestAuthority::new("hotline", 60_000);
        let other = DigestAuthority::new("hotline", 60_000);
        assert!(auth.nonce_is_ours(&auth.nonce(5)));
        assert!(
            auth.nonce_is_ours(&auth.nonce(i64::MAX)),
            "old or new, still ours"
        );
        for bad in [
            other.nonce(5),
            "".into(),
            "5.".into(),
            "zz.abc".into(),
            "x".repeat(5000),
        ] {
            assert!(!auth.nonce_is_ours(&bad), "{bad:.20}");
        }
    }

    #[test]
    fn challenge_does_not_depend_on_user_and_lists_strongest_first() {
        let auth = DigestAuthority::new("hotline", 60_000);
        let c = auth.challenges(5, &[DigestAlgorithm::Sha256, DigestAlgorithm::Md5], false);
        assert_eq!(c.len(), 2);
        assert!(c[0].contains("algorithm=SHA-256"));
        assert!(c[1].contains("algorithm=MD5"));
        assert_eq!(
            auth.challenges(5, &[DigestAlgorithm::Md5], false),
            auth.challenges(5, &[DigestAlgorithm::Md5], false)
        );
    }

    #[test]
    fn parses_sipp_and_baresip_headers_and_rejects_garbage() {
        let h = r#"Digest username="1001",realm="hotline",uri="sip:127.0.0.1:5060",nonce="1a.bb",response="0123",algorithm=MD5,cnonce="x",qop=auth,nc=00000001"#;
        let d = parse_authorization(h).unwrap();
        assert_eq!(d.username, "1001");
        assert_eq!(d.uri, "sip:127.0.0.1:5060");
        assert_eq!(d.qop.as_deref(), Some("auth"));
        let no_alg = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="r""#;
        assert_eq!(parse_authorization(no_alg).unwrap().algorithm, "MD5");
        for bad in [
            "",
            "Basic abc",
            "Digest",
            "Digest username",
            "Digest username=\"unterminated",
            &"Digest a=b,".repeat(1000),
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad:.40}");
        }
        assert_eq!(
            parse_authorization(r#"Digest username="a""#),
            Err(DigestParseError::Missing("realm"))
        );
    }
}
