//! Water target class: a section's hourly water quality worse than its registered GB 3838 target class.

use super::prelude::*;

/// A `water_target_class` rule has no parameters: its limits come from the point or the standard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterTargetClass {}

#[derive(Serialize)]
struct Evidence<'a> {
    rule: &'a str,
    window: HourWindow,
    code: &'a str,
    item: &'static str,
    value: String,
    class: envstd::water::Class,
    target_class: envstd::water::Class,
    standard: &'static str,
}

impl Evaluate for WaterTargetClass {
    fn evaluate(&self, input: &Input<'_>) -> Vec<Verdict> {
        let Input {
            rule,
            ctx,
            hour_start,
            rows,
            wanted,
            ..
        } = *input;
        let mut out = Vec::new();
        let Some(target) = ctx
            .water_target
            .as_deref()
            .and_then(|t| envstd::water::Class::from_name(t).ok())
        else {
            return out;
        };
        for (o, v) in hourly_values(rows, hour_start) {
            let Some(item) = envstd::codes::water_item(&o.code) else {
                continue;
            };
            let Ok(c) = envstd::water::item_class(item, v, envstd::water::Waterbody::River) else {
                continue;
            };
            let Some(class) = c.class else { continue };
            push(
                &mut out,
                wanted,
                &o.code,
                c.evaluated && class > target,
                || Evidence {
                    rule: &rule.id,
                    window: input.window(),
                    code: &o.code,
                    item,
                    value: v.to_string(),
                    class,
                    target_class: target,
                    standard: "GB 3838-2002",
                },
            );
        }
        out
    }
}
