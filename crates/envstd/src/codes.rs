//! Which HJ 212 factor code (HJ 212-2017 Appendix B) is which indicator of the standards: the
//! one table the rules, the assessments and the UI's factor names agree on.

use crate::aqi::Pollutant;

/// The AQI pollutants' codes (ambient air: µg/m³, CO mg/m³).
pub const AIR: &[(&str, Pollutant)] = &[
    ("a21026", Pollutant::So2),
    ("a21004", Pollutant::No2),
    ("a21005", Pollutant::Co),
    ("a05024", Pollutant::O3),
    ("a34002", Pollutant::Pm10),
    ("a34004", Pollutant::Pm25),
];

/// The GB 3838-2002 items' codes, by the item names of [`crate::water`].
pub const WATER: &[(&str, &str)] = &[
    ("w01001", "ph"),
    ("w01009", "do"),
    ("w01019", "codmn"),
    ("w01018", "cod"),
    ("w01017", "bod5"),
    ("w21003", "nh3n"),
    ("w21011", "tp"),
    ("w21001", "tn"),
    ("w01010", "temp"),
];

/// The AQI pollutant an air code measures.
pub fn air_pollutant(code: &str) -> Option<Pollutant> {
    AIR.iter().find(|(c, _)| *c == code).map(|(_, p)| *p)
}

/// The GB 3838 item a water code measures.
pub fn water_item(code: &str) -> Option<&'static str> {
    WATER.iter().find(|(c, _)| *c == code).map(|(_, i)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_one_indicator_each() {
        assert_eq!(air_pollutant("a34004"), Some(Pollutant::Pm25));
        assert_eq!(water_item("w21003"), Some("nh3n"));
        assert_eq!(air_pollutant("w21003"), None);
        let mut codes: Vec<&str> = AIR
            .iter()
            .map(|(c, _)| *c)
            .chain(WATER.iter().map(|(c, _)| *c))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AIR.len() + WATER.len());
    }
}
