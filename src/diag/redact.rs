//! Secrets in diagnostics: a diagnostic shows the document around a mistake, so every value under a
//! key that looks secret is masked first, whatever the YAML style.

/// Whether a key's name says its value is a secret, however it is spelt around that word, and
/// misspelt too (`db_pasword`, `secert_key`): a typo in a key must not show the value under it.
pub fn looks_secret(key: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "credentials",
        "private",
    ];
    let k = key.to_ascii_lowercase();
    if k.ends_with("key_file") {
        return false;
    }
    ["key", "sas", "connection_string", "pwd", "pass"]
        .iter()
        .chain(WORDS)
        .any(|w| k.contains(w))
        || k.split(['.', '_', '-', ' ']).any(|part| {
            WORDS
                .iter()
                .any(|w| strsim::damerau_levenshtein(part, w) <= 2)
                || strsim::damerau_levenshtein(part, "key") <= 1
        })
}

/// The text a diagnostic shows, with the value of every key that looks secret replaced by `*` (same
/// byte length, so spans still point where they did), whatever the YAML style: `key: value` lines,
/// flow mappings (`{ password: x, … }`), quoted values, values on the lines below (block scalars,
/// nested mappings, continued plain scalars), and `KEY=VALUE` (`--set`).
pub fn redact_secrets(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mask = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            // Continuation bytes of a UTF-8 character become `*` too: same length, still valid.
            if *c != b'\n' && *c != b'\r' {
                *c = b'*';
            }
        }
    };
    let line_start = |i: usize| {
        b[..i]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
    };
    let indent = |from: usize| {
        b[from..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count()
    };
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q && !(q == b'"' && i > 0 && b[i - 1] == b'\\') {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' => quote = Some(c),
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let sep = c == b':'
            && b.get(i + 1)
                .is_none_or(|n| matches!(n, b' ' | b'\t' | b'\n' | b'\r'))
            || c == b'=' && depth == 0 && !b[line_start(i)..i].contains(&b' ');
        if !sep {
            i += 1;
            continue;
        }
        let from = b[..i]
            .iter()
            .rposition(|&c| matches!(c, b' ' | b'\t' | b'\n' | b',' | b'{' | b'['))
            .map_or(0, |p| p + 1);
        let key = String::from_utf8_lossy(&b[from..i]);
        if !looks_secret(key.trim_matches(['"', '\''])) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        // The value on this line: quoted, or plain up to the end of its flow item or line.
        let mut k = j;
        match b.get(j) {
            Some(&q @ (b'\'' | b'"')) => {
                k += 1;
                while k < b.len() {
                    if q == b'\'' && b[k] == q && b.get(k + 1) == Some(&q) {
                        k += 2;
                        continue;
                    }
                    if b[k] == q && !(q == b'"' && b[k - 1] == b'\\') {
                        break;
                    }
                    k += 1;
                }
                k = (k + 1).min(b.len());
            }
            _ if depth > 0 => {
                while k < b.len() && !matches!(b[k], b',' | b'}' | b']' | b'\n') {
                    k += 1;
                }
            }
            _ => {
                while k < b.len() && b[k] != b'\n' {
                    k += 1;
                }
            }
        }
        mask(&mut out, j, k);
        // In block style, the lines below indented deeper than the key belong to its value.
        if depth == 0 {
            let own = from - line_start(i);
            let mut next = b[k..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| k + p);
            while next < b.len() {
                let start = next + 1;
                if start >= b.len() {
                    break;
                }
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| start + p);
                let ind = indent(start);
                let blank = start + ind == end;
                if !blank && ind <= own {
                    break;
                }
                mask(&mut out, start + ind, end);
                next = end;
            }
            k = next;
        }
        i = k.max(i + 1);
    }
    String::from_utf8(out).unwrap_or_else(|_| "*".repeat(text.len()))
}

#[cfg(test)]
mod redact_tests {
    use super::redact_secrets;

    #[test]
    fn secret_looking_values_are_starred_at_the_same_offsets() {
        let text = "storage.s3.secret_kye: hunter2\nstorage.s3.bucket: b\n  password: 'p w'\nkey_file: /k\n";
        let out = redact_secrets(text);
        assert_eq!(
            out,
            "storage.s3.secret_kye: *******\nstorage.s3.bucket: b\n  password: *****\nkey_file: /k\n"
        );
        assert_eq!(out.len(), text.len());
    }

    #[test]
    fn every_yaml_style_and_set_is_starred() {
        let cases = [
            (
                "{ a: 1, db_pasword: hunter2, b: 'x' }\n",
                "{ a: 1, db_pasword: *******, b: 'x' }\n",
            ),
            (
                "{ secret_key: \"p, w\" , b: 2 }",
                "{ secret_key: ****** , b: 2 }",
            ),
            (
                "password: |\n  hunter2\n  more\nnext: 1\n",
                "password: *\n  *******\n  ****\nnext: 1\n",
            ),
            (
                "- password:\n    hunter2\n  user: me\n",
                "- password:\n    *******\n  user: me\n",
            ),
            (
                "token: { value: abc }\nx: 1\n",
                "token: **************\nx: 1\n",
            ),
            (
                "storage.s3.secret_kee=hunter2",
                "storage.s3.secret_kee=*******",
            ),
            ("secret: 'it''s'  # c\n", "secret: *******  # c\n"),
            (
                "url: http://a:b@c, key_file: /k\n",
                "url: http://a:b@c, key_file: /k\n",
            ),
            (
                "name: s\u{e9}cr\u{e9}t\npassword: \u{e9}\u{e9}\n",
                "name: s\u{e9}cr\u{e9}t\npassword: ****\n",
            ),
        ];
        for (text, want) in cases {
            let out = redact_secrets(text);
            assert_eq!(out, want, "{text:?}");
            assert_eq!(out.len(), text.len());
        }
    }
}
