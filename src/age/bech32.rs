//! Bech32 (BIP 173, without its 90-character limit, as age uses it).

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk: u32 = 1;
    for &v in values {
        let b = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (b >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn expand(hrp: &str) -> Vec<u8> {
    let mut v: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    v.push(0);
    v.extend(hrp.bytes().map(|b| b & 31));
    v
}

fn regroup(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    // Sized once: a buffer that grew would leave a copy of a secret behind where it was.
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    let max = (1u32 << to) - 1;
    for &d in data {
        acc = (acc << from) | d as u32;
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & max) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & max) as u8);
        }
    } else if bits >= from || (acc << (to - bits)) & max != 0 {
        return None;
    }
    Some(out)
}

pub fn encode(hrp: &str, data: &[u8]) -> String {
    let five = regroup(data, 8, 5, true).expect("padding always regroups");
    let mut values = expand(hrp);
    values.extend(&five);
    values.extend([0u8; 6]);
    let m = polymod(&values) ^ 1;
    let mut s = format!("{hrp}1");
    for &d in &five {
        s.push(CHARSET[d as usize] as char);
    }
    for i in 0..6 {
        s.push(CHARSET[((m >> (5 * (5 - i))) & 31) as usize] as char);
    }
    s
}

/// The human-readable part (lower case) and the data; mixed case and a bad checksum are errors.
pub fn decode(s: &str) -> Result<(String, Vec<u8>), String> {
    if s.chars().any(|c| c.is_ascii_lowercase()) && s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("mixes upper and lower case".into());
    }
    let s = s.to_ascii_lowercase();
    let pos = s.rfind('1').ok_or("has no `1` separator")?;
    let (hrp, rest) = (&s[..pos], &s[pos + 1..]);
    if hrp.is_empty() || rest.len() < 6 || !hrp.bytes().all(|b| (33..=126).contains(&b)) {
        return Err("is not bech32".into());
    }
    let mut values = Vec::with_capacity(rest.len());
    for c in rest.bytes() {
        let v = CHARSET
            .iter()
            .position(|&x| x == c)
            .ok_or("has a character outside bech32")?;
        values.push(v as u8);
    }
    let mut all = Vec::with_capacity(2 * hrp.len() + 1 + values.len());
    all.extend(expand(hrp));
    all.extend(&values);
    if polymod(&all) != 1 {
        return Err("has a bad checksum (a mistyped character?)".into());
    }
    let data = regroup(&values[..values.len() - 6], 5, 8, false);
    let hrp = hrp.to_string();
    // An identity's secret was in these too.
    super::wipe(&mut values);
    super::wipe(&mut all);
    let mut s = s.into_bytes();
    super::wipe(&mut s);
    Ok((hrp, data.ok_or("has bad padding")?))
}
