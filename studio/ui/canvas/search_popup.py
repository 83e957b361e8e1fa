"""The Tab / double-click node search: fuzzy matching over every node type."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
)

from studio.graph.spec import NodeSpec, ParamKind
from studio.ui import theme

CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 1


def fuzzy_score(query: str, text: str) -> float | None:
    """Higher is better; None when ``query``'s letters do not appear in order in ``text``."""
    query, text = query.lower().strip(), text.lower()
    if not query:
        return 0.0
    if query in text:
        # Whole-substring hits win, earlier and at word starts more so.
        at = text.index(query)
        return 100.0 - at + (20.0 if at == 0 or text[at - 1] in " _-/" else 0.0)
    score, pos, run = 0.0, 0, 0
    for ch in query:
        found = text.find(ch, pos)
        if found < 0:
            return None
        run = run + 1 if found == pos else 0
        score += 1.0 + run * 2.0 + (3.0 if found == 0 or text[found - 1] in " _-/" else 0.0)
        pos = found + 1
    return score - 0.05 * len(text)


PACKAGE_FILTER = "package:"


def rank(
    query: str, specs: Iterable[NodeSpec], models: Mapping[str, Sequence[str]] | None = None
) -> list[NodeSpec]:
    """Specs matching ``query`` best first: fuzzily by title, type id or category; by substring
    on aliases ("img2vid"), tags, the choices of their params ("wan", "realesrgan"), the names
    of the local models they can load (``models``: type id -> names) and the node package they
    come from. ``package:NAME`` (first word) keeps only that package's."""
    words = query.split()
    if words and words[0].lower().startswith(PACKAGE_FILTER):
        wanted = words[0][len(PACKAGE_FILTER) :].lower()
        specs = [s for s in specs if wanted in s.package.lower()]
        query = " ".join(words[1:])
    local = models or {}
    scored: list[tuple[float, str, NodeSpec]] = []
    for spec in specs:
        scores = [
            fuzzy_score(query, spec.title),
            fuzzy_score(query, spec.type_id),
            _minus(fuzzy_score(query, spec.category), 10.0),
            *(_minus(substring_score(query, a), 5.0) for a in spec.aliases),
            *(_minus(substring_score(query, t), 15.0) for t in spec.tags),
            *(_minus(substring_score(query, c), 25.0) for c in _choices(spec)),
            *(_minus(substring_score(query, m), 20.0) for m in local.get(spec.type_id, ())),
            _minus(substring_score(query, _origin(spec)), 20.0) if _origin(spec) else None,
        ]
        best = max((s for s in scores if s is not None), default=None)
        if best is not None:
            scored.append((best, spec.title, spec))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [t[2] for t in scored]


def substring_score(query: str, text: str) -> float | None:
    """Like :func:`fuzzy_score` for whole substrings only: a short tag matched letter by
    letter ("sr" in "stabilise rotation") would flood the list."""
    query = query.lower().strip()
    if not query or query not in text.lower():
        return None
    return fuzzy_score(query, text)


def _origin(spec: NodeSpec) -> str:
    """The node package a third-party node comes from ("" for Studio's own)."""
    return "" if spec.package == "studio" else spec.package


def _choices(spec: NodeSpec) -> list[str]:
    return [c for p in spec.params for c in p.choices]


def model_names(specs: Iterable[NodeSpec]) -> dict[str, list[str]]:
    """Type id -> names of the local models its model params can load (scanned once per
    session, as the inspector's model menus are)."""
    from studio.ui.inspector.widgets import discover_models

    names: dict[str, list[str]] = {}
    for spec in specs:
        for param in spec.params:
            if param.kind is ParamKind.MODEL:
                names.setdefault(spec.type_id, []).extend(
                    name for name, _path in discover_models(param.model_kind)
                )
    return names


BLUEPRINT_PREFIX = "blueprint:"


def blueprint_specs(library: Any) -> list[NodeSpec]:
    """One entry per blueprint of ``library`` (saved subgraphs), found like node types: by
    name, "blueprint", "subgraph" or words of its description."""
    if library is None:
        return []
    return [
        NodeSpec(
            type_id=BLUEPRINT_PREFIX + bp.name,
            title=bp.name,
            category="Blueprint",
            run=_not_a_node,
            help=bp.description or "A saved subgraph",
            tags=("blueprint", "subgraph", *bp.description.lower().split()),
        )
        for bp in library.all()
    ]


def _not_a_node(ctx: Any, inputs: Any, params: Any) -> dict:
    raise RuntimeError("a blueprint entry of the node search is not a node")


def _minus(score: float | None, amount: float) -> float | None:
    return None if score is None else score - amount


class _CategoryDelegate(QStyledItemDelegate):
    """The node's title on the left, its category dimmed and right-aligned: a column the eye
    can skip, instead of a category glued to titles of every length."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:  # noqa: ANN001
        super().paint(painter, option, index)
        category = index.data(CATEGORY_ROLE)
        if not category:
            return
        painter.save()
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(
            option.rect.adjusted(0, 0, -8, 0),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            category,
        )
        painter.restore()


class SearchPopup(QFrame):
    """A small floating list with a filter field; ``chosen`` carries the picked type id."""

    chosen = Signal(str)

    def __init__(
        self,
        specs: Iterable[NodeSpec],
        parent=None,
        title: str = "Add node",
        models: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("SearchPopup")
        self._specs = list(specs)
        self._models = models or {}
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.setContentsMargins(8, 6, 8, 8)
        heading = QLabel(title)
        heading.setObjectName("SearchHeading")
        self.field = QLineEdit()
        self.field.setPlaceholderText("Search nodes…")
        self.list = QListWidget()
        self.list.setItemDelegate(_CategoryDelegate(self.list))
        layout.addWidget(heading)
        layout.addWidget(self.field)
        layout.addWidget(self.list)
        self.resize(300, 340)
        self.field.textChanged.connect(self._filter)
        self.field.installEventFilter(self)
        self.list.itemActivated.connect(self._activate)
        self.list.itemClicked.connect(self._activate)
        self._filter("")

    def _filter(self, text: str) -> None:
        self.list.clear()
        for spec in rank(text, self._specs, self._models):
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.type_id)
            origin = _origin(spec)
            item.setData(CATEGORY_ROLE, f"{spec.category} · {origin}" if origin else spec.category)
            item.setToolTip(spec.help)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.field and event.type() == QEvent.Type.KeyPress:
            key = QKeyEvent(event).key() if not isinstance(event, QKeyEvent) else event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                row = self.list.currentRow() + (1 if key == Qt.Key.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_current()
                return True
        return super().eventFilter(watched, event)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._activate(item)

    def _activate(self, item: QListWidgetItem) -> None:
        type_id = item.data(Qt.ItemDataRole.UserRole)
        self.close()
        self.chosen.emit(type_id)

    def popup(self, global_pos: QPoint) -> None:
        self.move(global_pos)
        self.show()
        self.field.setFocus()
