//! The hall's catalog for the journeys: the applied bundle if central sent one, else the
//! sample (simulate mode, tests); and the guide's view of a matter.

use std::path::Path;

use kiosk_api::catalog::{Catalog, Category, Matter};

use crate::model::{MaterialLine, MatterGuide, Text};

/// The sample catalog shipped for simulate mode and tests (`data/catalog.sample.json`).
pub const SAMPLE_JSON: &str = include_str!("../data/catalog.sample.json");

/// The sample catalog.
pub fn sample() -> Catalog {
    Catalog::from_json(SAMPLE_JSON.as_bytes())
        .expect("invariant: the shipped sample catalog is valid (tested)")
}

/// The catalog bundle the downlink applied under `data_dir`, if there is a valid one.
pub fn applied(data_dir: &Path) -> Option<Catalog> {
    let path = kiosk_core::sync::Downlink::bundle_path(data_dir, kiosk_api::catalog::BUNDLE_KIND);
    let bytes = std::fs::read(&path).ok()?;
    match Catalog::from_json(&bytes) {
        Ok(catalog) => Some(catalog),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "applied catalog unreadable; using the built-in one");
            None
        }
    }
}

/// The category with queue letter `code`.
pub fn category<'c>(catalog: &'c Catalog, code: &str) -> Option<&'c Category> {
    catalog.categories.iter().find(|c| c.code == code)
}

/// The matter with id `id`.
pub fn matter<'c>(catalog: &'c Catalog, id: &str) -> Option<&'c Matter> {
    catalog.matters.iter().find(|m| m.id == id)
}

/// A category's windows as a text (the catalog has one string for both languages).
pub fn windows(catalog: &Catalog, code: &str) -> Text {
    category(catalog, code)
        .map(|c| Text::same(c.windows.clone()))
        .unwrap_or_else(|| Text::same(catalog.hall.help_window.clone()))
}

/// The materials of a matter as lines.
pub fn material_lines(matter: &Matter) -> Vec<MaterialLine> {
    matter
        .materials
        .iter()
        .map(|m| MaterialLine {
            id: m.id.clone(),
            name: Text::new(&m.name_zh, &m.name_en),
            originals: m.originals,
            copies: m.copies,
            required: m.required,
            note: m
                .note_zh
                .as_ref()
                .map(|zh| Text::new(zh, m.note_en.clone().unwrap_or_default())),
        })
        .collect()
}

fn days(days: u32, note_zh: Option<&String>, note_en: Option<&String>) -> Text {
    match (days, note_zh) {
        (_, Some(zh)) => Text::new(zh, note_en.cloned().unwrap_or_else(|| zh.clone())),
        (0, None) => Text::new("即办", "Same visit"),
        (n, None) => Text::new(format!("{n}个工作日"), format!("{n} working days")),
    }
}

/// Everything the guide shows about `matter`.
pub fn guide(catalog: &Catalog, matter: &Matter) -> MatterGuide {
    MatterGuide {
        id: matter.id.clone(),
        name: Text::new(&matter.name_zh, &matter.name_en),
        kind: Text::new(&matter.kind_zh, &matter.kind_en),
        department: Text::new(&matter.department_zh, &matter.department_en),
        conditions: matter
            .conditions_zh
            .iter()
            .zip(&matter.conditions_en)
            .map(|(zh, en)| Text::new(zh, en))
            .collect(),
        materials: material_lines(matter),
        basis: matter
            .basis_zh
            .iter()
            .map(|b| Text::same(b.clone()))
            .collect(),
        statutory_limit: days(matter.statutory_days, None, None),
        promised_limit: days(
            matter.promised_days,
            matter.promised_note_zh.as_ref(),
            matter.promised_note_en.as_ref(),
        ),
        fee: Text::new(&matter.fee_zh, &matter.fee_en),
        window: windows(catalog, &matter.category),
        self_apply: matter.self_apply,
        appointment: matter.appointment,
    }
}

/// A material line as printed: `居民身份证 原件1份 复印件1份`.
pub fn material_print_line(line: &MaterialLine) -> String {
    let mut text = format!("{} 原件{}份", line.name.zh, line.originals);
    if line.copies > 0 {
        text.push_str(&format!(" 复印件{}份", line.copies));
    }
    if !line.required {
        text.push_str("（非必需）");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_guide_shows_limits_fees_and_materials() {
        let catalog = sample();
        let m = matter(&catalog, "hr-sscard-apply").unwrap();
        let g = guide(&catalog, m);
        assert_eq!(g.statutory_limit.zh, "30个工作日");
        assert_eq!(g.promised_limit.zh, "即时制卡");
        assert_eq!(g.materials.len(), 2);
        assert_eq!(
            material_print_line(&g.materials[0]),
            "居民身份证 原件1份 复印件1份"
        );
        assert_eq!(g.window.zh, category(&catalog, "B").unwrap().windows);
    }
}
