"""The PDF: WeasyPrint renders the report's HTML page with its print styles (A4, page numbers, bookmarks)."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from suite.errors import SuiteError
from suite.files import atomic_write

# The Debian/Ubuntu packages WeasyPrint loads at import (Pango, HarfBuzz) and a font that renders the report.
SYSTEM_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"


def _weasyprint():
    try:
        # A missing library makes WeasyPrint print a page of advice to stdout before it raises.
        with contextlib.redirect_stdout(io.StringIO()):
            import weasyprint
    except ImportError:
        raise SuiteError("PDF reports need WeasyPrint: pip install weasyprint (or leave pdf out of --format)") from None
    except OSError as exc:
        raise SuiteError(f"WeasyPrint cannot load its system libraries ({str(exc).splitlines()[0]}); on Debian or "
                         f"Ubuntu: apt-get install {SYSTEM_PACKAGES}") from None
    return weasyprint


def check() -> None:
    """Fail before any figure is drawn when the PDF cannot be made."""
    _weasyprint()


def write(html: str, path: Path) -> None:
    weasyprint = _weasyprint()
    log = logging.getLogger("weasyprint")
    level = log.level
    log.setLevel(logging.ERROR)  # it warns about every screen-only CSS property it ignores
    try:
        atomic_write(path, weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf())
    finally:
        log.setLevel(level)
