//! A device's identity, derived from its index and the seed: ID, profile and location.
//! Nothing of it is stored per device.

use super::plan::{LocationShape, SimulationPlan};
use super::rng::{Stream, hash};

/// Digits an index in a device ID is zero-padded to. Indices up to 99,999,999 take exactly 8;
/// those of larger fleets (up to the 1,000,000,000-device maximum) take 9, unpadded. IDs stay
/// unique and parse back the same way, and a fleet that grows past 100 M keeps its old IDs.
pub const DEVICE_ID_DIGITS: usize = 8;

/// Where a device is: building, floor, room (all 0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// Building index.
    pub building: u32,
    /// Floor within the building.
    pub floor: u32,
    /// Room on the floor.
    pub room: u32,
}

impl LocationShape {
    /// The place of device `index`. Consecutive devices fill consecutive rooms, so a site's
    /// rooms are evenly used, and the place does not change when the device count does.
    pub fn locate(&self, index: u32) -> Location {
        let rooms_per_building = u64::from(self.floors) * u64::from(self.rooms);
        let total = u64::from(self.buildings) * rooms_per_building;
        let slot = u64::from(index) % total;
        Location {
            building: (slot / rooms_per_building) as u32,
            floor: ((slot / u64::from(self.rooms)) % u64::from(self.floors)) as u32,
            room: (slot % u64::from(self.rooms)) as u32,
        }
    }
}

/// Picks profiles by weight from a cumulative table.
#[derive(Clone, Debug)]
pub struct ProfilePicker {
    seed: u64,
    cumulative: Vec<u64>,
}

impl ProfilePicker {
    /// A picker for the plan's profiles.
    pub fn new(plan: &SimulationPlan) -> Self {
        let mut total = 0u64;
        let cumulative = plan
            .profiles
            .iter()
            .map(|p| {
                total += u64::from(p.weight);
                total
            })
            .collect();
        Self {
            seed: plan.seed,
            cumulative,
        }
    }

    /// Index of device `index`'s profile.
    #[inline]
    pub fn profile_of(&self, index: u32) -> usize {
        let total = *self
            .cumulative
            .last()
            .expect("a plan has at least one profile");
        let bits = hash(self.seed, Stream::Profile, u64::from(index), 0);
        let draw = ((u128::from(bits) * u128::from(total)) >> 64) as u64;
        self.cumulative.partition_point(|&c| c <= draw)
    }
}

/// Writes `prefix` followed by the zero-padded index into `out`, replacing its contents.
#[inline]
pub fn write_device_id(out: &mut String, prefix: &str, index: u32) {
    out.clear();
    out.push_str(prefix);
    let mut digits = itoa::Buffer::new();
    let text = digits.format(index);
    for _ in text.len()..DEVICE_ID_DIGITS {
        out.push('0');
    }
    out.push_str(text);
}

/// Parses the index back out of a device ID made by [`write_device_id`].
pub fn parse_device_index(id: &str, prefix: &str) -> Option<u32> {
    id.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_padded_and_parse_back() {
        let mut id = String::new();
        write_device_id(&mut id, "dev-", 42);
        assert_eq!(id, "dev-00000042");
        assert_eq!(parse_device_index(&id, "dev-"), Some(42));
        write_device_id(&mut id, "x", 9_999_999);
        assert_eq!(id, "x09999999");
        // Past 100 M devices the index takes a ninth digit.
        write_device_id(&mut id, "dev-", 999_999_999);
        assert_eq!(id, "dev-999999999");
        assert_eq!(parse_device_index(&id, "dev-"), Some(999_999_999));
    }

    #[test]
    fn locations_cover_every_room_once_per_cycle() {
        let shape = LocationShape {
            buildings: 2,
            floors: 3,
            rooms: 4,
        };
        let mut seen = std::collections::HashSet::new();
        for i in 0..24 {
            let l = shape.locate(i);
            assert!(l.building < 2 && l.floor < 3 && l.room < 4);
            assert!(seen.insert(l), "{l:?} twice");
        }
        assert_eq!(shape.locate(24), shape.locate(0));
    }
}
