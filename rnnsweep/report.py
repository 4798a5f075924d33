"""Reading a sweep: summary tables, figures and one self-contained HTML page.

    python -m rnnsweep.report results/                 # every sweep under a results root
    python -m rnnsweep.report results/imdb_grid        # one sweep (local path or s3://...)
    rnnsweep-report s3://bucket/prefix/imdb_grid --out report/
    python -m rnnsweep.report results/imdb_grid --watch 30     # again every 30 s while the sweep runs

Writes ``<results>/<sweep>/report/`` (or ``--out``): ``summary.csv``, ``summary.md``, PNG figures
and ``index.html``. Works on a sweep that is still running: it draws what is there, and skips
(with a note) what is not yet there. The numbers are in ``tables``, the figures in ``figures``.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import os
import sys
import tempfile
import time

from . import results, tables
from .figures import Figures, draw_figures
from .figures.studies import draw_search_views, draw_study_views

REQUIRED = ("trial_id", "config_id", "name", "status", "arch", "units", "batch_size", "test_accuracy")
STYLE = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}"
         "table.summary{border-collapse:collapse;font-size:13px}table.summary td,table.summary th"
         "{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}figure{margin:2em 0}"
         "img{max-width:100%}figcaption{color:#555;font-size:13px}")


class ReportError(ValueError):
    """The results cannot be reported on; the message names what is missing."""


def kept_lines(trials, where: str) -> list[str]:
    """One line per model the sweep kept (``kept``): its trial, its file, its size, its numbers; and each
    ensemble's members."""
    out = []
    if "model_uri" in trials:
        for r in trials[trials["model_uri"].notna()].sort_values("name").to_dict("records"):
            score = next((f"{k} {r[k]:.4f}" for k in ("test_accuracy", "best_val_accuracy") if r.get(k) == r.get(k)
                          and r.get(k) is not None), "")
            out.append(f"{r['name']}: {where}/{r['model_uri']} ({r['model_bytes'] / 1e6:.1f} MB)"
                       + (f", {score}" if score else ""))
    if "ensemble_members" in trials:
        names = dict(zip(trials["trial_id"], trials["name"]))
        for r in trials[trials["ensemble_members"].notna()].to_dict("records"):
            members = ", ".join(names.get(m, m) for m in json.loads(r["ensemble_members"]))
            acc = r.get("test_accuracy")
            acc = f"test_accuracy {acc:.4f}, " if acc is not None and acc == acc else ""
            out.append(f"{r['name']}: {acc}the average of {members}")
    return out


def index_html(sweep, s, trials, figs: Figures, compute: str = "", searched=(), models=()) -> str:
    """One page with everything, figures embedded: built from the summary and the failures, the
    same data the Markdown is written from."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(sweep)} — rnnsweep report"
             f"</title><style>{STYLE}</style></head><body>", f"<h1>{html.escape(sweep)}</h1><h2>Summary</h2>",
             tables.summary_html(s), f"<p>{html.escape(compute)}</p>" if compute else "",
             ("<h2>Searches</h2><ul>" + "".join(f"<li>{html.escape(x[2:])}</li>" for x in searched) + "</ul>")
             if searched else "",
             ("<h2>Kept models</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in models) + "</ul>")
             if models else "",
             "<h2>Diverged and failed trials</h2>", tables.failures_html(trials),
             "<h2>Figures</h2>"]
    for name, caption in figs.written:
        with open(os.path.join(figs.out, name), "rb") as fh:
            b64 = base64.b64encode(fh.read()).decode()
        parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if figs.notes:
        parts.append("<h2>Not drawn</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in figs.notes) + "</ul>")
    return "\n".join(parts) + "</body></html>\n"


def report(path: str, sweep: str | None = None, out: str | None = None, prices: dict | None = None) -> dict:
    """Write the report of one sweep; returns {"out": dir, "files": [...], "notes": [...]}."""
    try:
        root, sweep = results.locate(path, sweep)
    except FileNotFoundError as e:
        raise ReportError(str(e)) from None
    trials, epochs = results.load(root, sweep, required_trial=REQUIRED)
    if trials.empty:
        raise ReportError(f"{root.rstrip('/')}/{sweep}/trials: no trial rows yet")
    # Remote results (s3://, gs://): render in a temporary folder, then upload beside the tables.
    remote = out is None and results.local_folder(root, sweep, "report") is None
    out = out or results.local_folder(root, sweep, "report") or tempfile.mkdtemp(prefix="rnnsweep-report-")
    os.makedirs(out, exist_ok=True)
    s = tables.summary(trials)
    compute = tables.compute_line(trials, **(prices or {}))
    meta = results.read_json(root, sweep, "sweep.json") or {}
    searched = tables.search_lines(trials, epochs, meta)
    s.to_csv(os.path.join(out, "summary.csv"), index=False)
    models = kept_lines(trials, results.shown(root, sweep))
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as fh:
        fh.write(tables.summary_markdown(s, trials, sweep, compute, searched))
        if models:
            fh.write("\n## Kept models\n\n" + "".join(f"- {x}\n" for x in models))
    figs = Figures(out)
    draw_figures(trials, epochs, figs)
    draw_study_views(trials, figs)
    draw_search_views(trials, epochs, figs, meta)
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(index_html(sweep, s, trials, figs, compute, searched, models))
    if remote:
        out = results.upload_folder(out, root, sweep, "report")
    files = ["summary.csv", "summary.md"] + [n for n, _ in figs.written] + ["index.html"]
    return {"sweep": sweep, "out": out, "files": files, "notes": figs.notes, "summary": s, "compute": compute,
            "models": models}


def running(path: str, sweep: str | None) -> bool:
    """Is a driver still running this sweep (its last run in sweep.json has no end yet)?"""
    root, sweep = results.locate(path, sweep)
    runs = (results.read_json(root, sweep, "sweep.json") or {}).get("runs") or [{}]
    return "finished_at" not in runs[-1]


def render(args) -> list[str]:
    """Write the report of every sweep asked for; returns their names."""
    one = results.is_sweep(args.results)
    names = [None] if one else [args.sweep] if args.sweep else results.sweeps(args.results)
    if not names:
        raise ReportError(f"{args.results}: no <sweep>/trials table here")
    prices = {"gpu_price": args.price_per_gpu_hour, "cpu_price": args.price_per_cpu_hour}
    for name in names:
        out = args.out if len(names) == 1 else (args.out and os.path.join(args.out, name))
        r = report(args.results, name, out, prices)
        print(f"{r['sweep']}: wrote {len(r['files'])} files to {r['out']}: {', '.join(r['files'])}", flush=True)
        print(f"  {r['compute']}")
        for line in r["models"]:
            print(f"  kept: {line}")
        for note in r["notes"]:
            print(f"  note: {note}")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(prog="rnnsweep-report", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="a results root, or one sweep's folder (local path or URI)")
    p.add_argument("--out", default=None, help="output folder (default <results>/<sweep>/report)")
    p.add_argument("--sweep", default=None, help="which sweep under a results root (default: all)")
    p.add_argument("--watch", type=float, nargs="?", const=30.0, default=None, metavar="SECONDS",
                   help="render again every SECONDS (default 30) until the sweep's driver is done")
    p.add_argument("--price-per-gpu-hour", type=float, default=None, metavar="PRICE",
                   help="adds the sweep's cost: its GPU-hours × PRICE (any currency)")
    p.add_argument("--price-per-cpu-hour", type=float, default=None, metavar="PRICE",
                   help="adds its CPU-hours × PRICE to the cost (CPU-only clusters)")
    args = p.parse_args(argv)
    try:
        names = render(args)
        while args.watch and any(running(args.results, n) for n in names):
            time.sleep(args.watch)
            names = render(args)
        if args.watch:
            print("the sweep is done: last report written", flush=True)
    except KeyboardInterrupt:
        print("stopped watching", flush=True)
    except (ReportError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
