//! Reading a response body under a size cap, and choosing the headers to return.
//!
//! Invariant: at most `cap + 1` bytes are ever held (the extra byte only proves truncation),
//! and the text returned never ends in half a UTF-8 character.

use std::collections::BTreeMap;

/// Collects chunks from `next` until it returns `None` or more than `cap` bytes are held.
/// Returns the first `cap` bytes and whether there were more.
pub fn read_capped(cap: usize, mut next: impl FnMut(usize) -> Option<Vec<u8>>) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    while bytes.len() <= cap {
        let want = cap + 1 - bytes.len();
        match next(want) {
            Some(chunk) => bytes.extend_from_slice(&chunk[..chunk.len().min(want)]),
            None => break,
        }
    }
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    (bytes, truncated)
}

/// `bytes` as text; when `truncated`, a character cut in two at the end is dropped, and any
/// other invalid UTF-8 becomes U+FFFD.
pub fn to_text(mut bytes: Vec<u8>, truncated: bool) -> String {
    if truncated
        && let Err(e) = std::str::from_utf8(&bytes)
        && e.error_len().is_none()
    {
        bytes.truncate(e.valid_up_to());
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The entries of `all` whose names are in `wanted` (case-insensitive), lower-cased, repeated
/// headers joined with ", ".
pub fn select_headers(all: &[(String, Vec<u8>)], wanted: &[String]) -> BTreeMap<String, String> {
    let wanted: Vec<String> = wanted.iter().map(|w| w.to_ascii_lowercase()).collect();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in all {
        let name = name.to_ascii_lowercase();
        if !wanted.contains(&name) {
            continue;
        }
        let value = String::from_utf8_lossy(value);
        out.entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&str]) -> impl FnMut(usize) -> Option<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = parts.iter().rev().map(|p| p.as_bytes().to_vec()).collect();
        move |_| parts.pop()
    }

    #[test]
    fn a_short_body_is_whole() {
        assert_eq!(
            read_capped(10, chunks(&["ab", "cd"])),
            (b"abcd".to_vec(), false)
        );
    }

    #[test]
    fn a_body_exactly_at_the_cap_is_not_truncated() {
        assert_eq!(
            read_capped(4, chunks(&["ab", "cd"])),
            (b"abcd".to_vec(), false)
        );
    }

    #[test]
    fn a_longer_body_is_cut_and_flagged_without_reading_it_all() {
        let mut calls = 0;
        let (bytes, truncated) = read_capped(3, |_| {
            calls += 1;
            Some(b"xy".to_vec())
        });
        assert_eq!((bytes, truncated), (b"xyx".to_vec(), true));
        assert_eq!(calls, 2);
    }

    #[test]
    fn text_drops_a_cut_character_and_replaces_bad_bytes() {
        assert_eq!(to_text("aé".as_bytes()[..2].to_vec(), true), "a");
        assert_eq!(to_text(vec![b'a', 0xff, b'b'], false), "a\u{fffd}b");
    }

    #[test]
    fn headers_are_selected_case_insensitively_and_joined() {
        let all = vec![
            ("Content-Type".to_string(), b"text/html".to_vec()),
            ("Set-Cookie".to_string(), b"a=1".to_vec()),
            ("Vary".to_string(), b"accept".to_vec()),
            ("vary".to_string(), b"origin".to_vec()),
        ];
        let got = select_headers(&all, &["content-type".into(), "VARY".into()]);
        assert_eq!(got.len(), 2);
        assert_eq!(got["content-type"], "text/html");
        assert_eq!(got["vary"], "accept, origin");
    }
}
