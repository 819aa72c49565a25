#!/usr/bin/env bash
# The benchmark of issue 7: the 33 KPIs of ../shared/bench/KPIS.md computed by `kpi check`, by
# DuckDB SQL and by hand-written lazy polars, side by side, then kpi's numbers checked against
# DuckDB's. See benches/README.md.
#
#   benches/bench.sh [ORDERS=1000000] [RUNS=3]
#
# Environment:
#   KPI_BIN        the kpi binary (default: ${CARGO_TARGET_DIR:-<repo>/target}/release/kpi)
#   KPIBENCH_ROOT  where generated data and outputs go (default: $HOME/.cache/kpibench)
#   KPIBENCH_VENV  the Python venv for the generator and the peers (default: $HOME/.cache/kpibench-venv)
#   SHARED_BENCH   the shared bench folder (default: <repo>/../shared/bench)
#
# Exit status: 0 when kpi's numbers equal DuckDB's for every KPI, 1 on a mismatch, 2 when
# something could not run.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
orders="${1:-1000000}"
runs="${2:-3}"
shared="${SHARED_BENCH:-$repo/../shared/bench}"
root="${KPIBENCH_ROOT:-$HOME/.cache/kpibench}"
venv="${KPIBENCH_VENV:-$HOME/.cache/kpibench-venv}"
kpi_bin="${KPI_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/kpi}"

die() { echo "bench.sh: $*" >&2; exit 2; }
[[ -x "$kpi_bin" ]] || die "no kpi binary at $kpi_bin (set KPI_BIN, or build with cargo build --release)"
[[ -f "$shared/gen_data.py" ]] || die "no gen_data.py in $shared (set SHARED_BENCH)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (Debian: apt-get install time)"

# Python: a venv outside the repository with the peers' packages --------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating the venv $venv" >&2
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c "import duckdb, polars, pandas, pyarrow, numpy" 2>/dev/null; then
  echo "installing duckdb polars pandas pyarrow numpy into $venv" >&2
  "$py" -m pip install --quiet duckdb polars pandas pyarrow numpy
fi

# Data -------------------------------------------------------------------------------------------
data="$root/$orders"
if [[ ! -f "$data/parquet/orders.parquet" ]]; then
  echo "generating $orders orders into $data" >&2
  "$py" "$shared/gen_data.py" --orders "$orders" --out "$data" >&2
fi
export KPIBENCH="$data"            # the bench project's kpi.toml reads ${KPIBENCH}/parquet/*.parquet

out="$root/runs/$orders"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat "$data"/parquet/*.parquet > /dev/null        # warm the page cache once for every tool
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# Timings: fresh processes, RUNS runs each ------------------------------------------------------
mkdir -p "$out"
for tool in kpi duckdb polars; do
  for ((i = 1; i <= runs; i++)); do
    rm -rf "${out:?}/$tool" "$out/$tool.json"
    case $tool in
      kpi)    argv=("$kpi_bin" -p "$here/kpibench" check --format json) ;;
      duckdb) argv=("$py" "$shared/peers/duckdb_run.py" "$data/parquet" "$out/duckdb") ;;
      polars) argv=("$py" "$shared/peers/polars_kpis.py" "$data/parquet" "$out/polars") ;;
    esac
    # %e = wall seconds, %M = peak resident set size in KiB, %U + %S = CPU seconds
    rc=0
    /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "${argv[@]}" > "$out/$tool.stdout" || rc=$?
    # kpi check exits 1 when a target is missed (revenue_vs_plan misses its plan on purpose);
    # 2 means errors
    if [[ $rc -ne 0 && ! ( $tool == kpi && $rc -eq 1 ) ]]; then
      die "$tool failed with exit status $rc (run $i): ${argv[*]}"
    fi
    [[ $tool == kpi ]] && mv "$out/kpi.stdout" "$out/kpi.json"
    echo "$tool $(tail -1 "$tmp/t")" >> "$tmp/all"
    echo "  $tool run $i: wall s, RSS KiB, user s, sys s = $(tail -1 "$tmp/t")" >&2
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

kpi_version="$("$kpi_bin" --version 2>/dev/null || echo "kpi ?")"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "?")"
"$py" - "$tmp/all" "$data/parquet" "$runs" "$load_start" "$load_end" "$kpi_bin" "$kpi_version" "$commit" <<'EOF'
import datetime, os, platform, statistics, sys
import duckdb, polars, pyarrow.parquet
path, data, runs, load_start, load_end, kpi_bin, kpi_version, commit = sys.argv[1:]
res = {}
for line in open(path):
    tool, wall, rss, user, sys_ = line.split()
    res.setdefault(tool, []).append((float(wall), int(rss), float(user) + float(sys_)))
orders = pyarrow.parquet.ParquetFile(os.path.join(data, "orders.parquet")).metadata.num_rows
size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data) if f.endswith(".parquet"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 2**20
print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; commit {commit}")
print(f"dataset: {data} ({orders:,} orders, Parquet {size / 2**20:.1f} MiB); {runs} runs each, fresh processes")
print(f"machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM")
print(f"tools: {kpi_version} ({kpi_bin}); Python {platform.python_version()}, duckdb {duckdb.__version__}, "
      f"polars {polars.__version__}")
print(f"load average (1/5/15 min) before: {load_start}, after: {load_end}")
print()
print("| tool | median wall s | min .. max wall s | median CPU s | median peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for tool, v in res.items():
    walls = [w for w, _, _ in v]
    print(f"| {tool} | {statistics.median(walls):.2f} | {min(walls):.2f} .. {max(walls):.2f} "
          f"| {statistics.median(c for _, _, c in v):.2f} | {statistics.median(r for _, r, _ in v) / 1024:.0f} |")
EOF

# Correctness: kpi's report in the peers' layout, compared with DuckDB's CSVs ---------------------
echo
rm -rf "$out/kpi"
"$py" "$here/to_peer_csv.py" "$out/kpi.json" "$out/kpi" || { echo "kpi's report is incomplete" >&2; exit 1; }
"$py" "$shared/compare.py" "$out/duckdb" "$out/kpi"
