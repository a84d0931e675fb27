//! Business names in the forms registered in Panzhou: companies under the
//! city or the province, shops named for a township and a trade name or an
//! owner, and cooperatives named for what they grow or raise.

use super::catalogue::Catalogue;
use super::sampling::Rng;

/// A two-character trade name (字号), e.g. 鑫源, 盘江.
fn push_trade_name(cat: &Catalogue, rng: &mut Rng, name: &mut String) {
    name.push_str(rng.pick(&cat.trade_first).as_str());
    name.push_str(rng.pick(&cat.trade_second).as_str());
}

/// 盘州市{字号}{行业词}有限公司, sometimes registered under the province.
pub(super) fn enterprise_name(cat: &Catalogue, rng: &mut Rng, name: &mut String, industry: usize) {
    name.push_str(if rng.percent(90) { "盘州市" } else { "贵州" });
    push_trade_name(cat, rng, name);
    name.push_str(rng.pick(&cat.industries[industry].company_words).as_str());
    let suffix = rng.below(100);
    name.push_str(match suffix {
        0..=79 => "有限公司",
        80..=96 => "有限责任公司",
        _ => "股份有限公司",
    });
}

/// 盘州市{镇}{字号 | 张记 | 张伟}{小吃店 …}.
pub(super) fn individual_name(cat: &Catalogue, rng: &mut Rng, name: &mut String, industry: usize, township: usize) {
    name.push_str("盘州市");
    name.push_str(&cat.townships[township].short);
    match rng.below(10) {
        0..=4 => push_trade_name(cat, rng, name),
        5..=7 => {
            name.push_str(&rng.pick(&cat.surnames).0);
            name.push('记');
        }
        _ => {
            name.push_str(&rng.pick(&cat.surnames).0);
            name.push_str(rng.pick(&cat.given_name_chars).as_str());
            name.push_str(rng.pick(&cat.given_name_chars).as_str());
        }
    }
    name.push_str(rng.pick(&cat.industries[industry].shop_words).as_str());
}

/// 盘州市[{镇}]{字号}{刺梨种植 | 生猪养殖}农民专业合作社.
pub(super) fn cooperative_name(cat: &Catalogue, rng: &mut Rng, name: &mut String, township: usize) {
    name.push_str("盘州市");
    if rng.percent(30) {
        name.push_str(&cat.townships[township].short);
    }
    push_trade_name(cat, rng, name);
    let (product, kind) = rng.pick(&cat.cooperative_products);
    name.push_str(product);
    name.push_str(kind);
    name.push_str("农民专业合作社");
}
