#!/usr/bin/env python3
"""Turns bench records (TSV on stdin or in a file) into Markdown.

Records, one per line, tab-separated (see bench/README.md):
  meta     KEY VALUE                 machine and run description
  workload WL TITLE                  a workload, in the order given
  desc     WL TEXT                   a paragraph under the title (repeatable)
  ref      WL IMPL                   the reference column of every row
  label    WL IMPL TEXT              how an implementation is named
  target   WL ROW IMPL MIN_RATIO     a goal: ratio to the reference >= MIN_RATIO
  note     WL TEXT                   a line under the table (repeatable)
  sample   WL ROW IMPL REP OPS       one measurement (operations per second)
  cpusample WL ROW IMPL REP OPS      the same per second of process CPU time
                                     (optional; robust to preemption by
                                     neighbours, for single-thread workloads)
  na       WL ROW IMPL REASON        an implementation that cannot run a row
  derive   WL TEXT ROW_A IMPL_A ROW_B IMPL_B
                                     a line giving, per repetition, the ratio of
                                     A's ratio-to-reference to B's (e.g. one
                                     row's scaling relative to another's)

Every ratio is paired: a sample is divided by its row's reference sample of
the same repetition (measured in the same run, interleaved where possible),
and the table gives the median, minimum and maximum of those ratios.

usage: report.py RECORDS.tsv OUT_DIR
writes OUT_DIR/latest.md (everything) and OUT_DIR/<workload>.md (one each)
"""
import statistics
import sys
from collections import OrderedDict, defaultdict


def fmt_ops(x):
    if x >= 100000:
        return f"{x / 1000:,.0f} k"
    if x >= 10000:
        return f"{x / 1000:.1f} k"
    return f"{x:,.0f}"


def fmt_ratio(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


class Workload:
    def __init__(self, name, title):
        self.name, self.title = name, title
        self.desc, self.notes = [], []
        self.ref = None
        self.labels = {}
        self.targets = {}
        self.samples = OrderedDict()  # (row, impl) -> {rep: ops}
        self.cpu = OrderedDict()      # the same per CPU second
        self.na = OrderedDict()
        self.derived = []

    def cell(self, row, impl):
        return self.samples.setdefault((row, impl), {})

    def ratios_by_rep(self, row, impl, cpu=False):
        src = self.cpu if cpu else self.samples
        ref = src.get((row, self.ref), {})
        mine = src.get((row, impl), {})
        return {r: mine[r] / ref[r] for r in sorted(mine) if r in ref and ref[r] > 0}

    def ratios(self, row, impl, cpu=False):
        return list(self.ratios_by_rep(row, impl, cpu).values())


def parse(lines):
    meta, wls = OrderedDict(), OrderedDict()

    def wl(name):
        if name not in wls:
            wls[name] = Workload(name, name)
        return wls[name]

    for line in lines:
        f = line.rstrip("\n").split("\t")
        if not f or not f[0]:
            continue
        kind = f[0]
        if kind == "meta":
            meta[f[1]] = f[2]
        elif kind == "workload":
            wl(f[1]).title = f[2]
        elif kind == "desc":
            wl(f[1]).desc.append(f[2])
        elif kind == "note":
            wl(f[1]).notes.append(f[2])
        elif kind == "ref":
            wl(f[1]).ref = f[2]
        elif kind == "label":
            wl(f[1]).labels[f[2]] = f[3]
        elif kind == "target":
            wl(f[1]).targets[(f[2], f[3])] = float(f[4])
        elif kind == "sample":
            wl(f[1]).cell(f[2], f[3])[int(f[4])] = float(f[5])
        elif kind == "cpusample":
            wl(f[1]).cpu.setdefault((f[2], f[3]), {})[int(f[4])] = float(f[5])
        elif kind == "na":
            wl(f[1]).na[(f[2], f[3])] = f[4]
        elif kind == "derive":
            wl(f[1]).derived.append((f[2], f[3], f[4], f[5], f[6]))
    return meta, wls


def table(w):
    has_cpu = bool(w.cpu)
    head = "| row | implementation | ops/s (median) | min | max | × reference (median) | min | max |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    if has_cpu:
        head += " × reference, CPU time (median, min–max) |"
        rule += "---:|"
    out = [head + " target |", rule + "---|"]
    rows = OrderedDict()
    for (row, impl) in list(w.samples) + list(w.na):
        rows.setdefault(row, [])
        if impl not in rows[row]:
            rows[row].append(impl)
    for row, impls in rows.items():
        # The reference first, then in the order measured.
        impls = sorted(impls, key=lambda i: 0 if i == w.ref else 1)
        for impl in impls:
            name = w.labels.get(impl, impl)
            if (row, impl) in w.na:
                out.append(f"| {row} | {name} | n/a | | | | | |{' |' if has_cpu else ''} "
                           f"{w.na[(row, impl)]} |")
                continue
            ops = list(w.samples[(row, impl)].values())
            r = w.ratios(row, impl)
            rc = w.ratios(row, impl, cpu=True)
            tgt = w.targets.get((row, impl))
            tcell = ""
            if tgt is not None and r:
                holds = statistics.median(r) >= tgt
                tcell = f"≥ {tgt:g}: **{'holds' if holds else 'missed'}**"
                if rc:
                    tcell += f" (CPU time: {'holds' if statistics.median(rc) >= tgt else 'missed'})"
            ratio_cells = ("| 1 (ref) | | " if impl == w.ref else
                           f"| {fmt_ratio(statistics.median(r))} | {fmt_ratio(min(r))} | "
                           f"{fmt_ratio(max(r))} " if r else "| | | ")
            cpu_cell = ""
            if has_cpu:
                cpu_cell = ("| 1 (ref) " if impl == w.ref else
                            f"| {fmt_ratio(statistics.median(rc))} ({fmt_ratio(min(rc))}–"
                            f"{fmt_ratio(max(rc))}) " if rc else "| ")
            out.append(
                f"| {row} | {name} | {fmt_ops(statistics.median(ops))} | {fmt_ops(min(ops))} | "
                f"{fmt_ops(max(ops))} {ratio_cells}{cpu_cell}| {tcell} |")
    return "\n".join(out)


def section(w):
    reps = max((len(v) for v in w.samples.values()), default=0)
    parts = [f"## {w.title}", ""]
    parts += [d + "\n" for d in w.desc]
    ref = w.labels.get(w.ref, w.ref)
    parts.append(f"Reference of each row: **{ref}**. {reps} repetitions; ratios are per repetition, "
                 "then median/min/max.\n")
    parts.append(table(w))
    for text, ra, ia, rb, ib in w.derived:
        a, b = w.ratios_by_rep(ra, ia), w.ratios_by_rep(rb, ib)
        d = [a[r] / b[r] for r in a if r in b and b[r] > 0]
        if d:
            parts.append(f"\n{text}: **{fmt_ratio(statistics.median(d))}** "
                         f"(min {fmt_ratio(min(d))}, max {fmt_ratio(max(d))}, per repetition).")
    if w.notes:
        parts.append("")
        parts += [f"- {n}" for n in w.notes]
    return "\n".join(parts) + "\n"


def targets_summary(wls):
    lines = ["| workload | target | measured, wall clock (median, min–max) | | "
             "CPU time (median, min–max) | |", "|---|---|---|---|---|---|"]
    for w in wls.values():
        for (row, impl), tgt in w.targets.items():
            r = w.ratios(row, impl)
            if not r:
                continue
            med = statistics.median(r)
            name = w.labels.get(impl, impl)
            ref = w.labels.get(w.ref, w.ref)
            rc = w.ratios(row, impl, cpu=True)
            cpu = (f"{fmt_ratio(statistics.median(rc))} ({fmt_ratio(min(rc))}–{fmt_ratio(max(rc))}) | "
                   f"{'holds' if statistics.median(rc) >= tgt else '**missed**'}" if rc else
                   "not measured (multi-thread) |")
            lines.append(f"| {w.title} | {row}: {name} ≥ {tgt:g} × {ref} | {fmt_ratio(med)} "
                         f"({fmt_ratio(min(r))}–{fmt_ratio(max(r))}) | "
                         f"{'holds' if med >= tgt else '**missed**'} | {cpu} |")
    return "\n".join(lines)


def main():
    src, out_dir = sys.argv[1], sys.argv[2]
    with open(src) as f:
        meta, wls = parse(f)
    head = ["# signet benchmarks", ""]
    head += [f"- **{k}**: {v}" for k, v in meta.items()]
    head += ["", "Every figure is measured on a shared, noisy machine and is only meaningful as a "
             "ratio to its reference, measured in the same run. See bench/README.md for what each "
             "workload and reference does.", "", "## Targets", "", targets_summary(wls), ""]
    body = [section(w) for w in wls.values()]
    with open(f"{out_dir}/latest.md", "w") as f:
        f.write("\n".join(head) + "\n" + "\n".join(body))
    for w in wls.values():
        with open(f"{out_dir}/{w.name}.md", "w") as f:
            f.write(f"<!-- generated by bench/report.py; see latest.md for the machine -->\n"
                    f"{section(w)}")


if __name__ == "__main__":
    main()
