//! The service catalog of a hall, delivered to kiosks as a signed bundle of kind
//! `catalog`. `journeys/data/catalog.sample.json` is a sample of its shape.

use serde::{Deserialize, Serialize};

/// Bundle kind under which catalogs are published.
pub const BUNDLE_KIND: &str = "catalog";

/// A hall's catalog: its categories (queue letters) and the matters citizens come for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Free text for people editing the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Version chosen by ops; also the bundle version.
    pub version: String,
    /// The hall this catalog is for.
    pub hall: Hall,
    /// Queue categories.
    pub categories: Vec<Category>,
    /// Matters (事项).
    pub matters: Vec<Matter>,
}

/// The hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hall {
    /// Hall id, as in enrolment tokens.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// IANA time zone, e.g. `Asia/Shanghai`; queue numbers reset at opening in this zone.
    pub timezone: String,
    /// Opening hours.
    pub opening_hours: Vec<OpeningHours>,
    /// Where citizens get help, shown on screen.
    pub help_window: String,
}

/// Opening hours for a set of days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// Days, e.g. `mon-fri` or `sat`.
    pub days: String,
    /// Opening time `HH:MM`.
    pub open: String,
    /// Closing time `HH:MM`.
    pub close: String,
}

/// A queue category: a letter prefix for numbers and the windows that serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Queue letter, e.g. `A` (numbers A001…).
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Windows serving it, as shown on screen and ticket.
    pub windows: String,
    /// Typical service time, for waiting-time estimates.
    pub avg_service_minutes: u32,
}

/// A matter (事项) with what the citizen needs for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matter {
    /// Stable id.
    pub id: String,
    /// Code of the [`Category`] whose queue serves it.
    pub category: String,
    /// Kind of matter (行政许可, 公共服务, …), Chinese.
    pub kind_zh: String,
    /// Kind of matter, English.
    pub kind_en: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Responsible department, Chinese.
    pub department_zh: String,
    /// Responsible department, English.
    pub department_en: String,
    /// Legal basis (laws and regulations), Chinese.
    #[serde(default)]
    pub basis_zh: Vec<String>,
    /// Conditions, Chinese.
    #[serde(default)]
    pub conditions_zh: Vec<String>,
    /// Conditions, English (same order as Chinese).
    #[serde(default)]
    pub conditions_en: Vec<String>,
    /// Materials to bring.
    #[serde(default)]
    pub materials: Vec<Material>,
    /// Statutory time limit in working days (0: decided on the spot).
    pub statutory_days: u32,
    /// Promised time limit in working days (0: same visit).
    pub promised_days: u32,
    /// Words for the promised time, Chinese (e.g. 即办).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_note_zh: Option<String>,
    /// Words for the promised time, English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_note_en: Option<String>,
    /// Fee, Chinese.
    pub fee_zh: String,
    /// Fee, English.
    pub fee_en: String,
    /// Whether the citizen can apply at the kiosk.
    pub self_apply: bool,
    /// Whether the matter needs an appointment.
    pub appointment: bool,
    /// Form fields of a kiosk application (only for `self_apply` matters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form: Vec<FormField>,
}

/// A material (材料) the citizen brings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    /// Stable id, unique within the matter.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Originals to show.
    pub originals: u32,
    /// Copies to hand in.
    pub copies: u32,
    /// Whether it is required.
    pub required: bool,
    /// Taken on site (photo, fingerprints) rather than brought.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_site: bool,
    /// Note, Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_zh: Option<String>,
    /// Note, English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_en: Option<String>,
}

/// A field of a kiosk application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Key in the submitted record.
    pub key: String,
    /// Chinese label.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    /// Whether the citizen must fill it.
    pub required: bool,
    /// How it is entered.
    #[serde(flatten)]
    pub input: FieldInput,
}

/// How a form field is entered on the touchscreen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldInput {
    /// Digits on a keypad, exactly `length` of them.
    Digits {
        /// Number of digits.
        length: u32,
    },
    /// One of a list; the two lists are the same choices in two languages.
    Choice {
        /// Choices, Chinese.
        choices_zh: Vec<String>,
        /// Choices, English.
        choices_en: Vec<String>,
    },
}

/// A catalog that parses but is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The JSON does not have the catalog's shape.
    #[error("catalog is not valid JSON of the catalog shape: {0}")]
    Parse(String),
    /// A rule of [`Catalog::validate`] is broken.
    #[error("catalog {version}: {problem}")]
    Inconsistent {
        /// Catalog version.
        version: String,
        /// What is wrong, naming the matter or category.
        problem: String,
    },
}

impl Catalog {
    /// Parses and validates a catalog file.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let catalog: Catalog =
            serde_json::from_slice(bytes).map_err(|e| CatalogError::Parse(e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Checks what the kiosk relies on: unique one-letter category codes, every matter in a
    /// known category, unique matter ids, bilingual lists of equal length.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let fail = |problem: String| {
            Err(CatalogError::Inconsistent {
                version: self.version.clone(),
                problem,
            })
        };
        if self.version.trim().is_empty() {
            return fail("version is empty".into());
        }
        let mut codes = std::collections::HashSet::new();
        for c in &self.categories {
            let one_letter = c.code.len() == 1 && c.code.bytes().all(|b| b.is_ascii_uppercase());
            if !one_letter {
                return fail(format!("category code {:?} is not one letter A-Z", c.code));
            }
            if !codes.insert(c.code.as_str()) {
                return fail(format!("category code {} appears twice", c.code));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for m in &self.matters {
            if !ids.insert(m.id.as_str()) {
                return fail(format!("matter id {} appears twice", m.id));
            }
            if !codes.contains(m.category.as_str()) {
                return fail(format!(
                    "matter {} is in unknown category {}",
                    m.id, m.category
                ));
            }
            if m.conditions_zh.len() != m.conditions_en.len() {
                return fail(format!(
                    "matter {}: conditions_zh and conditions_en differ in length",
                    m.id
                ));
            }
            for f in &m.form {
                if let FieldInput::Choice {
                    choices_zh,
                    choices_en,
                } = &f.input
                    && (choices_zh.len() != choices_en.len() || choices_zh.is_empty())
                {
                    return fail(format!(
                        "matter {} field {}: choices must be non-empty and the same in both languages",
                        m.id, f.key
                    ));
                }
            }
        }
        Ok(())
    }
}
