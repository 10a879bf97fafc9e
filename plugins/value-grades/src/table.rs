//! The fitted model: every graded customer's grade, value and rank, sorted
//! by customer id, in a layout `classify` searches in place (a binary
//! search over the ids) instead of decoding the whole table per call.
//!
//! `VG1\0` · header length (u32 LE) · header (JSON) · n (u32 LE) ·
//! n + 1 id offsets (u32 LE) · n entries of value (i64 LE), rank (u32 LE)
//! and grade (u8) · the ids, concatenated.

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"VG1\0";
const ENTRY: usize = 13;

/// What the whole table shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub as_of: i64,
    /// Grade names, best first.
    pub names: Vec<String>,
    /// T: the sum of the positive values.
    pub total_cents: i64,
}

/// One graded customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub value_cents: i64,
    pub rank: u32,
    pub grade: u8,
}

pub fn encode(header: &Header, mut rows: Vec<(&str, Entry)>) -> Vec<u8> {
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let head = serde_json::to_vec(header).expect("a header serialises");
    let ids: usize = rows.iter().map(|(id, _)| id.len()).sum();
    let mut out = Vec::with_capacity(12 + head.len() + rows.len() * (4 + ENTRY) + ids);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    let mut offset = 0u32;
    out.extend_from_slice(&offset.to_le_bytes());
    for (id, _) in &rows {
        offset += id.len() as u32;
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for (_, e) in &rows {
        out.extend_from_slice(&e.value_cents.to_le_bytes());
        out.extend_from_slice(&e.rank.to_le_bytes());
        out.push(e.grade);
    }
    for (id, _) in &rows {
        out.extend_from_slice(id.as_bytes());
    }
    out
}

/// A table read in place.
pub struct Table<'a> {
    pub header: Header,
    n: usize,
    offsets: &'a [u8],
    entries: &'a [u8],
    ids: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Table<'a> {
    pub fn read(bytes: &'a [u8]) -> Result<Table<'a>, String> {
        let bad = || "unreadable model: refit the store".to_string();
        if bytes.get(..4) != Some(MAGIC) {
            return Err(bad());
        }
        let head_len = u32_at(bytes, 4).ok_or_else(bad)? as usize;
        let head = bytes.get(8..8 + head_len).ok_or_else(bad)?;
        let header: Header = serde_json::from_slice(head).map_err(|_| bad())?;
        let at = 8 + head_len;
        let n = u32_at(bytes, at).ok_or_else(bad)? as usize;
        let offsets = bytes.get(at + 4..at + 4 + (n + 1) * 4).ok_or_else(bad)?;
        let entries_at = at + 4 + (n + 1) * 4;
        let entries = bytes.get(entries_at..entries_at + n * ENTRY).ok_or_else(bad)?;
        let ids = &bytes[entries_at + n * ENTRY..];
        if u32_at(offsets, n * 4).ok_or_else(bad)? as usize != ids.len() {
            return Err(bad());
        }
        Ok(Table { header, n, offsets, entries, ids })
    }

    fn id(&self, i: usize) -> &'a [u8] {
        let from = u32_at(self.offsets, i * 4).unwrap_or(0) as usize;
        let to = u32_at(self.offsets, i * 4 + 4).unwrap_or(0) as usize;
        self.ids.get(from..to).unwrap_or_default()
    }

    /// The customer's entry, if they were graded.
    pub fn find(&self, id: &str) -> Option<Entry> {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.id(mid).cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let e = &self.entries[mid * ENTRY..(mid + 1) * ENTRY];
                    return Some(Entry {
                        value_cents: i64::from_le_bytes(e[..8].try_into().ok()?),
                        rank: u32::from_le_bytes(e[8..12].try_into().ok()?),
                        grade: e[12],
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_row_and_no_other() {
        let header = Header { as_of: 7, names: vec!["A".into(), "B".into()], total_cents: 9 };
        let rows = vec![
            ("c-2", Entry { value_cents: -5, rank: 3, grade: 1 }),
            ("c-10", Entry { value_cents: 900, rank: 1, grade: 0 }),
            ("b", Entry { value_cents: 0, rank: 2, grade: 1 }),
        ];
        let bytes = encode(&header, rows.clone());
        let t = Table::read(&bytes).unwrap();
        assert_eq!(t.header, header);
        for (id, e) in rows {
            assert_eq!(t.find(id), Some(e), "{id}");
        }
        assert_eq!(t.find("c-1"), None);
        assert_eq!(t.find(""), None);
        assert!(Table::read(&bytes[..bytes.len() - 1]).is_err());
        assert!(Table::read(b"{}").is_err());
        let empty = encode(&header, Vec::new());
        assert_eq!(Table::read(&empty).unwrap().find("x"), None);
    }
}
