#!/usr/bin/env python3
"""Writes the example company's data (2024-01-01 to 2026-02-15) into examples/acme/data/.

The data is committed; this script documents how it was made and remakes it byte for byte
(fixed seeds, no dependence on the clock). It has seasonality (a strong Q4, a quiet August),
growth (demand about 30% a year; revenue much more, as the customer base builds up), and
deliberate edge cases:

- no leads at all from `social` in 2025-08 (spend on social goes on);
- customer 1 signs up and churns in the same month (2025-03);
- every order on 2025-03-15 was refunded (a refunded-only day);
- some orders have no campaign, some tickets are unresolved or unrated;
- the data stop in the middle of a month, a quarter and a year (2026-02-15), so the example's
  `as_of` judges 2026-01, 2025-Q4 and 2025, and the 2026 goals on their pace;
- spend is booked on Mondays and CRM events happen on weekdays, so neither has a row on the last
  day (spend is `fresh = "1 week"`; CRM events are read by monthly KPIs only);
- the plan (`plan.csv`) covers every month of 2024 to 2026 and is close to what the regions make:
  a month in the data is planned at the region's paid revenue of that month times its ambition
  (EU 1.05, NA 0.95, APAC 1.12, LATAM 0.9) and a little noise, so EU and APAC miss some months and
  NA and LATAM meet most; February 2026 and later months repeat the same month of 2025 grown as the
  company grew on a year in 2025-Q4, times the same ambition and noise. The plan draws from its own
  seed, so it does not shift the other files.
"""

import datetime as dt
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
START = dt.date(2024, 1, 1)
END = dt.date(2026, 2, 15)
CHANNELS = ["ads", "seo", "email", "social", "referral"]
REGIONS = ["EU", "NA", "APAC", "LATAM"]
REPS = ["anna", "boris", "chen", "dmytro", "elena", "farid"]
SEGMENTS = [("smb", 0.6), ("mid", 0.3), ("enterprise", 0.1)]
CAMPAIGNS = {
    "ads": ["ads_search", "ads_display"],
    "seo": ["seo_blog"],
    "email": ["email_newsletter", "email_winback"],
    "social": ["social_spring", "social_black_friday"],
    "referral": ["referral_program"],
}
NO_SOCIAL_LEADS = (2025, 8)
REFUNDED_DAY = dt.date(2025, 3, 15)
# The plan: each region's ambition against what it makes (EU is asked for 5% more, LATAM for 10% less).
AMBITION = {"EU": 1.05, "NA": 0.95, "APAC": 1.12, "LATAM": 0.9}
PLAN_YEARS = (2024, 2025, 2026)
PLAN_SEED = 20260215

rng = random.Random(20251231)


def days():
    d = START
    while d <= END:
        yield d
        d += dt.timedelta(days=1)


def season(d):
    """Demand multiplier: growth over time, a strong Q4 and a quiet August."""
    growth = 1.0 + 0.3 * ((d - START).days / 365.0)
    month = {8: 0.75, 10: 1.15, 11: 1.35, 12: 1.5}.get(d.month, 1.0)
    return growth * month


def month_end(first):
    """The last day of the month that starts on `first`."""
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def pick(weighted):
    r = rng.random()
    for value, weight in weighted:
        r -= weight
        if r <= 0:
            return value
    return weighted[-1][0]


def ts(d, hour=None, minute=None):
    hour = rng.randint(8, 18) if hour is None else hour
    minute = rng.randint(0, 59) if minute is None else minute
    return dt.datetime(d.year, d.month, d.day, hour, minute)


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def write_csv(name, header, rows):
    with open(os.path.join(OUT, name + ".csv"), "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(fmt(v) for v in row) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    channel_weights = [("ads", 0.3), ("seo", 0.25), ("email", 0.15), ("social", 0.2), ("referral", 0.1)]

    # Customers: signups follow demand; about a third churn later.
    customers = []
    for d in days():
        for _ in range(rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0] if season(d) < 1.2 else rng.choice([1, 2, 2, 3])):
            cid = len(customers) + 1
            churn = None
            if rng.random() < 0.35:
                churn = d + dt.timedelta(days=rng.randint(20, 500))
                if churn > END:
                    churn = None
            customers.append([cid, d, churn, pick(SEGMENTS), pick(channel_weights)])
    # Edge case: customer 1 signs up and churns in the same month.
    customers[0][1] = dt.date(2025, 3, 3)
    customers[0][2] = dt.date(2025, 3, 27)
    customers.sort(key=lambda c: c[0])

    # Orders: each live customer orders now and then; enterprise spends more.
    base_amount = {"smb": 120.0, "mid": 480.0, "enterprise": 2200.0}
    region_of = {c[0]: pick([("EU", 0.4), ("NA", 0.3), ("APAC", 0.2), ("LATAM", 0.1)]) for c in customers}
    rep_of = {c[0]: rng.choice(REPS) for c in customers}
    orders = []
    for c in customers:
        cid, signup, churn, segment, channel = c
        last = churn or END
        d = signup
        seen_orders = 0
        while d <= last:
            amount = round(base_amount[segment] * rng.uniform(0.5, 1.6) * season(d), 2)
            status = pick([("paid", 0.9), ("refunded", 0.06), ("cancelled", 0.04)])
            if d == REFUNDED_DAY:
                status = "refunded"
            campaign = rng.choice(CAMPAIGNS[channel]) if rng.random() < 0.7 else None
            orders.append([
                None, cid, d, amount, round(amount * rng.uniform(0.45, 0.7), 2), rng.randint(1, 5),
                status, channel, rep_of[cid], region_of[cid], campaign,
                seen_orders > 0 and rng.random() < 0.2, seen_orders > 0 and rng.random() < 0.15,
            ])
            seen_orders += 1
            d += dt.timedelta(days=max(1, int(rng.expovariate(1 / 45.0) / season(d))))
    # Make sure the refunded-only day has orders.
    for cid in (2, 3, 4):
        orders.append([None, cid, REFUNDED_DAY, 99.0, 50.0, 1, "refunded", customers[cid - 1][4],
                       rep_of[cid], region_of[cid], None, False, False])
    orders.sort(key=lambda o: (o[2], o[1]))
    for i, o in enumerate(orders):
        o[0] = i + 1
    write_csv("orders", ["order_id", "customer_id", "order_date", "amount", "cost", "quantity", "status",
                         "channel", "rep", "region", "campaign", "is_upsell", "is_cross_sell"], orders)
    write_csv("customers", ["customer_id", "signup_date", "churn_date", "segment", "acquisition_channel"],
              customers)

    # Leads and the sales funnel.
    leads = []
    for d in days():
        for _ in range(int(rng.uniform(8, 16) * season(d))):
            channel = pick(channel_weights)
            if channel == "social" and (d.year, d.month) == NO_SOCIAL_LEADS:
                channel = "seo"
            created = ts(d)
            score = rng.randint(1, 5)
            is_mql = rng.random() < 0.15 + 0.12 * score
            mql_at = created + dt.timedelta(hours=rng.randint(2, 96)) if is_mql else None
            is_opp = is_mql and rng.random() < 0.45
            opp_at = mql_at + dt.timedelta(days=rng.randint(1, 14)) if is_opp else None
            won = is_opp and rng.random() < 0.18 + 0.03 * score
            won_at = opp_at + dt.timedelta(days=rng.randint(5, 60)) if won else None
            deal = round(rng.uniform(800, 9000), 2) if is_opp else None
            leads.append([None, created, channel, rng.choice(CAMPAIGNS[channel]), score, rng.choice(REPS),
                          is_mql, mql_at, is_opp, opp_at, won, won_at, deal])
    leads.sort(key=lambda l: l[1])
    for i, l in enumerate(leads):
        l[0] = i + 1
    write_csv("leads", ["lead_id", "created_at", "channel", "campaign", "score", "rep", "is_mql", "mql_at",
                        "is_opportunity", "opportunity_at", "won", "won_at", "deal_value"], leads)

    # Marketing spend: one line per campaign per week.
    spend = []
    d = START
    while d <= END:
        for channel in CHANNELS:
            for campaign in CAMPAIGNS[channel]:
                weekly = {"ads": 4500, "seo": 2000, "email": 750, "social": 2500, "referral": 1250}[channel]
                spend.append([d, channel, campaign, round(weekly * rng.uniform(0.7, 1.3) * season(d), 2)])
        d += dt.timedelta(days=7)
    write_csv("spend", ["date", "channel", "campaign", "amount"], spend)

    # Support tickets.
    tickets = []
    for c in customers:
        cid, signup, churn, _, _ = c
        last = churn or END
        d = signup + dt.timedelta(days=rng.randint(3, 90))
        while d <= last:
            opened = ts(d)
            first = opened + dt.timedelta(minutes=rng.randint(5, 60 * 30))
            resolved = first + dt.timedelta(hours=rng.randint(1, 120)) if rng.random() < 0.93 else None
            csat = rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if rng.random() < 0.7 else None
            nps = rng.choice([3, 5, 6, 7, 8, 8, 9, 9, 10, 10]) if rng.random() < 0.5 else None
            tickets.append([None, cid, opened, first, resolved, csat, nps, rng.random() < 0.12])
            d += dt.timedelta(days=rng.randint(30, 240))
    tickets.sort(key=lambda t: (t[2], t[1]))
    for i, t in enumerate(tickets):
        t[0] = i + 1
    write_csv("tickets", ["ticket_id", "customer_id", "opened_at", "first_response_at", "resolved_at", "csat",
                          "nps", "is_complaint"], tickets)

    # The revenue plan per month and region: what each region is asked for, close to what it makes.
    # Its own random stream, so that the plan never shifts the draws of the other files.
    plan_rng = random.Random(PLAN_SEED)
    paid = {}
    for o in orders:
        if o[6] == "paid":
            key = (o[2].year, o[2].month, o[9])
            paid[key] = paid.get(key, 0.0) + o[3]
    # Months after the data, and the month the data stop in, repeat the same month a year earlier,
    # grown as the company grew over its last complete quarter (2025-Q4 against 2024-Q4).
    growth = (sum(v for (y, m, _), v in paid.items() if y == 2025 and m >= 10)
              / sum(v for (y, m, _), v in paid.items() if y == 2024 and m >= 10))
    plan = []
    for year in PLAN_YEARS:
        for month in range(1, 13):
            first = dt.date(year, month, 1)
            whole = month_end(first) <= END
            for region in REGIONS:
                base = paid.get((year, month, region), 0.0) if whole else paid[(year - 1, month, region)] * growth
                target = base * AMBITION[region] * plan_rng.uniform(0.92, 1.08)
                plan.append([first, region, float(round(target, -2))])
    write_csv("plan", ["month", "region", "revenue_target"], plan)

    # Site traffic, as JSON lines.
    with open(os.path.join(OUT, "web.ndjson"), "w", encoding="utf-8", newline="\n") as f:
        for d in days():
            for channel in CHANNELS:
                visits = int(rng.uniform(150, 400) * season(d) * (0.4 if channel == "referral" else 1.0))
                row = {
                    "date": d.isoformat(),
                    "channel": channel,
                    "visits": visits,
                    "new_subscribers": int(visits * rng.uniform(0.01, 0.04)),
                    "engaged_visits": int(visits * rng.uniform(0.25, 0.5)),
                }
                f.write(json.dumps(row) + "\n")

    # CRM use.
    users = [[name, rng.random() < 0.7, dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 400))]
             for name in REPS + ["gosia", "hana", "ivan"]]
    write_csv("crm_users", ["user", "trained", "created_at"], users)
    events = []
    for d in days():
        for name, trained, created in users:
            if d < created or d.weekday() >= 5:
                continue
            for _ in range(rng.randint(2, 12) if trained else rng.randint(0, 4)):
                events.append([ts(d), name, rng.choice(["login", "update_deal", "log_call", "add_note"])])
    events.sort(key=lambda e: (e[0], e[1]))
    write_csv("crm_events", ["at", "user", "action"], events)


if __name__ == "__main__":
    main()
