//! Numbers for people in a locale: every locale kpi promises, for every format, negative values,
//! very large and very small ones; and the reports that use the locale and those that do not.

use kpi::compile::ir::Format;
use kpi::locale::{CurrencyCode, LocaleTag, Numbers};
use kpi::project::Project;
use kpi::report::{render, OutputFormat, TableOptions};

use super::{TempProject, SALES_CSV, SALES_MANIFEST, TARGETS_CSV};

fn numbers(locale: &str, currency: &str) -> Numbers {
    let locale = LocaleTag::parse(locale).unwrap();
    let currency = CurrencyCode::parse(currency).unwrap();
    Numbers::new(Some(&locale), Some(currency)).unwrap()
}

/// The spaces of a locale made visible: no-break space `⍽`, narrow no-break space `‿`.
fn visible(text: &str) -> String {
    text.replace('\u{a0}', "⍽").replace('\u{202f}', "‿")
}

/// Each format and size, by hand: the marks and the symbol's place are CLDR's for each locale.
#[test]
fn each_locale_writes_numbers_its_own_way() {
    let money = |n: &Numbers, v: f64| n.value(Some(v), Format::Currency, None, None);
    let ru = numbers("ru-RU", "RUB");
    // The issue's own example: a Russian reader expects `104 211,94 ₽`.
    assert_eq!(money(&ru, 104211.94), "104\u{a0}211,94\u{a0}₽");
    assert_eq!(money(&ru, -104211.94), "-104\u{a0}211,94\u{a0}₽");
    assert_eq!(
        ru.value(Some(0.125), Format::Percent, None, None),
        "12,5\u{a0}%"
    );
    assert_eq!(ru.value(Some(4.25), Format::Days, Some(1), None), "4,2 дн.");
    let de = numbers("de-DE", "EUR");
    assert_eq!(money(&de, 104211.94), "104.211,94\u{a0}€");
    let us = numbers("en-US", "USD");
    assert_eq!(money(&us, 104211.94), "$104,211.94");
    assert_eq!(money(&us, -104211.94), "-$104,211.94");
    let uk = numbers("uk-UA", "UAH");
    assert_eq!(money(&uk, 104211.94), "104\u{a0}211,94\u{a0}₴");
    assert_eq!(uk.value(Some(0.125), Format::Percent, None, None), "12,5%");
    let fr = numbers("fr-FR", "EUR");
    assert_eq!(money(&fr, 104211.94), "104\u{202f}211,94\u{a0}€");
    // The decimals are the KPI's (2 by default, as without a locale), whatever the currency's
    // minor units: a locale never changes the digits. 999.6 yen is not 1,000 yen.
    let jp = numbers("ja-JP", "JPY");
    assert_eq!(money(&jp, 999.6), "￥999.60");
    assert_eq!(
        jp.value(Some(104211.94), Format::Currency, Some(0), None),
        "￥104,212"
    );
    // Where one or two days are a word without a number (Arabic, Hebrew), the number stays.
    let ar = numbers("ar-EG", "EGP");
    for v in [1.0, 2.0] {
        let text = ar.value(Some(v), Format::Days, Some(0), None);
        let digit = if v == 1.0 { '١' } else { '٢' };
        assert!(text.contains(digit), "{v}: {text}");
    }
    let he = numbers("he-IL", "ILS");
    assert!(he
        .value(Some(2.0), Format::Days, Some(0), None)
        .contains('2'));
}

/// A table per locale of every format, for negative, very large and very small values, as the
/// reports write them.
#[test]
fn locale_table() {
    let values = [
        0.0,
        1.0,
        -1.0,
        0.125,
        -0.125,
        1234.5,
        -1234.5,
        104211.94,
        1_234_567_890.125,
        -9.87654321e15,
        0.000123,
        -0.0004,
    ];
    let locales = [
        ("en-US", "USD"),
        ("ru-RU", "RUB"),
        ("uk-UA", "UAH"),
        ("de-DE", "EUR"),
        ("fr-FR", "EUR"),
    ];
    let mut out = String::new();
    let mut tables = vec![("none".to_string(), Numbers::default())];
    tables.extend(
        locales
            .iter()
            .map(|(l, c)| (format!("{l} {c}"), numbers(l, c))),
    );
    for (name, n) in &tables {
        out.push_str(&format!(
            "{name}\n{:>22} | {:>22} | {:>22} | {:>24} | {:>18} | change\n",
            "value", "number", "percent", "currency", "days"
        ));
        for v in values {
            let cells = [
                n.value(Some(v), Format::Number, None, None),
                n.value(Some(v), Format::Percent, None, None),
                n.value(Some(v), Format::Currency, None, None),
                n.value(Some(v), Format::Days, None, None),
                n.change(Some(v), Some(2.0), Format::Number),
            ];
            out.push_str(&format!(
                "{v:>22} | {:>22} | {:>22} | {:>24} | {:>18} | {}\n",
                visible(&cells[0]),
                visible(&cells[1]),
                visible(&cells[2]),
                visible(&cells[3]),
                visible(&cells[4]),
            ));
        }
        // No value; changes in percentage points; small values with the decimals they need.
        out.push_str(&format!(
            "{:>22}   {} | {} {} | {} {} {}\n\n",
            "—",
            n.value(None, Format::Number, None, None),
            visible(&n.change(Some(0.16), Some(0.15), Format::Percent)),
            visible(&n.change(Some(0.15), Some(0.16), Format::Percent)),
            visible(&n.value(Some(0.000123), Format::Number, Some(6), None)),
            visible(&n.value(Some(-0.0004), Format::Percent, Some(3), None)),
            visible(&n.value(Some(0.004), Format::Currency, Some(3), None)),
        ));
    }
    insta::assert_snapshot!("locale_table", out);
}

#[test]
fn without_a_locale_numbers_are_as_they_always_were() {
    let n = Numbers::default();
    assert_eq!(n.value(Some(0.1534), Format::Percent, None, None), "15.3%");
    assert_eq!(
        n.value(Some(1234567.0), Format::Number, None, None),
        "1,234,567"
    );
    assert_eq!(
        n.value(Some(-1234.5), Format::Currency, None, Some("EUR")),
        "-1,234.50 EUR"
    );
    assert_eq!(n.value(Some(4.25), Format::Days, Some(0), None), "4 d");
    assert_eq!(n.value(Some(-0.001), Format::Number, Some(1), None), "0.0");
    assert_eq!(n.change(Some(0.16), Some(0.15), Format::Percent), "+1.0 pp");
    assert_eq!(n.change(Some(90.0), Some(100.0), Format::Number), "-10.0%");
    // A fall that rounds to nothing has no sign, with or without a locale.
    assert_eq!(
        n.change(Some(0.1500), Some(0.1504), Format::Percent),
        "0.0 pp"
    );
    let ru = numbers("ru-RU", "RUB");
    assert_eq!(
        ru.change(Some(0.1500), Some(0.1504), Format::Percent),
        "0,0 pp"
    );
    assert_eq!(
        ru.change(Some(0.1504), Some(0.1500), Format::Percent),
        "+0,0 pp"
    );
}

/// A KPI whose `unit` is a currency code is written in that currency; another unit follows the
/// number as it always has.
#[test]
fn a_currency_unit_is_the_kpis_own_currency() {
    let ru = numbers("ru-RU", "RUB");
    assert_eq!(
        ru.value(Some(1234.5), Format::Currency, None, Some("EUR")),
        "1\u{a0}234,50\u{a0}€"
    );
    assert_eq!(
        ru.value(Some(1234.5), Format::Number, Some(1), Some("ч")),
        "1\u{a0}234,5 ч"
    );
    // Another unit still follows the project's currency: nothing written is dropped.
    assert_eq!(
        ru.value(Some(1234.5), Format::Currency, Some(0), Some("тыс.")),
        "1\u{a0}234\u{a0}₽ тыс."
    );
    // A unit that repeats the currency is not written twice.
    assert_eq!(
        ru.value(Some(1.5), Format::Currency, None, Some("₽")),
        "1,50\u{a0}₽"
    );
    assert_eq!(
        ru.value(Some(1.5), Format::Currency, None, Some("rub")),
        "1,50\u{a0}₽"
    );
    // Without a currency the locale still writes the number.
    let de = Numbers::new(Some(&LocaleTag::parse("de-DE").unwrap()), None).unwrap();
    assert_eq!(
        de.value(Some(1234.5), Format::Currency, None, None),
        "1.234,50"
    );
    // A currency without a locale: numbers as always, the code after currency values only.
    let rub = Numbers::new(None, Some(CurrencyCode::parse("RUB").unwrap())).unwrap();
    assert_eq!(
        rub.value(Some(1234.5), Format::Currency, None, None),
        "1,234.50 RUB"
    );
    assert_eq!(rub.value(Some(2.0), Format::Days, None, None), "2.0 d");
    assert_eq!(
        rub.value(Some(1234.5), Format::Currency, None, Some("EUR")),
        "1,234.50 EUR"
    );
}

#[test]
fn locales_and_currencies_that_cannot_be_used_say_why() {
    let err = |text: &str| LocaleTag::parse(text).unwrap_err();
    assert_eq!(
        err("ru_RU"),
        "`ru_RU` is not a locale tag; write it with a hyphen, as `ru-RU`"
    );
    assert_eq!(
        err("русский"),
        "`русский` is not a locale tag such as `ru-RU` or `de-DE`"
    );
    assert_eq!(
        err("xx-YY"),
        "kpi has no number formats for the locale `xx-YY`"
    );
    assert!(LocaleTag::parse("uk").is_ok());
    assert_eq!(
        CurrencyCode::parse("rub").unwrap_err(),
        "`rub` is not an ISO 4217 currency code; codes are in capitals: `RUB`"
    );
    assert_eq!(
        CurrencyCode::parse("RUR").unwrap_err(),
        "`RUR` is not an ISO 4217 currency code"
    );
    assert_eq!(
        CurrencyCode::suggest("RUR").as_deref(),
        Some("did you mean `EUR`, `MUR` or `RUB`?")
    );
    assert_eq!(
        CurrencyCode::suggest("uax").as_deref(),
        Some("did you mean `UAH` or `UGX`?")
    );
}

const DEFS: &str = r#"
kpi revenue {
    title  "Выручка"
    format currency
    value  sum(sales.amount) * 1000.5
    target >= 90000
}
kpi paid_share {
    format percent
    value  sum(sales.amount where status == "paid") / sum(sales.amount)
    target between 50% and 90%
}
"#;

fn rendered(extra: &str, format: OutputFormat) -> String {
    let manifest = SALES_MANIFEST.replace("[project]\n", &format!("[project]\n{extra}"));
    let project = TempProject::new(
        &manifest,
        &[
            ("defs.kpi", DEFS),
            ("sales.csv", SALES_CSV),
            ("targets.csv", TARGETS_CSV),
        ],
    );
    let run = project.run("2025-03-31");
    let loaded = Project::load(project.path()).unwrap();
    assert!(
        loaded.manifest.errors.is_empty(),
        "{:?}",
        loaded.manifest.errors
    );
    let numbers = Numbers::new(loaded.manifest.locale.as_ref(), loaded.manifest.currency).unwrap();
    let report = super::report_of(&run, &loaded.sources, &numbers);
    let options = TableOptions {
        judged: true,
        ..TableOptions::default()
    };
    render(&report, format, options)
}

/// March's revenue is (40 + 60) × 1000.5 = 100,050 against >= 90,000; February's 100 × 1000.5 =
/// 100,050 too, so the change is +0.0%. Paid share: 100 of 100 in March, 100%.
#[test]
fn reports_for_people_use_the_locale_and_those_for_machines_do_not() {
    let ru = "locale = \"ru-RU\"\ncurrency = \"RUB\"\n";
    let table = rendered(ru, OutputFormat::Table);
    assert!(table.contains("100\u{a0}050,00\u{a0}₽"), "{table}");
    assert!(table.contains(">= 90\u{a0}000,00\u{a0}₽"), "{table}");
    assert!(table.contains("50,0\u{a0}% – 90,0\u{a0}%"), "{table}");
    let markdown = rendered(ru, OutputFormat::Markdown);
    assert!(markdown.contains("100\u{a0}050,00\u{a0}₽"), "{markdown}");
    let html = rendered(ru, OutputFormat::Html);
    assert!(html.contains("100\u{a0}050,00\u{a0}₽"), "{}", &html[..2000]);
    let de = rendered(
        "locale = \"de-DE\"\ncurrency = \"EUR\"\n",
        OutputFormat::Table,
    );
    assert!(de.contains("100.050,00\u{a0}€"), "{de}");
    // JSON and CSV are the same whatever the locale: numbers are numbers.
    for format in [OutputFormat::Json, OutputFormat::Csv] {
        let plain = rendered("", format);
        assert_eq!(rendered(ru, format), plain);
        assert!(plain.contains("100050"), "{plain}");
    }
    insta::assert_snapshot!("locale_ru_table", visible(&table));
    insta::assert_snapshot!("locale_ru_markdown", visible(&markdown));
}
