"""Reports of an analysis: inline-SVG charts, HTML sections, the self-contained HTML
report and its Markdown form. The dashboard draws with the same charts and sections."""

from coalmine.report.html import render_html
from coalmine.report.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
