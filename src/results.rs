//! Inspection results (检查结果): recorded by operators for drawn targets,
//! then published in a results notice (检查结果公告) within 20 working days
//! of being recorded (SAMR rule 49 Art 39), counted on the official calendar
//! with its make-up workdays (provisionally on the statutory holidays for a
//! year whose table is not yet out, and marked so).
//!
//! Recording and publishing are ledger entries like everything else, so a
//! result can be neither changed silently nor published late without it
//! showing; the desk does both ([`crate::desk::results`]). This module holds
//! the result codes and the shapes of what is recorded.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ledger::{Kind, Payload};

/// The result categories of the national publicity system (several may
/// apply to one inspection), with their Chinese labels.
pub const RESULT_CODES: [(&str, &str); 17] = [
    ("1", "未发现问题"),
    ("A", "发现问题待后续处理"),
    ("B", "未按规定公示应当公示的信息"),
    ("C", "公示信息隐瞒真实情况弄虚作假"),
    ("6", "通过登记的住所（经营场所）无法联系"),
    ("D", "违反其他工商行政管理规定行为"),
    ("3", "违反食品药品相关规定"),
    ("4", "违反质量技术监督相关规定"),
    ("5", "违反其他部门相关规定"),
    ("E", "发现问题经责令已改正"),
    ("F", "未发现开展本次抽查涉及的经营活动"),
    ("7", "已关闭停业或正在组织清算"),
    ("8", "不配合检查情节严重"),
    ("9", "注销"),
    ("10", "被吊销"),
    ("11", "被撤销"),
    ("12", "迁出"),
];

/// The Chinese label of a result code, if it is one.
pub fn label(code: &str) -> Option<&'static str> {
    RESULT_CODES.iter().find(|(c, _)| *c == code).map(|(_, label)| *label)
}

/// One inspection's outcome, as an operator records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionResult {
    pub task_id: String,
    pub credit_code: String,
    /// Result codes; at least one.
    pub codes: Vec<String>,
    /// When the inspection was completed.
    pub inspection_date: NaiveDate,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub follow_up: String,
    #[serde(default)]
    pub closed: bool,
}

/// A recorded result with its ledger facts and publication deadline.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub result: InspectionResult,
    pub seq: u64,
    pub recorded_at: String,
    /// 20 working days after the day it was recorded.
    pub publish_by: NaiveDate,
    /// `publish_by` counts days of a year without an official holiday table,
    /// on the statutory holidays alone (see [`crate::calendar`]); it is
    /// computed afresh on every read, so it becomes official, and may move,
    /// once that year's table is added.
    pub provisional: bool,
    /// The results notice that published it, if any.
    pub published_in: Option<u64>,
}

/// What a results notice published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub task_id: String,
    /// The ledger entries of the results it publishes.
    pub results: Vec<u64>,
}

impl Payload for InspectionResult {
    const KIND: Kind = Kind::ResultRecorded;
}

impl Payload for Notice {
    const KIND: Kind = Kind::ResultsPublished;
}
