"""The contact sheet window: a batch's variants side by side, playing in sync, each labelled with
its values; click one to see it full size; export the sheet as one PNG or mp4.

One clock (a QTimer at the first clip's frame rate) moves one frame index that every tile shows,
so the variants can never drift apart. Files are read on a worker thread; the composition and
the export are the Qt-free :mod:`studio.queue.contact_sheet`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.queue.contact_sheet import (
    SheetError,
    SheetItem,
    export_mp4,
    export_png,
    grid_shape,
    read_item,
    sheet_length,
)
from studio.ui import theme
from studio.ui.viewer.picture import qimage_of

TILE_MAX_SIDE = 480  # tiles are read at most this big; full size re-reads the file
LABEL_PX = 22


class Tile(QWidget):
    """One variant: its current frame, fitted and centred, over a label with its values."""

    clicked = Signal(int)

    def __init__(self, index: int, item: SheetItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.item = item
        self.frame_index = 0
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None
        self._hover = False
        self.setMinimumSize(120, 68 + LABEL_PX)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        where = f"\n{item.path}" if item.path else ""
        self.setToolTip(f"{item.label}{where}\nClick to open full size")
        self.show_frame(0)

    def show_frame(self, index: int) -> None:
        self.frame_index = min(index, len(self.item.frames) - 1)
        self._image, self._buffer = qimage_of(self.item.frame(index), self._buffer)
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the frame is drawn: fitted into the space above the label."""
        area = QRectF(self.rect()).adjusted(2, 2, -2, -2 - LABEL_PX)
        w, h = self.item.size
        scale = min(area.width() / w, area.height() / h)
        size = QSize(max(1, round(w * scale)), max(1, round(h * scale)))
        x = area.x() + (area.width() - size.width()) / 2
        y = area.y() + (area.height() - size.height()) / 2
        return QRectF(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.BACKGROUND))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.picture_rect()
        if self._image is not None:
            painter.drawImage(target, self._image)
        if self._hover:
            painter.setPen(QPen(QColor(theme.SELECTION), 2))
            painter.drawRect(target.adjusted(-1, -1, 1, 1))
        painter.setPen(QColor(theme.TEXT))
        font = QFont(painter.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        painter.setFont(font)
        label = QRectF(0, self.height() - LABEL_PX, self.width(), LABEL_PX)
        text = painter.fontMetrics().elidedText(
            self.item.label, Qt.TextElideMode.ElideRight, int(label.width()) - 8
        )
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()

    def enterEvent(self, event: object) -> None:  # noqa: N802
        self._hover = True
        self.update()

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._hover = False
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)


class ContactSheet(QWidget):
    """The variants of one batch in a grid, one transport for all of them."""

    frame_changed = Signal(int)
    loaded = Signal()  # items arrived (or failed to: see ``status``)
    open_requested = Signal(int)  # a tile was clicked
    _delivered = Signal(int, object)  # load token, list of items or an error message

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        title: str = "Contact sheet",
        open_item: Callable[[SheetItem], None] | None = None,
    ) -> None:
        """``open_item`` shows a clicked variant full size (the editor: in its viewer);
        without it a window of its own plays the variant at 1:1."""
        super().__init__(parent)
        self.open_item = open_item
        self.setWindowTitle(title)
        self.items: list[SheetItem] = []
        self.tiles: list[Tile] = []
        self.frame = 0
        self.length = 1
        self._token = 0
        self._full: FullSizePlayer | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step)

        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self.status = QLabel("No variants yet")
        self.status.setObjectName("Dim")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.seek)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the sheet as one mp4 (all playing) or PNG (this frame)")
        self.export_button.clicked.connect(self._ask_export)
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.slider, 1)
        transport.addWidget(self.status)
        transport.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(self.grid, 1)
        layout.addLayout(transport)
        self._delivered.connect(self._on_delivered)
        self.open_requested.connect(self.open_full_size)
        self._set_enabled(False)

    # -- filling ------------------------------------------------------------------------------

    def load(self, entries: Sequence[tuple[str, Path]]) -> None:
        """Read (label, file) entries on a worker thread; :attr:`loaded` fires when shown."""
        self._token += 1
        token = self._token
        self.status.setText(f"Loading {len(entries)} variants…")

        def work() -> None:
            try:
                items: object = [read_item(p, label, TILE_MAX_SIDE) for label, p in entries]
            except SheetError as exc:
                items = str(exc)
            self._delivered.emit(token, items)

        threading.Thread(target=work, name="studio-contact-sheet", daemon=True).start()

    def _on_delivered(self, token: int, items: object) -> None:
        if token != self._token:
            return  # a newer load replaced this one
        if isinstance(items, str):
            self.status.setText(items)
        else:
            self.set_items(items)  # type: ignore[arg-type]
        self.loaded.emit()

    def set_items(self, items: Sequence[SheetItem]) -> None:
        self.set_playing(False)
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.items, self.tiles = list(items), []
        if not self.items:
            self.status.setText("No variants yet")
            self._set_enabled(False)
            return
        columns, _ = grid_shape(len(self.items))
        for index, item in enumerate(self.items):
            tile = Tile(index, item)
            tile.clicked.connect(self.open_requested)
            self.grid.addWidget(tile, index // columns, index % columns)
            tile.show()  # the layout would only show it at the next event loop turn
            self.tiles.append(tile)
        self.length = sheet_length(self.items)
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.length - 1)
        self.slider.blockSignals(False)
        self.timer.setInterval(max(1, round(1000 / self.items[0].fps)))
        self._set_enabled(True)
        self.layout().activate()  # tiles get their geometry now, not at the next event loop turn
        self.seek(0)

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.play_button, self.slider, self.export_button):
            widget.setEnabled(on)

    # -- transport: one frame index for every tile ---------------------------------------------

    def seek(self, frame: int) -> None:
        self.frame = max(0, min(frame, self.length - 1))
        for tile in self.tiles:
            tile.show_frame(self.frame)
        if self.slider.value() != self.frame:
            self.slider.blockSignals(True)
            self.slider.setValue(self.frame)
            self.slider.blockSignals(False)
        self.status.setText(f"{len(self.tiles)} variants · frame {self.frame + 1}/{self.length}")
        self.frame_changed.emit(self.frame)

    def step(self) -> None:
        self.seek((self.frame + 1) % self.length)

    def set_playing(self, playing: bool) -> None:
        if playing and self.tiles:
            self.timer.start()
        else:
            self.timer.stop()
        if self.play_button.isChecked() != (playing and bool(self.tiles)):
            self.play_button.blockSignals(True)
            self.play_button.setChecked(playing and bool(self.tiles))
            self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if self.timer.isActive() else "Play")

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    # -- full size and export ------------------------------------------------------------------

    def open_full_size(self, index: int) -> FullSizePlayer | None:
        """Variant ``index`` at its own size: through ``open_item``, else in a window of its
        own, playing from this frame."""
        item = self.items[index]
        if self.open_item is not None:
            self.open_item(item)
            return None
        if item.path is not None:
            try:
                item = read_item(item.path, item.label)  # the tiles hold a reduced copy
            except SheetError as exc:
                self.status.setText(str(exc))
        if self._full is not None:
            self._full.close()
        self._full = FullSizePlayer(item, self.frame, self)
        self._full.show()
        return self._full

    def export(self, path: Path) -> Path:
        """Write the sheet: an mp4 of every variant playing, or a PNG of the current frame."""
        path = Path(path)
        if path.suffix.lower() == ".png":
            return export_png(self.items, path, frame=self.frame)
        return export_mp4(self.items, path.with_suffix(".mp4"))

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export contact sheet", "contact_sheet.mp4", "Video (*.mp4);;Image (*.png)"
        )
        if path:
            self.status.setText(f"Exported {self.export(Path(path)).name}")


class FullSizePlayer(QDialog):
    """One variant at 1:1, looping, starting from the sheet's frame."""

    def __init__(self, item: SheetItem, frame: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(item.label)
        self.item = item
        self.tile = Tile(0, item)
        self.tile.setMinimumSize(*item.size)
        self.tile.setMinimumHeight(item.size[1] + LABEL_PX)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tile)
        self.frame = frame
        self.tile.show_frame(frame)
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, round(1000 / item.fps)))
        self.timer.timeout.connect(self._step)
        if len(item.frames) > 1:
            self.timer.start()

    def _step(self) -> None:
        self.frame = (self.frame + 1) % len(self.item.frames)
        self.tile.show_frame(self.frame)

    def closeEvent(self, event: object) -> None:  # noqa: N802
        self.timer.stop()
        super().closeEvent(event)  # type: ignore[arg-type]
