//! Surface water: GB 3838-2002 (standards.md §2).
//!
//! Each item's class is the best class whose limit it meets (limits inclusive; DO is "at least";
//! pH must be within 6–9 for every class); anything worse than V is inferior V (劣V). A section's
//! class is the worst class among the evaluation items (单因子评价法): Table 1 minus water
//! temperature, total nitrogen and fecal coliform, which are reported as reference only. Total
//! phosphorus has separate river and lake/reservoir limits.

use serde::Serialize;

use crate::{Dec, InputError};

/// Water classes, best first; `InferiorV` is 劣V.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Class {
    /// Ⅰ类.
    I,
    /// Ⅱ类.
    II,
    /// Ⅲ类.
    III,
    /// Ⅳ类.
    IV,
    /// Ⅴ类.
    V,
    /// 劣Ⅴ类.
    #[serde(rename = "劣V")]
    InferiorV,
}

impl Class {
    /// From `I` … `V` (also Roman numerals `Ⅰ`…`Ⅴ`, `劣V`).
    pub fn from_name(name: &str) -> Result<Self, InputError> {
        Ok(match name.trim().trim_end_matches('类') {
            "I" | "Ⅰ" | "1" => Self::I,
            "II" | "Ⅱ" | "2" => Self::II,
            "III" | "Ⅲ" | "3" => Self::III,
            "IV" | "Ⅳ" | "4" => Self::IV,
            "V" | "Ⅴ" | "5" => Self::V,
            "劣V" | "劣Ⅴ" | "inferior_v" => Self::InferiorV,
            other => {
                return Err(InputError::Unknown {
                    what: "water class",
                    name: other.into(),
                    known: "I, II, III, IV, V".into(),
                });
            }
        })
    }

    /// Qualitative status: I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染.
    pub fn status_zh(self) -> &'static str {
        match self {
            Self::I | Self::II => "优",
            Self::III => "良好",
            Self::IV => "轻度污染",
            Self::V => "中度污染",
            Self::InferiorV => "重度污染",
        }
    }

    const ALL: [Class; 5] = [Self::I, Self::II, Self::III, Self::IV, Self::V];
}

/// River, or lake/reservoir (different TP limits; TN evaluated only for lakes, separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Waterbody {
    /// River.
    River,
    /// Lake or reservoir.
    Lake,
}

/// Limits of one item for classes I–V (as decimal text), and whether higher is better.
struct ItemDef {
    name: &'static str,
    label: &'static str,
    limits: [&'static str; 5],
    at_least: bool,
    evaluated: bool,
}

const fn item(name: &'static str, label: &'static str, limits: [&'static str; 5]) -> ItemDef {
    ItemDef {
        name,
        label,
        limits,
        at_least: false,
        evaluated: true,
    }
}

/// GB 3838-2002 Table 1 (mg/L; pH and temperature handled apart).
const ITEMS: &[ItemDef] = &[
    ItemDef {
        name: "do",
        label: "溶解氧",
        limits: ["7.5", "6", "5", "3", "2"],
        at_least: true,
        evaluated: true,
    },
    item("codmn", "高锰酸盐指数", ["2", "4", "6", "10", "15"]),
    item("cod", "化学需氧量", ["15", "15", "20", "30", "40"]),
    item("bod5", "五日生化需氧量", ["3", "3", "4", "6", "10"]),
    item("nh3n", "氨氮", ["0.15", "0.5", "1.0", "1.5", "2.0"]),
    item("tp", "总磷", ["0.02", "0.1", "0.2", "0.3", "0.4"]),
    ItemDef {
        name: "tn",
        label: "总氮",
        limits: ["0.2", "0.5", "1.0", "1.5", "2.0"],
        at_least: false,
        evaluated: false,
    },
    item("cu", "铜", ["0.01", "1.0", "1.0", "1.0", "1.0"]),
    item("zn", "锌", ["0.05", "1.0", "1.0", "2.0", "2.0"]),
    item("f", "氟化物", ["1.0", "1.0", "1.0", "1.5", "1.5"]),
    item("se", "硒", ["0.01", "0.01", "0.01", "0.02", "0.02"]),
    item("as", "砷", ["0.05", "0.05", "0.05", "0.1", "0.1"]),
    item(
        "hg",
        "汞",
        ["0.00005", "0.00005", "0.0001", "0.001", "0.001"],
    ),
    item("cd", "镉", ["0.001", "0.005", "0.005", "0.005", "0.01"]),
    item("cr6", "六价铬", ["0.01", "0.05", "0.05", "0.05", "0.1"]),
    item("pb", "铅", ["0.01", "0.01", "0.05", "0.05", "0.1"]),
    item("cn", "氰化物", ["0.005", "0.05", "0.2", "0.2", "0.2"]),
    item(
        "phenol",
        "挥发酚",
        ["0.002", "0.002", "0.005", "0.01", "0.1"],
    ),
    item("oil", "石油类", ["0.05", "0.05", "0.05", "0.5", "1.0"]),
    item(
        "las",
        "阴离子表面活性剂",
        ["0.2", "0.2", "0.2", "0.3", "0.3"],
    ),
    item("sulfide", "硫化物", ["0.05", "0.1", "0.2", "0.5", "1.0"]),
    ItemDef {
        name: "fecal_coliform",
        label: "粪大肠菌群(个/L)",
        limits: ["200", "2000", "10000", "20000", "40000"],
        at_least: false,
        evaluated: false,
    },
];

const LAKE_TP: [&str; 5] = ["0.01", "0.025", "0.05", "0.1", "0.2"];

/// The upper bounds of classes I–V of an item in a river (GB 3838-2002 Table 1, mg/L; for
/// dissolved oxygen the lower bounds), and whether higher is better; `None` for an item without
/// classes (pH, temperature) or unknown.
pub fn class_limits(item: &str) -> Option<([&'static str; 5], bool)> {
    ITEMS
        .iter()
        .find(|i| i.name == item)
        .map(|i| (i.limits, i.at_least))
}

/// Item names accepted (plus `ph` and `temp`).
pub fn item_names() -> String {
    let mut n: Vec<&str> = vec!["ph", "temp"];
    n.extend(ITEMS.iter().map(|i| i.name));
    n.join(", ")
}

/// One item's judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemClass {
    /// Item name.
    pub item: String,
    /// Chinese name.
    pub label: &'static str,
    /// The value judged.
    pub value: Dec,
    /// Its class (`None` for items without classes: water temperature).
    pub class: Option<Class>,
    /// Whether it counts for the section class.
    pub evaluated: bool,
}

/// A section's judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// `GB 3838-2002`.
    pub standard: &'static str,
    /// River or lake.
    pub waterbody: Waterbody,
    /// Every item.
    pub items: Vec<ItemClass>,
    /// The worst class among the evaluated items.
    pub class: Option<Class>,
    /// The items at that class (the ones that decide it).
    pub deciding: Vec<String>,
    /// 优 … 重度污染.
    pub status_zh: Option<&'static str>,
    /// Against the target class, when one is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meets_target: Option<bool>,
}

fn dec(t: &str) -> Dec {
    Dec::parse(t).unwrap_or(Dec::int(0))
}

/// Class of one item.
pub fn item_class(name: &str, value: Dec, waterbody: Waterbody) -> Result<ItemClass, InputError> {
    let n = name.to_ascii_lowercase();
    if value.is_negative() {
        return Err(InputError::Impossible(format!(
            "{name} = {value} is negative"
        )));
    }
    if n == "ph" {
        if value > Dec::int(14) {
            return Err(InputError::Impossible(format!("pH {value} is above 14")));
        }
        let ok = value >= Dec::int(6) && value <= Dec::int(9);
        return Ok(ItemClass {
            item: n,
            label: "pH",
            value,
            class: Some(if ok { Class::I } else { Class::InferiorV }),
            evaluated: true,
        });
    }
    if n == "temp" {
        return Ok(ItemClass {
            item: n,
            label: "水温",
            value,
            class: None,
            evaluated: false,
        });
    }
    let def = ITEMS
        .iter()
        .find(|i| i.name == n)
        .ok_or_else(|| InputError::Unknown {
            what: "water item",
            name: name.to_owned(),
            known: item_names(),
        })?;
    let limits: [&str; 5] = if n == "tp" && waterbody == Waterbody::Lake {
        LAKE_TP
    } else {
        def.limits
    };
    let class = Class::ALL
        .into_iter()
        .zip(limits)
        .find(|(_, l)| {
            if def.at_least {
                value >= dec(l)
            } else {
                value <= dec(l)
            }
        })
        .map_or(Class::InferiorV, |(c, _)| c);
    let evaluated = def.evaluated && !(n == "tn" && waterbody == Waterbody::River);
    Ok(ItemClass {
        item: n,
        label: def.label,
        value,
        class: Some(class),
        evaluated,
    })
}

/// Judges a section from item values (means over the period), optionally against a target.
pub fn assess(
    values: &[(String, Dec)],
    waterbody: Waterbody,
    target: Option<Class>,
) -> Result<Assessment, InputError> {
    let items = values
        .iter()
        .map(|(n, v)| item_class(n, *v, waterbody))
        .collect::<Result<Vec<_>, _>>()?;
    let class = items
        .iter()
        .filter(|i| i.evaluated)
        .filter_map(|i| i.class)
        .max();
    let deciding = items
        .iter()
        .filter(|i| i.evaluated && i.class.is_some() && i.class == class)
        .map(|i| i.item.clone())
        .collect();
    Ok(Assessment {
        standard: "GB 3838-2002",
        waterbody,
        items,
        class,
        deciding,
        status_zh: class.map(Class::status_zh),
        meets_target: match (class, target) {
            (Some(c), Some(t)) => Some(c <= t),
            _ => None,
        },
    })
}

/// Period means of each item from samples (the period's class is the class of the means, not of
/// the worst sample).
pub fn period_means(samples: &[(String, Dec)]) -> Vec<(String, Dec)> {
    let mut by: std::collections::BTreeMap<String, Vec<Dec>> = std::collections::BTreeMap::new();
    for (n, v) in samples {
        by.entry(n.to_ascii_lowercase()).or_default().push(*v);
    }
    by.into_iter()
        .filter_map(|(n, vs)| Dec::mean(&vs, 4).map(|m| (n, m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[(&str, &str)]) -> Vec<(String, Dec)> {
        items
            .iter()
            .map(|(n, x)| ((*n).to_owned(), Dec::parse(x).expect("number")))
            .collect()
    }

    #[test]
    fn limits_are_inclusive_and_shared_limits_give_the_better_class() {
        let c = |n: &str, x: &str, w| {
            item_class(n, Dec::parse(x).expect("n"), w)
                .expect("ok")
                .class
        };
        assert_eq!(c("cod", "15", Waterbody::River), Some(Class::I));
        assert_eq!(c("cod", "15.01", Waterbody::River), Some(Class::III));
        assert_eq!(c("nh3n", "1.0", Waterbody::River), Some(Class::III));
        assert_eq!(c("nh3n", "2.01", Waterbody::River), Some(Class::InferiorV));
        assert_eq!(c("do", "7.5", Waterbody::River), Some(Class::I));
        assert_eq!(c("do", "5.99", Waterbody::River), Some(Class::III));
        assert_eq!(c("do", "1.9", Waterbody::River), Some(Class::InferiorV));
        assert_eq!(c("tp", "0.15", Waterbody::River), Some(Class::III));
        assert_eq!(c("tp", "0.15", Waterbody::Lake), Some(Class::V));
        assert_eq!(c("ph", "9.1", Waterbody::River), Some(Class::InferiorV));
        assert!(item_class("gold", Dec::int(1), Waterbody::River).is_err());
        assert!(item_class("cod", Dec::int(-1), Waterbody::River).is_err());
    }

    #[test]
    fn section_class_is_the_worst_evaluated_item() {
        let a = assess(
            &v(&[
                ("ph", "7.2"),
                ("do", "6.1"),
                ("codmn", "4.5"),
                ("nh3n", "0.8"),
                ("tp", "0.15"),
                ("tn", "5"),
            ]),
            Waterbody::River,
            Some(Class::III),
        )
        .expect("ok");
        assert_eq!(a.class, Some(Class::III));
        assert_eq!(a.deciding, ["codmn", "nh3n", "tp"]);
        assert_eq!(a.meets_target, Some(true));
        assert!(
            !a.items
                .iter()
                .find(|i| i.item == "tn")
                .expect("tn")
                .evaluated,
            "TN is reference only for rivers"
        );
        let worse = assess(&v(&[("nh3n", "1.6")]), Waterbody::River, Some(Class::III)).expect("ok");
        assert_eq!(
            (worse.class, worse.meets_target, worse.status_zh),
            (Some(Class::V), Some(false), Some("中度污染"))
        );
    }

    #[test]
    fn the_period_mean_decides_not_the_worst_sample() {
        let means = period_means(&v(&[("nh3n", "0.4"), ("nh3n", "1.4")]));
        let a = assess(&means, Waterbody::River, None).expect("ok");
        // Mean 0.9 is class III; the worst sample (1.4) alone would be IV.
        assert_eq!(a.class, Some(Class::III));
    }

    proptest::proptest! {
        #[test]
        fn overall_is_the_worst_item(values in proptest::collection::vec((0usize..5, 0u32..5000), 1..6)) {
            let names = ["codmn", "nh3n", "tp", "cod", "bod5"];
            let items: Vec<(String, Dec)> = values.iter().map(|(i, x)| (names[*i].to_owned(), Dec::new(i128::from(*x), 3))).collect();
            let a = assess(&items, Waterbody::River, None).expect("ok");
            let worst = a.items.iter().filter_map(|i| i.class).max();
            proptest::prop_assert_eq!(a.class, worst);
        }
    }
}
