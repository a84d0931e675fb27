//! The public web pages, server-rendered: pure functions from published data
//! to one HTML `String` each. No HTTP here: the service maps routes to these.
//!
//! The pages are read on phones by people checking whether their business was
//! drawn, so they are self-contained (one inline `<style>`, no scripts, no
//! fonts, no requests to anyone else), Chinese first with English in smaller
//! type, and every piece of text that comes from data is HTML-escaped.
//!
//! The links assume these routes: `/`, `/search?q=`, `/verify`,
//! `/draws/{name}`, `/draws/{name}/bundle.zip`, `/draws/{name}/assignments.csv`
//! and `/draws/{name}/assignments.xlsx` (the current list),
//! `/draws/{name}/drawn.csv` (the bundle's own `assignments.csv`, as drawn),
//! where `{name}` is the bundle name, percent-encoded as one path segment.
//!
//! Teams are always shown as they stand after any substitutions
//! ([`CurrentList`]), with the team as drawn kept in sight.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write};

use super::current::{CurrentList, PublishedResult};
use super::publications::PublishedDraw;
use super::search::{DrawStanding, Found, Hit, SEARCH_LIMIT};
use crate::seed::{BeaconRecord, SeedSource};
use crate::standing::Standing;

/// The newest entry of the public ledger, the hash chain of everything
/// announced and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerHead {
    pub seq: u64,
    pub hash: String,
    /// The latest signed checkpoint, shown with a link to its note.
    pub checkpoint: Option<CheckpointLine>,
}

/// A signed checkpoint of the ledger's Merkle tree (docs/LEDGER.md): what an
/// outsider saves to catch a later truncation or rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointLine {
    pub size: u64,
    /// The root hash in base64, as the signed note writes it.
    pub root: String,
}

/// A plan announced before its draw (计划公告).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementView {
    pub task_id: String,
    pub plan_id: String,
    pub plan_name: String,
    pub department: String,
    pub inspection_date: String,
    /// Human-readable, e.g. '公开摇号：2026-01-05 10:00 现场录入'.
    pub seed_method: String,
    pub announced_at: String,
    pub snapshot_combined: String,
    /// The bundle name once drawn.
    pub drawn: Option<String>,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    Esc(text).to_string()
}

/// Escapes while formatting, so `write!` streams text into the page without
/// an intermediate `String` per field.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut done = 0;
        for (at, byte) in text.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&text[done..at])?;
            f.write_str(entity)?;
            done = at + 1;
        }
        f.write_str(&text[done..])
    }
}

/// Percent-encodes text as one URL path segment or query value: everything
/// but RFC 3986's unreserved characters, so a bundle name can never add a
/// path segment or break out of an attribute.
struct Url<'a>(&'a str);

impl Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in self.0.as_bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                f.write_char(byte as char)?;
            } else {
                write!(f, "%{byte:02X}")?;
            }
        }
        Ok(())
    }
}

// Writing into a String cannot fail; `w!` keeps that out of every line.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = write!($out, $($arg)*);
    };
}

pub const STYLE: &str = "\
:root{color-scheme:light}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.6 system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif;color:#1b1b1b;background:#f5f5f2}\
header{background:#9b1c1c;color:#fff;padding:.5rem 1rem}\
header a{color:#fff;text-decoration:none}\
header .brand{font-weight:bold;font-size:1.1rem;display:inline-block;margin-right:1rem}\
header nav{display:inline-block}\
header nav a{margin-right:1rem;white-space:nowrap}\
header .en{color:#f3d4d4}\
main{max-width:72rem;margin:0 auto;padding:.5rem 1rem 2rem}\
footer{max-width:72rem;margin:0 auto;padding:1rem;color:#555;font-size:.85rem;border-top:1px solid #ddd}\
h1{font-size:1.35rem;margin:.75rem 0}\
h2{font-size:1.15rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #ddd}\
h3{font-size:1.05rem;margin:0 0 .25rem}\
.en{font-size:.8em;color:#666;font-weight:normal}\
a{color:#0b57a4}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.6rem 0}\
.warn{background:#fff4e0;border-left:4px solid #d97a00;padding:.5rem .8rem;margin:.6rem 0}\
.muted{color:#666}\
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em;word-break:break-all}\
pre{background:#262626;color:#f0f0f0;padding:.7rem;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:.88em}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}\
dl.facts dt{color:#444}\
dl.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}\
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4rem}}\
form.search{display:flex;gap:.5rem;margin:.6rem 0}\
form.search input{flex:1;min-width:0;font-size:1rem;padding:.5rem;border:1px solid #999;border-radius:4px}\
form.search button{font-size:1rem;padding:.5rem 1rem;border:0;border-radius:4px;background:#9b1c1c;color:#fff}\
.scroll{overflow-x:auto}\
@media (max-width:40rem){\
table.list thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}\
table.list,table.list tbody,table.list tr,table.list td{display:block}\
table.list tr{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.3rem .6rem;background:#fff}\
table.list td{border:0;padding:.15rem 0 .15rem 6.5em;position:relative;min-width:0;text-align:left;overflow-wrap:anywhere}\
table.list td::before{content:attr(data-label);position:absolute;left:0;width:6em;color:#555}\
table.list td code{white-space:normal;word-break:break-all}}\
table{border-collapse:collapse;background:#fff;font-size:.9rem;width:100%}\
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#eee}\
td.n{text-align:right;color:#666}\
td code{word-break:normal;white-space:nowrap}\
td.name{min-width:9em}\
td.items{min-width:14em}\
ul.downloads{padding-left:1.2rem}\
#browser-verify button{font-size:1rem;padding:.5rem 1rem;border:0;border-radius:4px;background:#9b1c1c;color:#fff}\
#browser-verify button:disabled{background:#999}\
button .en{color:#f3d4d4}\
#browser-verify ol{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8em;overflow-wrap:anywhere;padding-left:1.5rem}\
#browser-verify li.skip{color:#8a5a00}\
.verdict{font-weight:bold;overflow-wrap:anywhere}\
.verdict.pass{color:#1a6b2f}\
.verdict.fail{color:#b00020}\
nav.pages{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem;margin:.8rem 0}\
nav.pages a,nav.pages strong{display:inline-block;min-width:2.75rem;min-height:2.75rem;padding:.55rem .8rem;\
text-align:center;border:1px solid #bbb;border-radius:6px;background:#fff;text-decoration:none;font-size:1rem}\
nav.pages strong{background:#9b1c1c;border-color:#9b1c1c;color:#fff}\
nav.pages .gap{padding:0 .2rem;color:#666}\
p.range{margin:.4rem 0;color:#444}\
";

/// Opens a page: head, style, site header with navigation, `<main>`, `<h1>`.
fn open_page(out: &mut String, title_zh: &str, title_en: &str) {
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{zh} · {en} — 双随机、一公开</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><a class=\"brand\" href=\"/\">双随机、一公开 <span class=\"en\">Random inspections, published</span></a>\
         <nav><a href=\"/\">首页 <span class=\"en\">Home</span></a>\
         <a href=\"/search\">查询 <span class=\"en\">Search</span></a>\
         <a href=\"/results\">检查结果 <span class=\"en\">Results</span></a>\
         <a href=\"/verify\">如何核验 <span class=\"en\">How to verify</span></a></nav></header>\n\
         <main>\n<h1>{zh} <span class=\"en\">{en}</span></h1>\n",
        zh = Esc(title_zh),
        en = Esc(title_en),
    );
}

fn close_page(out: &mut String, ledger_head: Option<&LedgerHead>) {
    out.push_str("</main>\n<footer>");
    if let Some(head) = ledger_head {
        ledger_line(out, head);
        out.push_str("<br>");
    }
    out.push_str(
        "抽查结果可由任何人按公开的算法独立复核。<span class=\"en\">Anyone can re-check every draw \
         with the published algorithm.</span> <a href=\"/verify\">如何核验 <span class=\"en\">How to verify</span></a>",
    );
    verifier_links(out, " · ");
    out.push_str("</footer>\n</body>\n</html>\n");
}

/// Downloads of the independent verifier, the specification it follows and
/// the golden vectors, carried in the binary (`crate::public::assets`).
fn verifier_links(out: &mut String, separator: &str) {
    use super::assets::{ALGORITHM_MD, VECTORS_ZIP, VERIFY_PY};
    for (k, (href, zh, en)) in [
        (VERIFY_PY, "核验程序 verify.py", "independent verifier (Python)"),
        (ALGORITHM_MD, "算法规范 ALGORITHM.md", "specification"),
        (VECTORS_ZIP, "标准测试向量", "golden vectors (zip)"),
    ]
    .into_iter()
    .enumerate()
    {
        if k > 0 {
            out.push_str(separator);
        }
        w!(out, "<a href=\"{href}\">{zh} <span class=\"en\">{en}</span></a>");
    }
}

fn ledger_line(out: &mut String, head: &LedgerHead) {
    if head.hash.is_empty() {
        out.push_str("公示账本：尚无记录 <span class=\"en\">Public ledger: no entries yet</span>");
    } else {
        w!(
            out,
            "公示账本最新记录 <span class=\"en\">Ledger head</span>：第 {seq} 条 <span class=\"en\">entry {seq}</span>，\
             <span class=\"hash\">{hash}</span>",
            seq = head.seq,
            hash = Esc(&head.hash),
        );
    }
    if let Some(checkpoint) = &head.checkpoint {
        w!(
            out,
            "<br>签名检查点 <span class=\"en\">Signed checkpoint</span>：前 {size} 条 <span class=\"en\">first {size} entries</span>，\
             根哈希 <span class=\"en\">root</span> <span class=\"hash\">{root}</span> \
             <a href=\"/api/v1/ledger/checkpoint\">签名文本 <span class=\"en\">signed note</span></a> \
             <a href=\"/api/v1/ledger/checkpoint/key\">验证公钥 <span class=\"en\">verifier key</span></a>",
            size = checkpoint.size,
            root = Esc(&checkpoint.root),
        );
    }
}

fn search_form(out: &mut String, query: &str) {
    w!(
        out,
        "<form class=\"search\" action=\"/search\" method=\"get\" role=\"search\">\
         <input name=\"q\" type=\"search\" value=\"{q}\" maxlength=\"100\" \
         placeholder=\"统一社会信用代码或企业名称 / credit code or business name\" \
         aria-label=\"统一社会信用代码或企业名称 / credit code or business name\">\
         <button type=\"submit\">查询</button></form>\n",
        q = Esc(query),
    );
}

/// A recorded time (RFC 3339, in the office's zone) as the public reads it:
/// Beijing time with the date written the Chinese way, and the recorded text
/// beside it, which is what the bundle holds; anything else as it is.
struct Beijing<'a>(&'a str);

impl Display for Beijing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match chrono::DateTime::parse_from_rfc3339(self.0) {
            Ok(at) => write!(
                f,
                "{}（北京时间）<span class=\"en\">{}</span>",
                at.with_timezone(&crate::clock::Zone::SHANGHAI.tz())
                    .format("%Y年%-m月%-d日 %H:%M:%S"),
                Esc(self.0)
            ),
            Err(_) => write!(f, "{}", Esc(self.0)),
        }
    }
}

/// A date (`YYYY-MM-DD`) written the Chinese way, the recorded text beside
/// it; anything else as it is.
struct ChineseDate<'a>(&'a str);

impl Display for ChineseDate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match chrono::NaiveDate::parse_from_str(self.0, "%Y-%m-%d") {
            Ok(date) => write!(
                f,
                "{} <span class=\"en\">{}</span>",
                date.format("%Y年%-m月%-d日"),
                Esc(self.0)
            ),
            Err(_) => write!(f, "{}", Esc(self.0)),
        }
    }
}

/// One `<dt>…</dt><dd>…</dd>` pair; `value` is already HTML.
fn fact(out: &mut String, zh: &str, en: &str, value: impl Display) {
    w!(out, "<dt>{zh} <span class=\"en\">{en}</span></dt><dd>{value}</dd>");
}

fn draw_href(name: &str) -> String {
    format!("/draws/{}", Url(name))
}

/// The seed's source in words; `Esc` is applied to the ceremony text.
fn seed_source(out: &mut String, source: &SeedSource) {
    match source {
        SeedSource::Ceremony { text, digits } => {
            w!(
                out,
                "公开摇号 <span class=\"en\">public ceremony</span>：「{text}」→ 数字 <span class=\"en\">digits</span> <code>{digits}</code>",
                text = Esc(text),
                digits = Esc(digits),
            );
        }
        SeedSource::Hex => {
            out.push_str("直接给定的种子 <span class=\"en\">given as 64 hex characters</span>");
        }
        SeedSource::Random => {
            out.push_str("计算机随机产生 <span class=\"en\">from the computer's random source</span>");
        }
        SeedSource::Beacon(beacon) => {
            out.push_str("公共随机信标 <span class=\"en\">public randomness beacon</span>：");
            beacon_round(out, beacon);
        }
        SeedSource::CommitReveal {
            commitment,
            secret,
            beacon,
        } => {
            w!(
                out,
                "承诺—揭示 <span class=\"en\">commit–reveal</span>：公告时公布的承诺 \
                 <span class=\"en\">commitment published at announcement</span> <span class=\"hash\">{commitment}</span>，\
                 抽取时揭示的密钥 <span class=\"en\">secret revealed at the draw</span> <span class=\"hash\">{secret}</span>",
                commitment = Esc(commitment),
                secret = Esc(secret),
            );
            if let Some(beacon) = beacon {
                out.push_str("；并结合 <span class=\"en\">combined with</span> ");
                beacon_round(out, beacon);
            }
        }
    }
}

fn beacon_round(out: &mut String, beacon: &BeaconRecord) {
    w!(
        out,
        "drand {chain} 第 {round} 轮 <span class=\"en\">round {round}</span>，随机值 \
         <span class=\"en\">randomness</span> <span class=\"hash\">{randomness}</span>",
        chain = Esc(&beacon.chain),
        round = beacon.round,
        randomness = Esc(&beacon.randomness),
    );
}

const AD_HOC: &str = "<p class=\"warn\"><strong>未事先公告的临时抽取</strong> \
    <span class=\"en\">ad hoc, not announced in advance</span>：随机种子没有在抽取前公开，\
    只能核验结果与种子一致，不能证明种子未经挑选。\
    <span class=\"en\">The seed was not published before the draw: the result can be checked against the seed, \
    but nothing shows that the seed was not chosen.</span></p>\n";

/// 首页: search box, announced plans, published draws, ledger head.
pub fn index_page(draws: &[PublishedDraw], announcements: &[AnnouncementView], ledger_head: &LedgerHead) -> String {
    let mut out = String::with_capacity(8 * 1024 + 1200 * (draws.len() + announcements.len()));
    open_page(&mut out, "双随机抽查公示", "Random inspections: public notices");
    out.push_str(
        "<p>查询企业是否被抽中 <span class=\"en\">Was a business drawn? Search by its 统一社会信用代码 \
         (unified social credit code) or name.</span></p>\n",
    );
    search_form(&mut out, "");
    out.push_str(
        "<p><a href=\"/results\">检查结果公告 <span class=\"en\">published inspection results</span></a></p>\n",
    );

    out.push_str("<h2>计划公告 <span class=\"en\">Announced plans</span></h2>\n");
    if announcements.is_empty() {
        out.push_str("<p class=\"muted\">暂无计划公告。<span class=\"en\">No plans announced.</span></p>\n");
    }
    for a in announcements {
        w!(
            out,
            "<section class=\"card\"><h3>{name} <span class=\"en\">{id}</span></h3><dl class=\"facts\">",
            name = Esc(&a.plan_name),
            id = Esc(&a.plan_id),
        );
        fact(&mut out, "任务编号", "Task", Esc(&a.task_id));
        fact(&mut out, "实施部门", "Department", Esc(&a.department));
        fact(&mut out, "检查日期", "Inspection date", ChineseDate(&a.inspection_date));
        fact(
            &mut out,
            "随机种子产生方式",
            "How the seed is made",
            Esc(&a.seed_method),
        );
        fact(&mut out, "公告时间", "Announced", Beijing(&a.announced_at));
        fact(
            &mut out,
            "名录快照哈希",
            "Snapshot SHA-256",
            format_args!("<span class=\"hash\">{}</span>", Esc(&a.snapshot_combined)),
        );
        match &a.drawn {
            Some(name) => fact(
                &mut out,
                "状态",
                "Status",
                format_args!(
                    "已抽取 <span class=\"en\">drawn</span>：<a href=\"{href}\">{name}</a>",
                    href = Esc(&draw_href(name)),
                    name = Esc(name),
                ),
            ),
            None => fact(
                &mut out,
                "状态",
                "Status",
                "尚未抽取 <span class=\"en\">not drawn yet</span>",
            ),
        }
        out.push_str("</dl></section>\n");
    }

    out.push_str("<h2>任务公告 <span class=\"en\">Published draws</span></h2>\n");
    if draws.is_empty() {
        out.push_str("<p class=\"muted\">暂无抽取结果。<span class=\"en\">No draws published.</span></p>\n");
    }
    for d in draws {
        let m = &d.manifest;
        let href = draw_href(&d.name);
        w!(
            out,
            "<section class=\"card\"><h3><a href=\"{href}\">{name}</a> <span class=\"en\">{id}</span></h3>",
            href = Esc(&href),
            name = Esc(&m.plan.name),
            id = Esc(&m.plan.id),
        );
        if d.is_ad_hoc() {
            out.push_str(
                "<p class=\"warn\">未事先公告的临时抽取 <span class=\"en\">ad hoc, not announced in advance</span></p>",
            );
        }
        out.push_str("<dl class=\"facts\">");
        fact(&mut out, "实施部门", "Department", Esc(m.plan.content.department()));
        fact(
            &mut out,
            "检查日期",
            "Inspection date",
            ChineseDate(&m.plan.content.inspection_date().to_string()),
        );
        fact(
            &mut out,
            "抽中企业",
            "Businesses drawn",
            format_args!(
                "{} 户 <span class=\"en\">({} item checks)</span>",
                m.counts.visits, m.counts.item_checks
            ),
        );
        fact(
            &mut out,
            "随机种子",
            "Seed",
            format_args!("<span class=\"hash\">{}</span>", Esc(&m.seed.hex)),
        );
        let mut source = String::new();
        seed_source(&mut source, &m.seed.source);
        fact(&mut out, "种子来源", "Seed source", source);
        fact(
            &mut out,
            "结果哈希",
            "Result SHA-256",
            format_args!("<span class=\"hash\">{}</span>", m.result_sha256),
        );
        fact(&mut out, "抽取时间", "Drawn at", Beijing(&m.created_at));
        w!(
            out,
            "</dl><p><a href=\"{href}\">查看名单与下载 <span class=\"en\">list and downloads</span></a></p></section>\n",
            href = Esc(&href),
        );
    }

    out.push_str("<h2 id=\"ledger\">公示账本 <span class=\"en\">Public ledger</span></h2>\n<p>");
    ledger_line(&mut out, ledger_head);
    out.push_str(
        "</p>\n<p class=\"muted\">记下这两项，日后可发现历史记录是否被改写。\
         <span class=\"en\">Keep these two values: any later rewrite of the published history will not match them.</span> \
         <a href=\"/verify#ledger\">说明 <span class=\"en\">why</span></a></p>\n",
    );
    close_page(&mut out, None);
    out
}

/// 任务公告 of one draw: the facts, the downloads, the list of drawn
/// businesses with their current teams, the hashes and how to re-check it.
pub fn draw_page(draw: &PublishedDraw, list: &CurrentList, ledger_head: &LedgerHead) -> String {
    render_draw(draw, list, &ItemCounts::of(list), 0..list.len(), None, ledger_head)
}

/// Rows per page of a draw's list: a phone lays out a couple of hundred rows
/// at once; a whole county's list takes the browser (and the server) far
/// longer, and nobody reads it on one screen.
pub const ROWS_PER_PAGE: usize = 200;

/// The number of pages of a list of `total` rows: at least one, which is
/// empty for an empty list.
pub fn page_count(total: usize) -> usize {
    total.div_ceil(ROWS_PER_PAGE).max(1)
}

/// A page asked for beyond the last page of a list (or page 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchPage {
    pub page: usize,
    pub pages: usize,
}

/// The number of businesses drawn for each item, with the item's name, over
/// a whole list: what the draw page shows on every page. Counted once per
/// list, not per page shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemCounts(BTreeMap<String, (String, usize)>);

impl ItemCounts {
    pub fn of(list: &CurrentList) -> Self {
        let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for row in list.rows.iter().map(|r| &r.drawn) {
            for (k, code) in row.items.iter().enumerate() {
                if !counts.contains_key(code) {
                    counts.insert(code.clone(), (String::new(), 0));
                }
                let entry = counts.get_mut(code).expect("just inserted");
                if let Some(name) = row.item_names.get(k) {
                    if entry.0 != *name {
                        entry.0.clone_from(name);
                    }
                }
                entry.1 += 1;
            }
        }
        ItemCounts(counts)
    }

    /// The item's name and how many businesses were drawn for it.
    pub fn get(&self, code: &str) -> (&str, usize) {
        self.0.get(code).map_or(("", 0), |(name, n)| (name.as_str(), *n))
    }
}

/// [`draw_page`] showing page `page` (from 1) of the list, with links to the
/// other pages; the full list is in the CSV and Excel downloads. Everything
/// but the table (the counts per item among them) is of the whole draw. A
/// page out of range is shown as the nearest one.
pub fn draw_page_paged(draw: &PublishedDraw, list: &CurrentList, page: usize, ledger_head: &LedgerHead) -> String {
    let page = page.clamp(1, page_count(list.len()));
    draw_page_at(draw, list, &ItemCounts::of(list), page, ledger_head).expect("a page in range")
}

/// [`draw_page`] showing page `page` (from 1) of the list, `items` being
/// [`ItemCounts::of`] the list; an error for a page the list does not have.
pub fn draw_page_at(
    draw: &PublishedDraw,
    list: &CurrentList,
    items: &ItemCounts,
    page: usize,
    ledger_head: &LedgerHead,
) -> Result<String, NoSuchPage> {
    let total = list.len();
    let pages = page_count(total);
    if page == 0 || page > pages {
        return Err(NoSuchPage { page, pages });
    }
    let shown = ((page - 1) * ROWS_PER_PAGE).min(total)..(page * ROWS_PER_PAGE).min(total);
    Ok(render_draw(draw, list, items, shown, Some((page, pages)), ledger_head))
}

/// The page for a page number a draw's list does not have: how many pages
/// there are, with links to the first and the last. `asked` is the page as
/// asked for, shown escaped.
pub fn no_such_page(name: &str, asked: &str, pages: usize) -> String {
    let mut out = String::with_capacity(6 * 1024);
    open_page(&mut out, "没有这一页", "No such page");
    let href = draw_href(name);
    w!(
        out,
        "<p>抽查任务 <code>{name}</code> 的名单没有第 <code>{asked}</code> 页：名单共 {pages} 页，页码为 1 到 {pages} 的整数。\
         <span class=\"en\">The list of draw {name} has no page {asked}: it has {pages} pages, numbered 1 to {pages}.</span></p>\n\
         <nav class=\"pages\"><a href=\"{href}\">第 1 页 <span class=\"en\">first page</span></a>\
         <a href=\"{href}?page={pages}\">第 {pages} 页 <span class=\"en\">last page</span></a></nav>\n",
        name = Esc(name),
        asked = Esc(asked),
        href = Esc(&href),
    );
    close_page(&mut out, None);
    out
}

/// "显示第 x–y 条，共 N 条": which rows of how many a page shows.
fn range_line(out: &mut String, shown: &std::ops::Range<usize>, total: usize) {
    w!(
        out,
        "<p class=\"range\">显示第 {from}–{to} 条，共 {total} 条 \
         <span class=\"en\">showing {from}–{to} of {total}</span></p>\n",
        from = shown.start + 1,
        to = shown.end,
    );
}

/// Where a list's page links are: above and below it, each its own
/// navigation landmark, named apart so a screen reader can tell them apart.
#[derive(Clone, Copy)]
enum Pager {
    Above,
    Below,
}

/// Links to the pages around `page` and to the first and last, large
/// enough to tap: `href(k)` is the address of page `k`.
fn page_links(out: &mut String, at: Pager, page: usize, pages: usize, href: impl Fn(usize) -> String) {
    if pages <= 1 {
        return;
    }
    out.push_str(match at {
        Pager::Above => "<nav class=\"pages\" aria-label=\"分页（列表上方） pages, above the list\">",
        Pager::Below => "<nav class=\"pages\" aria-label=\"分页（列表下方） pages, below the list\">",
    });
    let link = |out: &mut String, k: usize, text: &dyn Display| {
        w!(out, "<a href=\"{}\">{text}</a>", Esc(&href(k)));
    };
    if page > 1 {
        link(out, page - 1, &"‹ 上一页 <span class=\"en\">previous</span>");
    }
    let mut shown = 0;
    for k in [
        1,
        page.saturating_sub(2),
        page.saturating_sub(1),
        page,
        page + 1,
        page + 2,
        pages,
    ] {
        if k <= shown || k == 0 || k > pages {
            continue;
        }
        if k > shown + 1 {
            out.push_str("<span class=\"gap\">…</span>");
        }
        if k == page {
            w!(out, "<strong aria-current=\"page\">{k}</strong>");
        } else {
            link(out, k, &k);
        }
        shown = k;
    }
    if page < pages {
        link(out, page + 1, &"下一页 › <span class=\"en\">next</span>");
    }
    w!(
        out,
        "<span class=\"gap\">共 {pages} 页 <span class=\"en\">{pages} pages</span></span></nav>\n"
    );
}

/// The page of `list`, its table holding the rows in `shown`.
fn render_draw(
    draw: &PublishedDraw,
    list: &CurrentList,
    items: &ItemCounts,
    shown: std::ops::Range<usize>,
    nav: Option<(usize, usize)>,
    ledger_head: &LedgerHead,
) -> String {
    let rows = &list.rows[shown.clone()];
    let total = list.len();
    // About 300 bytes per row; sized up front so a 10,000-row list is written
    // without reallocating.
    let mut out = String::with_capacity(16 * 1024 + 320 * rows.len());
    let m = &draw.manifest;
    let plan = &m.plan.content;
    let name_url = Url(&draw.name).to_string();
    open_page(&mut out, "任务公告", "Draw result");
    w!(
        out,
        "<p><strong>{name}</strong> <span class=\"en\">{id}</span></p>\n",
        name = Esc(&m.plan.name),
        id = Esc(&m.plan.id),
    );
    if draw.is_ad_hoc() {
        out.push_str(AD_HOC);
    }

    out.push_str("<dl class=\"facts\">");
    fact(
        &mut out,
        "计划编号",
        "Plan ID",
        format_args!("<code>{}</code>", Esc(&m.plan.id)),
    );
    fact(&mut out, "计划名称", "Plan", Esc(&m.plan.name));
    fact(&mut out, "实施部门", "Department", Esc(plan.department()));
    fact(
        &mut out,
        "检查日期",
        "Inspection date",
        ChineseDate(&plan.inspection_date().to_string()),
    );
    fact(
        &mut out,
        "抽中",
        "Drawn",
        format_args!(
            "{} 户企业，{} 项次检查，{} 名检查人员 <span class=\"en\">{} businesses, {} item checks, {} officers</span>",
            m.counts.visits, m.counts.item_checks, m.counts.officers, m.counts.visits, m.counts.item_checks, m.counts.officers
        ),
    );
    fact(
        &mut out,
        "检查组",
        "Teams",
        format_args!(
            "每组 {size} 人，每人最多 {cap} 户 <span class=\"en\">{size} officers per team, at most {cap} visits each</span>",
            size = plan.team_size(),
            cap = plan.workload_cap(),
        ),
    );
    let mut recusal = String::from("申报的回避关系 <span class=\"en\">declared conflicts</span>");
    if plan.recusal().same_township {
        recusal.push_str("；同乡镇回避 <span class=\"en\">same township</span>");
    }
    if plan.recusal().previous_inspector {
        recusal.push_str("；上次检查人回避 <span class=\"en\">previous inspector</span>");
    }
    fact(&mut out, "回避规则", "Recusal", recusal);
    if plan.exclude_inspected_within_days() > 0 {
        fact(
            &mut out,
            "不重复检查",
            "No repeat",
            format_args!(
                "{days} 天内已就同一事项检查过的不再抽取 <span class=\"en\">businesses checked for the same item within {days} days are not drawn</span>",
                days = plan.exclude_inspected_within_days(),
            ),
        );
    }
    fact(
        &mut out,
        "随机种子",
        "Seed",
        format_args!("<span class=\"hash\">{}</span>", Esc(&m.seed.hex)),
    );
    let mut source = String::new();
    seed_source(&mut source, &m.seed.source);
    if let (SeedSource::Ceremony { .. }, Some(place)) = (&m.seed.source, &draw.ceremony_place) {
        w!(source, "<br>摇号地点 <span class=\"en\">held at</span>：{}", Esc(place));
    }
    if draw.is_ad_hoc() {
        source.push_str(
            "<br><strong>未事先公告的临时抽取</strong> <span class=\"en\">ad hoc, not announced in advance</span>",
        );
    }
    fact(&mut out, "种子来源", "Seed source", source);
    fact(&mut out, "抽取时间", "Drawn at", Beijing(&m.created_at));
    if let Some(ledger) = &m.ledger {
        fact(&mut out, "任务编号", "Task", Esc(&ledger.task_id));
        fact(
            &mut out,
            "抽取前的账本头",
            "Ledger head before the draw",
            format_args!(
                "第 {seq} 条 <span class=\"en\">entry {seq}</span>，<span class=\"hash\">{hash}</span>",
                seq = ledger.head_seq,
                hash = ledger.head_hash,
            ),
        );
    }
    fact(
        &mut out,
        "程序",
        "Program",
        format_args!(
            "{} · 算法版本 <span class=\"en\">algorithm version</span> {}",
            Esc(&m.generator),
            m.algorithm_version
        ),
    );
    out.push_str("</dl>\n");

    // The hashes follow the list, so that on a phone the list is not
    // below a screenful of hexadecimal.
    let mut hashes = String::new();
    hashes.push_str("<h2>哈希 <span class=\"en\">Hashes (SHA-256)</span></h2>\n<dl class=\"facts\">");
    let hash = |out: &mut String, zh: &str, en: &str, value: &dyn Display| {
        fact(out, zh, en, format_args!("<span class=\"hash\">{value}</span>"));
    };
    hash(&mut hashes, "抽查结果", "Result", &m.result_sha256);
    hash(&mut hashes, "抽中对象与事项", "Selection", &m.selection_sha256);
    hash(
        &mut hashes,
        "名录快照（合计）",
        "Snapshot, combined",
        &m.snapshot_combined,
    );
    hash(&mut hashes, "部门", "departments.csv", &m.snapshot.departments);
    hash(&mut hashes, "抽查事项清单", "items.csv", &m.snapshot.items);
    hash(
        &mut hashes,
        "执法检查人员名录",
        "inspectors.csv",
        &m.snapshot.inspectors,
    );
    hash(&mut hashes, "检查对象名录", "targets.csv", &m.snapshot.targets);
    hash(
        &mut hashes,
        "回避名单（不公开）",
        "conflicts.csv, not published",
        &m.snapshot.conflicts,
    );
    hash(&mut hashes, "抽查计划", "plan.json", &m.plan.sha256);
    hash(&mut hashes, "历史检查记录", "History", &m.history_sha256);
    for file in &m.files {
        w!(
            hashes,
            "<dt>文件 <span class=\"en\">file</span> <code>{name}</code></dt><dd><span class=\"hash\">{sha}</span></dd>",
            name = Esc(&file.name),
            sha = file.sha256,
        );
    }
    hashes.push_str("</dl>\n");
    if !m.history_sources.is_empty() {
        hashes.push_str(
            "<p>历史检查记录取自以下已公示的抽取 <span class=\"en\">The history comes from these earlier draws</span>：</p><ul>",
        );
        for source in &m.history_sources {
            w!(
                hashes,
                "<li><code>{id}</code> <span class=\"hash\">{sha}</span></li>",
                id = Esc(&source.plan_id),
                sha = source.result_sha256,
            );
        }
        hashes.push_str("</ul>\n");
    }

    w!(
        out,
        "<h2>下载 <span class=\"en\">Downloads</span></h2>\n<ul class=\"downloads\">\
         <li><a href=\"/draws/{n}/assignments.xlsx\">当前名单 Excel <span class=\"en\">current list, Excel</span></a></li>\
         <li><a href=\"/draws/{n}/assignments.csv\">当前名单 CSV <span class=\"en\">current list, CSV (UTF-8)</span></a> \
         <span class=\"muted\">检查组为人员调整后的，另列抽取时的检查组 \
         <span class=\"en\">teams after any substitutions, with the teams as drawn beside them</span></span></li>\
         <li><a href=\"/draws/{n}/drawn.csv\">抽取结果原件 CSV <span class=\"en\">the list as drawn, CSV</span></a> \
         <span class=\"muted\">即审计包中的 <code>assignments.csv</code>，哈希见名单后 \
         <span class=\"en\">the bundle's own <code>assignments.csv</code>, hash after the list</span></span></li>\
         <li><a href=\"/draws/{n}/bundle.zip\">审计包（公开版）<span class=\"en\">audit bundle, public copy (zip)</span></a></li>",
        n = name_url,
    );
    if draw.public_dir().join("substitutions.json").exists() {
        w!(
            out,
            "<li><a href=\"/draws/{name_url}/substitutions.json\">人员调整记录 <span class=\"en\">substitutions (JSON)</span></a></li>"
        );
    }
    if draw.public_dir().join("results.csv").exists() {
        w!(
            out,
            "<li><a href=\"/draws/{name_url}/results.csv\">检查结果 CSV <span class=\"en\">results, CSV</span></a></li>"
        );
    }
    out.push_str("<li>");
    verifier_links(&mut out, "</li><li>");
    out.push_str("</li></ul>\n");
    out.push_str(
        "<p>检查结果录入后 20 个工作日内在 <a href=\"/results\">检查结果公告</a> 公示。\
         <span class=\"en\">Results are published within 20 working days of being recorded, on the \
         <a href=\"/results\">results notice</a>.</span></p>\n",
    );

    // Items with the number of businesses drawn for each, in plan order: over
    // the whole draw, not the page of the table shown.
    out.push_str("<h2>抽查事项 <span class=\"en\">Items</span></h2>\n<ul>");
    for code in plan.items() {
        let (name, count) = items.get(code.as_str());
        w!(
            out,
            "<li><code>{code}</code> {name} — {count} 户 <span class=\"en\">businesses</span></li>",
            code = Esc(code.as_str()),
            name = Esc(name),
        );
    }
    out.push_str("</ul>\n");

    if let Some(log) = &list.substitutions {
        substitutions_section(&mut out, log);
    }

    w!(
        out,
        "<h2>抽中名单 <span class=\"en\">Businesses drawn</span>（{n}）</h2>\n\
         <p class=\"muted\">检查人员以执法证号表示，组长列在首位。<span class=\"en\">Officers are shown by \
         enforcement certificate number, the leader first.</span></p>\n",
        n = total,
    );
    if let Some((page, pages)) = nav.filter(|&(_, pages)| pages > 1) {
        // Before the table too, so a phone need not scroll past 200 rows to
        // learn there are more.
        range_line(&mut out, &shown, total);
        page_links(&mut out, Pager::Above, page, pages, |k| {
            format!("/draws/{name_url}?page={k}")
        });
    }
    // Once a results notice has published results, each business shows its own.
    let with_results = list.rows.iter().any(|row| row.result.is_some());
    out.push_str(
        "<div class=\"scroll\"><table class=\"list\">\n<thead><tr>\
         <th>序号 <span class=\"en\">No.</span></th>\
         <th>统一社会信用代码 <span class=\"en\">Credit code</span></th>\
         <th>名称 <span class=\"en\">Name</span></th>\
         <th>抽查事项 <span class=\"en\">Items</span></th>\
         <th>组长 <span class=\"en\">Leader</span></th>\
         <th>检查人员 <span class=\"en\">Team</span></th>",
    );
    if with_results {
        out.push_str("<th>检查结果 <span class=\"en\">Result</span></th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for current in rows {
        let row = &current.drawn;
        w!(
            out,
            "<tr><td class=\"n\" data-label=\"序号\">{}</td><td data-label=\"信用代码\"><code>{}</code></td>\
             <td class=\"name\" data-label=\"名称\">{}</td><td class=\"items\" data-label=\"抽查事项\">",
            row.number,
            Esc(&row.credit_code),
            Esc(&row.name),
        );
        for (k, code) in row.items.iter().enumerate() {
            if k > 0 {
                out.push_str("<br>");
            }
            w!(out, "<code>{}</code>", Esc(code));
            if let Some(name) = row.item_names.get(k) {
                w!(out, " {}", Esc(name));
            }
        }
        // The team as it stands after any substitutions (spec §12); a
        // substitute comes from the department of the officer replaced, so
        // a joint team keeps its department blocks.
        let team = &current.team;
        w!(
            out,
            "</td><td data-label=\"组长\"><code>{}</code></td><td data-label=\"检查人员\"><code>",
            Esc(current.leader())
        );
        // A joint team (spec §13): each department's equal share in order,
        // under the department's name.
        let share = (!row.departments.is_empty() && team.len() % row.departments.len() == 0)
            .then(|| team.len() / row.departments.len());
        for (k, cert) in team.iter().enumerate() {
            if k > 0 {
                out.push_str("<br>");
            }
            if let Some(share) = share.filter(|&s| k % s == 0) {
                w!(out, "</code>{}<br><code>", Esc(&row.departments[k / share]));
            }
            w!(out, "{}", Esc(cert));
        }
        out.push_str("</code>");
        for change in &current.changes {
            w!(
                out,
                "<br><a class=\"muted\" href=\"#sub-{seq}\">已调整 #{seq} <span class=\"en\">substituted</span></a>",
                seq = change.seq,
            );
        }
        if current.is_substituted() {
            w!(
                out,
                "<br><span class=\"muted\">抽取时 <span class=\"en\">as drawn</span>：<code>{}</code></span>",
                Esc(&row.team.join("、"))
            );
        }
        out.push_str("</td>");
        if with_results {
            out.push_str("<td data-label=\"检查结果\">");
            match &current.result {
                Some(result) => {
                    w!(out, "{}", ResultFact(result));
                }
                None => out.push_str("<span class=\"muted\">未公示 <span class=\"en\">not yet published</span></span>"),
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if let Some((page, pages)) = nav.filter(|&(_, pages)| pages > 1) {
        range_line(&mut out, &shown, total);
        page_links(&mut out, Pager::Below, page, pages, |k| {
            format!("/draws/{name_url}?page={k}")
        });
    }
    out.push_str(&hashes);

    w!(
        out,
        "<h2>如何核验 <span class=\"en\">How to check this draw</span></h2>\n\
         <p>下载审计包并解压，得到文件夹 <code>{name}</code>；向实施部门取得抽查时使用的名录库（一单两库），然后运行：\
         <span class=\"en\">Download the audit bundle and unzip it into the folder <code>{name}</code>; get the pool \
         files the draw used from the department, then run:</span></p>\n\
         <pre>shuangsui verify {name} --data 名录库目录\n\
         python3 tools/verify.py {name} --data 名录库目录</pre>\n\
         <p>输出 <code>verified</code>（或没有回避名单时的 <code>partially verified</code>）即说明本页名单由公开的种子和规则算出；\
         结果哈希应为 <span class=\"hash\">{result}</span>。\
         <span class=\"en\">The output <code>verified</code> (or <code>partially verified</code> without the confidential \
         recusal list) means this list follows from the published seed and rules; the result hash must be the one \
         above.</span> <a href=\"/verify\">详细说明 <span class=\"en\">details</span></a></p>\n",
        name = Esc(&draw.name),
        result = m.result_sha256,
    );
    browser_verify(&mut out, &draw.name, &name_url);
    close_page(&mut out, Some(ledger_head));
    out
}

/// The "verify in the browser" box: `static/verify/page.js` fetches this
/// draw's public copy from the site and runs the JavaScript verifier on it
/// and on the pool files picked, which are read in the browser only.
fn browser_verify(out: &mut String, name: &str, name_url: &str) {
    use super::assets::{PAGE_JS, VERIFY_JS};
    w!(
        out,
        "<h2>在浏览器中核验 <span class=\"en\">Verify in the browser</span></h2>\n\
         <div id=\"browser-verify\" class=\"card\" data-draw=\"/draws/{name_url}\" data-name=\"{name}\">\n\
         <p>核验程序 <a href=\"{VERIFY_JS}\"><code>shuangsui-verify.js</code></a> 依据公开的算法规范独立编写，在您的浏览器中运行：\
         它从本站读取本次抽取的公开版审计包；您选择的名录库文件只在本机读取，不会上传。\
         不选文件时只核验公开版本身（部分核验）；选择抽查所用的全部名录库文件（部门内部的完整 <code>targets.csv</code> \
         和回避名单 <code>conflicts.csv</code>）时，重新抽取并逐行核对全部结果。\
         <span class=\"en\">The verifier, written independently from the published specification, runs in your browser: \
         it reads this draw's public bundle from this site; the pool files you pick are read on your computer and never \
         uploaded. Without files it checks what the public copy allows (a partial verification); with all the pool files \
         the draw used, it redraws and compares everything.</span></p>\n\
         <p><label>名录库文件 <span class=\"en\">pool files, optional</span> \
         <input type=\"file\" multiple accept=\".csv,text/csv\"></label> \
         <label>编码 <span class=\"en\">encoding</span> <select>\
         <option value=\"detect\">自动 auto</option><option value=\"utf-8\">UTF-8</option>\
         <option value=\"gbk\">GBK / GB18030</option></select></label></p>\n\
         <p><button type=\"button\">在浏览器中核验 <span class=\"en\">Verify in the browser</span></button></p>\n\
         <ol></ol>\n<p class=\"verdict\" aria-live=\"polite\"></p>\n</div>\n\
         <script src=\"{VERIFY_JS}\"></script>\n<script src=\"{PAGE_JS}\"></script>\n",
        name = Esc(name),
    );
}

/// The substitutions made after the draw (spec §12) as a table.
fn substitutions_section(out: &mut String, log: &crate::substitution::Log) {
    w!(
        out,
        "<h2 id=\"substitutions\">人员调整 <span class=\"en\">Substitutions</span>（{n}）</h2>\n\
         <p class=\"muted\">抽取后不能参加检查的人员由同一随机种子按相同规则抽取替补，原抽取结果不变；名单中的检查组已按下表调整。\
         调整后的结果哈希为 <span class=\"hash\">{hash}</span>。\
         <span class=\"en\">An officer who cannot go is replaced by a substitute drawn from the same seed under the \
         same rules; the draw itself is unchanged. The teams below include these substitutions; the current result hash \
         is the one shown.</span></p>\n\
         <div class=\"scroll\"><table class=\"list\">\n<thead><tr>\
         <th>序号 <span class=\"en\">No.</span></th>\
         <th>统一社会信用代码 <span class=\"en\">Credit code</span></th>\
         <th>调出 <span class=\"en\">Out</span></th>\
         <th>替补 <span class=\"en\">In</span></th>\
         <th>原因 <span class=\"en\">Reason</span></th>\
         <th>时间 <span class=\"en\">Decided</span></th>\
         </tr></thead>\n<tbody>\n",
        n = log.substitutions.len(),
        hash = log.result_sha256,
    );
    for entry in &log.substitutions {
        w!(
            out,
            "<tr id=\"sub-{seq}\"><td class=\"n\" data-label=\"序号\">{seq}</td>\
             <td data-label=\"信用代码\"><code>{code}</code></td><td data-label=\"调出\"><code>{out_cert}</code></td>\
             <td data-label=\"替补\"><code>{in_cert}</code></td><td data-label=\"原因\">{reason}</td>\
             <td data-label=\"时间\">{at}</td></tr>\n",
            seq = entry.seq,
            code = Esc(entry.credit_code.as_str()),
            out_cert = Esc(entry.out.as_str()),
            in_cert = Esc(entry.incoming.as_str()),
            reason = entry.reason.label(),
            at = Beijing(&entry.decided_at),
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// "Was this business drawn?": the search box, prefilled, and the hits.
pub fn search_page(query: &str, hits: &[Hit], ledger_head: &LedgerHead) -> String {
    let found = Found {
        hits: hits.to_vec(),
        total: hits.len(),
        first: 0,
    };
    search_page_found(query, &found, &[], SEARCH_LIMIT, ledger_head)
}

/// The search page for one page of hits, `found` holding at most
/// `per_page` of them: how many there are in all, which are shown, and
/// links to the other pages (`/search?q=…&page=k`).
pub fn search_page_found(
    query: &str,
    found: &Found,
    standings: &[DrawStanding],
    per_page: usize,
    ledger_head: &LedgerHead,
) -> String {
    let hits = &found.hits;
    let mut out = String::with_capacity(6 * 1024 + 900 * hits.len());
    open_page(&mut out, "查询是否被抽中", "Was this business drawn?");
    search_form(&mut out, query);
    let href = |k: usize| format!("/search?q={}&page={k}", Url(query));
    let query = query.trim();
    let per_page = per_page.max(1);
    let pages = found.total.div_ceil(per_page).max(1);
    let page = found.first / per_page + 1;
    if query.is_empty() {
        out.push_str(
            "<p>请输入完整或部分统一社会信用代码，或企业名称中的几个字。\
             <span class=\"en\">Enter all or part of a 统一社会信用代码 (unified social credit code), or part of the \
             business name.</span></p>\n",
        );
    } else if found.total == 0 {
        w!(
            out,
            "<p class=\"card\"><strong>未找到</strong>：已公示的抽取结果中没有与「{q}」相符的企业。\
             <span class=\"en\"><strong>Not found</strong>: no business matching “{q}” is in any published draw.</span></p>\n\
             <p class=\"muted\">只查询本站已公示的抽取；请核对代码或名称是否输入正确。\
             <span class=\"en\">Only the draws published here are searched; check the code or name you typed.</span></p>\n",
            q = Esc(query),
        );
    } else if hits.is_empty() {
        w!(
            out,
            "<p class=\"card\">没有第 {page} 页：找到 {total} 条，共 {pages} 页。\
             <span class=\"en\">There is no page {page}: {total} found, {pages} pages.</span></p>\n",
            total = found.total,
        );
        w!(
            out,
            "<nav class=\"pages\"><a href=\"{first}\">第 1 页 <span class=\"en\">first page</span></a>\
             <a href=\"{last}\">第 {pages} 页 <span class=\"en\">last page</span></a></nav>\n",
            first = Esc(&href(1)),
            last = Esc(&href(pages)),
        );
    } else {
        w!(
            out,
            "<h2>查询结果 <span class=\"en\">Results</span></h2>\n<p>找到 {n} 条 <span class=\"en\">{n} found</span>",
            n = found.total
        );
        let (from, to) = (found.first + 1, found.first + hits.len());
        if found.total > hits.len() {
            if found.first == 0 {
                w!(
                    out,
                    "（显示前 {to} 条，共 {total} 条；输入更完整的代码或名称可缩小范围 \
                     <span class=\"en\">the first {to} of {total} are shown; type more of the code or name to narrow it</span>）",
                    total = found.total,
                );
            } else {
                w!(
                    out,
                    "（显示第 {from}–{to} 条，共 {total} 条 <span class=\"en\">showing {from}–{to} of {total}</span>）",
                    total = found.total,
                );
            }
        }
        out.push_str("</p>\n");
        page_links(&mut out, Pager::Above, page, pages, href);
        for hit in hits {
            w!(
                out,
                "<section class=\"card\"><h3>{name}</h3><dl class=\"facts\">",
                name = Esc(&hit.name)
            );
            fact(
                &mut out,
                "统一社会信用代码",
                "Credit code",
                format_args!("<code>{}</code>", Esc(&hit.credit_code)),
            );
            fact(
                &mut out,
                "抽查任务",
                "Draw",
                format_args!(
                    "<a href=\"{href}\">{plan}</a> <span class=\"en\">{id}</span>",
                    href = Esc(&draw_href(&hit.draw_name)),
                    plan = Esc(&hit.plan_name),
                    id = Esc(&hit.plan_id),
                ),
            );
            fact(
                &mut out,
                "检查日期",
                "Inspection date",
                ChineseDate(&hit.inspection_date),
            );
            let mut items = String::new();
            for (k, code) in hit.items.iter().enumerate() {
                if k > 0 {
                    items.push_str("<br>");
                }
                w!(items, "<code>{}</code>", Esc(code));
                if let Some(name) = hit.item_names.get(k) {
                    w!(items, " {}", Esc(name));
                }
            }
            fact(&mut out, "抽查事项", "Items", items);
            fact(
                &mut out,
                "组长",
                "Leader",
                format_args!("<code>{}</code>", Esc(&hit.leader)),
            );
            let mut team = String::new();
            for (k, cert) in hit.team.iter().enumerate() {
                if k > 0 {
                    team.push('、');
                }
                w!(team, "<code>{}</code>", Esc(cert));
            }
            fact(&mut out, "检查人员（执法证号）", "Team (certificate numbers)", team);
            if hit.team != hit.drawn_team {
                let mut drawn = String::new();
                for (k, cert) in hit.drawn_team.iter().enumerate() {
                    if k > 0 {
                        drawn.push('、');
                    }
                    w!(drawn, "<code>{}</code>", Esc(cert));
                }
                w!(
                    drawn,
                    "<br><a class=\"muted\" href=\"{href}#substitutions\">已调整 <span class=\"en\">substituted</span></a>",
                    href = Esc(&draw_href(&hit.draw_name)),
                );
                fact(&mut out, "抽取时检查组", "Team as drawn", drawn);
            }
            if let Some(result) = &hit.result {
                fact(&mut out, "检查结果", "Result", ResultFact(result));
            }
            out.push_str("</dl></section>\n");
        }
        page_links(&mut out, Pager::Below, page, pages, href);
    }
    standings_section(&mut out, query, standings);
    close_page(&mut out, Some(ledger_head));
    out
}

/// A published result: its codes with their labels, when the inspection
/// was completed and when the notice published it.
struct ResultFact<'a>(&'a PublishedResult);

impl Display for ResultFact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, code) in self.0.codes.iter().enumerate() {
            if k > 0 {
                f.write_str("<br>")?;
            }
            write!(
                f,
                "<code>{}</code> {}",
                Esc(code),
                Esc(crate::results::label(code).unwrap_or(""))
            )?;
        }
        write!(
            f,
            "<br><span class=\"muted\">完成日期 <span class=\"en\">completed</span> {}；\
             公示日期 <span class=\"en\">published</span> {}</span>",
            ChineseDate(&self.0.completed),
            ChineseDate(&self.0.published_on),
        )
    }
}

/// What the search page says of a standing, in Chinese and in English.
fn standing_text(standing: Option<Standing>) -> (&'static str, &'static str) {
    match standing {
        Some(standing) => standing.words(),
        None => ("暂时无法查明，请稍后再试", "cannot be told just now; try again later"),
    }
}

/// A business's standing in every published draw, for a search by its
/// whole credit code: drawn, in scope and not drawn, or out of scope and why.
fn standings_section(out: &mut String, code: &str, standings: &[DrawStanding]) {
    if standings.is_empty() {
        return;
    }
    w!(
        out,
        "<h2>在各次抽取中的情况 <span class=\"en\">Its standing in each draw</span></h2>\n\
         <p class=\"muted\">依据每次抽取时冻结的检查对象名录库、抽查计划和检查历史，按算法规范第 5 节的范围规则判断\
         <code>{code}</code> 能否被抽中；信用风险分类只影响抽取比例，不影响是否在范围内，这里不涉及。\
         <span class=\"en\">Whether <code>{code}</code> could be drawn, by the scope rules of §5 of the \
         specification, on each draw's frozen target directory, plan and history; the risk class only sets the \
         ratio, not the scope, and plays no part here.</span></p>\n<ul class=\"standings\">\n",
        code = Esc(code),
    );
    for row in standings {
        let (zh, en) = standing_text(row.standing);
        w!(
            out,
            "<li><a href=\"{href}\">{plan}</a> <span class=\"en\">{id}</span>，检查日期 {date}：\
             <strong>{zh}</strong> <span class=\"en\">{en}</span></li>\n",
            href = Esc(&draw_href(&row.draw_name)),
            plan = Esc(&row.plan_name),
            id = Esc(&row.plan_id),
            date = ChineseDate(&row.inspection_date),
        );
    }
    out.push_str("</ul>\n");
}

/// 如何核验: the commands, what the hashes mean, what the ledger head is for.
pub fn verify_page(ledger_head: &LedgerHead) -> String {
    let mut out = String::with_capacity(12 * 1024);
    open_page(&mut out, "如何核验", "How to verify a draw");
    out.push_str(
        "<h2>核验一次抽取</h2>\n\
         <p>每次抽取都公开一个审计包（在任务公告页下载 <code>bundle.zip</code>），其中有抽查计划、随机种子、\
         所用名录库的哈希和抽中名单。取得抽查时使用的名录库（一单两库）后，任何人都可以重算一遍：</p>\n\
         <pre>shuangsui verify BUNDLE --data DIR\n\
         python3 tools/verify.py BUNDLE --data DIR</pre>\n\
         <p><code>BUNDLE</code> 是解压后的审计包文件夹，<code>DIR</code> 是名录库文件夹。\
         <code>tools/verify.py</code> 是依据公开的算法规范独立编写的程序，只需要 Python 3，不需要安装其他软件；\
         两个互不相干的程序得出同样的结果，结果才可信。输出 <code>verified</code> 表示完全一致；\
         没有不公开的回避名单时输出 <code>partially verified</code>：抽中哪些企业、查哪些事项已完全核实，\
         检查组只核对是否符合公开的规则；若有不同，程序会指出第一处不同。</p>\n\
         <h2>哈希是什么</h2>\n\
         <p>哈希（SHA-256）是一段数据的“指纹”：数据改动一个字，指纹就完全不同。</p>\n<ul>\
         <li><strong>结果哈希</strong>：抽中的企业、事项和每一户的检查组。公布后任何改动都会使它变化。</li>\
         <li><strong>抽中对象与事项哈希</strong>：只取决于抽中哪些企业、查哪些事项，不含检查组。</li>\
         <li><strong>名录快照哈希</strong>：抽取时所用的部门、事项清单、检查人员名录、检查对象名录和回避名单。\
         回避名单和检查对象的分类信息不公开，但哈希把它们“锁定”了：事后替换任何一个文件都会被发现。</li>\
         <li><strong>随机种子</strong>：由公开摇号现场摇出的数字、事先指定的公共随机信标（drand）轮次，\
         或公告时已公布承诺（哈希）的密钥算出，任何人都可以重算；\
         “未事先公告的临时抽取”的种子由计算机产生，只能核验结果与种子一致。</li>\
         <li><strong>抽查计划哈希</strong>：事项、抽取比例、检查组人数和回避规则，抽取后不能再改。</li></ul>\n\
         <h2 id=\"ledger\">公示账本</h2>\n\
         <p>每一条计划公告和抽取结果都按顺序记入公示账本，每条记录都包含前一条记录的哈希。\
         账本最新记录的序号和哈希（“账本头”）因此代表了此前公示的全部内容。请记下或截图保存：\
         若日后有人删除、改写或调换已公示的记录，账本就无法再与您保存的账本头对上，任何保存过旧账本头的人都能发现。</p>\n\
         <p>页面底部的“签名检查点”是账本前若干条记录的默克尔树根哈希，由本机关的密钥签名。\
         请下载签名文本并保存验证公钥：日后即使有人删除末尾记录，或改写记录后重算整条哈希链，\
         <code>shuangsui ledger verify --checkpoint 文件</code> 或 <code>tools/checkpoint.py</code> \
         也会指出账本被截短或被改写。</p>\n<p>",
    );
    ledger_line(&mut out, ledger_head);
    out.push_str(
        "</p>\n\
         <h2>How to verify a draw <span class=\"en\">English</span></h2>\n\
         <p>Every draw publishes an audit bundle (download <code>bundle.zip</code> from the draw's page) holding the \
         plan, the random seed, the hashes of the pool files it used and the list drawn. With the pool files the draw \
         used, anyone can redo it:</p>\n\
         <pre>shuangsui verify BUNDLE --data DIR\n\
         python3 tools/verify.py BUNDLE --data DIR</pre>\n\
         <p><code>BUNDLE</code> is the unzipped bundle folder and <code>DIR</code> the pool folder. \
         <code>tools/verify.py</code> was written independently from the published specification and needs only \
         Python 3; two unrelated programs agreeing is what makes the result credible. <code>verified</code> means \
         everything matches; without the confidential recusal list the answer is <code>partially verified</code>: \
         which businesses and items were drawn is fully checked, and the teams are checked against the public rules. \
         Otherwise the first difference is named.</p>\n\
         <h2>What the hashes mean</h2>\n\
         <p>A hash (SHA-256) is a fingerprint of data: change one character and it is entirely different.</p>\n<ul>\
         <li><strong>Result hash</strong>: the businesses, items and every team. Any change after publication changes it.</li>\
         <li><strong>Selection hash</strong>: only which businesses and items were drawn, without the teams.</li>\
         <li><strong>Snapshot hashes</strong>: the departments, item list, inspector directory, target directory and \
         recusal list the draw used. The recusal list and the targets' classification are not published, but the \
         hashes pin them: replacing any file afterwards is detected.</li>\
         <li><strong>Seed</strong>: computed from the digits read out at a public ceremony, from a public randomness \
         beacon round (drand) named in advance, or from a secret whose commitment (hash) was published with the \
         announcement; anyone can recompute it. An ad hoc draw's seed comes from the computer, so only the \
         result's consistency with the seed can be checked.</li>\
         <li><strong>Plan hash</strong>: items, ratios, team size and recusal rules, fixed before the draw.</li></ul>\n\
         <h2>The public ledger</h2>\n\
         <p>Every announcement and every draw is entered in order in the public ledger, each entry holding the hash of \
         the one before. The newest entry's number and hash (the ledger head) therefore stand for everything published \
         so far. Write them down or take a screenshot: if entries are later deleted, rewritten or reordered, the \
         ledger will no longer lead to the head you kept, so anyone who kept an older head can see it.</p>\n\
         <p>The <em>signed checkpoint</em> in every page's footer is the Merkle root of the ledger's first entries, \
         signed with the office's key. Save the signed note and the verifier key: even if the last entries are later \
         deleted, or an entry is rewritten and the whole chain recomputed, <code>shuangsui ledger verify --checkpoint \
         FILE</code> or <code>tools/checkpoint.py</code> says that the ledger was truncated or rewritten.</p>\n",
    );
    close_page(&mut out, Some(ledger_head));
    out
}

/// A page for a draw, file or route that does not exist; `what` is shown.
pub fn not_found_page(what: &str) -> String {
    let mut out = String::with_capacity(6 * 1024);
    open_page(&mut out, "未找到", "Not found");
    w!(
        out,
        "<p>没有找到：<code>{what}</code> <span class=\"en\">This does not exist.</span></p>\n\
         <p><a href=\"/\">返回首页 <span class=\"en\">back to the home page</span></a></p>\n",
        what = Esc(what),
    );
    close_page(&mut out, None);
    out
}

/// The page of a recorded draw whose published files fail their check (a
/// manifest, list or substitution list that does not read or does not
/// match its hash). Only this draw's pages say so; every other draw is
/// served as usual. What exactly is wrong goes to the log, not the page:
/// it names paths on the server.
pub fn broken_draw_page(name: &str) -> String {
    let mut out = String::with_capacity(6 * 1024);
    open_page(&mut out, "文件未通过校验", "Files fail their check");
    w!(
        out,
        "<p>抽查任务 <code>{name}</code> 的公开文件未通过校验，暂时无法显示。其他抽查任务不受影响。\
         <span class=\"en\">The published files of draw {name} fail their check, so it cannot be shown. \
         Other draws are not affected.</span></p>\n\
         <p><a href=\"/\">返回首页 <span class=\"en\">back to the home page</span></a></p>\n",
        name = Esc(name),
    );
    close_page(&mut out, None);
    out
}

/// One published inspection result, as the results notice shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultView {
    pub task_id: String,
    pub credit_code: String,
    pub name: String,
    /// The inspecting authority: the plan's department.
    pub authority: String,
    pub completed: String,
    /// Result codes with their labels.
    pub results: Vec<(String, String)>,
    pub published_at: String,
}

/// 检查结果公告: every published inspection result, newest first.
pub fn results_page(results: &[ResultView], ledger_head: &LedgerHead) -> String {
    let mut out = String::with_capacity(8 * 1024 + 300 * results.len());
    open_page(&mut out, "检查结果公告", "Inspection results");
    w!(
        out,
        "<p class=\"muted\">检查结果自录入之日起 20 个工作日内公示（按国务院办公厅节假日安排计算工作日）。\
         <span class=\"en\">Each result is published within 20 working days of being recorded, counted on the \
         official holiday calendar.</span></p>\n"
    );
    out.push_str("<p><a href=\"/results.xlsx\">下载 Excel <span class=\"en\">download as Excel</span></a></p>\n");
    if results.is_empty() {
        out.push_str("<p>暂无公示的检查结果。<span class=\"en\">No results published yet.</span></p>\n");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table class=\"list\">\n<thead><tr><th>名称 <span class=\"en\">Name</span></th>\
             <th>统一社会信用代码 <span class=\"en\">Credit code</span></th>\
             <th>检查机关 <span class=\"en\">Authority</span></th>\
             <th>完成日期 <span class=\"en\">Completed</span></th>\
             <th>检查结果 <span class=\"en\">Result</span></th>\
             <th>抽查任务 <span class=\"en\">Task</span></th></tr></thead>\n<tbody>\n",
        );
        for r in results {
            w!(
                out,
                "<tr><td class=\"name\" data-label=\"名称\">{}</td><td data-label=\"信用代码\"><code>{}</code></td>\
                 <td data-label=\"检查机关\">{}</td><td data-label=\"完成日期\">{}</td><td data-label=\"检查结果\">",
                Esc(&r.name),
                Esc(&r.credit_code),
                Esc(&r.authority),
                ChineseDate(&r.completed)
            );
            for (k, (code, label)) in r.results.iter().enumerate() {
                if k > 0 {
                    out.push_str("<br>");
                }
                w!(out, "<code>{}</code> {}", Esc(code), Esc(label));
            }
            w!(
                out,
                "</td><td data-label=\"抽查任务\"><code>{}</code></td></tr>\n",
                Esc(&r.task_id)
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    close_page(&mut out, Some(ledger_head));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::publications::PublicRow;
    use crate::public::test_support::draw_named;

    #[test]
    fn times_read_in_beijing_time_and_dates_the_chinese_way_with_the_record_beside() {
        assert_eq!(
            Beijing("2026-01-12T01:30:05Z").to_string(),
            "2026年1月12日 09:30:05（北京时间）<span class=\"en\">2026-01-12T01:30:05Z</span>"
        );
        assert!(Beijing("2026-01-12T09:30:05+08:00")
            .to_string()
            .starts_with("2026年1月12日 09:30:05（北京时间）"));
        assert_eq!(
            ChineseDate("2026-03-02").to_string(),
            "2026年3月2日 <span class=\"en\">2026-03-02</span>"
        );
        // Not a time or a date: shown as it is, escaped.
        assert_eq!(Beijing("<b>9:30</b>").to_string(), "&lt;b&gt;9:30&lt;/b&gt;");
        assert_eq!(ChineseDate("2026-13-40").to_string(), "2026-13-40");
    }

    fn list(rows: Vec<PublicRow>) -> CurrentList {
        CurrentList::new(rows, None).unwrap()
    }

    fn empty() -> CurrentList {
        CurrentList::default()
    }

    fn head() -> LedgerHead {
        LedgerHead {
            seq: 42,
            hash: "ab".repeat(32),
            checkpoint: Some(CheckpointLine {
                size: 42,
                root: "q83vEjRWeJA=".into(),
            }),
        }
    }

    fn row(number: u32, name: &str) -> PublicRow {
        PublicRow {
            number,
            credit_code: "9152020001383091EP".into(),
            name: name.into(),
            items: vec!["PLAN-ITEM".into()],
            item_names: vec!["事项<名称>".into()],
            leader: "C1".into(),
            team: vec!["C1".into(), "C2".into()],
            departments: Vec::new(),
            merged_with: None,
        }
    }

    /// No external requests: no absolute URLs, remote styles or scripts but
    /// the site's own verifier.
    fn self_contained(html: &str) {
        for needle in [
            "http://", "https://", "//cdn", "<link", "@import", "url(", "<img", "<iframe",
        ] {
            assert!(!html.contains(needle), "page holds {needle:?}");
        }
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/static/verify/").count(),
            "a script other than the site's verifier"
        );
        assert!(html.contains("<meta name=\"viewport\""));
        assert_eq!(html.matches("<style>").count(), 1);
    }

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("盘州市 ABC"), "盘州市 ABC");
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("末尾<"), "末尾&lt;");
    }

    #[test]
    fn url_segments_cannot_escape_their_segment() {
        assert_eq!(
            Url("PZ-SCJG-2026Q1_a65d43832671").to_string(),
            "PZ-SCJG-2026Q1_a65d43832671"
        );
        assert_eq!(Url("a/../b?c=\"d\"").to_string(), "a%2F..%2Fb%3Fc%3D%22d%22");
        assert_eq!(Url("计").to_string(), "%E8%AE%A1");
    }

    #[test]
    fn dynamic_text_is_escaped_everywhere() {
        let evil = "<b>\"x\"&'y'</b>";
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        draw.manifest.plan.name = evil.into();
        let rows = list(vec![row(1, evil)]);
        let announcement = AnnouncementView {
            task_id: evil.into(),
            plan_id: evil.into(),
            plan_name: evil.into(),
            department: evil.into(),
            inspection_date: evil.into(),
            seed_method: evil.into(),
            announced_at: evil.into(),
            snapshot_combined: evil.into(),
            drawn: Some(evil.into()),
        };
        let hit = Hit {
            draw_name: evil.into(),
            plan_id: evil.into(),
            plan_name: evil.into(),
            inspection_date: evil.into(),
            credit_code: evil.into(),
            name: evil.into(),
            items: vec![evil.into()],
            item_names: vec![evil.into()],
            leader: evil.into(),
            team: vec![evil.into()],
            drawn_team: vec![evil.into(), "x".into()],
            substitutions: vec![1],
            result: None,
        };
        let bad_head = LedgerHead {
            seq: 1,
            hash: evil.into(),
            checkpoint: Some(CheckpointLine {
                size: 1,
                root: evil.into(),
            }),
        };
        let pages = [
            index_page(&[draw.clone()], &[announcement], &bad_head),
            draw_page(&draw, &rows, &bad_head),
            search_page(evil, &[hit], &bad_head),
            search_page(evil, &[], &bad_head),
            verify_page(&bad_head),
            not_found_page(evil),
        ];
        for page in &pages {
            assert!(!page.contains("<b>"), "{page}");
            assert!(!page.contains("\"x\""));
            self_contained(page);
        }
        assert!(pages[1].contains("事项&lt;名称&gt;"));
    }

    #[test]
    fn draw_page_lists_rows_and_downloads() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let rows = list((1..=3).map(|n| row(n, &format!("企业{n}"))).collect());
        let page = draw_page(&draw, &rows, &head());
        assert_eq!(page.matches("<tr><td class=\"n\" data-label=\"序号\">").count(), 3);
        for link in ["bundle.zip", "assignments.csv", "assignments.xlsx", "drawn.csv"] {
            assert!(
                page.contains(&format!("href=\"/draws/D_000000000001/{link}\"")),
                "{link}"
            );
        }
        assert!(page.contains("shuangsui verify D_000000000001 --data"));
        assert!(page.contains("python3 tools/verify.py D_000000000001 --data"));
        assert!(!page.contains("未事先公告"), "a ceremony draw is announced");
        assert!(page.contains(&"ab".repeat(32)), "ledger head");
    }

    #[test]
    fn draw_page_offers_the_browser_verifier_and_its_sources() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let page = draw_page(&draw, &list(vec![row(1, "企业")]), &head());
        assert!(page.contains("data-draw=\"/draws/D_000000000001\""));
        assert!(page.contains("在浏览器中核验"));
        assert!(page.contains("<input type=\"file\" multiple"));
        for src in [super::super::assets::VERIFY_JS, super::super::assets::PAGE_JS] {
            assert!(page.contains(&format!("<script src=\"{src}\"></script>")), "{src}");
        }
        // On the page's downloads and again in the footer.
        for href in [
            "/static/verify.py",
            "/static/ALGORITHM.md",
            "/static/golden-vectors.zip",
        ] {
            assert_eq!(page.matches(&format!("href=\"{href}\"")).count(), 2, "{href}");
        }
        let footer = &page[page.find("<footer>").unwrap()..];
        assert!(footer.contains("/static/verify.py"));
        self_contained(&page);
    }

    /// Rows numbered `from..=to`, each with one item; codes distinct.
    fn rows_of_item(from: u32, to: u32, item: &str, name: &str) -> Vec<PublicRow> {
        (from..=to)
            .map(|n| PublicRow {
                credit_code: format!("91520200{n:010}"),
                items: vec![item.into()],
                item_names: vec![name.into()],
                ..row(n, &format!("企业{n}"))
            })
            .collect()
    }

    #[test]
    fn item_counts_and_names_are_of_the_whole_draw_on_every_page() {
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let mut plan = draw.manifest.plan.content.clone().into_parts();
        plan.items = ["ITEM-A", "ITEM-B", "ITEM-C"]
            .iter()
            .map(|c| crate::ids::ItemCode::parse(c).unwrap())
            .collect();
        draw.manifest.plan.content = crate::plan::Plan::new(plan).unwrap();
        // 250 rows of A (200 on page 1, 50 on page 2), then 100 of B and 10
        // of C, all on page 2: page 1 counts what its table does not show.
        let mut rows = rows_of_item(1, 250, "ITEM-A", "甲事项");
        rows.extend(rows_of_item(251, 350, "ITEM-B", "乙事项"));
        rows.extend(rows_of_item(351, 360, "ITEM-C", "丙事项"));
        let rows = list(rows);
        for page in [1, 2] {
            let html = draw_page_paged(&draw, &rows, page, &head());
            for expected in [
                "<code>ITEM-A</code> 甲事项 — 250 户",
                "<code>ITEM-B</code> 乙事项 — 100 户",
                "<code>ITEM-C</code> 丙事项 — 10 户",
            ] {
                assert!(html.contains(expected), "page {page}: {expected}");
            }
            assert!(
                html.contains("（360）"),
                "page {page}: the whole draw's number of businesses"
            );
        }
        let first = draw_page_paged(&draw, &rows, 1, &head());
        assert_eq!(
            first.matches("<tr><td class=\"n\" data-label=\"序号\">").count(),
            ROWS_PER_PAGE
        );
        assert!(!first.contains("乙事项</td>"), "no row of B on page 1");
        let second = draw_page_paged(&draw, &rows, 2, &head());
        assert_eq!(second.matches("<tr><td class=\"n\" data-label=\"序号\">").count(), 160);
        assert!(second.contains("<tr><td class=\"n\" data-label=\"序号\">201</td>"));
        assert!(second.contains("<tr><td class=\"n\" data-label=\"序号\">360</td>"));
    }

    /// The rows numbers shown in a page's table, in order.
    fn numbers(html: &str) -> Vec<u32> {
        html.split("<tr><td class=\"n\" data-label=\"序号\">")
            .skip(1)
            .map(|rest| rest[..rest.find('<').unwrap()].parse().unwrap())
            .collect()
    }

    /// The page numbers a page links to, in order.
    fn linked(html: &str, name: &str) -> Vec<usize> {
        let prefix = format!("href=\"/draws/{name}?page=");
        html.split(&prefix)
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
            .collect()
    }

    #[test]
    fn a_long_list_is_paged_and_says_which_rows_it_shows() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let rows = list(rows_of_item(1, 450, "PLAN-ITEM", "事项"));
        let items = ItemCounts::of(&rows);
        let at = |page| draw_page_at(&draw, &rows, &items, page, &head());
        let first = at(1).unwrap();
        assert_eq!(numbers(&first), (1..=200).collect::<Vec<_>>());
        assert_eq!(
            first.matches("显示第 1–200 条，共 450 条").count(),
            2,
            "above and below the table"
        );
        assert!(first.contains("<strong aria-current=\"page\">1</strong>"));
        assert!(!first.contains("上一页"), "no page before the first");
        // Pages 2 and 3 (the last), then the next, above and below.
        assert_eq!(linked(&first, "D_000000000001"), [2, 3, 2, 2, 3, 2]);
        let last = at(3).unwrap();
        assert_eq!(numbers(&last), (401..=450).collect::<Vec<_>>());
        assert!(last.contains("显示第 401–450 条，共 450 条"));
        assert!(!last.contains("下一页"), "no page after the last");
        assert_eq!(linked(&last, "D_000000000001"), [2, 1, 2, 2, 1, 2]);
        // Everything but the table is of the whole draw on every page.
        assert!(last.contains("<code>PLAN-ITEM</code> 事项 — 450 户"));
        assert!(last.contains("（450）"));
        for beyond in [0, 4, usize::MAX] {
            assert_eq!(at(beyond), Err(NoSuchPage { page: beyond, pages: 3 }), "{beyond}");
        }
        // A list of one page has no links and no range line.
        let short = list(rows_of_item(1, 200, "PLAN-ITEM", "事项"));
        let one = draw_page_at(&draw, &short, &ItemCounts::of(&short), 1, &head()).unwrap();
        assert_eq!(numbers(&one).len(), 200);
        assert!(!one.contains("nav class=\"pages\"") && !one.contains("显示第"));
        // An empty list has its one (empty) page.
        assert!(draw_page_at(&draw, &empty(), &ItemCounts::default(), 1, &head()).is_ok());
        assert_eq!(page_count(0), 1);
    }

    #[test]
    fn page_links_leap_to_the_ends_and_show_the_pages_around() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let rows = list(rows_of_item(1, 20 * 200, "PLAN-ITEM", "事项"));
        let items = ItemCounts::of(&rows);
        let middle = draw_page_at(&draw, &rows, &items, 10, &head()).unwrap();
        let nav = &middle[middle.find("<nav class=\"pages\"").unwrap()..];
        let nav = &nav[..nav.find("</nav>").unwrap()];
        // Previous, then 1 … 8 9 [10] 11 12 … 20, then next.
        assert_eq!(linked(nav, "D_000000000001"), [9, 1, 8, 9, 11, 12, 20, 11]);
        assert_eq!(nav.matches("<span class=\"gap\">…</span>").count(), 2);
        assert!(nav.contains("<strong aria-current=\"page\">10</strong>"));
        assert!(middle.contains("显示第 1801–2000 条，共 4000 条"));
        assert!(
            STYLE.contains("nav.pages a,nav.pages strong{display:inline-block;min-width:2.75rem;min-height:2.75rem")
        );
    }

    #[test]
    fn a_page_not_there_says_how_many_there_are() {
        let page = no_such_page("D_000000000001", "<9>", 3);
        assert!(page.contains("没有第 <code>&lt;9&gt;</code> 页"));
        assert!(page.contains("共 3 页"));
        assert!(page.contains("href=\"/draws/D_000000000001\""));
        assert!(page.contains("href=\"/draws/D_000000000001?page=3\""));
        self_contained(&page);
    }

    fn hits(n: usize) -> Vec<Hit> {
        (0..n)
            .map(|k| Hit {
                draw_name: "D_000000000001".into(),
                plan_id: "P".into(),
                plan_name: "计划".into(),
                inspection_date: "2026-03-02".into(),
                credit_code: format!("C{k}"),
                name: format!("企业{k}"),
                items: vec![],
                item_names: vec![],
                leader: "C1".into(),
                team: vec!["C1".into()],
                drawn_team: vec!["C1".into()],
                substitutions: vec![],
                result: None,
            })
            .collect()
    }

    #[test]
    fn a_capped_search_says_how_many_and_pages_them() {
        let found = |first: usize, shown: usize| Found {
            hits: hits(shown),
            total: 450,
            first,
        };
        let first = search_page_found("红 果", &found(0, 200), &[], SEARCH_LIMIT, &head());
        assert!(first.contains("找到 450 条"));
        assert!(first.contains("显示前 200 条，共 450 条"));
        assert!(first.contains("href=\"/search?q=%E7%BA%A2%20%E6%9E%9C&amp;page=2\""));
        assert!(first.contains("href=\"/search?q=%E7%BA%A2%20%E6%9E%9C&amp;page=3\""));
        let second = search_page_found("红果", &found(200, 200), &[], SEARCH_LIMIT, &head());
        assert!(second.contains("显示第 201–400 条，共 450 条"));
        assert!(second.contains("<strong aria-current=\"page\">2</strong>"));
        let beyond = search_page_found("红果", &found(600, 0), &[], SEARCH_LIMIT, &head());
        assert!(beyond.contains("没有第 4 页"), "{beyond}");
        assert!(!beyond.contains("未找到"), "there are hits, on other pages");
        let all = search_page("红果", &hits(3), &head());
        assert!(all.contains("找到 3 条") && !all.contains("显示") && !all.contains("nav class"));
    }

    #[test]
    fn ad_hoc_draws_say_so() {
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        draw.unannounced = true;
        assert!(draw_page(&draw, &empty(), &head()).contains("未事先公告的临时抽取"));
        assert!(index_page(&[draw.clone()], &[], &head()).contains("ad hoc, not announced in advance"));
        draw.unannounced = false;
        draw.manifest.seed.source = SeedSource::Random;
        assert!(draw_page(&draw, &empty(), &head()).contains("ad hoc, not announced in advance"));
        // The service's ledger reference in the manifest says so too.
        draw.manifest.seed.source = SeedSource::Hex;
        assert!(!draw_page(&draw, &empty(), &head()).contains("未事先公告"));
        draw.manifest.ledger = Some(crate::bundle::LedgerRef {
            task_id: "T-9".into(),
            head_seq: 12,
            head_hash: crate::snapshot::Hash32([7; 32]),
            unannounced: true,
        });
        let page = draw_page(&draw, &empty(), &head());
        assert!(page.contains("未事先公告的临时抽取"));
        assert!(page.contains("T-9"));
        assert!(page.contains(&"07".repeat(32)), "the ledger head before the draw");
    }

    #[test]
    fn beacon_and_commit_reveal_seeds_are_described() {
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let beacon = BeaconRecord {
            chain: "quicknet".into(),
            round: 123_456,
            signature: "ab".repeat(48),
            randomness: "cd".repeat(32),
        };
        draw.manifest.seed.source = SeedSource::Beacon(beacon.clone());
        let page = draw_page(&draw, &empty(), &head());
        assert!(page.contains("drand quicknet 第 123456 轮"));
        assert!(page.contains(&"cd".repeat(32)));
        assert!(!page.contains("未事先公告"));
        draw.manifest.seed.source = SeedSource::CommitReveal {
            commitment: "<c>".into(),
            secret: "ef".repeat(32),
            beacon: Some(beacon),
        };
        let page = index_page(&[draw], &[], &head());
        assert!(page.contains("承诺—揭示"));
        assert!(page.contains("&lt;c&gt;"));
        assert!(page.contains(&"ef".repeat(32)));
        assert!(page.contains("round 123456"));
    }

    #[test]
    fn search_page_states_plainly() {
        let empty = search_page("", &[], &head());
        assert!(empty.contains("请输入"));
        assert!(!empty.contains("未找到"));
        let none = search_page("富峰", &[], &head());
        assert!(none.contains("未找到"));
        assert!(none.contains("value=\"富峰\""));
        assert!(none.contains("action=\"/search\" method=\"get\""));
    }

    #[test]
    fn index_lists_announcements_and_draws() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let announcement = AnnouncementView {
            task_id: "T-1".into(),
            plan_id: "P-1".into(),
            plan_name: "一季度计划".into(),
            department: "市场监督管理局".into(),
            inspection_date: "2026-04-01".into(),
            seed_method: "公开摇号：2026-01-05 10:00 现场录入".into(),
            announced_at: "2026-01-01 09:00".into(),
            snapshot_combined: "cd".repeat(32),
            drawn: None,
        };
        let page = index_page(&[draw], &[announcement], &head());
        assert!(page.contains("一季度计划"));
        assert!(page.contains("尚未抽取"));
        assert!(page.contains("href=\"/draws/D_000000000001\""));
        assert!(page.contains("<input name=\"q\""));
        assert!(page.contains("第 42 条"));
    }
}
