//! Putting split messages (PNUM/PNO, HJ 212-2017 §6.3.2) back together.
//!
//! Every piece of a split message is a complete, parseable packet with its own QN, its own
//! DataTime and a subset of the pollutant groups, so a store can keep each piece as it arrives;
//! the [`Reassembler`] is for consumers that want the whole message. Pieces are keyed by
//! (MN, CN, DataTime, PNUM), since the QN differs per piece. The number of incomplete messages
//! held is capped, and incomplete ones expire after a timeout (the caller passes the time).

use std::collections::HashMap;

use crate::message::{DataArea, Message};
use crate::packet::{Flag, Packet};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    mn: String,
    cn: String,
    data_time: String,
    pnum: u16,
}

#[derive(Debug)]
struct Pending {
    pieces: Vec<Option<Message>>,
    first_seen_ms: u64,
}

/// The result of adding one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembly {
    /// The packet is not a piece of a split message.
    NotSplit,
    /// Stored; more pieces are missing.
    Pending {
        /// Pieces held.
        received: u16,
        /// PNUM.
        total: u16,
    },
    /// This PNO was already held (a retransmission); nothing changed.
    Duplicate,
    /// The last piece arrived: the whole message, with the D flag, PNUM and PNO removed and
    /// the QN of piece 1.
    Complete(Message),
}

/// A split message that expired incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// MN of the device.
    pub mn: String,
    /// CN of the message.
    pub cn: String,
    /// DataTime of the message.
    pub data_time: String,
    /// PNUM.
    pub total: u16,
    /// The PNOs that did arrive.
    pub received: Vec<u16>,
}

/// Why a piece could not be held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// PNO is 0 or above PNUM.
    #[error("PNO {pno} is outside 1..={pnum}")]
    BadPacketNumber {
        /// PNO.
        pno: u16,
        /// PNUM.
        pnum: u16,
    },
    /// Too many incomplete messages are held already.
    #[error("{0} incomplete split messages are held already")]
    TooManyPending(usize),
}

/// Collects the pieces of split messages. See the [module docs](self).
#[derive(Debug)]
pub struct Reassembler {
    pending: HashMap<Key, Pending>,
    max_pending: usize,
    timeout_ms: u64,
}

impl Reassembler {
    /// Holds at most `max_pending` incomplete messages, each for at most `timeout_ms`.
    pub fn new(max_pending: usize, timeout_ms: u64) -> Self {
        Self {
            pending: HashMap::new(),
            max_pending,
            timeout_ms,
        }
    }

    /// How many incomplete messages are held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a received packet.
    pub fn push(&mut self, p: &Packet, now_ms: u64) -> Result<Reassembly, ReassemblyError> {
        let (Some(pnum), Some(pno)) = (p.pnum(), p.pno()) else {
            return Ok(Reassembly::NotSplit);
        };
        if pno == 0 || pno > pnum {
            return Err(ReassemblyError::BadPacketNumber { pno, pnum });
        }
        if pnum == 1 {
            return Ok(Reassembly::Complete(merge(vec![Message::from_packet(p)])));
        }
        let key = Key {
            mn: p.mn().unwrap_or_default().to_owned(),
            cn: p.cn().to_owned(),
            data_time: p.param("DataTime").unwrap_or_default().to_owned(),
            pnum,
        };
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            return Err(ReassemblyError::TooManyPending(self.pending.len()));
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            pieces: vec![None; usize::from(pnum)],
            first_seen_ms: now_ms,
        });
        let slot = &mut entry.pieces[usize::from(pno) - 1];
        if slot.is_some() {
            return Ok(Reassembly::Duplicate);
        }
        *slot = Some(Message::from_packet(p));
        let received = entry.pieces.iter().filter(|s| s.is_some()).count() as u16;
        if received < pnum {
            return Ok(Reassembly::Pending {
                received,
                total: pnum,
            });
        }
        let pieces = self
            .pending
            .remove(&key)
            .map(|e| e.pieces.into_iter().flatten().collect())
            .unwrap_or_default();
        Ok(Reassembly::Complete(merge(pieces)))
    }

    /// Drops the incomplete messages first seen at least the timeout before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Incomplete> {
        let timeout = self.timeout_ms;
        let expired: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, e)| now_ms.saturating_sub(e.first_seen_ms) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| {
                let e = self.pending.remove(&k)?;
                Some(Incomplete {
                    received: e
                        .pieces
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_some())
                        .map(|(i, _)| i as u16 + 1)
                        .collect(),
                    mn: k.mn,
                    cn: k.cn,
                    data_time: k.data_time,
                    total: k.pnum,
                })
            })
            .collect()
    }
}

fn merge(mut pieces: Vec<Message>) -> Message {
    let mut whole = pieces.remove(0);
    whole.remove("PNUM");
    whole.remove("PNO");
    if let Some(flag) = whole.flag() {
        whole.set("Flag", (flag.0 & !Flag::SPLIT).to_string());
    }
    let is_pollutant = |g: &Vec<(String, String)>| g.iter().any(|(n, _)| n.contains('-'));
    let mut groups = std::mem::take(&mut whole.cp.groups);
    groups.retain(|g| !g.is_empty());
    for piece in pieces {
        groups.extend(piece.cp.groups.into_iter().filter(is_pollutant));
    }
    whole.cp = DataArea { groups };
    whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cp::FieldKind;

    fn split_message() -> (Message, Vec<Packet>) {
        let mut cp = DataArea::new().param("DataTime", "20160801080000");
        for i in 0..12 {
            cp = cp.pollutant(
                &format!("w{:05}", 1000 + i),
                &[(FieldKind::Avg, "1.5"), (FieldKind::Flag, "N")],
            );
        }
        let m = Message::new(
            Some("20160801085857534"),
            "32",
            "2061",
            Some("123456"),
            Some("010000A8900016F000169DC0"),
            Some(Flag(5)),
        )
        .with_cp(cp);
        let pieces = m
            .split(250, |pno| format!("20160801085857{:03}", 533 + pno))
            .expect("splits");
        let packets = pieces
            .iter()
            .map(|p| Packet::from_frame_bytes(&p.encode().expect("ok")).expect("decodes"))
            .collect();
        (m, packets)
    }

    #[test]
    fn pieces_in_any_order_rebuild_the_message() {
        let (original, mut packets) = split_message();
        assert!(packets.len() >= 3);
        packets.reverse();
        let mut r = Reassembler::new(10, 60_000);
        let last = packets.len() - 1;
        for (i, p) in packets.iter().enumerate() {
            match r.push(p, 0).expect("ok") {
                Reassembly::Complete(m) => {
                    assert_eq!(i, last);
                    assert_eq!(m.cp, original.cp);
                    assert_eq!(m.flag(), Some(Flag(5)));
                    assert_eq!(m.get("PNUM"), None);
                }
                Reassembly::Pending { .. } => assert!(i < last),
                other => panic!("{other:?}"),
            }
            if i == 0 {
                assert_eq!(r.push(p, 0).expect("ok"), Reassembly::Duplicate);
            }
        }
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn incomplete_messages_expire_and_are_capped() {
        let (_, packets) = split_message();
        let mut r = Reassembler::new(1, 1_000);
        assert!(matches!(
            r.push(&packets[0], 0),
            Ok(Reassembly::Pending { received: 1, .. })
        ));
        let mut other = Message::from_packet(&packets[0]);
        other.cp.groups[0][0].1 = "20160801090000".into();
        let other = Packet::from_frame_bytes(&other.encode().expect("ok")).expect("ok");
        assert_eq!(r.push(&other, 0), Err(ReassemblyError::TooManyPending(1)));
        assert!(r.expire(999).is_empty());
        let gone = r.expire(1_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].received, vec![1]);
        assert_eq!(r.pending(), 0);
    }
}
