"""Progress in a log file: a line per tenth of the work, with elapsed time and what is left."""
import io

from harness.core import progress as progress_mod
from harness.core.progress import ProgressLog, clock, counter, progress


def test_a_line_at_each_tenth():
    out = io.StringIO()
    log = ProgressLog("llm generate", 200, stream=out)
    for done in range(1, 201):
        log.update(done)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("[harness] llm generate: 20/200 (10%), ")
    assert "elapsed, about" in lines[0] and lines[-1].startswith("[harness] llm generate: 200/200 (100%)")


def test_a_resumed_run_starts_after_its_finished_steps():
    out = io.StringIO()
    log = ProgressLog("steps", 100, stream=out, first=55)
    for done in range(56, 101):
        log.update(done)
    assert [line.split(": ")[1].split(" ")[0] for line in out.getvalue().splitlines()] == [
        "60/100", "70/100", "80/100", "90/100", "100/100"]


def test_log_lines_when_not_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(progress_mod, "progress_enabled", lambda: False)
    assert list(progress(range(30), desc="bert predict")) == list(range(30))
    assert capsys.readouterr().err.count("[harness] bert predict:") == 10
    items = [1, 2, 3]
    assert progress(items, disable=True) is items


def test_counted_work_logs_when_not_a_terminal(monkeypatch, capsys):
    """Work that finishes in uneven jumps (decoding rows leaving a batch)."""
    monkeypatch.setattr(progress_mod, "progress_enabled", lambda: False)
    done = counter("llm generate", 50)
    for finished in (3, 3, 17, 30, 49, 50):
        done.update(finished)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == [
        "17/50", "30/50", "49/50", "50/50"]
    counter("llm generate", 50, disable=True).update(50)
    assert capsys.readouterr().err == ""


def test_clock():
    assert clock(65) == "1m05s" and clock(3 * 3600 + 120) == "3h02m"
