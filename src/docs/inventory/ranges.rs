//! Host ranges in inventory names, as Ansible reads them: `node[01:10]`, `www[01:50:2]`, `db-[a:d]`,
//! several in one name (`r[1:2]n[1:3]`), expanded left to right. A start with a leading zero sets the
//! width, and the end must then be as wide; letters run through a-z then A-Z; an empty start is 0.

/// Splits `host:port` (one colon, digits after it) into the name and the port.
pub fn split_port(key: &str) -> (&str, Option<u64>) {
    // `[2001:db8::1]:2200`: an IPv6 address in brackets, then its port (Ansible's own reading).
    if let Some((inner, after)) = key.strip_prefix('[').and_then(|r| r.split_once(']'))
        && inner.parse::<std::net::Ipv6Addr>().is_ok()
    {
        match after.strip_prefix(':').map(str::parse::<u64>) {
            None if after.is_empty() => return (inner, None),
            Some(Ok(p)) => return (inner, Some(p)),
            _ => {}
        }
    }
    // Colons inside `[...]` are a range's; any other colon before the last makes an IPv6 address.
    let mut depth = 0;
    let outside = key.chars().filter(|c| {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        *c == ':' && depth == 0
    });
    if outside.count() != 1 {
        return (key, None);
    }
    match key.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            match port.parse() {
                Ok(p) => (name, Some(p)),
                Err(_) => (key, None),
            }
        }
        _ => (key, None),
    }
}

/// The most hosts one pattern may stand for.
const MAX_RANGE: u64 = 10_000;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Every name a pattern stands for, in order; a bad range is an error saying why.
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let close = name[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("`{name}`: a `[` with no `]`"))?;
    let (head, range, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let bounds: Vec<&str> = range.split(':').collect();
    if !(2..=3).contains(&bounds.len()) {
        return Err(format!(
            "`{name}`: a host range is [begin:end] or [begin:end:step]"
        ));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("`{name}`: the host range has no end"));
    }
    let step: usize = match bounds.get(2) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("`{name}`: the step `{s}` is not a positive number"))?,
        None => 1,
    };
    let width = (beg.len() > 1 && beg.starts_with('0')).then_some(beg.len());
    if width.is_some_and(|w| w != end.len()) {
        return Err(format!(
            "`{name}`: a zero-padded range needs a begin and an end of the same width"
        ));
    }
    let items: Vec<String> = match (LETTERS.find(beg), LETTERS.find(end)) {
        (Some(b), Some(e)) if beg.len() == 1 && end.len() == 1 => {
            if b > e {
                return Err(format!("`{name}`: the range begins after its end"));
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let (b, e): (u64, u64) = match (beg.parse(), end.parse()) {
                (Ok(b), Ok(e)) => (b, e),
                _ => {
                    return Err(format!(
                        "`{name}`: `{beg}:{end}` is neither a number range nor a letter range"
                    ));
                }
            };
            // A typo such as `[:100001]` would otherwise stall the load on a hundred thousand hosts.
            if e.saturating_sub(b) / step as u64 >= MAX_RANGE {
                return Err(format!(
                    "`{name}`: the range has more than {MAX_RANGE} hosts; split it if that is meant"
                ));
            }
            (b..=e)
                .step_by(step)
                .map(|i| match width {
                    Some(w) => format!("{i:0w$}"),
                    None => i.to_string(),
                })
                .collect()
        }
    };
    // Every item stands for as many names as the first (the rest of the pattern is the same), so
    // ranges that multiply past the limit are refused before the names are made.
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let names = expand(&format!("{head}{item}{tail}"))?;
        if i == 0 && (names.len() as u64).saturating_mul(items.len() as u64) > MAX_RANGE {
            return Err(format!(
                "`{name}`: the ranges stand for more than {MAX_RANGE} hosts; split them if that is meant"
            ));
        }
        out.extend(names);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_ansible_documents() {
        assert_eq!(expand("node[1:3]").unwrap(), ["node1", "node2", "node3"]);
        assert_eq!(expand("n[08:10].x").unwrap(), ["n08.x", "n09.x", "n10.x"]);
        assert_eq!(expand("www[01:07:3]").unwrap(), ["www01", "www04", "www07"]);
        assert_eq!(
            expand("db-[a:d]").unwrap(),
            ["db-a", "db-b", "db-c", "db-d"]
        );
        assert_eq!(expand("x[y:B]").unwrap(), ["xy", "xz", "xA", "xB"]);
        assert_eq!(expand("h[:2]").unwrap(), ["h0", "h1", "h2"]);
        assert_eq!(
            expand("r[1:2]n[a:b]").unwrap(),
            ["r1na", "r1nb", "r2na", "r2nb"]
        );
        assert_eq!(expand("plain.example.com").unwrap(), ["plain.example.com"]);
        assert_eq!(split_port("jumper:2222"), ("jumper", Some(2222)));
        assert_eq!(split_port("node[1:3]:22"), ("node[1:3]", Some(22)));
        assert_eq!(split_port("node[1:3]"), ("node[1:3]", None));
        assert_eq!(split_port("fe80::1"), ("fe80::1", None));
    }

    #[test]
    fn bad_ranges_say_why() {
        for (bad, why) in [
            ("n[1]", "[begin:end]"),
            ("n[1:]", "no end"),
            ("n[01:100]", "same width"),
            ("n[d:a]", "begins after"),
            ("n[1:x]", "neither"),
            ("n[1:5:0]", "step"),
            ("n[1:3", "no `]`"),
            ("n[1:10001]", "more than 10000"),
            ("n[1:101]x[1:100]", "more than 10000"),
            ("c-[x:C].e[0:09181]", "more than 10000"),
        ] {
            let e = expand(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(expand("n[1:100]x[1:100]").unwrap().len(), 10_000);
    }

    proptest! {
        #[test]
        fn numbers_expand_in_order_with_their_width(
            b in 0u64..500, len in 0u64..300, step in 1usize..7, pad in any::<bool>()
        ) {
            let e = b + len;
            let w = e.to_string().len() + 1;
            let (bs, es) = if pad { (format!("{b:0w$}"), format!("{e:0w$}")) } else { (b.to_string(), e.to_string()) };
            let got = expand(&format!("h[{bs}:{es}:{step}].x")).unwrap();
            prop_assert_eq!(got.len() as u64, len / step as u64 + 1);
            let nums: Vec<u64> = got.iter().map(|n| n[1..n.len() - 2].parse().unwrap()).collect();
            prop_assert!(nums.windows(2).all(|p| p[1] == p[0] + step as u64));
            prop_assert_eq!(nums[0], b);
            if pad {
                prop_assert!(got.iter().all(|n| n.len() == w + 3));
            }
        }

        #[test]
        fn letters_expand_in_order(b in 0usize..52, len in 0usize..52, step in 1usize..5) {
            let e = (b + len).min(51);
            let (bc, ec) = (&LETTERS[b..=b], &LETTERS[e..=e]);
            let got = expand(&format!("db-[{bc}:{ec}:{step}]")).unwrap();
            prop_assert_eq!(got.len(), (e - b) / step + 1);
            prop_assert_eq!(&got[0], &format!("db-{bc}"));
        }

        #[test]
        fn two_ranges_multiply(a in 1u64..20, b in 1u64..20) {
            let got = expand(&format!("r[1:{a}]n[1:{b}]")).unwrap();
            prop_assert_eq!(got.len() as u64, a * b);
        }
    }
}
