//! Batches of points answered without the data set.
//!
//! Which zones cover each of a million points on a date needs the polygon index, each zone's
//! period and each zone's key, and nothing else of the data set: not its names, sources or
//! the zones' own geometry. A one-shot `zonetrack query --csv` over a large folder spent most
//! of its time before answering on decoding the whole data set from the load cache (about
//! 0.3 s of a 0.9 s job on zones-100k) only to read those three things from it. A
//! [`BatchIndex`] is the three, kept in one file ([`BatchIndex::write_from`]) and read back
//! ([`BatchIndex::read_from`]) by the next command on the same files; [`BatchZones`] is what
//! the batch writers ask of either it or a whole [`ZoneIndex`], so both answer alike.

use std::io::{Read, Write};
use std::sync::Arc;

use chrono::Datelike as _;
use geodata::{Date, Period};

use crate::{CoveringBatch, PolygonIndex, ZoneIndex, ZoneKeys};

/// What answering batches of points asks of a zone index.
pub trait BatchZones: Sync {
    /// Every point's covering zones whose period holds `at` (`None`: any), as
    /// [`ZoneIndex::covering_batch`].
    fn covering_batch(&self, points: &[(f64, f64)], at: Option<Date>) -> CoveringBatch;
    /// The zones' keys, in zone order.
    fn keys(&self) -> &ZoneKeys;
    /// How many points to answer at once, as [`ZoneIndex::batch_chunk`].
    fn batch_chunk(&self) -> usize;
}

impl BatchZones for ZoneIndex {
    fn covering_batch(&self, points: &[(f64, f64)], at: Option<Date>) -> CoveringBatch {
        ZoneIndex::covering_batch(self, points, at)
    }

    fn keys(&self) -> &ZoneKeys {
        ZoneIndex::keys(self)
    }

    fn batch_chunk(&self) -> usize {
        ZoneIndex::batch_chunk(self)
    }
}

/// The first bytes of a stored batch index and its version: bump it when the layout changes.
const FORMAT: &[u8; 8] = b"ZTBIDX01";

/// A day in the stored form: its number from the common era, or this for an open end.
const OPEN: i32 = i32::MIN;

/// The polygon index, periods and keys of a [`ZoneIndex`], for batches only (see the module
/// documentation).
#[derive(Debug)]
pub struct BatchIndex {
    polygons: Arc<PolygonIndex>,
    periods: Vec<Period>,
    keys: ZoneKeys,
}

impl BatchIndex {
    /// Writes what batches need of `index` to `out`, to be read back by
    /// [`BatchIndex::read_from`]. Refused (an error, nothing written) for an index with edits
    /// on top of its base ([`ZoneIndex::after`]): a command that loads and answers never has one.
    pub fn write_from(index: &ZoneIndex, out: &mut dyn Write) -> std::io::Result<()> {
        if index.overlay.is_some() {
            return Err(std::io::Error::other(
                "an index with edits over its base is not stored",
            ));
        }
        let keys = index.keys();
        let n = index.periods.len();
        let mut head = Vec::with_capacity(32 + n * 8 + keys.len() * 8);
        head.extend_from_slice(FORMAT);
        head.extend_from_slice(&(n as u64).to_le_bytes());
        for p in &index.periods {
            for day in [p.from(), p.to()] {
                let number = day.map_or(OPEN, |d| d.num_days_from_ce());
                head.extend_from_slice(&number.to_le_bytes());
            }
        }
        let (text, ends) = keys.parts();
        head.extend_from_slice(&(text.len() as u64).to_le_bytes());
        for &end in ends {
            head.extend_from_slice(&(end as u64).to_le_bytes());
        }
        out.write_all(&head)?;
        out.write_all(text.as_bytes())?;
        index.polygons.write_to(out)
    }

    /// The batch index stored in the `len` bytes of `input` ([`BatchIndex::write_from`]);
    /// `None` when they are not one, or one whose parts do not agree (as many periods, keys and
    /// indexed items), or whose polygon index does not hold together
    /// ([`PolygonIndex::read_from`]). No bytes can make a query panic.
    pub fn read_from(input: &mut dyn Read, len: u64) -> Option<BatchIndex> {
        let mut word = [0u8; 8];
        let mut read_word = |input: &mut dyn Read| -> Option<u64> {
            input.read_exact(&mut word).ok()?;
            Some(u64::from_le_bytes(word))
        };
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).ok()?;
        if &magic != FORMAT {
            return None;
        }
        let n = read_word(input)?;
        // Every count is checked against the bytes there are before anything is allocated.
        let mut used = 16u64.checked_add(n.checked_mul(8)?)?;
        if used > len {
            return None;
        }
        let n = usize::try_from(n).ok()?;
        let mut days = vec![0u8; n * 8];
        input.read_exact(&mut days).ok()?;
        let day = |b: &[u8]| -> Option<Option<Date>> {
            match i32::from_le_bytes(b.try_into().ok()?) {
                OPEN => Some(None),
                number => Date::from_num_days_from_ce_opt(number).map(Some),
            }
        };
        let periods = days
            .chunks_exact(8)
            .map(|p| Period::new(day(&p[..4])?, day(&p[4..])?))
            .collect::<Option<Vec<Period>>>()?;
        drop(days);
        let text_len = read_word(input)?;
        used = used
            .checked_add(8)?
            .checked_add((n as u64).checked_mul(8)?)?
            .checked_add(text_len)?;
        if used > len {
            return None;
        }
        let mut ends_bytes = vec![0u8; n * 8];
        input.read_exact(&mut ends_bytes).ok()?;
        let ends = ends_bytes
            .chunks_exact(8)
            .map(|b| usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok())
            .collect::<Option<Vec<usize>>>()?;
        drop(ends_bytes);
        let mut text = vec![0u8; usize::try_from(text_len).ok()?];
        input.read_exact(&mut text).ok()?;
        let keys = ZoneKeys::from_parts(String::from_utf8(text).ok()?, ends)?;
        let polygons = PolygonIndex::read_from(input, len - used)?;
        (polygons.len() == n).then(|| BatchIndex {
            polygons: Arc::new(polygons),
            periods,
            keys,
        })
    }

    /// How many zones.
    pub fn len(&self) -> usize {
        self.periods.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }
}

impl BatchZones for BatchIndex {
    fn covering_batch(&self, points: &[(f64, f64)], at: Option<Date>) -> CoveringBatch {
        crate::covering_batch_base(&self.polygons, &self.periods, points, at)
    }

    fn keys(&self) -> &ZoneKeys {
        &self.keys
    }

    fn batch_chunk(&self) -> usize {
        self.polygons.batch_chunk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> ZoneIndex {
        ZoneIndex::new(Arc::new(geodata::Dataset::embedded()))
    }

    fn stored(index: &ZoneIndex) -> Vec<u8> {
        let mut bytes = Vec::new();
        BatchIndex::write_from(index, &mut bytes).expect("written to a Vec");
        bytes
    }

    /// A grid of points over the embedded set's zones, and the dates that tell them apart.
    fn points() -> (Vec<(f64, f64)>, Vec<Option<Date>>) {
        let mut pts = Vec::new();
        for i in 0..120 {
            for j in 0..120 {
                pts.push((35.0 + f64::from(i) * 0.05, 32.0 + f64::from(j) * 0.05));
            }
        }
        let dates = [
            None,
            Some("2017-04-05"),
            Some("2018-02-07"),
            Some("2018-07-20"),
        ]
        .map(|d| d.map(|d| d.parse().expect("a date")))
        .to_vec();
        (pts, dates)
    }

    #[test]
    fn a_batch_index_read_back_answers_as_the_whole_index_on_every_date() {
        let index = embedded();
        let bytes = stored(&index);
        let back = BatchIndex::read_from(&mut &bytes[..], bytes.len() as u64).expect("read back");
        assert_eq!(back.len(), index.dataset().zones.len());
        let (pts, dates) = points();
        let mut covered = 0;
        for at in dates {
            let whole = BatchZones::covering_batch(&index, &pts, at);
            let kept = back.covering_batch(&pts, at);
            assert_eq!(whole, kept, "answers on {at:?}");
            covered += (0..whole.len()).filter(|&i| whole.get(i).len() > 0).count();
        }
        // The points are not all outside every zone: the comparison compared something.
        assert!(covered > 1000, "{covered}");
        for z in 0..index.dataset().zones.len() {
            assert_eq!(
                back.keys().get(z),
                index.dataset().zones[z].meta.id.as_str()
            );
        }
        assert_eq!(back.batch_chunk(), index.batch_chunk());
    }

    #[test]
    fn bytes_cut_short_changed_or_of_another_kind_are_refused_without_panicking() {
        let bytes = stored(&embedded());
        let read = |b: &[u8]| BatchIndex::read_from(&mut &b[..], b.len() as u64);
        assert!(read(&bytes).is_some());
        for cut in [0, 7, 8, 15, 16, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(read(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        // A zone count far larger than the bytes.
        let mut huge = bytes.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(&huge).is_none());
        // A key ending past the keys' text.
        let n = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let ends_at = 16 + n * 8 + 8;
        let mut bad_end = bytes.clone();
        bad_end[ends_at..ends_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(&bad_end).is_none());
        // A period ending before it starts.
        let mut bad_period = bytes.clone();
        bad_period[16..20].copy_from_slice(&800_000i32.to_le_bytes());
        bad_period[20..24].copy_from_slice(&700_000i32.to_le_bytes());
        assert!(read(&bad_period).is_none());
        // A polygon index stored alone is not a batch index.
        let polygons = embedded().polygons().to_bytes();
        assert!(read(&polygons).is_none());
        // Every single byte flipped in the head is refused or still reads as a batch index
        // (a changed date or key is still one): never a panic.
        for i in 0..(16 + n * 8 + 8 + n * 8).min(bytes.len()) {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = read(&b);
        }
    }

    #[test]
    fn an_index_with_edits_over_its_base_is_not_stored() {
        let index = embedded();
        let data = index.dataset().clone();
        let first = data.zones[0].meta.id.to_string();
        let edited = index.after(Arc::new(data), &[&first]);
        let mut out = Vec::new();
        assert!(BatchIndex::write_from(&edited, &mut out).is_err());
        assert!(out.is_empty());
    }
}
