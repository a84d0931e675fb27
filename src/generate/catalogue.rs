//! The generator's reference data — townships, departments with their fields
//! and items, industries, naming vocabulary — read from `catalogue.toml`.
//!
//! The table is data, not code, so that it can be read and reviewed as a list
//! (and changed without touching the generator's logic). It is compiled into
//! the binary with `include_str!` and parsed once; [`Catalogue::parse`] checks
//! everything the generator relies on (non-empty lists, weights that are not
//! all zero, division codes that fit a credit code), so a bad edit fails at
//! the first use with the reason rather than as an index panic deep inside a
//! draw of names.

use std::sync::LazyLock;

use serde::Deserialize;

/// The built-in catalogue, parsed on first use.
///
/// Panics when the compiled-in file is malformed: that is a defect of the
/// build, not of anyone's input, and every generated file would be wrong.
pub(super) fn catalogue() -> &'static Catalogue {
    static BUILT_IN: LazyLock<Catalogue> = LazyLock::new(|| built_in(include_str!("catalogue.toml")));
    &BUILT_IN
}

fn built_in(text: &str) -> Catalogue {
    Catalogue::parse(text)
        .unwrap_or_else(|e| panic!("the built-in generator catalogue src/generate/catalogue.toml is malformed: {e}"))
}

/// Why a catalogue text was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum CatalogueError {
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A `[value, weight]` pair of a weighted list.
pub(super) type Weighted<T> = (T, u32);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Catalogue {
    pub general_ratios: Vec<RatioChoice>,
    pub key_ratios: Vec<RatioChoice>,
    /// Registration division codes (credit-code positions 3–8).
    pub divisions: Vec<Weighted<String>>,
    pub risk_classes: Vec<Weighted<String>>,
    pub relations: Vec<Weighted<String>>,
    pub surnames: Vec<Weighted<String>>,
    pub given_name_chars: Vec<String>,
    pub trade_first: Vec<String>,
    pub trade_second: Vec<String>,
    /// (product, 种植 or 养殖).
    pub cooperative_products: Vec<(String, String)>,
    pub townships: Vec<Township>,
    /// The first is the industry of every cooperative.
    pub industries: Vec<Industry>,
    pub departments: Vec<Department>,
}

/// The A–D ratios (percent) an item may get, and how often.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RatioChoice {
    pub ratios: [String; 4],
    pub weight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Township {
    pub name: String,
    /// Used inside shop names: 红果街道 → 盘州市红果张记小吃店.
    pub short: String,
    /// Relative number of registered businesses.
    pub weight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Department {
    pub name: String,
    /// Prefix of item codes (pinyin initials).
    pub abbr: String,
    /// Items at Panzhou's scale; also the apportioning weight.
    pub items: u32,
    pub fields: Vec<Field>,
}

/// An enforcement field (执法领域). Its items are the pairs of what is
/// inspected (`objects`) and which aspect (`aspects`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Field {
    pub name: String,
    /// Share of the department's items.
    pub weight: u32,
    /// Chance (percent) that an item is 重点 rather than 一般.
    pub key_percent: u64,
    pub methods: Vec<Weighted<String>>,
    pub laws: Vec<String>,
    pub objects: Vec<Object>,
    pub aspects: Vec<String>,
    /// Ratios every general item of the field uses, when a rule fixes them.
    #[serde(default)]
    pub ratios: Option<[String; 4]>,
}

/// What an item inspects, and the target scope that follows from it
/// (`;`-separated lists; empty means every entity type or industry).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Object {
    pub name: String,
    pub entity_types: String,
    pub industries: String,
}

/// A GB/T 4754-2017 section, with how common it is among individual and
/// corporate businesses and the words their names use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Industry {
    pub name: String,
    pub individual: u32,
    pub enterprise: u32,
    pub company_words: Vec<String>,
    pub shop_words: Vec<String>,
}

/// Division indices are packed into 3 bits of a target's uniqueness key
/// (see `targets::unique_credit_code`).
pub(super) const MAX_DIVISIONS: usize = 8;

impl Catalogue {
    pub(super) fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let catalogue: Catalogue = toml::from_str(text)?;
        catalogue.check().map_err(CatalogueError::Invalid)?;
        Ok(catalogue)
    }

    /// The conditions under which every draw of the generator is defined:
    /// weighted choices need a positive total, uniform picks a non-empty list.
    fn check(&self) -> Result<(), String> {
        fn weights<T>(
            what: &str,
            table: impl IntoIterator<Item = T>,
            weight: impl Fn(&T) -> u32,
        ) -> Result<(), String> {
            if table.into_iter().map(|x| u64::from(weight(&x))).sum::<u64>() == 0 {
                return Err(format!(
                    "{what}: the weights must not all be zero (or the list is empty)"
                ));
            }
            Ok(())
        }
        fn filled<T>(what: &str, list: &[T]) -> Result<(), String> {
            if list.is_empty() {
                return Err(format!("{what} must not be empty"));
            }
            Ok(())
        }

        weights("general_ratios", &self.general_ratios, |r| r.weight)?;
        weights("key_ratios", &self.key_ratios, |r| r.weight)?;
        weights("divisions", &self.divisions, |d| d.1)?;
        weights("risk_classes", &self.risk_classes, |r| r.1)?;
        weights("relations", &self.relations, |r| r.1)?;
        weights("surnames", &self.surnames, |s| s.1)?;
        weights("townships", &self.townships, |t| t.weight)?;
        weights("industries (individual)", &self.industries, |i| i.individual)?;
        weights("industries (enterprise)", &self.industries, |i| i.enterprise)?;
        filled("given_name_chars", &self.given_name_chars)?;
        filled("trade_first", &self.trade_first)?;
        filled("trade_second", &self.trade_second)?;
        filled("cooperative_products", &self.cooperative_products)?;
        filled("departments", &self.departments)?;

        if self.divisions.len() > MAX_DIVISIONS {
            return Err(format!("at most {MAX_DIVISIONS} divisions fit a target's key"));
        }
        for (code, _) in &self.divisions {
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("division {code:?} is not a six-digit code"));
            }
        }
        for industry in &self.industries {
            filled(
                &format!("industry {}: company_words", industry.name),
                &industry.company_words,
            )?;
            filled(&format!("industry {}: shop_words", industry.name), &industry.shop_words)?;
        }
        for dept in &self.departments {
            filled(&format!("department {}: fields", dept.name), &dept.fields)?;
            for field in &dept.fields {
                let at = format!("department {}, field {}", dept.name, field.name);
                weights(&format!("{at}: methods"), &field.methods, |m| m.1)?;
                filled(&format!("{at}: laws"), &field.laws)?;
                filled(&format!("{at}: objects"), &field.objects)?;
                filled(&format!("{at}: aspects"), &field.aspects)?;
                if field.key_percent > 100 {
                    return Err(format!("{at}: key_percent is above 100"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn built_in_catalogue_parses_with_panzhou_shape() {
        let cat = catalogue();
        assert_eq!(cat.departments.len(), 16);
        assert_eq!(cat.departments.iter().map(|d| d.items).sum::<u32>(), 635);
        assert_eq!(cat.departments.iter().map(|d| d.fields.len()).sum::<usize>(), 62);
        assert_eq!(cat.townships.len(), 27);
        assert_eq!(cat.industries.len(), 18);
        // Cooperatives take the first industry.
        assert_eq!(cat.industries[0].name, "农、林、牧、渔业");

        let mut abbrs = HashSet::new();
        for dept in &cat.departments {
            assert!(abbrs.insert(dept.abbr.as_str()), "{}", dept.abbr);
            assert!((3..=6).contains(&dept.fields.len()), "{}", dept.name);
            for field in &dept.fields {
                for object in &field.objects {
                    for industry in object.industries.split(';').filter(|s| !s.is_empty()) {
                        assert!(cat.industries.iter().any(|i| i.name == industry), "{industry}");
                    }
                }
            }
        }
        let names: HashSet<&str> = cat.townships.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 27);
    }

    /// The built-in text with one line replaced, for the refusal tests.
    fn edited(from: &str, to: &str) -> String {
        let text = include_str!("catalogue.toml");
        assert!(text.contains(from), "{from} not in the catalogue");
        text.replacen(from, to, 1)
    }

    #[test]
    #[should_panic(
        expected = "the built-in generator catalogue src/generate/catalogue.toml is malformed: departments must not be empty"
    )]
    fn a_malformed_built_in_catalogue_panics_naming_the_file_and_the_reason() {
        let text = include_str!("catalogue.toml");
        let start = text.find("[[departments]]").expect("departments in the catalogue");
        built_in(&format!("departments = []\n{}", &text[..start]));
    }

    #[test]
    fn malformed_catalogues_are_refused_with_the_reason() {
        let typo = edited("key_percent = 45", "key_procent = 45");
        let err = Catalogue::parse(&typo).unwrap_err();
        assert!(matches!(err, CatalogueError::Toml(_)), "{err}");
        assert!(err.to_string().contains("key_procent"), "{err}");

        let cases = [
            (
                edited(r#"["A", 30], ["B", 55], ["C", 12], ["D", 3]"#, r#"["A", 0]"#),
                "risk_classes",
            ),
            (edited(r#"["520281", 80]"#, r#"["52028", 80]"#), "six-digit"),
            (
                edited(r#"["520204", 1]"#, r#"["520204", 1], ["1", 1], ["2", 1], ["3", 1]"#),
                "at most 8 divisions",
            ),
            (
                edited(r#"shop_words = ["金融服务部"]"#, "shop_words = []"),
                "industry 金融业: shop_words",
            ),
            (
                edited("key_percent = 45", "key_percent = 145"),
                "field 食品安全: key_percent",
            ),
        ];
        for (text, reason) in cases {
            let err = Catalogue::parse(&text).unwrap_err();
            assert!(err.to_string().contains(reason), "expected {reason:?}, got {err}");
        }
    }
}
