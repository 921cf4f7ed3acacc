//! WanPipeline's prompt cleaning (`prompt_clean` in diffusers' `pipelines/wan/pipeline_wan.py`).
//!
//! ```python
//! def basic_clean(text):
//!     if is_ftfy_available():
//!         text = ftfy.fix_text(text)
//!     text = html.unescape(html.unescape(text))
//!     return text.strip()
//!
//! def whitespace_clean(text):
//!     text = re.sub(r"\s+", " ", text)
//!     return text.strip()
//! ```
//!
//! **ftfy is not applied.** diffusers calls `ftfy.fix_text` only when the package is importable.
//! The reference environment the fixtures were made with has ftfy 6.3.1, so the reference does
//! run it; on the fixture prompts (plain ASCII) it changes nothing. It would change prompts that
//! hold curly quotes (`“hi”` → `"hi"`), Latin ligatures (`ﬁ` → `fi`), fullwidth forms, C0/C1
//! control characters, ANSI escapes, HTML entities nested more than twice, text
//! not in NFC, or mojibake (`sÃ³` → `só`). Several of these (fullwidth forms, ligatures, NFC)
//! are also folded by umT5's own `Precompiled` (NFKC) normalizer, so they reach the same tokens
//! anyway; curly quotes, control characters and mojibake do not. Porting ftfy (its mojibake
//! detector especially) is left open.
//!
//! `html.unescape` is ported exactly, with CPython's own tables (HTML5 named references, the
//! longest-prefix rule for names without `;`, and the replacements for invalid numeric
//! references). Whitespace follows Python's `str.isspace`, which `\s` and `str.strip` use.

use crate::html_entities::{INVALID_CHARREFS, INVALID_CODEPOINTS, NAMED};

/// Cleans a prompt the way WanPipeline does before tokenizing: HTML entities unescaped twice,
/// every whitespace run collapsed to one space, leading and trailing whitespace removed.
///
/// ```
/// assert_eq!(tenku_text::prompt_clean("  a&amp;amp;b \n\t c&nbsp;d "), "a&b c d");
/// ```
pub fn prompt_clean(text: &str) -> String {
    let unescaped = html_unescape(&html_unescape(text));
    let mut out = String::with_capacity(unescaped.len());
    let mut pending_space = false;
    for c in unescaped.chars() {
        if is_python_space(c) {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// Python's `str.isspace` (what `\s` matches in a `str` pattern): Unicode `White_Space` plus the
/// information separators U+001C–U+001F, which Python counts as whitespace and Unicode does not.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// CPython's `html.unescape`: replaces named and numeric character references.
///
/// Mirrors the pattern `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` and its
/// replacement function, including the longest-prefix match for names without a `;`.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match char_reference(after, &mut out) {
            Some(consumed) => rest = &after[consumed..],
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Matches one reference at the start of `s` (just after a `&`), appends its replacement to
/// `out` and returns the bytes consumed; `None` when the pattern does not match here.
fn char_reference(s: &str, out: &mut String) -> Option<usize> {
    let semicolon = |end: usize| if s[end..].starts_with(';') { end + 1 } else { end };
    if let Some(body) = s.strip_prefix('#') {
        let (digits, radix, start) = match body.as_bytes().first() {
            Some(b'x' | b'X') => (count_while(&body[1..], |b| b.is_ascii_hexdigit()), 16, 2),
            _ => (count_while(body, |b| b.is_ascii_digit()), 10, 1),
        };
        if digits == 0 {
            return None;
        }
        let end = semicolon(start + digits);
        out.push_str(&numeric_reference(&s[start..start + digits], radix));
        return Some(end);
    }
    let name_end = s
        .char_indices()
        .take_while(|&(_, c)| !matches!(c, '\t' | '\n' | '\u{c}' | ' ' | '<' | '&' | '#' | ';'))
        .take(32)
        .last()
        .map(|(i, c)| i + c.len_utf8())?;
    let end = semicolon(name_end);
    let name = &s[..end];
    if let Some(value) = named(name) {
        out.push_str(value);
        return Some(end);
    }
    // The longest prefix (of at least two characters, shorter than the whole) that is a known
    // name, followed by the rest verbatim.
    let boundaries: Vec<usize> = name.char_indices().map(|(i, _)| i).skip(2).collect();
    for &cut in boundaries.iter().rev() {
        if let Some(value) = named(&name[..cut]) {
            out.push_str(value);
            out.push_str(&name[cut..]);
            return Some(end);
        }
    }
    out.push('&');
    out.push_str(name);
    Some(end)
}

fn count_while(s: &str, keep: impl Fn(u8) -> bool) -> usize {
    s.bytes().take_while(|&b| keep(b)).count()
}

fn named(name: &str) -> Option<&'static str> {
    NAMED.binary_search_by(|(key, _)| (*key).cmp(name)).ok().map(|i| NAMED[i].1)
}

/// The replacement of a numeric reference with the given digits.
fn numeric_reference(digits: &str, radix: u32) -> String {
    // Saturate: Python's int is unbounded, and anything past U+10FFFF maps to U+FFFD anyway.
    let num = digits
        .chars()
        .try_fold(0u64, |acc, c| {
            acc.checked_mul(u64::from(radix))?.checked_add(u64::from(c.to_digit(radix)?))
        })
        .unwrap_or(u64::MAX);
    if let Ok(small) = u32::try_from(num)
        && let Ok(i) = INVALID_CHARREFS.binary_search_by_key(&small, |&(n, _)| n)
    {
        return INVALID_CHARREFS[i].1.to_string();
    }
    if (0xD800..=0xDFFF).contains(&num) || num > 0x10FFFF {
        return '\u{FFFD}'.to_string();
    }
    let num = num as u32;
    if INVALID_CODEPOINTS.binary_search(&num).is_ok() {
        return String::new();
    }
    char::from_u32(num).map(String::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by CPython 3.11 (`html.unescape(x)`), the reference interpreter.
    #[test]
    fn html_unescape_matches_python() {
        let cases = [
            ("no entities", "no entities"),
            ("a &amp; b", "a & b"),
            ("&lt;tag&gt;", "<tag>"),
            ("&amp", "&"),
            ("&ampx", "&x"),
            ("&notit;", "¬it;"),
            ("&notin;", "∉"),
            ("&foo;", "&foo;"),
            ("&foo&amp;", "&foo&"),
            ("&#65;&#x42;&#X43", "ABC"),
            ("&#0;", "\u{fffd}"),
            ("&#128;", "€"),
            ("&#x110000;", "\u{fffd}"),
            ("&#xD800;", "\u{fffd}"),
            ("&#1;", ""),
            ("&#99999999999999999999999;", "\u{fffd}"),
            ("&#;", "&#;"),
            ("&#x;", "&#x;"),
            ("& amp;", "& amp;"),
            ("&;", "&;"),
            ("&nbsp;x", "\u{a0}x"),
            ("&NotNestedGreaterGreater;", "⪢\u{338}"),
            ("&aacute&eacute", "áé"),
            ("&amp;amp;", "&amp;"),
        ];
        for (input, want) in cases {
            assert_eq!(html_unescape(input), want, "input {input:?}");
        }
    }

    #[test]
    fn names_longer_than_32_characters_are_cut() {
        let long = format!("&{};", "a".repeat(40));
        assert_eq!(html_unescape(&long), long);
    }

    #[test]
    fn prompt_clean_unescapes_twice_and_collapses_whitespace() {
        assert_eq!(prompt_clean("a&amp;lt;b"), "a<b");
        assert_eq!(prompt_clean("\u{3000} one\u{a0}\u{a0}two\u{1f}three \r\n"), "one two three");
        assert_eq!(prompt_clean(""), "");
        assert_eq!(prompt_clean(" \t\n "), "");
        assert_eq!(prompt_clean("a&nbsp;&nbsp;b"), "a b");
        // Zero-width space is not whitespace in Python.
        assert_eq!(prompt_clean("a\u{200b}b"), "a\u{200b}b");
    }

    /// Every code point Python's `str.isspace` accepts
    /// (`[c for c in range(0x110000) if chr(c).isspace()]`, CPython 3.11).
    #[test]
    fn whitespace_is_pythons() {
        let python: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
            0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f,
            0x205f, 0x3000,
        ];
        let ours: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_python_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
    }
}
