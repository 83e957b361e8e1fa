"""The breadcrumb over the canvas while a subgraph is open: "Workflow › Finish › ...". Each
part is a button that goes back out to that level; hidden at the top of the workflow."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from studio.session import Session
from studio.session.session import SessionEvent, SessionEventKind
from studio.ui import theme
from studio.ui.bridge import SessionBridge


class Breadcrumb(QWidget):
    def __init__(self, session: Session, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("Breadcrumb")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            f"#Breadcrumb {{ background: {theme.NODE_BODY}; border: 1px solid "
            f"{theme.SELECTION}; border-radius: 4px; }}"
            f"#Breadcrumb QToolButton {{ color: {theme.TEXT_DIM}; border: none; "
            "padding: 2px 4px; }"
            f"#Breadcrumb QToolButton:hover {{ color: {theme.SELECTION}; }}"
            f"#Breadcrumb QToolButton:disabled {{ color: {theme.TEXT}; font-weight: bold; }}"
            f"#Breadcrumb QLabel {{ color: {theme.TEXT_DIM}; }}"
        )
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.setSpacing(4)
        self.buttons: list[QToolButton] = []
        self._bridge = SessionBridge(session, self)
        self._bridge.event.connect(self._on_session_event)
        self.rebuild()

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind in (
            SessionEventKind.SCOPE_CHANGED,
            SessionEventKind.GRAPH_REPLACED,
            SessionEventKind.HISTORY_CHANGED,  # a renamed subgraph
        ):
            self.rebuild()

    def rebuild(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = []
        if not self.session.scope:
            self.hide()
            return
        titles = self.session.scope_titles()
        for depth, title in enumerate(titles):
            if depth:
                self._layout.addWidget(QLabel("›"))
            button = QToolButton()
            button.setText(title)
            button.setAutoRaise(True)
            current = depth == len(titles) - 1
            button.setEnabled(not current)
            button.setToolTip("You are here" if current else f"Back out to {title}")
            button.clicked.connect(lambda _=False, d=depth: self.go_to(d))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.adjustSize()
        self.move(8, 8)
        self.show()
        self.raise_()

    def go_to(self, depth: int) -> None:
        self.session.set_scope(self.session.scope[:depth])
