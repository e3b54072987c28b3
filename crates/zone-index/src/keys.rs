//! Every zone's readable id, packed together for batch answers.

use geodata::Dataset;

/// The zones' readable ids (`"z6765"`, `"iran-presence-2018"`), in zone order, in one string.
///
/// A batch answer writes one key per (point, zone) pair, in no particular zone order. Read
/// from the data set, each key is behind its zone and its own shared string: two cache misses
/// a pair, which were a quarter of a second of zones-100k x 1 M points, more than answering
/// took. Packed, the keys of 100,000 zones are about 1.4 MB and stay in cache.
#[derive(Debug, Default)]
pub struct ZoneKeys {
    text: String,
    /// Where each key ends in `text`; it starts where the one before ends.
    ends: Vec<usize>,
    /// Each key of up to [`SHORT`] bytes in place, its length in the last byte ([`LONG`] for a
    /// longer key, read from `text`): a batch asks for keys in no zone order, and one cache
    /// line per key, not one in `ends` and one in `text`, halved what the keys cost a batch.
    short: Vec<[u8; SHORT + 1]>,
    /// Whether a key holds a CSV separator, quote or line end (ids checked by `FeatureId::parse`
    /// never do, but a `FeatureId` read with serde is not checked).
    need_quoting: bool,
}

/// Keys up to this long are kept in place ([`ZoneKeys::short`]).
const SHORT: usize = 15;

/// The length byte of a key longer than [`SHORT`].
const LONG: u8 = u8::MAX;

/// `key` in place when it is short enough (see [`ZoneKeys::short`]).
fn short(key: &str) -> [u8; SHORT + 1] {
    let mut slot = [0u8; SHORT + 1];
    match u8::try_from(key.len()) {
        Ok(len) if key.len() <= SHORT => {
            slot[..key.len()].copy_from_slice(key.as_bytes());
            slot[SHORT] = len;
        }
        _ => slot[SHORT] = LONG,
    }
    slot
}

impl ZoneKeys {
    /// The keys of `data`'s zones.
    pub fn new(data: &Dataset) -> ZoneKeys {
        let mut keys = ZoneKeys {
            text: String::with_capacity(data.zones.len() * 8),
            ends: Vec::with_capacity(data.zones.len()),
            short: Vec::with_capacity(data.zones.len()),
            need_quoting: false,
        };
        for z in &data.zones {
            keys.text.push_str(z.meta.id.as_str());
            keys.ends.push(keys.text.len());
            keys.short.push(short(z.meta.id.as_str()));
        }
        keys.need_quoting = keys.text.contains([',', '"', '\n', '\r']);
        keys
    }

    /// Whether some key holds `,`, `"` or a line end, and so may need quoting in CSV.
    pub fn any_need_quoting(&self) -> bool {
        self.need_quoting
    }

    /// Zone `zone`'s key; empty for a zone the data set does not have.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let data = geodata::load_dir(&dir).unwrap();
    /// let keys = zone_index::ZoneKeys::new(&data);
    /// assert_eq!(keys.get(1), data.zones[1].meta.id.as_str());
    /// assert_eq!(keys.get(2), "");
    /// ```
    pub fn get(&self, zone: usize) -> &str {
        // Whole keys were put in place: the bytes are always UTF-8.
        std::str::from_utf8(self.get_bytes(zone)).unwrap_or_default()
    }

    /// [`ZoneKeys::get`] as bytes, for a writer of bytes: the short keys are not checked for
    /// UTF-8 again (a check per (point, zone) pair was a tenth of a batch's writing).
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let data = geodata::load_dir(&dir).unwrap();
    /// let keys = zone_index::ZoneKeys::new(&data);
    /// assert_eq!(keys.get_bytes(1), keys.get(1).as_bytes());
    /// assert_eq!(keys.get_bytes(2), b"");
    /// ```
    pub fn get_bytes(&self, zone: usize) -> &[u8] {
        let Some(slot) = self.short.get(zone) else {
            return b"";
        };
        let len = usize::from(slot[SHORT]);
        if len <= SHORT {
            return &slot[..len];
        }
        self.long(zone).as_bytes()
    }

    /// A key longer than [`SHORT`], from `text`.
    fn long(&self, zone: usize) -> &str {
        let end = self.ends[zone];
        let start = match zone {
            0 => 0,
            _ => self.ends[zone - 1],
        };
        &self.text[start..end]
    }

    /// The keys' text and where each ends in it, as [`ZoneKeys::from_parts`] takes them.
    pub(crate) fn parts(&self) -> (&str, &[usize]) {
        (&self.text, &self.ends)
    }

    /// The keys whose text is `text` and which end at `ends` (see [`ZoneKeys::parts`]); `None`
    /// when the ends do not cut the text into keys (past its end, going back, or inside a
    /// character), so no key asked for can panic.
    pub(crate) fn from_parts(text: String, ends: Vec<usize>) -> Option<ZoneKeys> {
        let mut start = 0;
        for &end in &ends {
            if end < start || !text.is_char_boundary(end) {
                return None;
            }
            start = end;
        }
        let need_quoting = text.contains([',', '"', '\n', '\r']);
        let mut start = 0;
        let short = ends
            .iter()
            .map(|&end| {
                let slot = short(&text[start..end]);
                start = end;
                slot
            })
            .collect();
        Some(ZoneKeys {
            text,
            ends,
            short,
            need_quoting,
        })
    }

    /// How many zones.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zone_of_the_embedded_set_has_its_key_and_no_other() {
        let data = Dataset::embedded();
        let keys = ZoneKeys::new(&data);
        assert_eq!(keys.len(), data.zones.len());
        for (i, z) in data.zones.iter().enumerate() {
            assert_eq!(keys.get(i), z.meta.id.as_str(), "zone {i}");
        }
        assert_eq!(keys.get(data.zones.len()), "");
        assert_eq!(keys.get(usize::MAX), "");
        assert!(ZoneKeys::default().is_empty());
        assert!(!keys.any_need_quoting());
        assert_eq!(ZoneKeys::default().get(0), "");
        // Both kinds of key are there: kept in place and read from the text.
        let lens: Vec<usize> = (0..keys.len()).map(|i| keys.get(i).len()).collect();
        assert!(lens.iter().any(|&n| n <= SHORT) && lens.iter().any(|&n| n > SHORT));
    }

    #[test]
    fn keys_of_every_length_come_back_whole_and_bad_ends_are_refused() {
        let words = [
            "",
            "a",
            "fifteen-bytes-x",
            "sixteen-bytes-xx",
            "ééééééé",
            "éééééééé",
            "z,1",
        ];
        let text: String = words.concat();
        let mut end = 0;
        let ends: Vec<usize> = words
            .iter()
            .map(|w| {
                end += w.len();
                end
            })
            .collect();
        let keys = ZoneKeys::from_parts(text.clone(), ends.clone()).expect("whole keys");
        for (i, w) in words.iter().enumerate() {
            assert_eq!(keys.get(i), *w, "key {i}");
        }
        assert!(keys.any_need_quoting());
        // Inside a character, going back, or past the end: refused.
        let inside = ends[3] + 1;
        assert!(ZoneKeys::from_parts(text.clone(), vec![inside]).is_none());
        assert!(ZoneKeys::from_parts(text.clone(), vec![5, 4]).is_none());
        assert!(ZoneKeys::from_parts(text.clone(), vec![text.len() + 1]).is_none());
    }
}
