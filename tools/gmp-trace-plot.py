#!/usr/bin/env python3
# gmp-trace-plot.py TRACE.json OUT.png [START_MS END_MS]: draw a GMP_TRACE
# timeline as a picture, for a page that cannot embed Perfetto: one row
# per P, one bar per slice a thread ran there (colour by thread, labelled
# when wide enough), ticks for "ready" (made runnable) and "create" on the
# row of the P that did it, and a row for the runtime's own events
# (handoffs, preemption requests). Perfetto (ui.perfetto.dev) or
# chrome://tracing open the JSON itself; this is only a still. Needs
# matplotlib (Debian: python3-matplotlib).
import json
import sys
from collections import defaultdict

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("gmp-trace-plot: matplotlib is missing "
             "(apt-get install python3-matplotlib)")


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit("usage: gmp-trace-plot.py TRACE.json OUT.png "
                 "[START_MS END_MS]")
    d = json.load(open(sys.argv[1]))
    ev = d["traceEvents"]
    stamped = [e["ts"] for e in ev if "ts" in e and e["ph"] != "M"]
    t0 = min(stamped)
    lo, hi = 0.0, (max(stamped) - t0) / 1000.0
    if len(sys.argv) == 5:
        lo, hi = float(sys.argv[3]), float(sys.argv[4])
    names = {}
    for e in ev:
        if e["ph"] == "i" and e.get("s") == "g":
            names[e["name"]] = e["args"]["name"]
    tracks = defaultdict(list)
    for i, e in enumerate(ev):
        if e["ph"] in "BE":
            tracks[e["tid"]].append((e["ts"], i, e))
    slices = defaultdict(list)
    for tid, lst in tracks.items():
        lst.sort(key=lambda x: (x[0], x[1]))
        open_b = None
        for ts, _, e in lst:
            if e["ph"] == "B":
                open_b = e
            elif open_b is not None:
                slices[tid].append((open_b["ts"], ts, open_b["name"]))
                open_b = None
    ptids = sorted(t for t in slices if t >= 1)
    gids = sorted({s[2] for t in ptids for s in slices[t]},
                  key=lambda n: int(n[1:]))
    cmap = plt.get_cmap("tab20")
    colour = {g: cmap(i % 20) for i, g in enumerate(gids)}
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.7 * (len(ptids) + 1)))
    for row, tid in enumerate(ptids):
        for b, e, g in slices[tid]:
            x0, x1 = (b - t0) / 1000.0, (e - t0) / 1000.0
            if x1 < lo or x0 > hi:
                continue
            ax.broken_barh([(x0, max(x1 - x0, (hi - lo) / 2000))],
                           (row - 0.35, 0.7), facecolors=colour[g],
                           edgecolor="none")
            if x1 - x0 > (hi - lo) / 25:
                label = g + (" " + names[g] if g in names else "")
                ax.text((max(x0, lo) + min(x1, hi)) / 2, row, label,
                        ha="center", va="center", fontsize=7)
    rt_row = len(ptids)
    for e in ev:
        if e["ph"] != "i" or e.get("s") != "t":
            continue
        x = (e["ts"] - t0) / 1000.0
        if x < lo or x > hi:
            continue
        kind = e["name"].split()[0]
        row = rt_row if e["tid"] == 0 else ptids.index(e["tid"]) \
            if e["tid"] in ptids else rt_row
        mark = {"ready": ("|", "green"), "create": ("^", "black"),
                "handoff": ("x", "red"), "preempt": ("v", "purple"),
                "steal": ("s", "orange"),
                "syscall": ("|", "grey")}.get(kind)
        if mark:
            ax.plot([x], [row + 0.42], marker=mark[0], color=mark[1],
                    markersize=4, linestyle="none")
    ax.set_yticks(list(range(len(ptids))) + [rt_row])
    ax.set_yticklabels(["P%d" % (t - 1) for t in ptids] + ["runtime"])
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.6, rt_row + 0.8)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the trace started")
    ax.set_title("GMP_TRACE: threads (Gs) on each P; marks: ready | "
                 "create ^ steal s handoff x preempt v", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
