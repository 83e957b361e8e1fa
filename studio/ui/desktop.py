"""Handing files to the desktop: open a render in its application, or reveal it in its folder.

One place, so tests can stand in for the desktop (``open_url``) and nothing launches."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def open_url(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def open_file(path: Path) -> bool:
    return open_url(path)


def reveal(path: Path) -> bool:
    """Show ``path`` in the file manager (its folder; a folder itself)."""
    return open_url(path if path.is_dir() else path.parent)
