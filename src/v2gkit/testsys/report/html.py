"""One self-contained HTML file per run: the summary, a sortable and filterable table of the cases, and per
case its purpose, requirements, verdict with the reason, steps, and the message sequence as a ladder
(tester | SUT) with times and each message's decoded content.

No external assets (styles and the small script are inline), so the file can be mailed or archived as it is.
Everything that comes from a case or a SUT is escaped, with control and bidi characters made visible; the
page's Content-Security-Policy only runs the script carrying this file's nonce, so even an escaping bug
could not run a SUT's script. Large runs stay light: message contents are pretty JSON inside closed
``<details>``, undecodable frames show at most :data:`HEX_LIMIT` octets.
"""

from __future__ import annotations

import html
import json
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from ..case import CaseResult, Verdict, WireRecord, tester_role
from ._text import ms, printable, shorten
from .traces import trace_stems

__all__ = ["CONTENT_LIMIT", "HEX_LIMIT", "html_report", "write_html"]

#: octets of an undecodable frame shown as hex (the pcapng has them all)
HEX_LIMIT = 2048
#: messages of one case shown with their content (the first three quarters and the last quarter of these);
#: the ones between keep their row, and their content stays in the JSON-lines trace. A whole charging
#: session (~500 messages, ~1 kB of pretty JSON each) would otherwise weigh 0.5 MB per case.
CONTENT_LIMIT = 200
_VERDICTS = (Verdict.PASS, Verdict.FAIL, Verdict.INCONC, Verdict.ERROR)


def _e(text: object) -> str:
    """Escape for text and quoted attribute values."""
    return html.escape(printable(text), quote=True)


def _t(text: object) -> str:
    """Escape for element content only (quotes need no escaping there: JSON keeps its size)."""
    return html.escape(printable(text), quote=False)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("v2gkit")
    except Exception:  # noqa: BLE001 - a report without a version is still a report
        return "?"


def _utc(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return "?"


def _finite(x: float | None) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 60:
        return f"{seconds:.2f} s"
    m, s = divmod(seconds, 60)
    return f"{int(m)} min {s:04.1f} s" if m < 60 else f"{int(m // 60)} h {int(m % 60):02d} min"


CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--inconc:#9a6700;--error:#8250df;--line:#d0d7de;--muted:#57606a;
--bg2:#f6f8fa;--tester:#0969da;--sut:#bc4c00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:1em 1.5em;color:#1f2328}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}h3{font-size:1em;margin:1em 0 .3em}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.5em 0}
.meta dt{color:var(--muted)}
.meta dd{margin:0;white-space:pre-line;overflow-wrap:anywhere}
.counts{display:flex;gap:.6em;flex-wrap:wrap;margin:.8em 0}
.count{border:1px solid var(--line);border-radius:6px;padding:.3em .9em;min-width:7em;cursor:pointer;
user-select:none;background:#fff}
.count b{font-size:1.4em;display:block}.count.off{opacity:.35}
.badge{display:inline-block;border-radius:1em;padding:0 .6em;color:#fff;font-size:.85em;font-weight:600}
.v-pass{background:var(--pass)}.v-fail{background:var(--fail)}.v-inconc{background:var(--inconc)}
.v-error{background:var(--error)}
.count.v-pass,.count.v-fail,.count.v-inconc,.count.v-error{background:#fff;border-left-width:6px}
.count.v-pass{border-left-color:var(--pass)}.count.v-fail{border-left-color:var(--fail)}
.count.v-inconc{border-left-color:var(--inconc)}.count.v-error{border-left-color:var(--error)}
#filter{width:24em;max-width:100%;padding:.3em .5em;margin:.3em 0}
table{border-collapse:collapse}
#cases{width:100%}#cases th,#cases td{border-bottom:1px solid var(--line);padding:.25em .5em;text-align:left;
vertical-align:top}
#cases th{position:sticky;top:0;background:var(--bg2);cursor:pointer;white-space:nowrap}
#cases th[aria-sort=ascending]::after{content:" \\25B2"}
#cases th[aria-sort=descending]::after{content:" \\25BC"}
#cases td.num{text-align:right;font-variant-numeric:tabular-nums}#cases td.reason{overflow-wrap:anywhere}
details.case{border:1px solid var(--line);border-radius:6px;margin:.5em 0;padding:.2em .8em}
details.case>summary{cursor:pointer;padding:.3em 0;font-weight:600}
details.case[open]>summary{border-bottom:1px solid var(--line);margin-bottom:.4em}
.muted{color:var(--muted);font-weight:400}
.text{white-space:pre-line;overflow-wrap:anywhere}
ol.steps{padding-left:1.5em}ol.steps .t{color:var(--muted);display:inline-block;min-width:6em}
table.ladder{width:100%;table-layout:fixed}
table.ladder th{text-align:left;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line)}
table.ladder td{padding:.1em .4em;vertical-align:top}
table.ladder td.t{width:7em;text-align:right;color:var(--muted);font-variant-numeric:tabular-nums;
white-space:nowrap}
table.ladder col.t{width:8em}
table.ladder td.m{border-left:3px solid var(--tester);border-right:3px solid var(--sut)}
table.ladder tr.tx td.m>details>summary{text-align:left}
table.ladder tr.rx td.m>details>summary{text-align:right}
table.ladder tr.ev td.m{text-align:center;font-style:italic;color:var(--muted)}
table.ladder th.sut{text-align:right;color:var(--sut)}table.ladder th.tester{color:var(--tester)}
table.ladder summary{cursor:pointer;list-style:none}
table.ladder summary::-webkit-details-marker{display:none}
.arrow{color:var(--muted)}.tx .name{color:var(--tester)}.rx .name{color:var(--sut)}
.undecoded .name{text-decoration:underline wavy var(--fail)}
.note{color:var(--fail)}
pre{background:var(--bg2);border-radius:4px;padding:.5em;margin:.2em 0;overflow:auto;max-height:40em;
text-align:left;white-space:pre-wrap;overflow-wrap:anywhere}
.tools{float:right;font-weight:400}.tools button{font-size:.85em}
footer{margin-top:2em;color:var(--muted);font-size:.9em}
"""

# sorting, filtering, opening the case a link points at; no data is put into the script
JS = """
(function(){
var table=document.getElementById('cases');if(!table)return;
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),shown=document.getElementById('shown');
var off={};
function apply(){var q=document.getElementById('filter').value.toLowerCase(),n=0;
 rows.forEach(function(r){var ok=!off[r.dataset.verdict]&&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
  r.hidden=!ok;var d=document.getElementById(r.dataset.case);if(d)d.hidden=!ok;if(ok)n++;});
 shown.textContent=n+' of '+rows.length+' cases shown';}
document.getElementById('filter').addEventListener('input',apply);
document.querySelectorAll('.count[data-verdict]').forEach(function(b){b.addEventListener('click',function(){
 var v=b.dataset.verdict;off[v]=!off[v];b.classList.toggle('off',!!off[v]);
 b.setAttribute('aria-pressed',off[v]?'false':'true');apply();});});
table.tHead.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
 var asc=th.getAttribute('aria-sort')!=='ascending',num=th.dataset.type==='num';
 table.tHead.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
 th.setAttribute('aria-sort',asc?'ascending':'descending');
 function key(r){var c=r.cells[i],k=c.dataset.key!==undefined?c.dataset.key:c.textContent;
  return num?parseFloat(k)||0:k;}
 rows.sort(function(a,b){var x=key(a),y=key(b),o=num?x-y:String(x).localeCompare(String(y));
  return asc?o:-o;});
 rows.forEach(function(r){body.appendChild(r);});});});
function openHash(){var id=decodeURIComponent(location.hash.slice(1));var d=id&&document.getElementById(id);
 if(d&&d.tagName==='DETAILS'){d.open=true;d.scrollIntoView();}}
window.addEventListener('hashchange',openHash);openHash();
document.querySelectorAll('button[data-all]').forEach(function(b){b.addEventListener('click',function(e){
 e.preventDefault();var open=b.dataset.all==='open';
 b.closest('details').querySelectorAll('table.ladder details').forEach(function(d){d.open=open;});});});
apply();
})();
"""


def _badge(v: Verdict) -> str:
    return f'<span class="badge v-{v.value}">{v.value}</span>'


def _summary(results: Sequence[CaseResult], title: str) -> str:
    counts = Counter(r.verdict for r in results)
    suts = list(dict.fromkeys(r.sut for r in results if r.sut))
    protocols = Counter(r.protocol for r in results if r.protocol)
    starts = [r.started for r in results if _finite(r.started) > 0]
    ends = [_finite(r.started) + _finite(r.seconds) for r in results if _finite(r.started) > 0]
    busy = sum(_finite(r.seconds) for r in results)
    wall = (max(ends) - min(starts)) if starts else busy
    sim = [r.sim_seconds for r in results if r.sim_seconds is not None and math.isfinite(r.sim_seconds)]
    out = [f"<header><h1>{_e(title)}</h1><dl class=\"meta\">"]
    rows = [("SUT", ", ".join(suts) or "-"),
            ("protocol", ", ".join(f"{p} ({n})" for p, n in protocols.most_common()) or "-"),
            ("started", _utc(min(starts)) if starts else "-"),
            ("wall time", _duration(wall) + (f" (cases: {_duration(busy)})" if starts else "")),
            ("cases", str(len(results)))]
    if sim:
        rows.append(("simulated time", _duration(sum(sim))))
    out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows]
    out.append('</dl><div class="counts" role="group" aria-label="show cases by verdict">')
    for v in _VERDICTS:
        n = counts.get(v, 0)
        pct = f"{100 * n / len(results):.0f} %" if results else "-"
        out.append(f'<div class="count v-{v.value}" data-verdict="{v.value}" role="button" tabindex="0" '
                   f'aria-pressed="true" title="show or hide the {v.value} cases"><b>{n}</b>{v.value} '
                   f'<span class="muted">{pct}</span></div>')
    out.append("</div></header>")
    return "".join(out)


def _table(results: Sequence[CaseResult], ids: Sequence[str]) -> str:
    out = ['<h2>Cases</h2><input id="filter" type="search" placeholder="filter: ID, title, reason, SUT" '
           'aria-label="filter the cases"> <span id="shown" class="muted"></span>',
           '<table id="cases"><thead><tr><th>Case</th><th>Title</th><th>Verdict</th><th>Reason</th>'
           '<th>SUT</th><th data-type="num">Time (s)</th><th data-type="num">Messages</th></tr></thead>'
           "<tbody>"]
    for r, cid in zip(results, ids, strict=True):
        frames = sum(1 for w in r.wire if w.channel != "event")
        out.append(f'<tr data-verdict="{r.verdict.value}" data-case="{cid}"><td>'
                   f'<a class="mono" href="#{cid}">{_e(r.case_id)}</a></td>'
                   f'<td>{_e(shorten(r.title, 120))}</td>'
                   f'<td data-key="{r.verdict.rank}">{_badge(r.verdict)}</td>'
                   f'<td class="reason">{_e(shorten(r.reason, 200))}</td><td>{_e(r.sut)}</td>'
                   f'<td class="num">{_finite(r.seconds):.3f}</td><td class="num">{frames}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _content(w: WireRecord) -> str:
    """The inside of a message's <details>: pretty JSON, or why it did not decode and its first octets."""
    parts = []
    if w.note:
        parts.append(f'<div class="note">{_e(w.note)}</div>')
    if w.decoded is not None:
        try:
            text = json.dumps(w.decoded, indent=1, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError) as e:
            text = f"(the decoded content cannot be shown: {e})"
        parts.append(f"<pre>{_t(text)}</pre>")
    elif w.frame:
        frame = bytes(w.frame)
        hx = frame[:HEX_LIMIT].hex(" ", 1).upper()
        more = (f"\n... {len(frame) - HEX_LIMIT} more octets (see the pcapng)" if len(frame) > HEX_LIMIT
                else "")
        parts.append(f"<pre>{_e(hx + more)}</pre>")
    return "".join(parts) or '<span class="muted">(no content)</span>'


def _ladder(r: CaseResult, limit: int | None) -> str:
    try:
        role = tester_role(r.case_id)
    except ValueError:
        role = ""
    sut_role = {"evcc": "SECC", "secc": "EVCC"}.get(role, "")
    out = ['<table class="ladder"><colgroup><col class="t"><col></colgroup><thead><tr><th>ms</th>'
           f'<th><span class="tester">Tester{" (" + role.upper() + ")" if role else ""}</span>'
           f'<span class="sut" style="float:right">SUT{" (" + sut_role + ")" if sut_role else ""}</span></th>'
           "</tr></thead><tbody>"]
    n = len(r.wire)
    head_n = n if limit is None or n <= limit else limit * 3 // 4
    tail_from = n if limit is None or n <= limit else n - (limit - head_n)
    for i, w in enumerate(r.wire):
        t = ms(_finite(w.t))
        if w.channel == "event":
            who = {"tx": " by the tester", "rx": " by the SUT"}.get(w.direction, "")
            note = f": {w.note}" if w.note else ""
            text = _t((w.name or "event") + who + note)
            out.append(f'<tr class="ev"><td class="t">{t}</td><td class="m">{text}</td></tr>')
            continue
        name = w.name or (f"payload type 0x{w.payload_type:04X}" if w.payload_type is not None else "frame")
        meta = f"{w.channel} &middot; {len(w.frame)} B"
        cls = "tx" if w.direction == "tx" else "rx"
        bad = "" if w.decoded is not None else " undecoded"
        label = (f'<span class="name">{_e(name)}</span> <span class="muted">{meta}</span>'
                 f' <span class="arrow">&#9472;&#9654;</span>' if cls == "tx" else
                 f'<span class="arrow">&#9664;&#9472;</span> <span class="name">{_e(name)}</span>'
                 f' <span class="muted">{meta}</span>')
        content = (_content(w) if i < head_n or i >= tail_from else '<span class="muted">(left out of this '
                   "report to keep it small: the JSON-lines trace has it)</span>")
        out.append(f'<tr class="{cls}{bad}"><td class="t">{t}</td><td class="m"><details><summary>{label}'
                   f"</summary>{content}</details></td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _case(r: CaseResult, cid: str, trace: str | None, limit: int | None) -> str:
    head = (f'<details class="case" id="{cid}"><summary>{_badge(r.verdict)} <span class="mono">'
            f'{_e(r.case_id)}</span> <span class="muted">{_e(shorten(r.title, 140))}</span></summary>')
    rows = [("verdict", f"{_badge(r.verdict)} {_e(r.reason)}")]
    if r.purpose:
        rows.append(("purpose", _e(r.purpose)))
    if r.requirements:
        rows.append(("requirements", _e(", ".join(r.requirements))))
    sut = r.sut + (f" at {r.remote_endpoint}" if r.remote_endpoint else "")
    rows.append(("SUT", _e(sut or "-")))
    if r.local_endpoint:
        rows.append(("tester", _e(r.local_endpoint)))
    rows.append(("protocol", _e(r.protocol or "none negotiated")))
    timing = f"{_finite(r.seconds):.3f} s"
    if r.sim_seconds is not None and math.isfinite(r.sim_seconds):
        timing += f" ({r.sim_seconds:.3f} s simulated)"
    if _finite(r.started) > 0:
        timing = f"{_utc(r.started)}, {timing}"
    rows.append(("time", _e(timing)))
    if trace is not None:
        rows.append(("traces", f'<a href="{_e(trace)}.pcapng">pcapng</a> &middot; '
                               f'<a href="{_e(trace)}.jsonl">JSON lines</a>'))
    parts = [head, '<dl class="meta">', *(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows), "</dl>"]
    if r.steps:
        parts.append("<h3>Steps</h3><ol class=\"steps\">")
        for s in r.steps:
            v = f" {_badge(s.verdict)}" if s.verdict is not None else ""
            parts.append(f'<li><span class="t">{ms(_finite(s.t))} ms</span> '
                         f'<span class="text">{_e(s.text)}</span>{v}</li>')
        parts.append("</ol>")
    frames = sum(1 for w in r.wire if w.channel != "event")
    parts.append(f"<h3>Message sequence <span class=\"muted\">({frames} messages; ms since the case started)"
                 '</span><span class="tools"><button data-all="open">expand all</button> '
                 '<button data-all="close">collapse all</button></span></h3>')
    parts.append(_ladder(r, limit) if r.wire else '<p class="muted">nothing on the wire</p>')
    parts.append("</details>")
    return "".join(parts)


def html_report(results: Iterable[CaseResult], *, title: str = "v2gkit test report",
                traces: str | None = None, content_limit: int | None = CONTENT_LIMIT) -> str:
    """The report as one HTML document. ``traces``: the folder (relative URL) the per-case pcapng and JSON
    lines files were written to with :func:`~v2gkit.testsys.report.traces.write_traces`; links to them
    are added when given. ``content_limit``: see :data:`CONTENT_LIMIT` (None: every message's content)."""
    results = list(results)
    ids = [f"c{i}" for i in range(len(results))]
    stems = trace_stems(results)
    prefix = None
    if traces is not None:
        prefix = traces if traces.endswith("/") or not traces else traces + "/"
    nonce = secrets.token_urlsafe(16)
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; img-src data:"
    sut = ", ".join(dict.fromkeys(r.sut for r in results if r.sut))
    parts = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title + (' - ' + sut if sut else ''))}</title><style>{CSS}</style></head><body>",
             _summary(results, title), _table(results, ids), "<h2>Details</h2>"]
    for r, cid, stem in zip(results, ids, stems, strict=True):
        link = None if prefix is None else prefix + quote(stem)
        parts.append(_case(r, cid, link, content_limit))
    parts.append(f"<footer>written by v2gkit {_e(_version())} on {_e(_utc(time.time()))}</footer>")
    parts.append(f'<script nonce="{nonce}">{JS}</script></body></html>\n')
    return "".join(parts)


def write_html(path: str | os.PathLike[str], results: Iterable[CaseResult], *,
               title: str = "v2gkit test report", traces: str | None = None,
               content_limit: int | None = CONTENT_LIMIT) -> Path:
    """Write the report to ``path``: a file ending in .html, else a folder that gets ``report.html``
    (created if need be); returns the file written."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in (".html", ".htm"):
        path = path / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    page = html_report(results, title=title, traces=traces, content_limit=content_limit)
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
