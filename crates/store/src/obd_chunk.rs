//! The truck-data chunk: every record of one vehicle in one window, byte column by byte
//! column. The store does not know the protocol: a record is (collection time, information
//! type, raw-log frame, body bytes as received), and bodies of one type have one length (a
//! diesel stream is 37 bytes). So the chunk groups records by (type, body length) and
//! transposes each group: byte *j* of every body forms a column, stored as differences from the
//! previous record's byte (wrapping) with runs of zero differences collapsed. A value that
//! changes slowly costs one byte per record in its low byte and almost nothing in its high
//! byte; a constant one a few bytes per chunk. Bodies come back byte for byte.
//!
//! ```text
//! version(=1) groups
//! per group: type, body length, records,
//!            times: first, then zigzag deltas as (delta, run) pairs  (1 Hz: a few bytes)
//!            frames: first, then zigzag deltas as (delta, run) pairs
//!            per byte column: differences, a zero difference run as 00 + run length
//! ```

use crate::chunk::{ChunkError, Reader, put_i, put_u};

/// One record: collection time (Unix seconds), information type, the raw-log frame that
/// carried it and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Collection time, Unix seconds.
    pub ts: i64,
    /// Information type.
    pub kind: u8,
    /// Raw-log frame id.
    pub frame_id: i64,
    /// The body as received.
    pub body: Vec<u8>,
}

const VERSION: u8 = 1;

/// The most body bytes one group may decode to (a corrupt count must not allocate gigabytes):
/// a day of one-second diesel records is 3.2 MB.
const MAX_DECODED: usize = 1 << 26;

fn put_runs(out: &mut Vec<u8>, values: &[i64]) {
    let mut prev = values.first().copied().unwrap_or(0);
    put_i(out, prev);
    let deltas: Vec<i64> = values
        .iter()
        .skip(1)
        .map(|v| {
            let d = v - prev;
            prev = *v;
            d
        })
        .collect();
    let mut i = 0;
    let mut pairs = Vec::new();
    while i < deltas.len() {
        let mut j = i + 1;
        while j < deltas.len() && deltas[j] == deltas[i] {
            j += 1;
        }
        pairs.push((deltas[i], (j - i) as u64));
        i = j;
    }
    put_u(out, pairs.len() as u64);
    for (d, run) in pairs {
        put_i(out, d);
        put_u(out, run);
    }
}

fn read_runs(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, ChunkError> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let mut v = r.i()?;
    out.push(v);
    let pairs = r.len(n)?;
    for _ in 0..pairs {
        let d = r.i()?;
        let run = r.len(n - out.len())?;
        for _ in 0..run {
            v = v
                .checked_add(d)
                .ok_or(ChunkError("time or frame overflows"))?;
            out.push(v);
        }
    }
    if out.len() != n {
        return Err(ChunkError("runs do not cover the records"));
    }
    Ok(out)
}

/// Encodes records (any order; they are stored sorted by time and type).
pub fn encode(records: &[Record]) -> Vec<u8> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.kind, r.body.len(), r.ts));
    let mut groups: Vec<Vec<&Record>> = Vec::new();
    for r in sorted {
        match groups.last_mut() {
            Some(g) if g[0].kind == r.kind && g[0].body.len() == r.body.len() => g.push(r),
            _ => groups.push(vec![r]),
        }
    }
    let mut out = vec![VERSION];
    put_u(&mut out, groups.len() as u64);
    for g in &groups {
        let width = g[0].body.len();
        out.push(g[0].kind);
        put_u(&mut out, width as u64);
        put_u(&mut out, g.len() as u64);
        put_runs(&mut out, &g.iter().map(|r| r.ts).collect::<Vec<_>>());
        put_runs(&mut out, &g.iter().map(|r| r.frame_id).collect::<Vec<_>>());
        for j in 0..width {
            let mut prev = 0u8;
            let mut zeros = 0u64;
            for r in g {
                let d = r.body[j].wrapping_sub(prev);
                prev = r.body[j];
                if d == 0 {
                    zeros += 1;
                    continue;
                }
                if zeros > 0 {
                    out.push(0);
                    put_u(&mut out, zeros);
                    zeros = 0;
                }
                out.push(d);
            }
            if zeros > 0 {
                out.push(0);
                put_u(&mut out, zeros);
            }
        }
    }
    out
}

/// Decodes a chunk, records sorted by (time, type).
pub fn decode(blob: &[u8]) -> Result<Vec<Record>, ChunkError> {
    let mut r = Reader { b: blob, at: 0 };
    if r.bytes(1)? != [VERSION] {
        return Err(ChunkError("unknown chunk version"));
    }
    let groups = r.len(blob.len())?;
    let mut out = Vec::new();
    for _ in 0..groups {
        let kind = r.bytes(1)?[0];
        let width = r.len(65_535)?;
        let n = r.len(blob.len().saturating_mul(256))?;
        if n.saturating_mul(width.max(1)) > MAX_DECODED {
            return Err(ChunkError("group larger than any window holds"));
        }
        let ts = read_runs(&mut r, n)?;
        let frames = read_runs(&mut r, n)?;
        let mut bodies = vec![vec![0u8; width]; n];
        for j in 0..width {
            let (mut i, mut prev) = (0usize, 0u8);
            while i < n {
                let d = r.bytes(1)?[0];
                if d == 0 {
                    let run = r.len(n - i)?;
                    if run == 0 {
                        return Err(ChunkError("empty run"));
                    }
                    for body in &mut bodies[i..i + run] {
                        body[j] = prev;
                    }
                    i += run;
                } else {
                    prev = prev.wrapping_add(d);
                    bodies[i][j] = prev;
                    i += 1;
                }
            }
        }
        out.extend(
            ts.into_iter()
                .zip(frames)
                .zip(bodies)
                .map(|((ts, frame_id), body)| Record {
                    ts,
                    kind,
                    frame_id,
                    body,
                }),
        );
    }
    if r.at != blob.len() {
        return Err(ChunkError("bytes after the last group"));
    }
    out.sort_by_key(|x| (x.ts, x.kind));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_slowly_changing_hour_costs_about_a_byte_per_changing_field() {
        let records: Vec<Record> = (0..3600)
            .map(|i: i64| {
                let mut body = vec![0u8; 37];
                let speed = (16_000 + (i % 50) * 7) as u16;
                body[0..2].copy_from_slice(&speed.to_be_bytes());
                body[2] = 197;
                let rpm = (11_000 + (i % 30) * 13) as u16;
                body[5..7].copy_from_slice(&rpm.to_be_bytes());
                let lon = 117_000_000u32 + (i as u32) * 9;
                body[25..29].copy_from_slice(&lon.to_be_bytes());
                Record {
                    ts: 1_800_000_000 + i,
                    kind: 2,
                    frame_id: 1000 + i / 10,
                    body,
                }
            })
            .collect();
        let blob = encode(&records);
        assert_eq!(decode(&blob).expect("decode"), records);
        let per_record = blob.len() as f64 / 3600.0;
        assert!(
            per_record < 6.0,
            "{per_record} bytes per record for 3 changing fields"
        );
    }

    #[test]
    fn corrupt_chunks_are_errors_not_panics() {
        let blob = encode(&[Record {
            ts: 5,
            kind: 2,
            frame_id: 1,
            body: vec![1, 2, 3],
        }]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[9]).is_err());
    }

    proptest! {
        #[test]
        fn any_records_round_trip(recs in proptest::collection::vec(
            (0i64..100_000, prop_oneof![Just(1u8), Just(2u8)], 0i64..1000,
             proptest::collection::vec(any::<u8>(), 0..6)), 0..60)) {
            let mut seen = std::collections::HashSet::new();
            let mut records: Vec<Record> = recs.into_iter()
                .filter(|(ts, kind, _, _)| seen.insert((*ts, *kind)))
                .map(|(ts, kind, frame_id, body)| Record { ts, kind, frame_id, body })
                .collect();
            let blob = encode(&records);
            records.sort_by_key(|r| (r.ts, r.kind));
            prop_assert_eq!(decode(&blob).expect("decode"), records);
        }

        #[test]
        fn any_bytes_decode_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&b);
        }
    }
}
