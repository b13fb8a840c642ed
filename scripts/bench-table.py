#!/usr/bin/env python3
"""The table of scripts/bench-compare.sh: median of the runs of each scenario and server,
Lucent/Nchan ratios, and the generator's saturation flags.  bench-table.py RESULTS.jsonl [WD]"""
import json
import statistics
import sys
from collections import defaultdict

if sys.argv[1] == "--line":  # one run's summary, for the progress output
    d = json.loads(sys.argv[2])
    print(f"{d['delivered_per_s']:.0f} msgs/s, {d['server_us_per_delivery'] or 0:.3f} us/delivery, "
          f"p99 {d['p99_ms']} ms, RSS {d['rss_per_conn_kb']:.2f} KB/conn"
          + (f", BEHIND: {d['behind']}" if d["behind"] else ""))
    sys.exit(0)

rows = defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    rows[(d["scenario"], d["server"])].append(d["r"])
wd = sys.argv[2] if len(sys.argv) > 2 else "?"


def med(sc, srv, key):
    v = [r[key] for r in rows.get((sc, srv), []) if r.get(key) is not None]
    v = [x for x in v if x == x]  # NaN out
    return statistics.median(v) if v else None


def runs(sc, srv, key, fmt):
    v = [r[key] for r in rows.get((sc, srv), [])]
    return "/".join("-" if x is None else fmt.format(x) for x in v) if v else "-"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def behind(sc, srv):
    b = {r["behind"].strip("; ") for r in rows.get((sc, srv), []) if r["behind"]}
    return "; ".join(sorted(b))


names = {
    "a": "(a) 1,000 subs x 1,000 pubs, flat out",
    "b50": "(b) 1,000 subs, 50 pubs/s",
    "b200": "(b) 1,000 subs, 200 pubs/s",
    "c": "(c) 10,000 subs x 100 pubs, flat out",
    "e": "(e) 100 channels x 100 subs, 2,000 pubs",
    "d": "(d) 19,000 idle subscribed connections",
}
print("| scenario | server | delivered/s | CPU us/delivery | p50 ms | p99 ms | p99.9 ms | max ms "
      "| RSS KB/conn | CPU ratio L/N | p99 ratio L/N |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
notes = []
for sc in ["a", "b50", "b200", "c", "e", "d"]:
    for srv in ["lucent", "lucent-wd", "nchan"]:
        if (sc, srv) not in rows:
            continue
        label = srv if srv != "lucent-wd" else f"lucent, write_delay {wd}"
        cpu = med(sc, srv, "server_us_per_delivery")
        p99 = med(sc, srv, "p99_ms")
        n_cpu, n_p99 = med(sc, "nchan", "server_us_per_delivery"), med(sc, "nchan", "p99_ms")
        is_l = srv.startswith("lucent")
        print(f"| {names[sc]} | {label} | {runs(sc, srv, 'delivered_per_s', '{:.0f}')} "
              f"| {runs(sc, srv, 'server_us_per_delivery', '{:.2f}')} "
              f"| {runs(sc, srv, 'p50_ms', '{:.1f}')} | {runs(sc, srv, 'p99_ms', '{:.1f}')} "
              f"| {runs(sc, srv, 'p999_ms', '{:.1f}')} | {runs(sc, srv, 'max_ms', '{:.1f}')} "
              f"| {runs(sc, srv, 'rss_per_conn_kb', '{:.2f}') if sc == 'd' else '-'} "
              f"| {ratio(cpu, n_cpu) if is_l and sc != 'd' else '-'} "
              f"| {ratio(p99, n_p99) if is_l and sc != 'd' else '-'} |")
        if behind(sc, srv):
            notes.append(f"{names[sc]} / {label}: {behind(sc, srv)}")
fl = [r["us_per_write"] for r in rows.get(("floor", "kernel"), [])]
if fl:
    f = statistics.median(fl)
    print(f"\nKernel floor (one write() of a 66-byte frame, 1,000 loopback sockets): "
          f"{'/'.join(f'{x:.2f}' for x in fl)} us CPU per write")
    for sc in ("b50", "b200"):
        for srv in ("lucent", "lucent-wd"):
            v = med(sc, srv, "server_us_per_delivery")
            if v is not None:
                print(f"- {names[sc]}, {srv if srv == 'lucent' else 'write_delay ' + wd}: "
                      f"{v:.2f} us/delivery = {v / f:.2f} x the floor")
if ("d", "lucent") in rows and ("d", "nchan") in rows:
    print(f"\nRSS per idle connection (d): Lucent/Nchan = "
          f"{ratio(med('d', 'lucent', 'rss_per_conn_kb'), med('d', 'nchan', 'rss_per_conn_kb'))}; "
          f"ready {runs('d', 'lucent', 'ready', '{}')} / {runs('d', 'nchan', 'ready', '{}')}")

print("\nWorkers (f): delivered/s with 2 workers against 1 (same generator: 2 receiver threads)")
print("| scenario | server | 1 worker | 2 workers | 2w/1w | busiest receiver thread | server CPU % |")
print("|---|---|---|---|---|---|---|")
for sc in ["a", "c"]:
    for srv in ["lucent", "nchan"]:
        one, two = med(sc + "1", srv, "delivered_per_s"), med(sc + "2", srv, "delivered_per_s")
        if one is None and two is None:
            continue
        busy = med(sc + "2", srv, "gen_busy_max")
        cpu = med(sc + "2", srv, "server_cpu_pct")
        print(f"| ({sc}) | {srv} | {runs(sc + '1', srv, 'delivered_per_s', '{:.0f}')} "
              f"| {runs(sc + '2', srv, 'delivered_per_s', '{:.0f}')} | {ratio(two, one)} "
              f"| {busy * 100 if busy is not None else 0:.0f}% | {cpu if cpu is not None else 0:.0f} |")
        for s2 in (sc + "1", sc + "2"):
            if behind(s2, srv):
                notes.append(f"({s2}) {srv}: {behind(s2, srv)}")

if ("m", "lucent") in rows:
    print("\nMemory returned (m): 1,000 connections x 100 channels = 100,000 subscriptions, "
          "then every connection closed")
    print("| run | RSS before KB | subscribed KB | 11 s after closing KB | after/before |")
    print("|---|---|---|---|---|")
    for i, r in enumerate(rows[("m", "lucent")], 1):
        print(f"| {i} | {r['rss0_kb']} | {r['rss_subscribed_kb']} | {r['rss_closed_kb']} "
              f"| {r['rss_closed_kb'] / r['rss0_kb']:.2f} |")

if notes:
    print("\nGenerator flags (figures limited by the generator or incomplete):")
    for n in notes:
        print("- " + n)
