//! Numbers for people: in the project's `locale` and `currency` (CLDR's conventions, through
//! ICU4X), or, when no locale is set, as kpi has always written them (`1,234.50`, `12.5%`,
//! `4.2 d`).
//!
//! Every value is first rounded by Rust to the KPI's decimals, exactly as without a locale; the
//! locale only decides how those digits are shown: the grouping and decimal marks, where the
//! percent sign and the currency symbol go, the symbol itself and the word for days. So a locale
//! can never change a number, only its spelling.

use std::cell::RefCell;
use std::collections::BTreeMap;

use fixed_decimal::{Decimal, Sign, SignDisplay};
use icu_decimal::DecimalFormatter;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::percent::formatter::PercentFormatter;
use icu_experimental::dimension::units::categorized_formatter::CategorizedFormatter;
use icu_experimental::dimension::units::options::{UnitsFormatterOptions, Width};
use icu_experimental::measure::category::Duration;
use icu_locale::LocaleExpander;
use icu_locale_core::preferences::extensions::unicode::keywords::CurrencyType;
use icu_locale_core::Locale;

use crate::compile::ir::Format;

/// What a locale is, for the error about one that is not.
pub const LOCALE_HINT: &str = "A locale is a BCP 47 tag: a language, then optionally a region, such as `ru-RU`, `uk-UA`, `en-US`, `de-DE` or `fr-FR`. Without one, numbers are written as `1,234.50`.";

/// What a currency is, for the error about one that is not.
pub const CURRENCY_HINT: &str =
    "A currency is an ISO 4217 code in capitals, such as `RUB`, `UAH`, `EUR` or `USD`.";

/// A locale that kpi has data for, as a BCP 47 tag: `ru-RU`, `de-DE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocaleTag(Locale);

impl LocaleTag {
    /// Reads a BCP 47 tag (`ru-RU`, `uk`, `fr-FR`) whose language CLDR knows. The error says
    /// what is wrong in words.
    pub fn parse(text: &str) -> Result<LocaleTag, String> {
        let locale: Locale = text.parse().map_err(|_| {
            if text.contains('_') {
                format!(
                    "`{text}` is not a locale tag; write it with a hyphen, as `{}`",
                    text.replace('_', "-")
                )
            } else {
                format!("`{text}` is not a locale tag such as `ru-RU` or `de-DE`")
            }
        })?;
        // A language CLDR knows has likely subtags (its script, its main region); one it does
        // not know would silently be formatted with the root locale's conventions.
        let mut language_only: Locale = Locale::UNKNOWN;
        language_only.id.language = locale.id.language;
        let known = !locale.id.language.is_unknown()
            && LocaleExpander::new_extended().maximize(&mut language_only.id)
                == icu_locale::TransformResult::Modified;
        if !known {
            return Err(format!("kpi has no number formats for the locale `{text}`"));
        }
        Ok(LocaleTag(locale))
    }
}

/// An ISO 4217 currency code: `RUB`, `UAH`, `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyCode(iso_currency::Currency);

impl CurrencyCode {
    /// Reads a code of ISO 4217's current list; the error suggests the nearest code.
    pub fn parse(text: &str) -> Result<CurrencyCode, String> {
        if let Some(currency) = iso_currency::Currency::from_code(text) {
            return Ok(CurrencyCode(currency));
        }
        if let Some(currency) = iso_currency::Currency::from_code(&text.to_ascii_uppercase()) {
            return Err(format!(
                "`{text}` is not an ISO 4217 currency code; codes are in capitals: `{}`",
                currency.code()
            ));
        }
        Err(format!("`{text}` is not an ISO 4217 currency code"))
    }

    /// The codes one letter away from a wrong one, for a hint: `RUR` → `EUR`, `MUR` or `RUB`.
    pub fn suggest(text: &str) -> Option<String> {
        use iso_currency::IntoEnumIterator;
        let text = text.to_ascii_uppercase();
        let mut near: Vec<String> = iso_currency::Currency::iter()
            .map(|c| c.code())
            .filter(|c| strsim::damerau_levenshtein(&text, c) == 1)
            .map(|c| format!("`{c}`"))
            .collect();
        near.sort();
        let last = near.pop()?;
        Some(match near.is_empty() {
            true => format!("did you mean {last}?"),
            false => format!("did you mean {} or {last}?", near.join(", ")),
        })
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }
}

/// How a report writes numbers. [`Numbers::default`] writes them as kpi always has.
#[derive(Debug, Default)]
pub struct Numbers {
    local: Option<Box<Local>>,
    /// The project's `currency`: in a locale, the symbol of `format currency` KPIs whose `unit`
    /// is not a currency code; without one, its code follows their values.
    currency: Option<CurrencyCode>,
}

/// The formatters of one locale.
#[derive(Debug)]
struct Local {
    locale: Locale,
    decimal: DecimalFormatter,
    percent: PercentFormatter<DecimalFormatter>,
    days: CategorizedFormatter<Duration>,
    /// How each currency used so far is written around its number, by code.
    money: RefCell<BTreeMap<&'static str, Option<Money>>>,
}

/// Where a currency's symbol and sign go around the number: learnt from how the locale writes
/// 1 and -1 of it (`1,00 ₽` and `-1,00 ₽`; `$1.00` and `-$1.00`).
#[derive(Debug, Clone)]
struct Money {
    positive: (String, String),
    negative: (String, String),
    /// The symbol alone, to tell a `unit` that repeats it (`unit "₽"`).
    symbol: String,
}

/// A locale or currency that cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct LocaleError(pub String);

impl Numbers {
    /// Numbers in `locale`; `currency` is the symbol of `format currency` KPIs whose `unit` is
    /// not itself a currency code. Without a locale, numbers are written as kpi always has, and
    /// a currency's code follows its values (`1,234.50 RUB`).
    pub fn new(
        locale: Option<&LocaleTag>,
        currency: Option<CurrencyCode>,
    ) -> Result<Numbers, LocaleError> {
        let Some(locale) = locale.map(|l| l.0.clone()) else {
            return Ok(Numbers {
                local: None,
                currency,
            });
        };
        let error = |e: icu_provider::DataError| {
            LocaleError(format!("no number formats for `{locale}`: {e}"))
        };
        let decimal =
            DecimalFormatter::try_new((&locale).into(), Default::default()).map_err(error)?;
        let percent =
            PercentFormatter::try_new((&locale).into(), Default::default()).map_err(error)?;
        let mut options = UnitsFormatterOptions::default();
        options.width = Width::Short;
        let days = CategorizedFormatter::<Duration>::try_new_core(
            (&locale).into(),
            Duration::day(),
            options,
        )
        .map_err(error)?;
        Ok(Numbers {
            local: Some(Box::new(Local {
                locale,
                decimal,
                percent,
                days,
                money: RefCell::new(BTreeMap::new()),
            })),
            currency,
        })
    }

    /// A KPI's value by its `format`, `decimals` and `unit`: `12.3%`, `1,234.50`, `4.2 d` without a
    /// locale; `12,3 %`, `1 234,50 ₽`, `4,2 дн.` in `ru-RU`. `—` for no value.
    pub fn value(
        &self,
        value: Option<f64>,
        format: Format,
        decimals: Option<u32>,
        unit: Option<&str>,
    ) -> String {
        let Some(v) = value else {
            return "—".to_string();
        };
        let unit = unit.filter(|u| !u.is_empty());
        match &self.local {
            None => {
                // A currency without a locale follows the number as its code, like a unit.
                let code = match (format, self.currency) {
                    (Format::Currency, Some(c)) if unit.is_none() => Some(c.code()),
                    _ => unit,
                };
                with_unit(plain_value(v, format, decimals), code)
            }
            Some(local) => {
                // The KPI's own currency (`unit "EUR"`, which the symbol then replaces), else the
                // project's, after which any other unit still follows.
                let own = unit.and_then(|u| CurrencyCode::parse(u).ok());
                let money = match format {
                    Format::Currency => own.or(self.currency).and_then(|c| local.money(c)),
                    _ => None,
                };
                let Some(money) = money else {
                    return with_unit(local.value(v, format, decimals), unit);
                };
                let text = local.money_text(v, digits(format, v, decimals), &money);
                // A unit that only repeats the currency (`₽`, `rub`) is not written twice.
                let repeats = |u: &str| {
                    u == money.symbol
                        || self
                            .currency
                            .is_some_and(|c| u.eq_ignore_ascii_case(c.code()))
                };
                match own {
                    Some(_) => text,
                    None => with_unit(text, unit.filter(|u| !repeats(u))),
                }
            }
        }
    }

    /// A change against the previous period: percentage points for percentages (`+1.0 pp`), else
    /// relative (`-10.0%`). Empty when there is nothing to compare.
    pub fn change(&self, value: Option<f64>, previous: Option<f64>, format: Format) -> String {
        let (Some(v), Some(p)) = (value, previous) else {
            return String::new();
        };
        let (amount, points) = if format == Format::Percent {
            ((v - p) * 100.0, true)
        } else if p == 0.0 {
            return String::new();
        } else {
            ((v - p) / p.abs() * 100.0, false)
        };
        let Some(local) = &self.local else {
            let sign = if amount >= 0.0 { "+" } else { "" };
            return match points {
                true => format!("{sign}{} pp", group(amount, 1)),
                false => format!("{sign}{}%", group(amount, 1)),
            };
        };
        let Some(mut d) = rounded(amount, 1) else {
            return format!("{amount}");
        };
        // A plus sign exactly where kpi writes one without a locale.
        if amount >= 0.0 {
            d.apply_sign_display(SignDisplay::Always);
        }
        match points {
            true => format!("{} pp", local.decimal.format(&d)),
            false => local.percent.format(&d).to_string(),
        }
    }
}

impl Local {
    fn value(&self, v: f64, format: Format, decimals: Option<u32>) -> String {
        let shown = if format == Format::Percent {
            v * 100.0
        } else {
            v
        };
        let Some(d) = rounded(shown, digits(format, v, decimals)) else {
            return format!("{shown}");
        };
        match format {
            Format::Percent => self.percent.format(&d).to_string(),
            Format::Days => self.days_text(&d),
            Format::Currency | Format::Number => self.decimal.format(&d).to_string(),
        }
    }

    /// `4,2 дн.`. Some languages write one or two days as a word without the number (Arabic
    /// `يوم`, `يومان`; Hebrew `יומיים`); the number is never left out, so then the pattern of
    /// a value that shows its number is used instead.
    fn days_text(&self, d: &Decimal) -> String {
        let text = self.days.format_fixed_decimal(d).to_string();
        let number = self.decimal.format(d).to_string();
        if text.contains(&number) {
            return text;
        }
        for sample in ["1.5", "11", "100", "5"] {
            let Ok(sample) = sample.parse::<Decimal>() else {
                continue;
            };
            let shown = self.days.format_fixed_decimal(&sample).to_string();
            let sample_number = self.decimal.format(&sample).to_string();
            if shown.contains(&sample_number) {
                return shown.replacen(&sample_number, &number, 1);
            }
        }
        number
    }

    /// How `currency` is written in this locale, learnt once.
    fn money(&self, currency: CurrencyCode) -> Option<Money> {
        let mut cache = self.money.borrow_mut();
        cache
            .entry(currency.code())
            .or_insert_with(|| {
                let kind = CurrencyType::try_from_str(currency.code()).ok()?;
                let formatter = CurrencyFormatter::try_new_symbol(
                    (&self.locale).into(),
                    kind,
                    Default::default(),
                )
                .ok()?;
                let one = |text: &str| {
                    let d: Decimal = text.parse().ok()?;
                    let text = formatter.format_fixed_decimal(&d).to_string();
                    affixes(&text)
                };
                let positive = one("1")?;
                let negative = one("-1")?;
                let symbol = format!("{}{}", positive.0, positive.1).trim().to_string();
                Some(Money {
                    positive,
                    negative,
                    symbol,
                })
            })
            .clone()
    }

    fn money_text(&self, v: f64, digits: u32, money: &Money) -> String {
        let Some(mut d) = rounded(v, digits) else {
            return format!("{v}");
        };
        let (before, after) = match d.sign {
            Sign::Negative => &money.negative,
            _ => &money.positive,
        };
        d.sign = Sign::None;
        format!("{before}{}{after}", self.decimal.format(&d))
    }
}

/// What comes before and after the number in a currency's formatting of one: `("", " ₽")` for
/// `1,00 ₽`.
fn affixes(text: &str) -> Option<(String, String)> {
    let first = text.find(|c: char| c.is_numeric())?;
    let (last, c) = text.char_indices().rev().find(|(_, c)| c.is_numeric())?;
    let end = last + c.len_utf8();
    Some((text[..first].to_string(), text[end..].to_string()))
}

/// `v` rounded to `digits` decimals as Rust rounds it without a locale, as an ICU4X decimal;
/// a zero is never negative. None for a value that is not a finite number.
fn rounded(v: f64, digits: u32) -> Option<Decimal> {
    let mut d: Decimal = format!("{:.*}", digits as usize, v).parse().ok()?;
    if d.absolute.is_zero() {
        d.sign = Sign::None;
    }
    Some(d)
}

/// A value followed by its unit, if it has one: `4.2 h`.
fn with_unit(text: String, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format!("{text} {u}"),
        None => text,
    }
}

/// The decimals a value is shown with: the KPI's `decimals`, else by its format (a whole
/// number has none). The same with and without a locale, so that a locale never changes digits.
fn digits(format: Format, v: f64, decimals: Option<u32>) -> u32 {
    decimals.unwrap_or(match format {
        Format::Percent | Format::Days => 1,
        Format::Currency => 2,
        Format::Number if v.fract() == 0.0 => 0,
        Format::Number => 2,
    })
}

/// Without a locale: `12.3%`, `1,234.50`, `4.2 d`, `1,200,000`.
fn plain_value(v: f64, format: Format, decimals: Option<u32>) -> String {
    let digits = digits(format, v, decimals);
    match format {
        Format::Percent => format!("{}%", group(v * 100.0, digits)),
        Format::Currency | Format::Number => group(v, digits),
        Format::Days => format!("{} d", group(v, digits)),
    }
}

/// Fixed decimals with thousands separated by commas.
fn group(v: f64, decimals: u32) -> String {
    let text = format!("{:.*}", decimals as usize, v);
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text.as_str()),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    // `-0.0` prints as `0.0`.
    let sign = if grouped.chars().all(|c| c == '0' || c == ',')
        && frac.is_none_or(|f| f.chars().all(|c| c == '0'))
    {
        ""
    } else {
        sign
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affixes_are_what_surrounds_the_number() {
        assert_eq!(affixes("1,00\u{a0}₽"), Some(("".into(), "\u{a0}₽".into())));
        assert_eq!(affixes("-$1.00"), Some(("-$".into(), "".into())));
        assert_eq!(affixes("¥1"), Some(("¥".into(), "".into())));
        assert_eq!(affixes("₽"), None);
    }
}
