"""The Takes panel: every take of the output folder, newest first, to compare and keep the best.

A list of takes (poster thumbnail that plays when the pointer rests on it, name, time, what
changed since the previous take, rating, note) read from the folder's takes database
(:mod:`studio.takes`), filtered by shot and rating. Keys on the list: C circles (keep), X
rejects, U clears the rating. Buttons: restore the take's settings into the graph (one undo
step), compare two takes in the viewer's A/B wipe, reveal the file.

The list is a model over the database rows, so 10,000 takes fill it in one query; thumbnails
are decoded on a worker thread when a row is first drawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QIcon,
    QImage,
    QKeyEvent,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.draft import DRAFT_SUFFIX
from studio.takes import Rating, Take, TakesDB, TakesError
from studio.takes.db import DB_NAME, TakeList
from studio.ui import theme

THUMB = QSize(112, 64)
HOVER_FRAMES = 16  # frames a hovered thumbnail plays (spread over the clip)
POLL_MS = 3000  # re-read the database when another process (the queue, a CLI render) wrote
RATING_MARK = {Rating.CIRCLE: "◯ kept", Rating.REJECT: "✕ rejected", Rating.NONE: ""}
FILTERS = {"All": None, "Circled": Rating.CIRCLE, "Rejected": Rating.REJECT, "Unrated": Rating.NONE}
TakeRole = Qt.ItemDataRole.UserRole + 1


def is_draft_take(take: Take) -> bool:
    """A draft take: its workflow says so, or (listed takes carry no workflow) its shot is a
    ``<shot>_draft`` series, which only draft renders write."""
    return take.draft or take.shot.endswith(DRAFT_SUFFIX)


def badged(pixmap: QPixmap, text: str = "DRAFT") -> QPixmap:
    """``pixmap`` with ``text`` on an orange tab in its top-left corner."""
    out = QPixmap(pixmap)
    painter = QPainter(out)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(11)
    painter.setFont(font)
    box = painter.fontMetrics().boundingRect(text).adjusted(-4, -1, 4, 1)
    box.moveTopLeft(QPoint(2, 2))
    painter.fillRect(box, QColor("#d9822b"))
    painter.setPen(QColor("#1a1a1a"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return out


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class _Loaded(QObject):
    """Carries decoded thumbnails from the worker thread to the UI thread."""

    poster = Signal(str, object)  # take name, RGB array (None: unreadable)
    frames = Signal(str, object)  # take name, list of RGB arrays


def _poster(take: Take) -> np.ndarray | None:
    from studio.takes.media import read_take

    paths = take.paths()
    poster = next((p for p in paths if p.name.endswith("_poster.png")), None)
    try:
        picture = read_take(poster or paths[0], width=THUMB.width())
    except Exception:  # a missing or damaged file shows as a blank thumbnail
        return None
    return picture if isinstance(picture, np.ndarray) else picture.frames[len(picture) // 2]


def _hover_frames(take: Take) -> list[np.ndarray]:
    from studio.graph.types import Video
    from studio.takes.media import read_take

    try:
        clip = read_take(take.paths()[0], width=THUMB.width(), max_frames=240)
    except Exception:
        return []
    if not isinstance(clip, Video):
        return []
    picks = np.linspace(0, len(clip) - 1, min(HOVER_FRAMES, len(clip))).round().astype(int)
    return [clip.frames[i] for i in picks]


class TakesModel(QAbstractListModel):
    """The rows of the takes database as list items (filled in one query)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.takes: Sequence[Take] = []
        self._rows: dict[str, int] = {}  # take name -> row
        self.posters: dict[str, QPixmap] = {}
        self._asked: set[str] = set()
        self._badged: dict[int, QPixmap] = {}  # poster cache key -> with the DRAFT tab
        self._blank = QPixmap(THUMB)
        self._blank.fill(QColor(theme.NODE_BODY))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-takes")
        self._loaded = _Loaded(self)
        self._loaded.poster.connect(self._poster_ready)

    def set_takes(self, takes: TakeList | list[Take]) -> None:
        """Show ``takes``; a :class:`TakeList` builds only the rows that are drawn."""
        self.beginResetModel()
        self.takes = takes
        names = takes.names() if isinstance(takes, TakeList) else [t.name for t in takes]
        self._rows = {name: row for row, name in enumerate(names)}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.takes)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        take = self.takes[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return describe(take)
        if role == Qt.ItemDataRole.DecorationRole:
            poster = self._poster_for(take)
            if is_draft_take(take):  # never mistaken for a final, even as a thumbnail
                key = poster.cacheKey()
                if key not in self._badged:
                    self._badged[key] = badged(poster)
                poster = self._badged[key]
            return QIcon(poster)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(str(p) for p in take.paths())
        if role == Qt.ItemDataRole.ForegroundRole and (
            take.missing or take.rating is Rating.REJECT
        ):
            return QColor(theme.STATUS_COLORS["failed" if take.missing else "cancelled"])
        if role == TakeRole:
            return take
        return None

    def _poster_for(self, take: Take) -> QPixmap:
        name = take.name
        if name in self.posters:
            return self.posters[name]
        if name not in self._asked:  # decoded once, off the UI thread
            self._asked.add(name)
            future: Future[np.ndarray | None] = self._pool.submit(_poster, take)
            future.add_done_callback(lambda f, n=name: self._loaded.poster.emit(n, f.result()))
        return self._blank

    def _poster_ready(self, name: str, rgb: np.ndarray | None) -> None:
        self.posters[name] = to_pixmap(rgb) if rgb is not None else self._blank
        row = self.row_of(name)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def row_of(self, name: str) -> int:
        return self._rows.get(name, -1)

    def before(self, take: Take) -> Take | None:
        """The listed take of the same shot just before ``take``."""
        rows = (
            self.takes.shots_and_numbers()
            if isinstance(self.takes, TakeList)
            else [(t.shot, t.number) for t in self.takes]
        )
        earlier = [(n, r) for r, (s, n) in enumerate(rows) if s == take.shot and n < take.number]
        return self.takes[max(earlier)[1]] if earlier else None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def describe(take: Take) -> str:
    """Two lines: name, time, rating and state; then what changed, and the note."""
    when = time.strftime("%d %b %H:%M", time.localtime(take.created))
    state = ("  DRAFT" if is_draft_take(take) else "") + ("  MISSING" if take.missing else "")
    mark = RATING_MARK.get(take.rating, "")
    first = "  ".join(filter(None, [take.name, when, mark])) + state
    changed = ", ".join(
        f"{k} {_short(v[0])}→{_short(v[1])}" for k, v in list(take.changed.items())[:2]
    )
    second = " · ".join(
        filter(None, [changed or ("first take" if take.number == 1 else ""), take.note])
    )
    return f"{first}\n{second}" if second else first


def credentials_line(take: Take) -> str:
    """What the take's content credentials (C2PA) say, or that it has none."""
    from studio.takes.credentials import read_credentials

    found = read_credentials(take.paths()[0]) if not take.missing else None
    if found is None:
        return "Content credentials: none"
    made = "AI-generated" if found["ai_generated"] else "not marked AI-generated"
    models = ", ".join(found["models"]) or "no models named"
    return f"Content credentials: signed by {found['signer'] or 'unknown'} · {made} · {models}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 16 else text[:13] + "…"


class TakesList(QListView):
    """The list; C / X / U rate the selected takes, the pointer resting on one plays it."""

    rate_requested = Signal(object)  # Rating
    hovered = Signal(object)  # QModelIndex (invalid: left)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(THUMB)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setSpacing(2)
        self.entered.connect(self.hovered.emit)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        rating = {
            Qt.Key.Key_C: Rating.CIRCLE,
            Qt.Key.Key_X: Rating.REJECT,
            Qt.Key.Key_U: Rating.NONE,
        }
        if event.key() in rating and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.rate_requested.emit(rating[event.key()])
            return
        super().keyPressEvent(event)

    def leaveEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.hovered.emit(QModelIndex())
        super().leaveEvent(event)


class TakesPanel(QWidget):
    """The takes of ``folder()`` (the session's output folder). ``restore_requested(take)``
    and ``compare_requested(a, b)`` are for the window to act on (the graph, the viewer)."""

    restore_requested = Signal(object)  # Take
    compare_requested = Signal(object, object)  # Take, Take
    status_message = Signal(str)

    def __init__(self, folder: Callable[[], Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.model = TakesModel(self)
        self._stamp: tuple[float, ...] = ()
        self._hover_name = ""
        self._hover_poster: QPixmap | None = None  # the poster to put back when the hover ends
        self._hover_frames: list[QPixmap] = []
        self._hover_step = 0
        self._frames_signal = _Loaded(self)
        self._frames_signal.frames.connect(self._frames_ready)

        self.shot_box = QComboBox(toolTip="Show the takes of one shot")
        self.rating_box = QComboBox(toolTip="Show only circled, rejected or unrated takes")
        self.rating_box.addItems(list(FILTERS))
        self.count_label = QLabel("")
        self.count_label.setProperty("muted", True)
        self.list = TakesList(self)
        self.list.setModel(self.model)
        self.note_edit = QLineEdit(placeholderText="A note on the selected take…")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setProperty("muted", True)
        self.restore_button = QPushButton("Restore settings")
        self.restore_button.setToolTip("Set the graph's params to this take's (one undo step)")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip(
            "Select two takes: A/B wipe in the viewer on one timeline (with one selected, it is "
            "compared with the take before it)"
        )
        self.reveal_button = QPushButton("Reveal file")

        bar = QHBoxLayout()
        bar.addWidget(self.shot_box, 1)
        bar.addWidget(self.rating_box)
        bar.addWidget(self.count_label)
        buttons = QHBoxLayout()
        for button in (self.restore_button, self.compare_button, self.reveal_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.note_edit)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

        self.shot_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.rating_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.list.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.list.rate_requested.connect(self.rate_selected)
        self.list.hovered.connect(self._hover)
        self.note_edit.editingFinished.connect(self._save_note)
        self.restore_button.clicked.connect(self._restore)
        self.compare_button.clicked.connect(self._compare)
        self.reveal_button.clicked.connect(self._reveal)
        self._play = QTimer(self)
        self._play.setInterval(90)
        self._play.timeout.connect(self._next_hover_frame)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._refresh_if_changed)
        self._poll.start()
        self.refresh()

    # -- reading ------------------------------------------------------------------------------

    def _db(self, create: bool = False) -> TakesDB | None:
        folder = self.folder()
        if not create and not (folder / DB_NAME).is_file():
            return None
        try:
            return TakesDB(folder, create=create)
        except TakesError as error:
            self.status_message.emit(str(error))
            return None

    def refresh(self) -> None:
        """Re-read the database (keeps the selection where the takes are still listed)."""
        selected = {t.name for t in self.selected()}
        self._stamp = self._db_stamp()
        db = self._db()
        takes: list[Take] = []
        shots: list[str] = []
        if db is not None:
            with db:
                shot = self.shot_box.currentData()
                takes = db.list(shot=shot or None, rating=FILTERS[self.rating_box.currentText()])
                shots = db.shots()
        self._fill_shots(shots)
        self.model.set_takes(takes)
        self.count_label.setText(f"{len(takes)} takes" if takes else "no takes")
        selection = self.list.selectionModel()
        for name in selected:
            row = self.model.row_of(name)
            if row >= 0:
                selection.select(self.model.index(row), selection.SelectionFlag.Select)
        self._selection_changed()

    def _fill_shots(self, shots: list[str]) -> None:
        current = self.shot_box.currentData()
        self.shot_box.blockSignals(True)
        self.shot_box.clear()
        self.shot_box.addItem("All shots", "")
        for shot in shots:
            self.shot_box.addItem(shot, shot)
        self.shot_box.setCurrentIndex(max(0, self.shot_box.findData(current or "")))
        self.shot_box.blockSignals(False)

    def _db_stamp(self) -> tuple[float, ...]:
        folder = self.folder()
        stamp = []
        for name in (DB_NAME, DB_NAME + "-wal"):
            try:
                stat = (folder / name).stat()
                stamp += [stat.st_mtime_ns, stat.st_size]
            except OSError:
                stamp += [0, 0]
        return tuple(stamp)

    def _refresh_if_changed(self) -> None:
        if self._db_stamp() != self._stamp:
            self.refresh()

    def selected(self) -> list[Take]:
        rows = sorted(i.row() for i in self.list.selectionModel().selectedIndexes())
        return [self.model.takes[r] for r in rows if r < len(self.model.takes)]

    def select(self, *names: str) -> None:
        selection = self.list.selectionModel()
        selection.clearSelection()
        for name in names:
            row = self.model.row_of(name)
            if row >= 0:
                selection.select(self.model.index(row), selection.SelectionFlag.Select)
                self.list.setCurrentIndex(self.model.index(row))

    # -- acting -------------------------------------------------------------------------------

    def rate_selected(self, rating: Rating) -> None:
        takes = self.selected()
        db = self._db()
        if not takes or db is None:
            return
        with db:
            for take in takes:
                db.rate(take.name, rating)
        word = {Rating.CIRCLE: "circled", Rating.REJECT: "rejected", Rating.NONE: "unrated"}
        self.status_message.emit(f"{', '.join(t.name for t in takes)} {word[rating]}")
        self.refresh()

    def _save_note(self) -> None:
        takes = self.selected()
        db = self._db()
        if len(takes) != 1 or db is None or self.note_edit.text() == takes[0].note:
            return
        with db:
            db.set_note(takes[0].name, self.note_edit.text())
        self.refresh()

    def _selection_changed(self) -> None:
        takes = self.selected()
        one = takes[0] if len(takes) == 1 else None
        self.note_edit.setEnabled(one is not None)
        self.note_edit.setText(one.note if one else "")
        self.restore_button.setEnabled(one is not None)
        self.reveal_button.setEnabled(one is not None)
        self.compare_button.setEnabled(
            len(takes) == 2 or (one is not None and self._before(one) is not None)
        )
        self.details.setText(self._details(one) if one else "")

    def _details(self, take: Take) -> str:
        seeds = ", ".join(f"{k} {v}" for k, v in take.seeds.items())
        lines = [f"{take.paths()[0]}" + ("  (missing)" if take.missing else "")]
        if seeds:
            lines.append(f"seeds: {seeds}")
        lines.append(credentials_line(take))
        return "\n".join(lines)

    def _before(self, take: Take) -> Take | None:
        return self.model.before(take)

    def _restore(self) -> None:
        takes = self.selected()
        if len(takes) == 1:
            self.restore_requested.emit(self._full(takes[0]))

    def _compare(self) -> None:
        takes = self.selected()
        if len(takes) == 1:
            before = self._before(takes[0])
            takes = [before, takes[0]] if before is not None else []
        if len(takes) == 2:
            older, newer = sorted(takes, key=lambda t: (t.created, t.number))
            self.compare_requested.emit(older, newer)

    def _reveal(self) -> None:
        takes = self.selected()
        if len(takes) == 1:
            path = takes[0].paths()[0]
            QDesktopServices.openUrl(
                QUrl.fromLocalFile(str(path.parent if path.exists() else self.folder()))
            )

    def _full(self, take: Take) -> Take:
        """The take with its workflow snapshot (the list reads rows without it)."""
        db = self._db()
        if db is None:
            return take
        with db:
            return db.get(take.name)

    # -- playing on hover ---------------------------------------------------------------------

    def _hover(self, index: QModelIndex) -> None:
        take = index.data(TakeRole) if index.isValid() else None
        name = take.name if take is not None else ""
        if name == self._hover_name:
            return
        self._play.stop()
        if self._hover_name and self._hover_poster is not None:
            self.model.posters[self._hover_name] = self._hover_poster
            self._changed(self._hover_name)
        self._hover_name, self._hover_frames, self._hover_step = name, [], 0
        self._hover_poster = self.model.posters.get(name)
        if take is None or take.missing:
            return
        future = self.model._pool.submit(_hover_frames, take)
        future.add_done_callback(lambda f, n=name: self._frames_signal.frames.emit(n, f.result()))

    def _frames_ready(self, name: str, frames: list[np.ndarray]) -> None:
        if name != self._hover_name or not frames:
            return
        self._hover_frames = [to_pixmap(f) for f in frames]
        self._play.start()

    def _next_hover_frame(self) -> None:
        if self.model.row_of(self._hover_name) < 0 or not self._hover_frames:
            self._play.stop()
            return
        if self._hover_poster is None:
            self._hover_poster = self.model.posters.get(self._hover_name)
        self._hover_step = (self._hover_step + 1) % len(self._hover_frames)
        self.model.posters[self._hover_name] = self._hover_frames[self._hover_step]
        self._changed(self._hover_name)

    def _changed(self, name: str) -> None:
        row = self.model.row_of(name)
        if row >= 0:
            index = self.model.index(row)
            self.model.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self._poll.stop()
        self._play.stop()
        self.model.shutdown()
