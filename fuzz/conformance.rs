//! The third-party SIP conformance material of `../shared/conformance`
//! (beside the project; see its README) as inputs: the RFC 4475 torture
//! messages and the PROTOS c07-sip INVITE cases (GPLv2: read from there at
//! run time, never copied into this Apache-2.0 repository). Included with
//! `#[path]` by the SIP fuzz replay (crates/sip/tests/fuzz_corpus.rs) and
//! the e2e conformance test; scripts/fuzz-smoke.sh fills the PROTOS cases
//! the same way for libFuzzer.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The conformance directory: `HOTLINE_CONFORMANCE_DIR`, else
/// `../shared/conformance` beside `project_root`; None when missing.
pub fn dir(project_root: &Path) -> Option<PathBuf> {
    let dir = std::env::var_os("HOTLINE_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root.join("../shared/conformance"));
    dir.is_dir().then_some(dir)
}

/// The RFC 4475 torture messages (`rfc4475/*.dat`), as
/// (`rfc4475-NAME.dat`, message), sorted by name.
pub fn rfc4475(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("rfc4475"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".dat") {
                return None;
            }
            Some((format!("rfc4475-{name}"), std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// The PROTOS c07-sip cases in order (case 0 first), each its messages as
/// templates (the malformed INVITE, then the teardown); None without the
/// archive or `tar`. The archive is read through `tar -O`: the case files
/// concatenated, each `<len> <message>` twice.
pub fn protos_cases(dir: &Path) -> Option<Vec<Vec<Vec<u8>>>> {
    let out = std::process::Command::new("tar")
        .arg("xzf")
        .arg(dir.join("protos/protos-sip-cases.tar.gz"))
        .arg("-O")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        protos_messages(&out.stdout)
            .chunks(2)
            .map(|c| c.iter().map(|m| m.to_vec()).collect())
            .collect(),
    )
}

/// The PROTOS INVITEs filled in as datagrams from 127.0.0.1:5070, as
/// (`protos-NNNNNNN`, datagram): the fuzz seeds (the teardown is the same
/// CANCEL for every case and left out).
pub fn protos_seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    protos_cases(dir)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(case, msgs)| {
            let invite = msgs.first()?;
            Some((
                format!("protos-{case:07}"),
                protos_fill(invite, case, 0, 5070),
            ))
        })
        .collect()
}

/// Splits length-prefixed PROTOS messages (`<len> <message>`...).
pub fn protos_messages(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(sp) = rest.iter().position(|b| *b == b' ') {
        let Some(n) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
        else {
            break;
        };
        let end = (sp + 1 + n).min(rest.len());
        out.push(&rest[sp + 1..end]);
        rest = &rest[end..];
    }
    out
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Fills message `part` of PROTOS case `case` (the placeholders of the
/// conformance README) as sent from 127.0.0.1:`port` to `protos@127.0.0.1`
/// (not a hotline number: a valid INVITE ends in 404, not a call);
/// `<Content-Length>` is the length of the body after the blank line.
pub fn protos_fill(msg: &[u8], case: usize, part: usize, port: u16) -> Vec<u8> {
    let mut m = msg.to_vec();
    for (k, v) in [
        ("<To>", "protos@127.0.0.1".to_string()),
        ("<From>", "tester@127.0.0.1".into()),
        ("<From-Address>", "127.0.0.1".into()),
        ("<From-IP>", "127.0.0.1".into()),
        ("<Local-Port>", port.to_string()),
        ("<Branch-ID>", format!("{case}x{part}")),
        ("<Call-ID>", format!("protos{case}")),
        ("<CSeq>", "1".into()),
        ("<Teardown-Method>", "CANCEL".into()),
    ] {
        m = replace_all(&m, k.as_bytes(), v.as_bytes());
    }
    let body_len = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| m.len() - p - 4);
    replace_all(&m, b"<Content-Length>", body_len.to_string().as_bytes())
}
