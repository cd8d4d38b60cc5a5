//! Ansible reads inventories as YAML 1.1: an unquoted `yes`, `off` or `on` is a boolean, `0644` is
//! octal, `12:30:45` is base 60, `1_000` is 1000, `2024-01-01 12:01:01` is a time. The YAML layer
//! reads 1.2; the Ansible-format loader reinterprets each plain scalar of a variable from its source
//! text. Quoted scalars stay strings.

use serde_json::{Map, Value as J};

use super::Vars;
use crate::docs::schema::Checker;
use crate::yaml::{Kind, Node};

/// Variables of a host or a group, as Ansible reads them; a merge key (`<<: *anchor`, or a list of
/// them) adds the anchored mapping's entries that the mapping does not give itself.
pub fn vars(c: &mut Checker, node: &Node, what: &str) -> Vars {
    let text = c.src.text.clone();
    let Some(entries) = c.map(node, what, &[]) else {
        return Vars::new();
    };
    let mut out = Vars::new();
    let mut merged = Vec::new();
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if key == "<<" {
            match &v.kind {
                Kind::Map(m) => merged.push(m.clone()),
                Kind::Seq(items) => {
                    merged.extend(items.iter().filter_map(|i| i.as_map().map(<[_]>::to_vec)))
                }
                _ => {}
            }
            continue;
        }
        out.insert(key, value(v, &text));
    }
    for m in merged {
        for (k, v) in &m {
            let key = k.scalar_text().unwrap_or_default();
            if !out.contains_key(&key) {
                out.insert(key, value(v, &text));
            }
        }
    }
    out
}

/// A mapping with its merge keys (`<<: *anchor`, or a list of them) resolved: the anchored entries
/// the mapping does not give itself are added after its own.
pub fn merge_keys(node: &Node) -> Node {
    let Kind::Map(entries) = &node.kind else {
        return node.clone();
    };
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return node.clone();
    }
    let mut own: Vec<(Node, Node)> = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if k.as_str() != Some("<<") {
            own.push((k.clone(), v.clone()));
            continue;
        }
        match &v.kind {
            Kind::Map(m) => merged.extend(m.iter().cloned()),
            Kind::Seq(items) => {
                merged.extend(items.iter().filter_map(|i| i.as_map()).flatten().cloned())
            }
            _ => {}
        }
    }
    // As Ansible's loader builds the mapping: the merged entries first, in their order, then the
    // mapping's own; a key given in both keeps its first place and takes its own value.
    let mut out: Vec<(Node, Node)> = Vec::new();
    for (k, v) in merged.into_iter().chain(own) {
        match out
            .iter_mut()
            .find(|(o, _)| o.scalar_text() == k.scalar_text())
        {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Node {
        kind: Kind::Map(out),
        ..node.clone()
    }
}

fn value(node: &Node, text: &str) -> J {
    match &node.kind {
        Kind::Seq(items) => J::Array(items.iter().map(|i| value(i, text)).collect()),
        Kind::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.scalar_text().unwrap_or_default(), value(v, text)))
                .collect::<Map<_, _>>(),
        ),
        _ => {
            let raw = text
                .get(node.span.start..node.span.end())
                .unwrap_or("")
                .trim();
            // Ansible's tagged values keep their tag, as ansible-inventory prints them.
            for (tag, key) in [
                ("!vault", "__ansible_vault"),
                ("!unsafe", "__ansible_unsafe"),
            ] {
                if raw.starts_with(tag) && raw[tag.len()..].starts_with(char::is_whitespace) {
                    let mut m = Map::new();
                    m.insert(key.into(), node.to_json());
                    return J::Object(m);
                }
            }
            let plain = !raw.starts_with(['"', '\'', '|', '>', '!', '&', '*']);
            match plain.then(|| scalar(raw)).flatten() {
                Some(v) => v,
                None => node.to_json(),
            }
        }
    }
}

/// A plain scalar under YAML 1.1's rules, when they differ from what YAML 1.2 read.
fn scalar(raw: &str) -> Option<J> {
    match raw {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Some(J::Bool(true)),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Some(J::Bool(false)),
        _ => {}
    }
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(r) => (-1i64, r),
        None => (1, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let clean = digits.replace('_', "");
    let int = |s: &str, radix: u32| {
        i64::from_str_radix(s, radix)
            .ok()
            .map(|v| J::from(sign * v))
    };
    if clean.is_empty() {
        return None;
    }
    // `0o17` is octal only in YAML 1.2: a string for YAML 1.1.
    if clean.starts_with("0o") {
        return Some(J::String(raw.to_string()));
    }
    if let Some(b) = clean.strip_prefix("0b") {
        return int(b, 2);
    }
    if let Some(h) = clean.strip_prefix("0x") {
        return int(h, 16);
    }
    if clean.len() > 1
        && clean.starts_with('0')
        && clean.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return int(&clean[1..], 8);
    }
    // Leading zeros that are not octal: neither an integer nor a float for YAML 1.1, a string.
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|b| b.is_ascii_digit()) {
        return Some(J::String(raw.to_string()));
    }
    if digits.contains('_') && clean.bytes().all(|b| b.is_ascii_digit()) {
        return int(&clean, 10);
    }
    // Base 60: 190:20:30 is 685230.
    if clean.contains(':')
        && !clean.starts_with('0')
        && clean
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && clean
            .split(':')
            .skip(1)
            .all(|p| p.len() <= 2 && p.parse::<u8>().is_ok_and(|v| v < 60))
    {
        let v = clean.split(':').try_fold(0i64, |acc, p| {
            acc.checked_mul(60)?.checked_add(p.parse().ok()?)
        })?;
        return Some(J::from(sign * v));
    }
    timestamp(raw).map(J::String)
}

/// A YAML 1.1 timestamp with a time (`2024-01-01 12:01:01`, `2001-12-14t21:59:43.10-05:00`, …) as
/// Python prints the datetime it reads: `T` between date and time, a fraction as six digits (none
/// when it is zero), an offset as `+HH:MM` (`Z` is `+00:00`).
fn timestamp(raw: &str) -> Option<String> {
    let (date, rest) = raw.split_once(['T', 't', ' ', '\t'])?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    if date.len() < 8 || !date[..4].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // HH:MM:SS, then a fraction, then an offset.
    let time_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(rest.len());
    let (hms, mut tail) = rest.split_at(time_end);
    let parts: Vec<&str> = hms.split(':').collect();
    let [h, m, sec] = parts.as_slice() else {
        return None;
    };
    if !(1..=2).contains(&h.len()) || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let t = chrono::NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?)?;
    let mut micros = 0u32;
    if let Some(f) = tail.strip_prefix('.') {
        let n = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
        let digits: String = f[..n]
            .chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect();
        micros = digits.parse().ok()?;
        tail = &f[n..];
    }
    let tail = tail.trim_start_matches([' ', '\t']);
    let offset = match tail {
        "" => String::new(),
        "Z" => "+00:00".to_string(),
        _ => {
            let sign = tail.chars().next().filter(|c| *c == '+' || *c == '-')?;
            let (hh, mm) = match tail[1..].split_once(':') {
                Some((hh, mm)) => (hh, mm),
                None => (&tail[1..], "00"),
            };
            if !(1..=2).contains(&hh.len())
                || mm.len() != 2
                || !hh.bytes().chain(mm.bytes()).all(|b| b.is_ascii_digit())
            {
                return None;
            }
            format!("{sign}{:02}:{mm}", hh.parse::<u8>().ok()?)
        }
    };
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    Some(format!(
        "{}T{}{fraction}{offset}",
        d.format("%Y-%m-%d"),
        t.format("%H:%M:%S")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_read_as_yaml_1_1() {
        assert_eq!(scalar("off"), Some(J::Bool(false)));
        assert_eq!(scalar("Yes"), Some(J::Bool(true)));
        assert_eq!(scalar("0644"), Some(J::from(420)));
        assert_eq!(scalar("-017"), Some(J::from(-15)));
        assert_eq!(scalar("0x1F"), Some(J::from(31)));
        assert_eq!(scalar("0b101"), Some(J::from(5)));
        assert_eq!(scalar("1_000"), Some(J::from(1000)));
        assert_eq!(scalar("12:30:45"), Some(J::from(45045)));
        assert_eq!(
            scalar("2024-01-01 12:01:01"),
            Some(J::String("2024-01-01T12:01:01".into()))
        );
        for (raw, python) in [
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.100000-05:00",
            ),
            (
                "2001-12-14 21:59:43.10 -5",
                "2001-12-14T21:59:43.100000-05:00",
            ),
            ("2001-12-15T02:59:43.1Z", "2001-12-15T02:59:43.100000+00:00"),
            (
                "2002-12-14T21:59:43.1234567+01:00",
                "2002-12-14T21:59:43.123456+01:00",
            ),
            ("2001-12-14T21:59:43.0-05:00", "2001-12-14T21:59:43-05:00"),
            ("2001-12-14 1:59:43", "2001-12-14T01:59:43"),
        ] {
            assert_eq!(scalar(raw), Some(J::String(python.into())), "{raw}");
        }
        assert_eq!(scalar("08"), Some(J::String("08".into())));
        assert_eq!(scalar("0o17"), Some(J::String("0o17".into())));
        for same in [
            "644",
            "0",
            "web01",
            "12:30:75",
            "y",
            "true",
            "1.5",
            "2024-01-01",
        ] {
            assert_eq!(scalar(same), None, "{same}");
        }
    }
}
