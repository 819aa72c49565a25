//! The HTML report's charts, as inline SVG: a KPI's history against its target line or band with
//! the warn zone shaded, its progress to a deadline, a funnel's step bars, a sparkline, and the
//! marks that show a status by shape as well as by colour. Scales and coordinates only: the
//! numbers are the outcomes'.

use maud::{html, Markup};

use crate::compile::ir::Format;
use crate::eval::{KpiOutcome, RowOutcome, Status};
use crate::locale::Numbers;
use crate::report::format::{status_mark, trend_history};

/// The status of a point or a card, including "no target" and "could not be computed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Status(Status),
    /// A value without a target.
    Plain,
    /// A KPI that could not be computed.
    Error,
}

impl Mark {
    pub fn of(status: Option<Status>) -> Mark {
        status.map_or(Mark::Plain, Mark::Status)
    }

    /// The key of the CSS classes and of the status filter.
    pub fn key(self) -> &'static str {
        match self {
            Mark::Status(s) => s.key(),
            Mark::Plain => "none",
            Mark::Error => "error",
        }
    }

    /// The mark and words, as in the other reports: `✗ missed`.
    pub fn words(self) -> &'static str {
        match self {
            Mark::Status(s) => status_mark(s),
            Mark::Plain => "no target",
            Mark::Error => "‼ error",
        }
    }

    /// The shape of the status, centred on (x, y): a circle for met, a triangle pointing right
    /// for on track, a triangle for warn, a diamond for at risk, a cross for missed, a ring for
    /// no data, a dot for a value without target, a square for an error.
    pub fn shape(self, x: f64, y: f64, r: f64) -> Markup {
        let class = format!("mark s-{}", self.key());
        match self {
            Mark::Status(Status::Met) => html! {
                circle class=(class) cx=(n(x)) cy=(n(y)) r=(n(r)) {}
            },
            Mark::Status(Status::NoData) => html! {
                circle class=(format!("{class} ring")) cx=(n(x)) cy=(n(y)) r=(n(r * 0.8)) {}
            },
            Mark::Plain => html! {
                circle class=(class) cx=(n(x)) cy=(n(y)) r=(n(r * 0.7)) {}
            },
            Mark::Status(Status::OnTrack) => html! {
                path class=(class) d=(format!("M{} {}L{} {}L{} {}Z",
                    n(x - r), n(y - r), n(x + r * 1.2), n(y), n(x - r), n(y + r))) {}
            },
            Mark::Status(Status::Warn) => html! {
                path class=(class) d=(format!("M{} {}L{} {}L{} {}Z",
                    n(x), n(y - r * 1.2), n(x + r * 1.1), n(y + r * 0.9), n(x - r * 1.1), n(y + r * 0.9))) {}
            },
            Mark::Status(Status::AtRisk) => html! {
                path class=(class) d=(format!("M{} {}L{} {}L{} {}L{} {}Z",
                    n(x), n(y - r * 1.3), n(x + r * 1.3), n(y), n(x), n(y + r * 1.3), n(x - r * 1.3), n(y))) {}
            },
            Mark::Status(Status::Missed) => {
                let a = r * 0.9;
                html! {
                    path class=(format!("{class} cross")) d=(format!("M{} {}L{} {}M{} {}L{} {}",
                        n(x - a), n(y - a), n(x + a), n(y + a), n(x - a), n(y + a), n(x + a), n(y - a))) {}
                }
            }
            Mark::Error => html! {
                rect class=(class) x=(n(x - r)) y=(n(y - r)) width=(n(2.0 * r)) height=(n(2.0 * r)) {}
            },
        }
    }

    /// The shape alone in a small SVG, for cards, legends and tables.
    pub fn icon(self) -> Markup {
        html! {
            svg class="icon" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true" {
                (self.shape(6.0, 6.0, 4.0))
            }
        }
    }
}

/// A coordinate with one decimal, without a trailing `.0`: short and deterministic.
fn n(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// A KPI's value formatted for people, with its unit.
pub fn value_text(nums: &Numbers, kpi: &KpiOutcome, v: Option<f64>) -> String {
    nums.value(
        v,
        kpi.meta.format,
        kpi.meta.decimals,
        kpi.meta.unit.as_deref(),
    )
}

/// The range of a y axis and its ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub low: f64,
    pub high: f64,
    pub ticks: Vec<f64>,
    /// Decimals of the tick labels, in the units people read (percent points for a percentage).
    decimals: u32,
}

impl Scale {
    /// A scale over the values, with about four ticks at round numbers. Additive values (sums
    /// and counts) start at zero; so do others whose range is close to it.
    pub fn over(values: impl IntoIterator<Item = f64>, from_zero: bool, format: Format) -> Scale {
        let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let mut low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let mut high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if values.is_empty() {
            (low, high) = (0.0, 1.0);
        }
        let near_zero = low >= 0.0 && low <= high * 0.5 || high <= 0.0 && high >= low * 0.5;
        if from_zero || near_zero {
            low = low.min(0.0);
            high = high.max(0.0);
        }
        if high - low <= f64::EPSILON * high.abs().max(low.abs()).max(1.0) {
            let pad = if high == 0.0 { 1.0 } else { high.abs() * 0.1 };
            (low, high) = if from_zero && low >= 0.0 {
                (0.0, high + pad)
            } else {
                (low - pad, high + pad)
            };
            // Next to f64::MAX, the padding goes on the side that has room.
            if !high.is_finite() {
                (low, high) = (low - pad, f64::MAX);
            }
            if !low.is_finite() {
                (low, high) = (f64::MIN, high + pad);
            }
        }
        let step = nice_step((high / 4.0) - (low / 4.0));
        let (first, last) = ((low / step).floor(), (high / step).ceil());
        let shown = if format == Format::Percent {
            step * 100.0
        } else {
            step
        };
        let decimals = (-shown.log10().floor()).clamp(0.0, 12.0) as u32;
        // Round ticks, when the range is one that numbers can span (not near f64::MAX).
        if (first * step).is_finite() && (last * step).is_finite() && last - first <= 20.0 {
            let ticks: Vec<f64> = (first as i64..=last as i64)
                .map(|k| k as f64 * step)
                .collect();
            return Scale {
                low: first * step,
                high: last * step,
                ticks,
                decimals,
            };
        }
        Scale {
            low,
            high,
            ticks: vec![low, high],
            decimals,
        }
    }

    /// Where `v` is between the bottom (0) and the top (1), for values of any size: halves
    /// first, so that the span of two values near f64::MAX does not overflow.
    pub fn share(&self, v: f64) -> f64 {
        let span = self.high / 2.0 - self.low / 2.0;
        let share = if span > 0.0 {
            (v / 2.0 - self.low / 2.0) / span
        } else {
            0.5
        };
        if share.is_finite() {
            share
        } else {
            0.5
        }
    }

    /// A tick's label: formatted like the KPI's values, without the unit (the axis names it).
    pub fn label(&self, nums: &Numbers, kpi: &KpiOutcome, v: f64) -> String {
        let v = if v.abs() < 1e-12 { 0.0 } else { v };
        match kpi.meta.format {
            Format::Days => nums.value(Some(v), Format::Number, Some(self.decimals), None),
            format => nums.value(Some(v), format, Some(self.decimals), None),
        }
    }
}

/// 1, 2 or 5 times a power of ten, the smallest at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() {
        raw
    } else {
        1.0
    };
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// What the y axis counts: the unit, else the format.
pub fn axis_name(kpi: &KpiOutcome) -> String {
    if let Some(unit) = kpi.meta.unit.as_deref().filter(|u| !u.is_empty()) {
        return unit.to_string();
    }
    match kpi.meta.format {
        Format::Percent => "%".into(),
        Format::Currency => "amount".into(),
        Format::Days => "days".into(),
        Format::Number => "value".into(),
    }
}

/// Every number a KPI's history charts show: values, targets and warn lines of every row, so
/// that small multiples share one scale.
pub fn chart_values(kpi: &KpiOutcome) -> Vec<f64> {
    kpi.rows
        .iter()
        .flat_map(|row| {
            row.history
                .iter()
                .chain(&row.history_target)
                .chain(&row.history_target_high)
                .chain(&row.history_warn)
                .chain(&row.history_warn_high)
                .chain(&row.maturing)
                .flatten()
                .copied()
        })
        .collect()
}

/// The size of a history chart.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub width: f64,
    pub height: f64,
}

pub const LARGE: Size = Size {
    width: 640.0,
    height: 220.0,
};
pub const SMALL: Size = Size {
    width: 320.0,
    height: 160.0,
};

const LEFT: f64 = 58.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 30.0;

/// The history of a row: its values (and those of maturing cohorts) over the periods, marked by
/// status, against the target line (a band for `between`), the warn zone shaded, the judged
/// period marked. Every point has a tooltip with its exact value.
pub fn history(
    nums: &Numbers,
    kpi: &KpiOutcome,
    row: &RowOutcome,
    scale: &Scale,
    size: Size,
) -> Markup {
    let periods: Vec<&str> = kpi
        .history_periods
        .iter()
        .chain(&kpi.maturing)
        .map(String::as_str)
        .collect();
    let values: Vec<Option<f64>> = row.history.iter().chain(&row.maturing).copied().collect();
    let count = periods.len().max(1);
    let plot_width = size.width - LEFT - RIGHT;
    let plot_height = size.height - TOP - BOTTOM;
    let band = plot_width / count as f64;
    let x = |i: usize| LEFT + band * (i as f64 + 0.5);
    let y = |v: f64| TOP + plot_height * (1.0 - scale.share(v).clamp(-0.05, 1.05));
    let judged = kpi.history_periods.len().saturating_sub(1);
    let op = row
        .target
        .as_ref()
        .or(row.warn.as_ref())
        .map_or("", |t| t.op.as_str());
    // Label every k-th period so that at most about 7 fit, always the judged one.
    let every = count
        .div_ceil(if size.width < 400.0 { 4 } else { 7 })
        .max(1);
    let name = row_title(kpi, row);
    html! {
        svg class="chart" viewBox=(format!("0 0 {} {}", n(size.width), n(size.height)))
            role="img" aria-label=(format!("{name}: history by {}", kpi.grain.name())) {
            // The judged period.
            rect class="judged" x=(n(x(judged) - band / 2.0)) y=(n(TOP)) width=(n(band))
                height=(n(plot_height)) {}
            text class="judged-label" x=(n(x(judged))) y=(n(TOP - 5.0)) text-anchor="middle" {
                @if kpi.in_progress { "so far" } @else { "judged" }
            }
            @for tick in &scale.ticks {
                line class="grid" x1=(n(LEFT)) x2=(n(size.width - RIGHT)) y1=(n(y(*tick)))
                    y2=(n(y(*tick))) {}
                text class="tick" x=(n(LEFT - 4.0)) y=(n(y(*tick) + 3.5)) text-anchor="end" {
                    (scale.label(nums, kpi, *tick))
                }
            }
            text class="axis-name" x="2" y="10" { (axis_name(kpi)) }
            text class="axis-name" x=(n(size.width - RIGHT)) y=(n(size.height - 2.0))
                text-anchor="end" { (kpi.grain.name()) }
            @for i in (0..count).filter(|i| (*i as i64 - judged as i64).rem_euclid(every as i64) == 0) {
                text class="tick" x=(n(x(i))) y=(n(TOP + plot_height + 13.0))
                    text-anchor="middle" { (periods[i]) }
            }
            (zones(row, op, &x, &y, band))
            // A period in progress and cohorts still maturing are joined by dashes: their
            // values are so far, not of whole periods.
            (line_of(&values, &x, &y, "value", kpi.history_periods.len().saturating_sub(usize::from(kpi.in_progress))))
            @for (i, value) in values.iter().enumerate() {
                @if let Some(v) = value {
                    @let mark = point_mark(kpi, row, i);
                    g class="point" {
                        title { (point_tip(nums, kpi, row, i, periods[i], *v, mark)) }
                        (mark.shape(x(i), y(*v), if size.width < 400.0 { 3.5 } else { 4.5 }))
                    }
                }
            }
        }
    }
}

/// `Revenue · EU` for a row of a KPI split by dimensions, else the KPI's title.
fn row_title(kpi: &KpiOutcome, row: &RowOutcome) -> String {
    crate::report::format::row_name(kpi, row)
}

/// The mark of point `i`: its status in the history; a maturing cohort has none.
fn point_mark(kpi: &KpiOutcome, row: &RowOutcome, i: usize) -> Mark {
    if i >= kpi.history_periods.len() {
        return Mark::Plain;
    }
    Mark::of(row.history_status.get(i).copied().flatten())
}

/// `2025-03: 1,234 · target >= 1,000 · ✓ met`.
fn point_tip(
    nums: &Numbers,
    kpi: &KpiOutcome,
    row: &RowOutcome,
    i: usize,
    period: &str,
    v: f64,
    mark: Mark,
) -> String {
    let mut tip = format!("{period}: {}", value_text(nums, kpi, Some(v)));
    if i >= kpi.history_periods.len() {
        tip.push_str(" · maturing, so far");
        return tip;
    }
    let bound = |list: &[Option<f64>]| list.get(i).copied().flatten();
    let op = row.target.as_ref().map_or(">=", |t| t.op.as_str());
    match (bound(&row.history_target), bound(&row.history_target_high)) {
        (Some(low), Some(high)) => tip.push_str(&format!(
            " · target {} – {}",
            value_text(nums, kpi, Some(low)),
            value_text(nums, kpi, Some(high))
        )),
        (Some(low), None) => tip.push_str(&format!(
            " · target {op} {}",
            value_text(nums, kpi, Some(low))
        )),
        _ => {}
    }
    if mark != Mark::Plain {
        tip.push_str(&format!(" · {}", mark.words()));
    }
    if kpi.in_progress && i + 1 == kpi.history_periods.len() {
        tip.push_str(" · so far");
    }
    tip
}

/// The polyline through consecutive values, broken where one is missing; the part after
/// `solid` points (maturing cohorts) dashed.
fn line_of(
    values: &[Option<f64>],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    class: &str,
    solid: usize,
) -> Markup {
    let mut solid_path = String::new();
    let mut dashed_path = String::new();
    for i in 1..values.len() {
        let (Some(a), Some(b)) = (values[i - 1], values[i]) else {
            continue;
        };
        let path = if i < solid {
            &mut solid_path
        } else {
            &mut dashed_path
        };
        path.push_str(&format!(
            "M{} {}L{} {}",
            n(x(i - 1)),
            n(y(a)),
            n(x(i)),
            n(y(b))
        ));
    }
    html! {
        @if !solid_path.is_empty() { path class=(class) d=(solid_path) {} }
        @if !dashed_path.is_empty() { path class=(format!("{class} maturing")) d=(dashed_path) {} }
    }
}

/// The target line (or `between` band) and the warn zone between it and the warn line, as
/// steps over the periods, so that a target that changes from period to period (targets from
/// data) is drawn where it applied.
fn zones(
    row: &RowOutcome,
    op: &str,
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    band: f64,
) -> Markup {
    let target = &row.history_target;
    let target_high = &row.history_target_high;
    let warn = &row.history_warn;
    let warn_high = &row.history_warn_high;
    let between = op == "between";
    html! {
        // The warn zone: from the target's bound to the warn line's, on the side that misses.
        (area(target, warn, x, y, band, "warn-zone"))
        @if between {
            (area(target_high, warn_high, x, y, band, "warn-zone"))
            (area(target, target_high, x, y, band, "target-band"))
        }
        (steps(target, x, y, band, "target"))
        @if between { (steps(target_high, x, y, band, "target")) }
    }
}

/// A step line over the periods where `values` are known.
fn steps(
    values: &[Option<f64>],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    band: f64,
    class: &str,
) -> Markup {
    let mut d = String::new();
    // Whether the step before was drawn, so that this one joins it.
    let mut joined = false;
    for (i, value) in values.iter().enumerate() {
        let Some(v) = value else {
            joined = false;
            continue;
        };
        let (left, right) = (x(i) - band / 2.0, x(i) + band / 2.0);
        let to = if joined { 'L' } else { 'M' };
        d.push_str(&format!(
            "{to}{} {}L{} {}",
            n(left),
            n(y(*v)),
            n(right),
            n(y(*v))
        ));
        joined = true;
    }
    html! { @if !d.is_empty() { path class=(class) d=(d) {} } }
}

/// The area between two step lines, period by period, where both are known.
fn area(
    from: &[Option<f64>],
    to: &[Option<f64>],
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    band: f64,
    class: &str,
) -> Markup {
    let mut d = String::new();
    for (i, (a, b)) in from.iter().zip(to).enumerate() {
        let (Some(a), Some(b)) = (a, b) else {
            continue;
        };
        if a == b {
            continue;
        }
        let (left, right) = (x(i) - band / 2.0, x(i) + band / 2.0);
        let (top, bottom) = (y(a.max(*b)), y(a.min(*b)));
        d.push_str(&format!(
            "M{} {}H{}V{}H{}Z",
            n(left),
            n(top),
            n(right),
            n(bottom),
            n(left)
        ));
    }
    html! { @if !d.is_empty() { path class=(class) d=(d) {} } }
}

/// A sparkline of the history for a card: the line and the judged point's mark; without a
/// period in progress, whose part of a period would look like a drop ([`trend_history`]).
pub fn sparkline(kpi: &KpiOutcome, row: &RowOutcome) -> Markup {
    let (width, height) = (120.0, 28.0);
    let values = trend_history(kpi, row);
    let scale = Scale::over(
        values.iter().flatten().copied(),
        kpi.quantity,
        kpi.meta.format,
    );
    let count = values.len().max(1);
    let x = |i: usize| 3.0 + (width - 6.0) * (i as f64 + 0.5) / count as f64;
    let y = |v: f64| 3.0 + (height - 6.0) * (1.0 - scale.share(v).clamp(0.0, 1.0));
    let last = values.len().saturating_sub(1);
    html! {
        svg class="spark" viewBox=(format!("0 0 {width} {height}")) aria-hidden="true" {
            (line_of(values, &x, &y, "value", values.len()))
            @if let (Some(Some(v)), false) = (values.last(), kpi.in_progress) {
                (Mark::of(row.status).shape(x(last), y(*v), 3.0))
            }
        }
    }
}

/// Progress to a deadline: the value so far against the target, with the projection to the
/// period's end and where the target's pace would have the value by now.
pub fn progress(nums: &Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> Markup {
    let (width, height) = (640.0, 54.0);
    let target = row.target.as_ref().and_then(|t| t.value);
    let expected = row.on_pace.filter(|_| kpi.in_progress);
    let known: Vec<f64> = [row.value, target, row.projection, expected]
        .into_iter()
        .flatten()
        .collect();
    let scale = Scale::over(known, true, kpi.meta.format);
    let x = |v: f64| 8.0 + (width - 16.0) * scale.share(v).clamp(0.0, 1.0);
    let zero = x(0.0_f64.clamp(scale.low, scale.high));
    let mark = Mark::of(row.status);
    html! {
        svg class="progress" viewBox=(format!("0 0 {width} {height}")) role="img"
            aria-label=(format!("{}: progress to {}", row_title(kpi, row), row.deadline.as_deref().unwrap_or(""))) {
            rect class="track" x="8" y="14" width=(n(width - 16.0)) height="14" {}
            @if let Some(v) = row.value {
                g class="point" {
                    title { (format!("so far: {}", value_text(nums, kpi, Some(v)))) }
                    rect class=(format!("done s-{}", mark.key())) x=(n(zero.min(x(v))))
                        y="14" width=(n((x(v) - zero).abs())) height="14" {}
                }
            }
            @if let Some(p) = row.projection.filter(|_| kpi.in_progress) {
                g class="point" {
                    title { (format!("heading for {} by {}", value_text(nums, kpi, Some(p)), row.deadline.as_deref().unwrap_or(""))) }
                    line class="projection" x1=(n(x(p))) x2=(n(x(p))) y1="8" y2="34" {}
                }
                text class="tick" x=(n(x(p))) y="46" text-anchor="middle" { "projection" }
            }
            @if let Some(e) = expected {
                g class="point" {
                    title { (format!("on the target's pace by now: {}", value_text(nums, kpi, Some(e)))) }
                    line class="expected" x1=(n(x(e))) x2=(n(x(e))) y1="10" y2="32" {}
                }
            }
            @if let Some(t) = target {
                g class="point" {
                    title { (format!("target {}", value_text(nums, kpi, Some(t)))) }
                    line class="target" x1=(n(x(t))) x2=(n(x(t))) y1="4" y2="38" {}
                }
                text class="tick" x=(n(x(t))) y="8" text-anchor="middle" dy="-1" { "target" }
            }
        }
    }
}

/// The step bars of a funnel's judged cohort: each step's entities as a share of the first's,
/// with the conversion from the step before and from the first, and the mean days.
pub fn funnel(nums: &Numbers, steps: &[crate::eval::FunnelStep]) -> Markup {
    let width = 560.0;
    let row_height = 30.0;
    let height = row_height * steps.len() as f64 + 4.0;
    let first = steps.first().and_then(|s| s.count).filter(|c| *c > 0.0);
    let label = 100.0;
    let bar_width = 160.0;
    let percent = |v: Option<f64>| match v {
        Some(_) => nums.value(v, Format::Percent, Some(1), None),
        None => "—".into(),
    };
    html! {
        svg class="funnel" viewBox=(format!("0 0 {width} {}", n(height))) role="img"
            aria-label="funnel steps" {
            @for (i, step) in steps.iter().enumerate() {
                @let top = 2.0 + row_height * i as f64;
                @let share = match (step.count, first) {
                    (Some(c), Some(f)) => (c / f).clamp(0.0, 1.0),
                    _ => 0.0,
                };
                g class="point" {
                    title { (format!("{}: {} · {} of the step before · {} of the first{}",
                        step.step,
                        nums.value(step.count, Format::Number, Some(0), None),
                        percent(step.from_previous), percent(step.from_first),
                        step.days.map_or(String::new(), |d| format!(" · {} to reach", nums.value(Some(d), Format::Days, Some(1), None))))) }
                    text class="step" x=(n(label - 6.0)) y=(n(top + 18.0)) text-anchor="end" { (step.step) }
                    rect class="track" x=(n(label)) y=(n(top + 4.0)) width=(n(bar_width)) height="20" {}
                    rect class="bar" x=(n(label)) y=(n(top + 4.0)) width=(n(bar_width * share)) height="20" {}
                    text class="tick" x=(n(label + bar_width + 8.0)) y=(n(top + 18.0)) {
                        (nums.value(step.count, Format::Number, Some(0), None))
                        @if i > 0 {
                            " · " (percent(step.from_previous)) " of previous · "
                            (percent(step.from_first)) " of first"
                        }
                        @if let Some(d) = step.days.filter(|_| i > 0) {
                            " · " (nums.value(Some(d), Format::Days, Some(1), None))
                        }
                    }
                }
            }
        }
    }
}

/// A cohort triangle as a heat map: one line per cohort with its size, one column per age, each
/// cell shaded by its share on a sequential blue scale (colour-blind safe), with the share as text.
pub fn heat_map(nums: &Numbers, table: &crate::eval::CohortTable) -> Markup {
    let ages = table.shares.iter().map(Vec::len).max().unwrap_or(0);
    html! {
        table class="heat" {
            thead {
                tr {
                    th scope="col" { "cohort" }
                    th scope="col" class="num" { "size" }
                    @for age in 0..ages { th scope="col" class="num" { "+" (age) } }
                }
            }
            tbody {
                @for (i, cohort) in table.cohorts.iter().enumerate() {
                    tr {
                        th scope="row" { (cohort) }
                        td class="num" { (nums.value(table.sizes.get(i).copied().flatten(), Format::Number, Some(0), None)) }
                        @for age in 0..ages {
                            @let share = table.shares.get(i).and_then(|r| r.get(age)).copied().flatten();
                            @if let Some(v) = share {
                                td class=(if v > 0.55 { "num dark" } else { "num" })
                                    style=(format!("background:{}", blues(v)))
                                    title=(format!("cohort {cohort}, {age} periods on: {} active", nums.value(Some(v), Format::Percent, Some(1), None))) {
                                    (nums.value(Some(v), Format::Percent, Some(0), None))
                                }
                            } @else {
                                td class="num empty" { "" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A share from 0 to 1 on ColorBrewer's sequential Blues.
fn blues(share: f64) -> String {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let at = share.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (at.floor() as usize).min(STOPS.len() - 2);
    let t = at - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_have_round_ticks_and_start_at_zero_for_sums() {
        let s = Scale::over([120.0, 380.0], true, Format::Number);
        assert_eq!(s.ticks, [0.0, 100.0, 200.0, 300.0, 400.0]);
        // Not additive and far from zero: zoomed on the values.
        let s = Scale::over([0.62, 0.71], false, Format::Percent);
        let ticks: Vec<String> = s.ticks.iter().map(|t| format!("{t:.2}")).collect();
        assert_eq!(ticks, ["0.60", "0.65", "0.70", "0.75"]);
        // Ticks 5 points apart: whole percentages.
        assert_eq!(s.decimals, 0);
        // One value, or none: still a range.
        let s = Scale::over([5.0], false, Format::Number);
        assert!(s.low < 5.0 && s.high > 5.0, "{s:?}");
        let s = Scale::over([], true, Format::Number);
        assert_eq!((s.low, s.high), (0.0, 1.0));
        // Negative sums: zero at the top.
        let s = Scale::over([-35.0, -10.0], true, Format::Currency);
        assert_eq!(s.high, 0.0);
        assert!(s.low <= -35.0);
    }

    #[test]
    fn scales_reach_the_largest_numbers() {
        let s = Scale::over([1.7e308, -1.7e308], true, Format::Number);
        assert!(s.ticks.iter().all(|t| t.is_finite()), "{s:?}");
        for v in [1.7e308, -1.7e308, 0.0] {
            let share = s.share(v);
            assert!((0.0..=1.0).contains(&share), "{v}: {share}");
        }
        assert!(s.share(1.7e308) > s.share(0.0) && s.share(0.0) > s.share(-1.7e308));
        let s = Scale::over([f64::MAX], false, Format::Number);
        assert!(s.ticks.iter().all(|t| t.is_finite()), "{s:?}");
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(n(12.0), "12");
        assert_eq!(n(12.345), "12.3");
        assert_eq!(n(-0.04), "0");
    }
}
