#!/usr/bin/env python3
"""Turn `kpi check --format json` of the bench project into the peers' CSV layout.

    python benches/to_peer_csv.py REPORT.json OUT_DIR

Writes OUT_DIR/<kpi>.csv for each of the 33 KPIs of ../shared/bench/KPIS.md, with the peers'
header (month, dimension columns, value columns), one row per reported month x dimension
values, sorted by the keys, so that ../shared/bench/compare.py can compare it with a peer.

Nothing is computed here: every cell is a value of `kpi`'s report. A month is the report's
period label `YYYY-MM` written `YYYY-MM-01`; a null value is an empty field. A period missing
from a KPI's `history_periods` is missing from its CSV (compare.py then reports the row count).
revenue_vs_plan's four columns come from four KPIs of the bench project (revenue_vs_plan and
revenue_vs_plan_target / _variance / _attainment).
Exits 1 when the report has errors or failed KPIs, or lacks one of the KPIs.
"""
import csv
import json
import os
import sys

# peer file -> [(value column, kpi name)]; the dimension columns come from the report
KPIS = {
    "revenue": [("revenue", "revenue")],
    "revenue_by_channel": [("revenue", "revenue_by_channel")],
    "paid_orders": [("paid_orders", "paid_orders")],
    "units": [("units", "units")],
    "aov": [("aov", "aov")],
    "arpu": [("arpu", "arpu")],
    "leads": [("leads", "leads")],
    "cpl": [("cpl", "cpl")],
    "lead_to_mql": [("lead_to_mql_pct", "lead_to_mql")],
    "lead_to_opportunity": [("lead_to_opportunity_pct", "lead_to_opportunity")],
    "opportunity_to_win": [("opportunity_to_win_pct", "opportunity_to_win")],
    "lead_conversion": [("lead_conversion_pct", "lead_conversion")],
    "sales_cycle_days": [("sales_cycle_days", "sales_cycle_days")],
    "customers_start": [("customers_start", "customers_start")],
    "customers_end": [("customers_end", "customers_end")],
    "new_customers": [("new_customers", "new_customers")],
    "churned": [("churned", "churned")],
    "crr": [("crr_pct", "crr")],
    "churn_rate": [("churn_rate_pct", "churn_rate")],
    "cac": [("cac", "cac")],
    "revenue_per_rep": [("revenue", "revenue_per_rep")],
    "margin_per_rep": [("margin_pct", "margin_per_rep")],
    "upsell_rate": [("upsell_rate_pct", "upsell_rate")],
    "roas": [("roas", "roas")],
    "marketing_roi": [("marketing_roi_pct", "marketing_roi")],
    "repeat_purchase_rate": [("repeat_purchase_rate_pct", "repeat_purchase_rate")],
    "nps": [("nps", "nps")],
    "csat": [("csat", "csat")],
    "complaints": [("complaints", "complaints")],
    "resolution_hours": [("resolution_hours", "resolution_hours")],
    "first_response_minutes": [("first_response_minutes", "first_response_minutes")],
    "revenue_growth": [("revenue_growth_pct", "revenue_growth")],
    "revenue_vs_plan": [("revenue", "revenue_vs_plan"), ("revenue_target", "revenue_vs_plan_target"),
                        ("variance", "revenue_vs_plan_variance"),
                        ("attainment_pct", "revenue_vs_plan_attainment")],
}


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def values(kpi):
    """{(month, dim values...): value} over the KPI's history periods."""
    dims = kpi["dimensions"]
    out = {}
    for row in kpi["rows"]:
        key_dims = tuple("" if row["dimensions"].get(d) is None else str(row["dimensions"][d]) for d in dims)
        for period, v in zip(kpi["history_periods"], row["history"]):
            out[(f"{period}-01",) + key_dims] = v
    return dims, out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        report = json.load(f)
    out_dir = sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    by_name = {k["name"]: k for k in report["kpis"]}
    problems = []
    s = report["summary"]
    if s.get("errors") or s.get("failed"):
        problems.append(f"report has {s.get('errors')} error(s); failed: {s.get('failed')}")
    for d in report.get("diagnostics", []):
        if d.get("severity") == "error":
            problems.append(f"{d.get('code')} {d.get('message')} ({d.get('kpi')})")
    for file, cols in KPIS.items():
        missing = [k for _, k in cols if k not in by_name]
        if missing:
            problems.append(f"{file}: KPI(s) {missing} not in the report")
            continue
        parts = [values(by_name[k]) for _, k in cols]
        dims = parts[0][0]
        if any(p[0] != dims for p in parts):
            problems.append(f"{file}: the KPIs of its columns are split differently")
            continue
        keys = sorted(set().union(*(p[1].keys() for p in parts)))
        with open(os.path.join(out_dir, f"{file}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["month", *dims, *(c for c, _ in cols)])
            for key in keys:
                w.writerow([*key, *(cell(p[1].get(key)) for p in parts)])
    for p in problems:
        print(f"to_peer_csv: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
