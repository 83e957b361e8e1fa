"""The Queue panel and the Vary dialog, driven like an artist would, on stub nodes."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import queue_stubs
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from studio.engine import Cache, Engine
from studio.queue import JobState, JobStore, QueueEventKind, new_job, variation_jobs
from studio.ui.queue_panel import QueuePanel
from studio.ui.vary_dialog import VaryDialog


@pytest.fixture
def registry():
    return queue_stubs.registry()


@pytest.fixture
def store(tmp_path: Path):
    with JobStore(tmp_path / "queue.sqlite") as store:
        yield store


@pytest.fixture
def panel(qtbot, store, registry, tmp_path):
    widget = QueuePanel(
        store, lambda: Engine(registry, Cache(tmp_path / "cache", disk_min_seconds=0), device="cpu")
    )
    qtbot.addWidget(widget)
    widget.resize(900, 300)
    widget.show()
    yield widget
    widget.shutdown()


def finished(count: int) -> Any:
    seen: list[str] = []

    def check(event: Any) -> bool:
        if event.kind is QueueEventKind.JOB_FINISHED:
            seen.append(event.job_id)
        return len(seen) >= count

    return check


def jobs_for(registry, out: Path, values=(1, 2, 3)) -> list:
    graph = queue_stubs.chain(registry, "Up", "Save")
    result = []
    for value in values:
        graph.find("Up").set_param("value", float(value))
        result.append(new_job(graph, name=f"job {value}", output_dir=out))
    return result


def rows(panel: QueuePanel) -> list[tuple[str, str]]:
    tree = panel.tree
    return [
        (tree.topLevelItem(i).text(0), tree.topLevelItem(i).text(1))
        for i in range(tree.topLevelItemCount())
    ]


def test_queued_jobs_render_in_the_background_and_show_their_results(
    qtbot, panel, registry, tmp_path
):
    jobs = jobs_for(registry, tmp_path / "out")
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(3)):
        panel.add_jobs(jobs)
    assert rows(panel) == [("job 1", "done"), ("job 2", "done"), ("job 3", "done")]
    assert panel.tree.topLevelItem(0).text(2).endswith("x_1.npy")
    assert not panel.run_button.isEnabled()


def test_reorder_pause_resume_cancel_with_the_buttons(qtbot, panel, store, registry, tmp_path):
    store.add(jobs_for(registry, tmp_path / "out", (1, 2, 3, 4)))
    panel.refresh()
    first = panel.tree.topLevelItem(0)
    panel.refresh()  # nothing moved: rows update in place (scroll and selection stay)
    assert panel.tree.topLevelItem(0) is first
    panel.select([store.jobs()[2].id])
    qtbot.mouseClick(panel.buttons["up"], Qt.MouseButton.LeftButton)
    assert [name for name, _ in rows(panel)] == ["job 1", "job 3", "job 2", "job 4"]
    assert panel.selected_ids() == [store.jobs()[1].id]  # the moved job stays selected
    qtbot.mouseClick(panel.buttons["down"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.buttons["down"], Qt.MouseButton.LeftButton)
    assert [name for name, _ in rows(panel)] == ["job 1", "job 2", "job 4", "job 3"]
    qtbot.mouseClick(panel.buttons["pause"], Qt.MouseButton.LeftButton)
    assert rows(panel)[3] == ("job 3", "paused") and panel.buttons["resume"].isEnabled()
    panel.select([store.jobs()[0].id])
    qtbot.mouseClick(panel.buttons["cancel"], Qt.MouseButton.LeftButton)
    assert rows(panel)[0] == ("job 1", "cancelled")
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(2)):
        panel.start()
    assert [state for _, state in rows(panel)] == ["cancelled", "done", "done", "paused"]
    panel.select([store.jobs()[3].id])
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(1)):
        qtbot.mouseClick(panel.buttons["resume"], Qt.MouseButton.LeftButton)
    assert rows(panel)[3] == ("job 3", "done")
    qtbot.mouseClick(panel.buttons["clear"], Qt.MouseButton.LeftButton)
    assert rows(panel) == []


def test_offers_to_resume_what_a_killed_studio_left(
    qtbot, panel, store, registry, tmp_path, monkeypatch
):
    store.add(jobs_for(registry, tmp_path / "out", (5,)))
    claimed = store.claim(f"{socket.gethostname()}:999999999:gone")  # a dead worker
    assert claimed is not None and store.interrupted()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(1)):
        assert panel.offer_resume()
    assert store.get(claimed.id).state is JobState.DONE and store.get(claimed.id).attempts == 2


def test_declining_to_resume_pauses_the_interrupted_jobs(
    qtbot, panel, store, registry, tmp_path, monkeypatch
):
    store.add(jobs_for(registry, tmp_path / "out", (6,)))
    claimed = store.claim(f"{socket.gethostname()}:999999999:x")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not panel.offer_resume()
    assert store.get(claimed.id).state is JobState.PAUSED and panel.worker is None


def test_contact_sheet_button_hands_over_the_batch(qtbot, panel, store, registry, tmp_path):
    graph = queue_stubs.chain(registry, "Up", "SavePng")
    from studio.queue.variations import parse_vary

    jobs = variation_jobs(
        graph, [parse_vary("Up.value=1..3", graph)], name="b", output_dir=tmp_path
    )
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(3)):
        panel.add_jobs(jobs)
    panel.select([jobs[1].id])
    with qtbot.waitSignal(panel.sheet_requested) as sent:
        qtbot.mouseClick(panel.buttons["sheet"], Qt.MouseButton.LeftButton)
    entries = sent.args[0]
    assert [label for label, _ in entries] == ["value=1", "value=2", "value=3"]
    assert all(path.suffix == ".png" and path.exists() for _, path in entries)


def test_vary_dialog_offers_the_seed_first_and_checks_as_you_type(qtbot, registry):
    graph = queue_stubs.chain(registry, "Up", "Scale")
    dialog = VaryDialog(graph, graph.find("Scale").id)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.param.currentData() == "seed" and dialog.values.text() == "rand:8"
    assert dialog.preview.text().startswith("8 variant(s)") and ok.isEnabled()
    first = dialog.variation.values
    dialog.values.setText("rand:8")  # retyped: the same draw
    assert dialog.variation.values == first
    dialog.param.setCurrentIndex(dialog.param.findData("k"))
    qtbot.keyClicks(dialog.values, "..0")  # "1.0" + "..0" is a downward range: fine
    dialog.values.setText("1..3:0")
    assert "cannot go in steps" in dialog.preview.text() and not ok.isEnabled()
    dialog.values.setText("0.5..1.5:0.5")
    assert dialog.preview.text() == "3 variant(s): 0.5, 1.0, 1.5" and ok.isEnabled()
    assert dialog.variation.label == "Scale.k"
