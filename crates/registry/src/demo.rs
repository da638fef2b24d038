//! The demo city: a synthetic but realistic Jinan, generated from a seed.
//!
//! Real districts and counties with their approximate centres and the city's geographic extent;
//! invented enterprise, village and outlet names. The counts are those of a city like Jinan:
//! about 300 enterprises with 600 outlets, 15 air stations, 12 water sections (the three key
//! sections of the plan with their target classes; outlets, stations and sections are the
//! entries of the points registry), 40 noise points, 30 radioactive sources,
//! 1,200 sewage outlets in the Yellow River basin at every stage, 20,000 old vehicles, 201
//! villages, 11 carbon-market enterprises, risk units, hazardous-waste units, plots, projects and
//! protected areas. Progress through the year (outlets remediated, vehicles scrapped, villages
//! improved, allowances surrendered) is generated as dated changes, so the registries have a
//! history and the targets a trend. The same seed gives the same city.

use serde_json::{Map, Value, json};

/// One change to apply: at `at_ms`, put `entry` into `registry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When (Unix ms).
    pub at_ms: i64,
    /// The registry.
    pub registry: &'static str,
    /// The entry as it is from then on.
    pub entry: Map<String, Value>,
}

/// The generated city.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Every change, oldest first.
    pub events: Vec<Event>,
    /// The monitoring points (outlets, air stations, water sections), each with an MN
    /// (password `123456`); each is also an entry of the points registry in `events`.
    pub points: Vec<domain::Point>,
}

/// One change of the demo city as a registry store applies it: the entry checked against its
/// registry's schema and keyed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// When (Unix ms).
    pub at_ms: i64,
    /// The key of the entry in its registry.
    pub id: String,
    /// The entry, normalised by the schema.
    pub entry: Map<String, Value>,
}

/// A change of the generated city that its registry refuses: a defect of the generator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("demo city: {registry}: {detail}")]
pub struct DemoError {
    /// The registry.
    pub registry: String,
    /// What is wrong.
    pub detail: String,
}

/// Loading the demo city: the city of `seed` with its year running from the first of January
/// (Beijing) of `now_ms`'s year to `now_ms`, each change validated and keyed, grouped by
/// registry, oldest first within each.
pub fn checked_changes(
    seed: u64,
    now_ms: i64,
) -> Result<std::collections::BTreeMap<&'static str, Vec<Checked>>, DemoError> {
    let year_start = bjtime::Date::of(now_ms.div_euclid(1000))
        .first_of_year()
        .start()
        * 1000;
    let mut out: std::collections::BTreeMap<&'static str, Vec<Checked>> = Default::default();
    for e in city(seed, year_start, now_ms).events {
        let invalid = |detail: String| DemoError {
            registry: e.registry.to_owned(),
            detail,
        };
        let schema = crate::schema(e.registry).ok_or_else(|| invalid("no such schema".into()))?;
        let entry = schema
            .validate(&e.entry)
            .map_err(|errors| invalid(format!("{errors:?}")))?;
        let id = schema
            .key_of(&entry)
            .ok_or_else(|| invalid("an entry without its key".into()))?;
        out.entry(e.registry).or_default().push(Checked {
            at_ms: e.at_ms,
            id,
            entry,
        });
    }
    Ok(out)
}

/// Districts and counties of Jinan: (value in the schemas, approximate centre).
pub const DISTRICTS: &[(&str, [f64; 2])] = &[
    ("lixia", [117.08, 36.67]),
    ("shizhong", [116.99, 36.62]),
    ("huaiyin", [116.90, 36.65]),
    ("tianqiao", [116.99, 36.72]),
    ("licheng", [117.20, 36.68]),
    ("changqing", [116.75, 36.55]),
    ("zhangqiu", [117.53, 36.71]),
    ("jiyang", [117.17, 36.98]),
    ("laiwu", [117.67, 36.21]),
    ("gangcheng", [117.81, 36.06]),
    ("pingyin", [116.45, 36.29]),
    ("shanghe", [117.16, 37.31]),
];

/// The city's randomness: seeded, so the same seed gives the same city.
struct Rng(fastrand::Rng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Self(fastrand::Rng::with_seed(seed))
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.usize(..n.max(1))
    }
    fn unit(&mut self) -> f64 {
        self.0.f64()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A unified social credit code with a valid check character (GB 32100-2015).
fn credit_code(rng: &mut Rng) -> String {
    let mut body: Vec<u8> = b"91370100".to_vec();
    for _ in 0..9 {
        body.push(USCC_CHARS[rng.below(USCC_CHARS.len())]);
    }
    let sum: u32 = body
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(c, w)| USCC_CHARS.iter().position(|x| x == c).unwrap_or(0) as u32 * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    body.push(USCC_CHARS[check as usize]);
    String::from_utf8_lossy(&body).into_owned()
}

fn near(rng: &mut Rng, centre: [f64; 2], spread: f64) -> Value {
    let lon = centre[0] + (rng.unit() - 0.5) * spread;
    let lat = centre[1] + (rng.unit() - 0.5) * spread;
    json!([(lon * 1e5).round() / 1e5, (lat * 1e5).round() / 1e5])
}

fn square(centre: [f64; 2], half: f64) -> Value {
    let [x, y] = centre;
    json!({"type": "Polygon", "coordinates": [[[x - half, y - half], [x + half, y - half],
        [x + half, y + half], [x - half, y + half], [x - half, y - half]]]})
}

fn station_point(
    id: &str,
    (name, name_en): (&str, &str),
    mn: &str,
    kind: domain::PointKind,
    st: &str,
    location: &Value,
) -> domain::Point {
    domain::Point {
        id: id.to_owned(),
        name: name.to_owned(),
        name_en: Some(name_en.to_owned()),
        mn: mn.to_owned(),
        password: "123456".into(),
        st: st.into(),
        kind,
        location: location
            .as_array()
            .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?])),
        rtd_interval_s: 60,
        min_interval_min: 10,
        accepted_crc: vec!["hj212".into()],
        codes: Default::default(),
        enterprise: None,
        district: None,
        abatement: Vec::new(),
    }
}

/// The emission limits of a demo outlet's codes, from the standards that apply to its kind
/// (`../shared/docs/standards.md` §4.1 and §4.5):
/// - coal power (火力发电) flue gas: the ultra-low emission limits (环发〔2015〕164号) at the
///   reference O2 of coal power boilers (GB 13223-2011): PM 10, SO2 35, NOx 50 mg/m³ at 6 %;
/// - other flue gas: the special limits for key regions of GB 13223-2011 (PM 20, SO2 50,
///   NOx 100 mg/m³), at the reference O2 of the sector (cement kilns 10 %, GB 4915-2013; coal
///   industrial boilers 9 %, GB 13271-2014). The sectors' own emission standards are not in the
///   standards summary; these stand in for them in the demo city and say so here;
/// - waste water: GB 18918-2002 class 1A (COD 50, NH3-N 5, TP 0.5 mg/L), the discharge class
///   of a municipal plant in the basin, used for every outlet of the demo.
fn outlet_limits(
    kind: domain::PointKind,
    industry: &str,
) -> std::collections::BTreeMap<String, domain::CodeSetting> {
    let setting = |limit: f64, ref_o2: Option<f64>, unit: &str| domain::CodeSetting {
        limit: Some(limit),
        ref_o2,
        unit: Some(unit.to_owned()),
        ..Default::default()
    };
    let limits: Vec<(&str, domain::CodeSetting)> = match kind {
        domain::PointKind::GasOutlet => {
            let (pm, so2, nox, o2) = match industry {
                "火力发电" => (10.0, 35.0, 50.0, 6.0),
                "水泥" => (20.0, 50.0, 100.0, 10.0),
                _ => (20.0, 50.0, 100.0, 9.0),
            };
            vec![
                ("a34013", setting(pm, Some(o2), "mg/m3")),
                ("a21026", setting(so2, Some(o2), "mg/m3")),
                ("a21002", setting(nox, Some(o2), "mg/m3")),
            ]
        }
        domain::PointKind::WaterOutlet => vec![
            ("w01018", setting(50.0, None, "mg/L")),
            ("w21003", setting(5.0, None, "mg/L")),
            ("w21011", setting(0.5, None, "mg/L")),
        ],
        _ => Vec::new(),
    };
    limits
        .into_iter()
        .map(|(code, s)| (code.to_owned(), s))
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn date(ms: i64) -> String {
    bjtime::Date::of(ms.div_euclid(1000)).to_string()
}

const PREFIX: &[&str] = &[
    "泉城", "齐鲁", "华山", "济水", "鹊山", "历山", "舜耕", "趵突", "明湖", "千佛", "黄台", "章丘",
];
/// English renderings of `PREFIX`, in the same order.
const PREFIX_EN: &[&str] = &[
    "Quancheng",
    "Qilu",
    "Huashan",
    "Jishui",
    "Queshan",
    "Lishan",
    "Shungeng",
    "Baotu",
    "Minghu",
    "Qianfo",
    "Huangtai",
    "Zhangqiu",
];
/// English renderings of the company-name suffixes of `INDUSTRIES`, in the same order.
const SUFFIX_EN: &[&str] = &[
    "Chemical Co., Ltd.",
    "Thermal Power Co., Ltd.",
    "Iron and Steel Co., Ltd.",
    "Cement Co., Ltd.",
    "Pharmaceutical Co., Ltd.",
    "Paper Co., Ltd.",
    "Food Co., Ltd.",
    "Water Co., Ltd.",
    "Machinery Co., Ltd.",
    "Dyeing Co., Ltd.",
];
/// A district's names in Chinese and English, from the registries' district list.
fn district_names(code: &str) -> (String, String) {
    let field = crate::schema("enterprises")
        .and_then(|s| s.fields.iter().find(|f| f.name == "district").cloned());
    let i = field
        .as_ref()
        .and_then(|f| f.values.iter().position(|v| v == code));
    match (field, i) {
        (Some(f), Some(i)) => (
            f.values_zh
                .get(i)
                .cloned()
                .unwrap_or_else(|| code.to_owned()),
            f.values_en
                .get(i)
                .cloned()
                .unwrap_or_else(|| code.to_owned()),
        ),
        _ => (code.to_owned(), code.to_owned()),
    }
}

const INDUSTRIES: &[(&str, &str)] = &[
    ("化工", "化工有限公司"),
    ("火力发电", "热电有限公司"),
    ("钢铁", "钢铁有限公司"),
    ("水泥", "水泥有限公司"),
    ("制药", "制药有限公司"),
    ("造纸", "纸业有限公司"),
    ("食品", "食品有限公司"),
    ("污水处理", "水务有限公司"),
    ("机械制造", "机械有限公司"),
    ("印染", "印染有限公司"),
];

/// Generates the city; `year_start_ms` is 1 January of the current year (Beijing) and `now_ms`
/// the present: progress is spread between the two.
pub fn city(seed: u64, year_start_ms: i64, now_ms: i64) -> City {
    let mut rng = Rng::seeded(seed);
    let mut ev = Vec::new();
    let t0 = year_start_ms;
    let span = (now_ms - t0).max(1);
    let when = |rng: &mut Rng| t0 + (rng.unit() * span as f64) as i64;
    let mut put = |at_ms: i64, registry: &'static str, entry: Value| {
        ev.push(Event {
            at_ms,
            registry,
            entry: obj(entry),
        })
    };

    // Enterprises and their monitoring points.
    let mut points = Vec::new();
    let mut enterprises = Vec::new();
    for i in 0..300 {
        let (district, centre) = *rng.pick(DISTRICTS);
        let industry_at = rng.below(INDUSTRIES.len());
        let (industry, suffix) = INDUSTRIES[industry_at];
        let code = credit_code(&mut rng);
        let prefix_at = rng.below(PREFIX.len());
        let name = format!(
            "济南{}{}{}",
            PREFIX[prefix_at],
            ["", "新", "盛", "远", "恒"][i % 5],
            suffix
        );
        let name_en = format!(
            "Jinan {} {}{}",
            PREFIX_EN[prefix_at],
            ["", "Xin ", "Sheng ", "Yuan ", "Heng "][i % 5],
            SUFFIX_EN[industry_at]
        );
        let location = near(&mut rng, centre, 0.12);
        let gas = !matches!(industry, "污水处理" | "食品");
        let totals = if gas {
            json!({"SO2": 20 + rng.below(200), "NOx": 30 + rng.below(300), "颗粒物": 5 + rng.below(50)})
        } else {
            json!({"COD": 50 + rng.below(400), "氨氮": 5 + rng.below(40)})
        };
        put(
            t0,
            "enterprises",
            json!({
                "credit_code": code, "name": format!("{name}{i:03}"), "name_en": format!("{name_en} {i:03}"),
                "district": district,
                "industry": industry, "location": location, "key_air": gas, "key_water": !gas || i % 3 == 0,
                "key_risk": matches!(industry, "化工" | "制药"), "permit_number": format!("{code}001P"),
                "permit_valid_until": format!("{}-12-31", 2027 + i % 3), "permitted_totals": totals,
            }),
        );
        for (j, kind) in [
            (0, if gas { "gas_outlet" } else { "water_outlet" }),
            (1, "water_outlet"),
        ] {
            let id = format!("E{i:03}-{}", j + 1);
            let mn = format!("37010000000000{:010}", i * 2 + j);
            let (point_kind, st) = if kind == "gas_outlet" {
                (domain::PointKind::GasOutlet, "31")
            } else {
                (domain::PointKind::WaterOutlet, "32")
            };
            let mut p = station_point(
                &id,
                (
                    &format!("{name}{i:03} {}号排口", j + 1),
                    &format!("{name_en} {i:03}, outlet {}", j + 1),
                ),
                &mn,
                point_kind,
                st,
                &location,
            );
            p.rtd_interval_s = 30;
            p.codes = outlet_limits(point_kind, industry);
            if point_kind == domain::PointKind::GasOutlet {
                // Power plants and half the boilers scrub wet; cement kilns and the other
                // boilers desulphurise dry or semi-dry and leave hot.
                let units: &[&str] = match industry {
                    "火力发电" => &["scr", "esp", "wet_fgd", "wet_esp"],
                    "水泥" => &["sncr", "bag_filter"],
                    _ if i % 2 == 0 => &["sncr", "bag_filter", "wet_fgd"],
                    _ => &["sncr", "semi_dry_fgd", "bag_filter"],
                };
                p.abatement = units.iter().map(|u| (*u).to_owned()).collect();
            }
            p.enterprise = Some(code.clone());
            p.district = Some(district.to_owned());
            points.push(p);
        }
        enterprises.push((code, district, centre, industry));
    }

    for i in 0..15 {
        let (district, centre) = DISTRICTS[i % DISTRICTS.len()];
        let location = near(&mut rng, centre, 0.05);
        let (code, mn) = (format!("3701A{i:03}"), format!("370100000000000100{i:06}"));
        let (district_zh, district_en) = district_names(district);
        let (name, name_en) = (
            format!("{district_zh}空气站{}", i + 1),
            format!("{district_en} air station {}", i + 1),
        );
        put(
            t0,
            "air_stations",
            json!({
                "code": code, "name": name, "name_en": name_en, "district": district,
                "location": location, "level": (["national", "provincial", "city"][i % 3]), "mn": mn,
            }),
        );
        let mut p = station_point(
            &code,
            (&name, &name_en),
            &mn,
            domain::PointKind::AirStation,
            "22",
            &location,
        );
        p.district = Some(district.to_owned());
        points.push(p);
    }
    let river_en = |r: &'static str| -> &'static str {
        match r {
            "玉符河" => "Yufu River",
            "巨野河" => "Juye River",
            "绣江河" => "Xiujiang River",
            "大汶河" => "Dawen River",
            "瀛汶河" => "Yingwen River",
            "黄河" => "Yellow River",
            "北大沙河" => "Beidasha River",
            "徒骇河" => "Tuhai River",
            "小清河" => "Xiaoqing River",
            other => other,
        }
    };
    let key_names_en = [
        "Beidasha River mouth (into the Yellow River)",
        "Tuhai River at Liuchengqiao",
        "Xiaoqing River at Mulizhuang",
    ];
    let sections = [
        (
            "北大沙河入黄河口",
            "北大沙河",
            "changqing",
            [116.62, 36.60],
            "III",
        ),
        ("徒骇河刘成桥", "徒骇河", "shanghe", [117.18, 37.20], "IV"),
        ("小清河睦里庄", "小清河", "huaiyin", [116.86, 36.64], "III"),
    ];
    for i in 0..12 {
        let (name, name_en, river, district, centre, class, key) = match sections.get(i) {
            Some(&(n, r, d, c, k)) => (n.to_owned(), key_names_en[i].to_owned(), r, d, c, k, true),
            None => {
                let (d, c) = DISTRICTS[i % DISTRICTS.len()];
                let r = *rng.pick(&["玉符河", "巨野河", "绣江河", "大汶河", "瀛汶河", "黄河"]);
                (
                    format!("{r}{}断面", i + 1),
                    format!("{} section {}", river_en(r), i + 1),
                    r,
                    d,
                    c,
                    *rng.pick(&["II", "III", "IV"]),
                    false,
                )
            }
        };
        let location = if key {
            json!(centre)
        } else {
            near(&mut rng, centre, 0.1)
        };
        let (code, mn) = (format!("3701W{i:03}"), format!("370100000000000200{i:06}"));
        let mut p = station_point(
            &code,
            (&name, &name_en),
            &mn,
            domain::PointKind::WaterSection,
            "21",
            &location,
        );
        p.district = Some(district.to_owned());
        points.push(p);
        put(
            t0,
            "water_sections",
            json!({
                "code": code, "name": name, "name_en": name_en, "river": river, "district": district,
                "location": location, "mn": mn,
                "level": if key { "national" } else { "provincial" }, "target_class": class, "key_section": key,
            }),
        );
    }
    for i in 0..40 {
        let (district, centre) = *rng.pick(DISTRICTS);
        put(
            t0,
            "noise_points",
            json!({
                "code": format!("3701N{i:03}"), "name": format!("噪声点{}", i + 1), "district": district,
                "location": near(&mut rng, centre, 0.08), "zone_class": *rng.pick(&["1", "2", "3", "4a"]),
            }),
        );
    }
    for i in 0..80 {
        let (district, centre) = *rng.pick(DISTRICTS);
        let at = when(&mut rng);
        put(
            t0,
            "noise_sources",
            json!({
                "code": format!("NS{i:04}"), "name": format!("噪声源{}", i + 1), "district": district,
                "location": near(&mut rng, centre, 0.1),
                "source_type": *rng.pick(&["industrial", "construction", "traffic", "social"]),
            }),
        );
        if i % 3 == 0 {
            put(
                at,
                "noise_sources",
                json!({
                    "code": format!("NS{i:04}"), "name": format!("噪声源{}", i + 1), "district": district,
                    "location": near(&mut rng, centre, 0.1), "source_type": "construction", "status": "under_control",
                }),
            );
        }
    }
    let nuclides = [
        ("Cs-137", "IV"),
        ("Co-60", "II"),
        ("Ir-192", "II"),
        ("Am-241", "IV"),
        ("Sr-90", "V"),
    ];
    for i in 0..30 {
        let (code, district, centre, _) = enterprises[rng.below(enterprises.len())].clone();
        let (nuclide, class) = *rng.pick(&nuclides);
        put(
            t0,
            "radioactive_sources",
            json!({
                "source_code": format!("0137{nuclide}{i:05}").replace('-', ""), "nuclide": nuclide, "source_class": class,
                "activity_bq": 3.7e9 * (1.0 + rng.below(100) as f64), "holder": code, "district": district,
                "location": near(&mut rng, centre, 0.02),
            }),
        );
    }

    // 1,200 sewage outlets in the Yellow River basin, found at the start of the year and
    // moving through the remediation stages since.
    let stages = [
        "identified",
        "monitored",
        "traced",
        "plan",
        "remediated",
        "verified",
        "closed",
    ];
    for i in 0..1200 {
        let (district, centre) = *rng.pick(DISTRICTS);
        let receiving = *rng.pick(&["黄河", "小清河", "北大沙河", "玉符河", "徒骇河", "巨野河"]);
        let base = json!({
            "code": format!("SO{i:05}"), "name": format!("{receiving}{}号排污口", i + 1), "basin": "yellow_river",
            "receiving_water": receiving, "district": district, "location": near(&mut rng, centre, 0.15),
            "outlet_type": *rng.pick(&["industrial", "municipal", "municipal", "agricultural", "other"]),
        });
        put(t0, "sewage_outlets", base.clone());
        // Most outlets advance; how far depends on the draw.
        let reach = (rng.unit().powf(0.7) * stages.len() as f64) as usize;
        let mut at = t0;
        for stage in stages.iter().take(reach).skip(1) {
            at += ((now_ms - at) as f64 * rng.unit() * 0.5) as i64;
            let mut e = obj(base.clone());
            e.insert("status".into(), json!(stage));
            if *stage == "remediated" {
                e.insert("remediated_on".into(), json!(date(at)));
            }
            put(at, "sewage_outlets", Value::Object(e));
        }
    }

    // 20,000 old gasoline vehicles to scrap, scrapped through the year.
    for i in 0..20_000 {
        let (district, _) = *rng.pick(DISTRICTS);
        let vin = format!("LSV{:014}", 10_000_000_000u64 + i as u64 * 7919);
        let stage = *rng.pick(&["china_1", "china_2", "china_2", "china_3"]);
        let base = json!({
            "vin": vin, "plate": format!("鲁A{:05}", (i * 37) % 100_000), "fuel": "gasoline",
            "emission_stage": stage, "registered_on": format!("{}-0{}-15", 2002 + i % 8, 1 + i % 9),
            "district": district,
        });
        put(t0, "vehicles", base.clone());
        let fate = rng.unit();
        if fate < 0.85 {
            let notified = when(&mut rng);
            let mut e = obj(base.clone());
            e.insert("scrap_status".into(), json!("notified"));
            put(notified, "vehicles", Value::Object(e.clone()));
            if fate < 0.72 {
                let at = notified + ((now_ms - notified) as f64 * rng.unit()) as i64;
                e.insert("scrap_status".into(), json!("scrapped"));
                e.insert("scrapped_on".into(), json!(date(at)));
                put(at, "vehicles", Value::Object(e));
            }
        }
    }
    for i in 0..800 {
        let (district, _) = *rng.pick(DISTRICTS);
        let stage = *rng.pick(&[
            "pre_china_1",
            "china_1",
            "china_2",
            "china_2",
            "china_3",
            "china_4",
        ]);
        let base = json!({
            "code": format!("NRMM{i:05}"), "machine_type": *rng.pick(&["挖掘机", "装载机", "叉车", "压路机", "推土机"]),
            "emission_stage": stage, "district": district,
        });
        put(t0, "non_road_machinery", base.clone());
        if matches!(stage, "pre_china_1" | "china_1") && rng.unit() < 0.8 {
            let at = when(&mut rng);
            let mut e = obj(base);
            e.insert("status".into(), json!("eliminated"));
            e.insert("eliminated_on".into(), json!(date(at)));
            put(at, "non_road_machinery", Value::Object(e));
        }
    }
    for i in 0..201 {
        let (district, centre) = *rng.pick(DISTRICTS);
        let base = json!({
            "code": format!("V{i:04}"), "name": format!("{}{}村", rng.pick(&["王", "李", "张", "刘", "陈", "杨", "赵"]), ["家庄", "庄", "官庄", "屯", "楼"][i % 5]),
            "district": district, "town": format!("{district}镇{}", i % 7 + 1),
            "location": near(&mut rng, centre, 0.2), "population": 300 + rng.below(2500),
        });
        put(t0, "villages", base.clone());
        let mut at = t0;
        for stage in ["in_progress", "improved"] {
            if rng.unit() < 0.8 {
                at += ((now_ms - at) as f64 * rng.unit() * 0.6) as i64;
                let mut e = obj(base.clone());
                e.insert("status".into(), json!(stage));
                if stage == "improved" {
                    e.insert("improved_on".into(), json!(date(at)));
                }
                put(at, "villages", Value::Object(e));
            } else {
                break;
            }
        }
    }
    for (i, (code, district, _, _)) in enterprises.iter().take(11).enumerate() {
        let base = json!({
            "credit_code": code, "name": format!("济南碳排放重点单位{}", i + 1),
            "sector": if i < 7 { "power" } else { *rng.pick(&["steel", "cement", "other"]) },
            "district": district, "allocated_t": 500_000 + rng.below(2_000_000),
            "deadline": date(t0 + 364 * 86_400_000),
        });
        put(t0, "carbon_market_enterprises", base.clone());
        let mut e = obj(base);
        e.insert("verified_t".into(), json!(480_000 + rng.below(2_000_000)));
        e.insert("status".into(), json!("verified"));
        let at = when(&mut rng);
        put(at, "carbon_market_enterprises", Value::Object(e.clone()));
        if i < 8 {
            let later = at + ((now_ms - at) as f64 * rng.unit()) as i64;
            e.insert("status".into(), json!("surrendered"));
            e.insert("surrendered_on".into(), json!(date(later)));
            put(later, "carbon_market_enterprises", Value::Object(e));
        }
    }
    for (i, (code, district, centre, industry)) in enterprises.iter().enumerate() {
        if matches!(*industry, "化工" | "制药" | "钢铁") {
            put(
                t0,
                "key_risk_units",
                json!({
                    "credit_code": code, "name": format!("风险单位{}", i + 1), "district": district,
                    "location": near(&mut rng, *centre, 0.02), "risk_level": *rng.pick(&["low", "medium", "high"]),
                    "last_inspected": date(when(&mut rng)), "problems_found": rng.below(4), "plan_filed": rng.unit() < 0.9,
                }),
            );
            put(
                t0,
                "hazardous_waste_units",
                json!({
                    "credit_code": code, "name": format!("危废单位{}", i + 1), "district": district,
                    "location": near(&mut rng, *centre, 0.02), "role": "producer",
                    "waste_codes": (["HW06", "HW08", "HW49"][..1 + i % 3]), "annual_t": 10 + rng.below(2000),
                }),
            );
        }
    }
    for i in 0..40 {
        let (district, centre) = *rng.pick(DISTRICTS);
        let c = near(&mut rng, centre, 0.1);
        let c = [
            c[0].as_f64().unwrap_or(centre[0]),
            c[1].as_f64().unwrap_or(centre[1]),
        ];
        put(
            t0,
            "construction_land_plots",
            json!({
                "code": format!("PL{i:04}"), "name": format!("地块{}", i + 1), "district": district,
                "area": square(c, 0.002), "area_m2": 40_000 + rng.below(60_000),
                "planned_use": *rng.pick(&["居住用地", "商业用地", "公共管理与公共服务用地", "工业用地"]),
                "status": *rng.pick(&["registered", "investigated", "risk_assessed", "restoring", "restored"]),
            }),
        );
    }
    for i in 0..30 {
        let (district, _) = *rng.pick(DISTRICTS);
        put(
            t0,
            "projects",
            json!({
                "code": format!("PRJ{i:03}"), "name": format!("治理项目{}", i + 1), "district": district,
                "category": *rng.pick(&["air", "water", "soil", "noise", "ecology"]),
                "budget_wan": 100 + rng.below(5000), "starts_on": date(t0), "due_on": date(now_ms + 90 * 86_400_000),
                "status": *rng.pick(&["planned", "started", "completed", "accepted"]),
            }),
        );
    }
    let areas = [
        (
            "济南南部山区生态保护红线",
            "red_line",
            "licheng",
            [117.10, 36.45],
            0.12,
        ),
        (
            "卧虎山水库饮用水水源保护区",
            "drinking_water_source",
            "licheng",
            [117.03, 36.50],
            0.03,
        ),
        (
            "锦绣川水库饮用水水源保护区",
            "drinking_water_source",
            "licheng",
            [117.18, 36.50],
            0.025,
        ),
        (
            "玉符河湿地公园",
            "wetland_park",
            "shizhong",
            [116.88, 36.60],
            0.02,
        ),
        (
            "黄河玫瑰湖湿地公园",
            "wetland_park",
            "pingyin",
            [116.40, 36.33],
            0.03,
        ),
        (
            "济南药乡国家森林公园",
            "forest_park",
            "laiwu",
            [117.50, 36.25],
            0.05,
        ),
        (
            "千佛山风景名胜区",
            "scenic_area",
            "lixia",
            [117.03, 36.64],
            0.01,
        ),
        (
            "长清灵岩寺风景名胜区",
            "scenic_area",
            "changqing",
            [116.96, 36.35],
            0.03,
        ),
    ];
    for (i, (name, category, district, centre, half)) in areas.iter().enumerate() {
        put(
            t0,
            "protected_areas",
            json!({
                "code": format!("PA{i:02}"), "name": name, "category": category, "district": district,
                "area": square(*centre, *half),
            }),
        );
    }
    // 300 heavy-duty trucks under remote OBD monitoring, owned by the enterprises that move
    // bulk goods (steel, cement, chemicals), in fleets; China VI since 2021, filed and
    // activated through the years, a few suspended or deregistered. Drawn last, so that the
    // lists above stay as they were.
    let haulers: Vec<&(String, &str, [f64; 2], &str)> = enterprises
        .iter()
        .filter(|(_, _, _, industry)| matches!(*industry, "钢铁" | "水泥" | "化工" | "火力发电"))
        .collect();
    for i in 0..300 {
        let Some(owner) = (!haulers.is_empty()).then(|| haulers[i % haulers.len()]) else {
            break;
        };
        let (code, district, _, _) = owner;
        let wmi = *rng.pick(&["LZZ1ELSE", "LFWSRXRJ", "LGAX4DE4", "LZGJLNR4"]);
        let year = *rng.pick(&[
            ('L', 2020),
            ('M', 2021),
            ('N', 2022),
            ('P', 2023),
            ('R', 2024),
        ]);
        let raw = format!("{wmi}0{}A{:06}", year.0, 100_000 + i * 37);
        let Ok(vin) = hj1239::vin::with_check_digit(&raw) else {
            continue;
        };
        let stage = if year.1 >= 2021 {
            "china_6a"
        } else {
            "china_5"
        };
        let filed = t0 - (rng.below(700) as i64) * 86_400_000;
        let base = json!({
            "vin": vin, "plate": format!("鲁A{}{:04}", ["D", "F", "G"][i % 3], 1000 + i * 7),
            "enterprise": code, "fleet": (["运输一队", "运输二队", "运输三队"][i % 3]),
            "district": district, "engine_family": *rng.pick(&["WP10H", "YCK11", "MC11H", "D13"]),
            "fuel": "diesel", "emission_stage": stage, "after_treatment": ["doc", "dpf", "scr", "asc"],
            "terminal_chip_id": format!("CHIP{:012}", 4_000_000 + i), "protocol_layout": "auto",
            "activated_on": date(filed), "status": "filed",
        });
        put(t0, "heavy_duty_vehicles", base.clone());
        let mut e = obj(base);
        e.insert("status".into(), json!("active"));
        put(t0, "heavy_duty_vehicles", Value::Object(e.clone()));
        let fate = rng.unit();
        if fate < 0.04 {
            let at = when(&mut rng);
            e.insert(
                "status".into(),
                json!(if fate < 0.015 {
                    "deregistered"
                } else {
                    "suspended"
                }),
            );
            put(at, "heavy_duty_vehicles", Value::Object(e));
        }
    }
    // Every point is its entry in the points registry: outlets, stations and sections.
    for p in &points {
        ev.push(Event {
            at_ms: t0,
            registry: domain::POINTS_REGISTRY,
            entry: p.to_record(),
        });
    }
    ev.sort_by_key(|e| e.at_ms);
    City { events: ev, points }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(city: &City, registry: &str) -> usize {
        let schema = crate::schemas()
            .into_iter()
            .find(|s| s.name == registry)
            .expect("schema");
        let keys: std::collections::BTreeSet<String> = city
            .events
            .iter()
            .filter(|e| e.registry == registry)
            .filter_map(|e| schema.key_of(&e.entry))
            .collect();
        keys.len()
    }

    #[test]
    fn the_city_is_reproducible_valid_and_sized_as_asked() {
        let (t0, now) = (1_767_196_800_000, 1_795_622_400_000);
        let a = city(7, t0, now);
        assert_eq!(a, city(7, t0, now), "same seed, same city");
        // Every change is valid and keyed, and the year runs from the first of January.
        let checked = checked_changes(7, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            checked.values().map(Vec::len).sum::<usize>(),
            a.events.len()
        );
        assert_eq!(checked_changes(7, now), Ok(checked.clone()));
        assert!(
            checked
                .values()
                .flatten()
                .all(|c| c.at_ms >= t0 && c.at_ms <= now && !c.id.is_empty())
        );
        for (registry, n) in [
            ("enterprises", 300),
            ("monitoring_points", 600 + 15 + 12),
            ("air_stations", 15),
            ("water_sections", 12),
            ("noise_points", 40),
            ("radioactive_sources", 30),
            ("sewage_outlets", 1200),
            ("vehicles", 20_000),
            ("heavy_duty_vehicles", 300),
            ("villages", 201),
            ("carbon_market_enterprises", 11),
            ("protected_areas", 8),
        ] {
            assert_eq!(count(&a, registry), n, "{registry}");
        }
        assert_eq!(
            a.points.len(),
            600 + 15 + 12,
            "outlets, air stations, water sections"
        );
        assert!(a.events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        // Every outlet is judged against its limits; flue gas at its sector's reference O2.
        for p in &a.points {
            let so2 = p.codes.get("a21026");
            let cod = p.codes.get("w01018");
            match p.kind {
                domain::PointKind::GasOutlet => {
                    let so2 = so2.expect("an SO2 limit");
                    assert!(matches!(so2.limit, Some(l) if l == 35.0 || l == 50.0));
                    assert!(so2.ref_o2.is_some());
                }
                domain::PointKind::WaterOutlet => {
                    assert_eq!(cod.and_then(|c| c.limit), Some(50.0));
                }
                _ => assert!(p.codes.is_empty(), "{}", p.id),
            }
        }
        assert!(credit_code(&mut Rng::seeded(5)).len() == 18);
    }
}
