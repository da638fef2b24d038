//! The compressed chunk: every observation of one (point, series, code) in one time window,
//! column by column.
//!
//! Layout of an encoded chunk (all integers are LEB128 varints, signed ones zigzag-encoded):
//!
//! ```text
//! version(=1) rows
//! time column:      first time, then delta-of-delta per row        (steady reports: 1 byte/row)
//! packet column:    first packet id, then delta per row           (raw-log provenance of each row)
//! field names:      count, then each name (length, UTF-8 bytes)
//! per field:        presence (0 = every row has it, 1 = bitmap follows)
//!                   kind 0 (decimal): scale runs (scale, run length),
//!                                     mantissa: first, then delta per value,
//!                                     exceptions: count, then (index, text) for values that
//!                                     are not canonical decimals (kept as sent, exactly)
//!                   kind 1 (text):    dictionary (count, strings), then index runs (index, run)
//! ```
//!
//! Values are stored exactly: a text goes to the decimal stream only when printing its
//! (mantissa, scale) gives back the same text byte for byte (`"12.50"` does, `"012.5"`, `"-0"`
//! and `"1e3"` do not and are kept as exceptions). Flags (`N`, `D`, ...) are text columns and
//! cost a few bytes per chunk. Realistic minute data cost 1–2 bytes per value (measured by
//! `huanghe bench ingest`, figures in the README).

use std::collections::BTreeMap;

/// One row of a chunk: the DataTime (Unix seconds), the raw-log packet that carried it, and
/// its fields by JSON name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// DataTime, Unix seconds.
    pub ts: i64,
    /// Raw-log packet id.
    pub packet_id: i64,
    /// Fields as sent.
    pub fields: BTreeMap<String, String>,
}

/// A chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt chunk: {0}")]
pub struct ChunkError(pub &'static str);

const VERSION: u8 = 1;

pub(crate) fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn u(&mut self) -> Result<u64, ChunkError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at).ok_or(ChunkError("truncated varint"))?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(ChunkError("varint too long"))
    }

    pub(crate) fn i(&mut self) -> Result<i64, ChunkError> {
        let z = self.u()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    pub(crate) fn len(&mut self, limit: usize) -> Result<usize, ChunkError> {
        let n = self.u()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= limit)
            .ok_or(ChunkError("length out of range"))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(ChunkError("length overflow"))?;
        let s = self.b.get(self.at..end).ok_or(ChunkError("truncated"))?;
        self.at = end;
        Ok(s)
    }

    fn str(&mut self) -> Result<String, ChunkError> {
        let n = self.len(self.b.len())?;
        String::from_utf8(self.bytes(n)?.to_vec()).map_err(|_| ChunkError("text not UTF-8"))
    }
}

/// `text` as (mantissa, scale) when printing them gives back exactly `text`.
fn canonical_decimal(text: &str) -> Option<(i64, u8)> {
    let b = text.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) => (&digits[..p], &digits[p + 1..]),
        None => (digits, &[][..]),
    };
    let frac_written = digits.contains(&b'.');
    if int.is_empty()
        || (frac_written && frac.is_empty())
        || int.len() + frac.len() > 18
        || frac.len() > 30
        || (int.len() > 1 && int[0] == b'0')
        || !int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        return None;
    }
    let mut m: i64 = 0;
    for &c in int.iter().chain(frac) {
        m = m * 10 + i64::from(c - b'0');
    }
    if neg {
        if m == 0 {
            return None; // "-0" / "-0.0": the sign would be lost
        }
        m = -m;
    }
    Some((m, frac.len() as u8))
}

fn print_decimal(m: i64, scale: u8) -> String {
    let digits = m.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let mut out = String::with_capacity(digits.len() + 3);
    if m < 0 {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// Encodes rows (sorted by time, times unique) into a chunk.
pub fn encode(rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 8 + 32);
    out.push(VERSION);
    put_u(&mut out, rows.len() as u64);
    let (mut prev_ts, mut prev_delta) = (0i64, 0i64);
    for (i, r) in rows.iter().enumerate() {
        if i == 0 {
            put_i(&mut out, r.ts);
        } else {
            let delta = r.ts.wrapping_sub(prev_ts);
            put_i(&mut out, delta.wrapping_sub(prev_delta));
            prev_delta = delta;
        }
        prev_ts = r.ts;
    }
    let mut prev_packet = 0i64;
    for r in rows {
        put_i(&mut out, r.packet_id.wrapping_sub(prev_packet));
        prev_packet = r.packet_id;
    }
    let mut names: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.fields.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    put_u(&mut out, names.len() as u64);
    for name in &names {
        put_str(&mut out, name);
    }
    for name in &names {
        let values: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.fields.get(*name).map(String::as_str))
            .collect();
        if values.iter().all(Option::is_some) {
            out.push(0);
        } else {
            out.push(1);
            let mut bitmap = vec![0u8; rows.len().div_ceil(8)];
            for (i, v) in values.iter().enumerate() {
                if v.is_some() {
                    bitmap[i / 8] |= 1 << (i % 8);
                }
            }
            out.extend_from_slice(&bitmap);
        }
        let present: Vec<&str> = values.into_iter().flatten().collect();
        let decimals: Vec<Option<(i64, u8)>> =
            present.iter().map(|t| canonical_decimal(t)).collect();
        let numeric = decimals.iter().filter(|d| d.is_some()).count();
        if numeric * 2 >= present.len() && numeric > 0 {
            encode_decimal_column(&mut out, &present, &decimals);
        } else {
            encode_text_column(&mut out, &present);
        }
    }
    out
}

fn encode_decimal_column(out: &mut Vec<u8>, present: &[&str], decimals: &[Option<(i64, u8)>]) {
    out.push(0);
    let nums: Vec<(i64, u8)> = decimals.iter().flatten().copied().collect();
    let mut runs: Vec<(u8, u64)> = Vec::new();
    for &(_, scale) in &nums {
        match runs.last_mut() {
            Some((s, n)) if *s == scale => *n += 1,
            _ => runs.push((scale, 1)),
        }
    }
    put_u(out, runs.len() as u64);
    for (scale, n) in runs {
        put_u(out, u64::from(scale));
        put_u(out, n);
    }
    let mut prev = 0i64;
    for &(m, _) in &nums {
        put_i(out, m.wrapping_sub(prev));
        prev = m;
    }
    let exceptions: Vec<(usize, &str)> = decimals
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| (i, present[i]))
        .collect();
    put_u(out, exceptions.len() as u64);
    for (i, text) in exceptions {
        put_u(out, i as u64);
        put_str(out, text);
    }
}

fn encode_text_column(out: &mut Vec<u8>, present: &[&str]) {
    out.push(1);
    let mut dict: Vec<&str> = Vec::new();
    let mut runs: Vec<(usize, u64)> = Vec::new();
    for &t in present {
        let idx = match dict.iter().position(|d| *d == t) {
            Some(i) => i,
            None => {
                dict.push(t);
                dict.len() - 1
            }
        };
        match runs.last_mut() {
            Some((i, n)) if *i == idx => *n += 1,
            _ => runs.push((idx, 1)),
        }
    }
    put_u(out, dict.len() as u64);
    for d in &dict {
        put_str(out, d);
    }
    put_u(out, runs.len() as u64);
    for (i, n) in runs {
        put_u(out, i as u64);
        put_u(out, n);
    }
}

/// Decodes only the times of a chunk (for counting).
pub fn decode_times(blob: &[u8]) -> Result<Vec<i64>, ChunkError> {
    let mut r = Reader { b: blob, at: 0 };
    read_header(&mut r)
}

fn read_header(r: &mut Reader<'_>) -> Result<Vec<i64>, ChunkError> {
    if r.bytes(1)? != [VERSION] {
        return Err(ChunkError("unknown version"));
    }
    // Every row costs at least two bytes (time and packet), which bounds a lying count.
    let n = r.len(r.b.len() / 2)?;
    let mut times = Vec::with_capacity(n);
    let (mut prev_ts, mut prev_delta) = (0i64, 0i64);
    for i in 0..n {
        let v = r.i()?;
        let ts = if i == 0 {
            v
        } else {
            let delta = prev_delta.wrapping_add(v);
            prev_delta = delta;
            prev_ts.wrapping_add(delta)
        };
        times.push(ts);
        prev_ts = ts;
    }
    Ok(times)
}

/// Decodes a chunk into its rows.
pub fn decode(blob: &[u8]) -> Result<Vec<Row>, ChunkError> {
    let mut r = Reader { b: blob, at: 0 };
    let times = read_header(&mut r)?;
    let n = times.len();
    let mut prev_packet = 0i64;
    let mut rows = Vec::with_capacity(n);
    for ts in times {
        prev_packet = prev_packet.wrapping_add(r.i()?);
        rows.push(Row {
            ts,
            packet_id: prev_packet,
            fields: BTreeMap::new(),
        });
    }
    let names = r.len(blob.len())?;
    let names: Vec<String> = (0..names).map(|_| r.str()).collect::<Result<_, _>>()?;
    for name in names {
        let rows_with: Vec<usize> = match r.bytes(1)?[0] {
            0 => (0..n).collect(),
            1 => {
                let bitmap = r.bytes(n.div_ceil(8))?;
                (0..n)
                    .filter(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
                    .collect()
            }
            _ => return Err(ChunkError("bad presence marker")),
        };
        let texts = match r.bytes(1)?[0] {
            0 => decode_decimal_column(&mut r, rows_with.len())?,
            1 => decode_text_column(&mut r, rows_with.len())?,
            _ => return Err(ChunkError("bad column kind")),
        };
        for (row, text) in rows_with.into_iter().zip(texts) {
            rows[row].fields.insert(name.clone(), text);
        }
    }
    if r.at != blob.len() {
        return Err(ChunkError("trailing bytes"));
    }
    Ok(rows)
}

fn decode_decimal_column(r: &mut Reader<'_>, count: usize) -> Result<Vec<String>, ChunkError> {
    let runs = r.len(count)?;
    let mut scales = Vec::with_capacity(count);
    for _ in 0..runs {
        let scale = u8::try_from(r.u()?).map_err(|_| ChunkError("scale out of range"))?;
        let n = r.len(count - scales.len())?;
        scales.extend(std::iter::repeat_n(scale, n));
    }
    let mut nums = Vec::with_capacity(scales.len());
    let mut prev = 0i64;
    for &scale in &scales {
        prev = prev.wrapping_add(r.i()?);
        nums.push(print_decimal(prev, scale));
    }
    let exceptions = r.len(count)?;
    if nums.len() + exceptions != count {
        return Err(ChunkError("column count mismatch"));
    }
    let mut out: Vec<Option<String>> = vec![None; count];
    for _ in 0..exceptions {
        let i = r.len(count.saturating_sub(1))?;
        let text = r.str()?;
        let slot = out.get_mut(i).ok_or(ChunkError("exception index"))?;
        if slot.is_some() {
            return Err(ChunkError("exception index repeated"));
        }
        *slot = Some(text);
    }
    let mut nums = nums.into_iter();
    out.into_iter()
        .map(|v| match v {
            Some(t) => Ok(t),
            None => nums.next().ok_or(ChunkError("column count mismatch")),
        })
        .collect()
}

fn decode_text_column(r: &mut Reader<'_>, count: usize) -> Result<Vec<String>, ChunkError> {
    let dict = r.len(count)?;
    let dict: Vec<String> = (0..dict).map(|_| r.str()).collect::<Result<_, _>>()?;
    let runs = r.len(count)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..runs {
        let idx = r.len(dict.len().saturating_sub(1))?;
        let n = r.len(count - out.len())?;
        let text = dict.get(idx).ok_or(ChunkError("dictionary index"))?;
        out.extend(std::iter::repeat_n(text.clone(), n));
    }
    if out.len() != count {
        return Err(ChunkError("column count mismatch"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(ts: i64, packet_id: i64, fields: &[(&str, &str)]) -> Row {
        Row {
            ts,
            packet_id,
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn decimals_are_kept_exactly() {
        for t in ["0", "12.50", "-3.25", "0.001", "999999999999999999", "7"] {
            let (m, s) = canonical_decimal(t).expect(t);
            assert_eq!(print_decimal(m, s), t);
        }
        for t in [
            "012.5", "-0", "-0.0", "1e3", ".5", "5.", "+1", "", "-", "NaN", "1.2.3",
        ] {
            assert_eq!(canonical_decimal(t), None, "{t}");
        }
    }

    #[test]
    fn a_day_of_minute_data_costs_under_two_bytes_a_value() {
        let mut rows = Vec::new();
        for i in 0..1440i64 {
            let base = 20_000 + (i * 37 % 200);
            rows.push(row(
                1_700_000_000 + i * 60,
                10_000 + i * 3,
                &[
                    ("avg", &print_decimal(base, 2)),
                    ("min", &print_decimal(base - 150, 2)),
                    ("max", &print_decimal(base + 170, 2)),
                    ("flag", "N"),
                ],
            ));
        }
        rows[100].fields.insert("flag".into(), "D".into());
        rows[200].fields.remove("max");
        rows[300].fields.insert("avg".into(), "-".into());
        let blob = encode(&rows);
        assert_eq!(decode(&blob), Ok(rows));
        let per_value = blob.len() as f64 / (1440.0 * 4.0);
        assert!(per_value < 2.0, "{per_value} bytes per value");
    }

    #[test]
    fn corrupt_chunks_are_errors_not_panics() {
        let blob = encode(&[row(5, 1, &[("avg", "1.5"), ("flag", "N")])]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err());
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
    }

    proptest! {
        #[test]
        fn any_rows_round_trip(
            mut rows in proptest::collection::btree_map(
                any::<i32>(),
                (any::<i64>(), proptest::collection::btree_map(
                    "[a-z_]{1,6}",
                    prop_oneof!["-?[0-9]{1,8}(\\.[0-9]{1,4})?", "[A-Za-z]", ".{0,5}"],
                    0..5,
                )),
                0..40,
            )
        ) {
            let rows: Vec<Row> = std::mem::take(&mut rows)
                .into_iter()
                .map(|(ts, (packet_id, fields))| Row { ts: i64::from(ts), packet_id, fields })
                .collect();
            prop_assert_eq!(decode(&encode(&rows)), Ok(rows));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
            let _ = decode_times(&bytes);
        }
    }
}
