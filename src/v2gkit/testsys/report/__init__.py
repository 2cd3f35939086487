"""Reports of a test run from its ``CaseResult`` list: JUnit XML (CI), one HTML file, per-case pcapng and
JSON-lines traces, terminal and Markdown tables, and the results file that runs are merged from."""

from __future__ import annotations

from .html import html_report, write_html
from .junit import junit_xml, write_junit
from .results import Run, read_results, write_results
from .table import markdown_table, merge_runs, print_summary, read_runs, summary_table
from .traces import write_trace, write_traces

__all__ = ["Run", "html_report", "junit_xml", "markdown_table", "merge_runs", "print_summary", "read_results",
           "read_runs", "summary_table", "write_html", "write_junit", "write_results", "write_trace",
           "write_traces"]
