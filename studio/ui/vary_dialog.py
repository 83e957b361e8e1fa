"""The "Vary…" dialog: pick a param of a node (its seed first) and the values to render it with.

The values text is the CLI's ``--vary`` syntax (``1..8``, ``10,30``, ``0.1..0.5:0.1``,
``rand:8``); the dialog says how many variants it makes, or why the text is refused, as you
type, and OK stays disabled until the text is usable.
"""

from __future__ import annotations

import random

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from studio.graph.graph import Graph
from studio.graph.spec import ParamKind
from studio.queue.variations import Variation, VariationError, parse_vary

VARIABLE = (ParamKind.SEED, ParamKind.INT, ParamKind.FLOAT, ParamKind.CHOICE, ParamKind.BOOL)
PREVIEW = 8  # values listed in the preview line


class VaryDialog(QDialog):
    """Builds one :class:`Variation` of ``node_id`` in ``graph``; read :attr:`variation`."""

    def __init__(self, graph: Graph, node_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node = graph.node(node_id)
        self.variation: Variation | None = None
        # Random seeds are drawn once, here, so what the preview lists is what gets queued.
        self._base = random.SystemRandom().randrange(2**63)
        self.setWindowTitle(f"Vary {self.node.title}")
        self.param = QComboBox()
        spec = self.node.spec
        params = [p for p in (spec.params if spec else ()) if p.kind in VARIABLE]
        params.sort(key=lambda p: p.kind is not ParamKind.SEED)  # the seed first
        for param in params:
            self.param.addItem(param.display_name, param.name)
        self.values = QLineEdit()
        self.values.setPlaceholderText("1..8   ·   10,30   ·   0.1..0.5:0.1   ·   rand:8")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Queue variants")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Parameter", self.param)
        form.addRow("Values", self.values)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(self.buttons)
        self.param.currentIndexChanged.connect(self._suggest)
        self.values.textChanged.connect(self._check)
        self._suggest()

    def _suggest(self) -> None:
        name = self.param.currentData()
        param = self.node.spec.param(name) if name and self.node.spec else None
        if param is None:
            self.values.setText("")
        elif param.kind is ParamKind.SEED:
            self.values.setText("rand:8")
        elif param.kind is ParamKind.CHOICE:
            self.values.setText(",".join(param.choices))
        elif param.kind is ParamKind.BOOL:
            self.values.setText("false,true")
        else:
            self.values.setText(str(self.node.param(name)))
        self._check()

    def _check(self) -> None:
        name = self.param.currentData()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.variation = None
        if not name:
            self.preview.setText("This node has no parameter to vary.")
            ok.setEnabled(False)
            return
        text = f"{self.node.id}.{name}={self.values.text()}"
        rng = random.Random(f"{self._base}:{text}")  # the same draw for the same text
        try:
            self.variation = parse_vary(text, self.graph, rng)
        except VariationError as exc:
            self.preview.setText(str(exc))
            ok.setEnabled(False)
            return
        values = self.variation.values
        shown = ", ".join(str(v) for v in values[:PREVIEW]) + (" …" if len(values) > 8 else "")
        self.preview.setText(f"{len(values)} variant(s): {shown}")
        ok.setEnabled(True)
