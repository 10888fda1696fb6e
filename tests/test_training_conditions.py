"""A trained model keeps its own provenance (training.json): when, from which
commit, with how many threads, and how much CPU other harness processes used
while it trained, so that training seconds measured beside busy ones are
flagged. Latency rows keep the same watch."""
import json
import time

import pytest

from conftest import _fake_harness_process, make_hub_folder
from harness.cli import main
from harness.measure import contention
from harness.measure.contention import Watch, trained_beside
from tests_support.readme_examples import ensure_registered


@pytest.fixture(autouse=True)
def lexicon_system():
    yield ensure_registered()


@pytest.fixture
def slow_training(monkeypatch):
    """The lexicon takes a second to train: long enough to watch."""
    lexicon = ensure_registered()
    fast = lexicon.train

    def train(self, *args, **kwargs):
        time.sleep(1.0)
        return fast(self, *args, **kwargs)

    monkeypatch.setattr(lexicon, "train", train)


@pytest.fixture
def only(monkeypatch):
    """See only the given harness process: this machine may run real ones."""
    real = contention.other_harness_processes

    def restrict(pid):
        monkeypatch.setattr(contention, "other_harness_processes",
                            lambda: [p for p in real() if p == pid])
    return restrict


def _run(data, tmp_path, *extra, systems="lexicon"):
    return main(["run", "--systems", systems, "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs"), *extra])


def _training(tmp_path) -> dict:
    [path] = (tmp_path / "runs").glob("B/lexicon/*/training.json")
    return json.loads(path.read_text())


def test_the_watch_samples_until_the_stage_ends_and_not_after(monkeypatch):
    calls = []
    monkeypatch.setattr(contention, "snapshot", lambda: calls.append(1) or {
        "other_harness_processes": [], "load_1min": 0.5, "cpus": 2})
    with Watch(interval=0.01) as watch:
        while len(calls) < 4:
            time.sleep(0.01)
    taken = len(watch.samples)
    time.sleep(0.05)
    assert len(watch.samples) == taken >= 5   # start, three or more between, end
    assert watch.summary()["samples"] == taken


def test_the_watch_measures_the_cpu_other_harness_processes_use(busy_harness_process, only):
    only(busy_harness_process)
    with Watch(interval=0.2) as watch:
        time.sleep(1.5)
    summary = watch.summary()
    assert busy_harness_process in summary["other_harness_processes"]
    assert summary["others_mean_cores"] >= contention.BUSY_CORES
    assert trained_beside({"contention": summary})


def test_a_harness_process_that_only_waits_is_present_but_not_busy(other_harness_process,
                                                                    only):
    only(other_harness_process)
    with Watch(interval=0.2) as watch:
        time.sleep(1.0)
    summary = watch.summary()
    assert other_harness_process in summary["other_harness_processes"]
    assert summary["others_mean_cores"] < contention.BUSY_CORES
    assert not trained_beside({"contention": summary})


def test_a_run_trained_alone_says_so_and_keeps_its_record_when_republished(tmp_path,
                                                                         monkeypatch):
    # Alone whatever else this machine runs (the next test sees a real one).
    monkeypatch.setattr(contention, "other_harness_processes", lambda: [])
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path) == 0
    training = _training(tmp_path)
    assert training["contention"]["other_harness_processes"] == []
    assert training["contention"]["samples"] >= 2
    assert training["resumed_from_checkpoint"] is False
    assert training["environment"]["git_commit"] and training["started"]
    report = (tmp_path / "r" / "B.md").read_text()
    assert "alone: no other harness process in" in report
    assert "Training conditions (training seconds are a system's own only when trained " \
           "alone): alone" in report

    assert _run(data, tmp_path, "--latency-only") == 0   # re-timed: the training record stays
    published = json.loads((tmp_path / "r" / "B.json").read_text())["systems"]["lexicon"]
    assert published["training"] == training


def test_a_run_trained_beside_a_busy_harness_process_is_flagged(tmp_path, slow_training,
                                                                busy_harness_process, only):
    only(busy_harness_process)
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path) == 0
    training = _training(tmp_path)
    assert busy_harness_process in training["contention"]["other_harness_processes"]
    assert trained_beside(training)
    report = (tmp_path / "r" / "B.md").read_text()
    assert "**trained beside busy harness processes**" in report
    summary = report[report.index("Training conditions"):].split("\n")[0]
    assert "beside busy harness processes" in summary


def test_the_findings_flag_contenders_trained_beside_busy_processes(
        two_lexicons, tmp_path, slow_training, busy_harness_process, only):
    only(busy_harness_process)
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path, systems=",".join(two_lexicons)) == 0
    md = (tmp_path / "r" / "B.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Cost against quality")]
    flag = "**Trained beside other harness processes** (training seconds may be above their own): "
    [line] = [l for l in findings.splitlines() if flag in l]
    assert all(name in line.split(flag)[1] for name in two_lexicons)


def test_an_early_record_without_cpu_use_counts_presence():
    """Records kept before others' CPU use was measured know only who was there."""
    from harness.reporting.reports import trained_line

    early = {"environment": {}, "contention": {"samples": 4, "interval_s": 30.0,
                                               "beside_share": 0.5,
                                               "other_harness_processes": [7]}}
    assert trained_beside(early)
    assert "in 2 of 4 samples (one every 30.0 s), their CPU use not measured" in \
           trained_line(early)
    assert not trained_beside(early | {"contention": {"other_harness_processes": []}})


def test_the_watch_counts_the_time_its_process_was_stopped(monkeypatch):
    """A training paused with SIGSTOP (to time another job) keeps counting wall
    seconds; the watch sees its samples come late and says for how long."""
    clock = iter(t for t in [0.0, 1.0, 2.0, 12.0, 13.0] for _ in ("start", "end"))
    monkeypatch.setattr(contention.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(contention.time, "process_time", lambda: 0.0)   # stopped: no CPU
    monkeypatch.setattr(contention, "snapshot", lambda: {
        "other_harness_processes": [], "load_1min": 0.1, "cpus": 2})
    watch = Watch(interval=1.0)
    for _ in range(5):
        watch._sample()
    assert watch.summary()["stalled_seconds"] == 9.0   # a 10 s gap where 1 s was due



def test_a_stop_that_lands_while_the_watch_reads_proc_counts_too(monkeypatch):
    """The stop falls inside a sample (its thread, waiting for the GIL behind
    busy work, spends most of its time there): the wait was on time, the
    sample ended 10 s late."""
    clock = iter([0.0, 0.0, 1.0, 1.0, 2.0, 12.0, 13.0, 13.0])   # each sample's start and end
    monkeypatch.setattr(contention.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(contention.time, "process_time", lambda: 0.0)
    monkeypatch.setattr(contention, "snapshot", lambda: {
        "other_harness_processes": [], "load_1min": 0.1, "cpus": 2})
    watch = Watch(interval=1.0)
    for _ in range(4):
        watch._sample()
    assert watch.summary()["stalled_seconds"] == 10.0


def test_a_watch_that_reads_no_sample_says_so_and_not_alone(monkeypatch):
    """Where /proc cannot be read, no other process can be seen: that is not
    "alone", and neither the training line nor a latency row may say it is."""
    from harness.reporting.findings import _training_condition
    from harness.reporting.reports import timing_conditions, trained_line

    real_path = contention.Path
    monkeypatch.setattr(contention, "Path", lambda p: real_path(
        "/nonexistent-proc" if str(p) == "/proc" else p))
    with pytest.raises(OSError, match="/proc is not readable"):
        contention._processes()
    with Watch(interval=60.0) as watch:
        pass
    seen = watch.summary()
    assert seen["samples"] == 0 and seen["sampling_errors"] == 2
    training = {"environment": {}, "contention": seen}
    assert contention.training_unwatched(training) and not trained_beside(training)
    assert "**not known what shared the machine**: the watch read 0 of its samples " \
           "(2 failed), too few to measure others' CPU use" in trained_line(training)
    assert "alone" not in trained_line(training)
    assert _training_condition(training) == "not known (the watch read too few samples)"
    row = {"batch_size": 16, "contention": seen}
    assert "**Not known what shared the machine** while batch 16 was timed" in \
           timing_conditions([row])
    one = seen | {"samples": 1, "sampling_errors": 1, "others_mean_cores": 0.0}
    assert contention.unwatched(one)   # one sample measures no CPU use: its 0.0 is not "alone"
    watched = {"batch_size": 1, "contention": seen | {"samples": 3, "sampling_errors": 0}}
    assert not contention.unwatched(watched["contention"])
    assert timing_conditions([watched]) == ""


def _spin(seconds: float):
    """A predict function that keeps this process busy for `seconds` a batch."""
    def predict(batch):
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            pass
        return [["O"] * len(s) for s in batch]
    return predict


@pytest.mark.parametrize("busy", [True, False])
def test_a_latency_row_is_flagged_beside_a_busy_harness_process_only(
        busy, request, only, monkeypatch):
    """Latency rows keep the same watch as training: a harness process that
    only waits (on a run lock, say) does not make a speed below its own."""
    from harness.measure import latency
    from harness.reporting.reports import timing_conditions

    pid = request.getfixturevalue("busy_harness_process" if busy else "other_harness_process")
    only(pid)
    monkeypatch.setattr(latency, "WATCH_INTERVAL", 0.2)
    row = latency.measure(_spin(0.25), [["a"]], batch_size=1, warmup_batches=0,
                          timed_batches=4)
    assert pid in row["contention"]["other_harness_processes"]
    assert contention.shared(row) is busy
    flag = timing_conditions([row])
    assert ("**Measured beside busy harness processes** (1 seen, pids " in flag) is busy
    if busy:
        assert "(batch 1: " in flag and " cores on average)" in flag


def test_latency_rows_timed_while_stopped_and_early_rows_are_flagged():
    from harness.reporting.reports import timing_conditions

    stopped = {"batch_size": 8, "contention": {"other_harness_processes": [],
                                               "others_mean_cores": 0.0, "stalled_seconds": 41.7}}
    early = {"batch_size": 1, "contention": {"other_harness_processes": [9], "load_1min": 2.0}}
    assert contention.stalled(stopped) == 41.7 and not contention.shared(stopped)
    assert contention.shared(early)   # an early row kept presence only
    flags = timing_conditions([early, stopped])
    assert "**Measured beside busy harness processes** (1 seen, pids 9)" in flags
    assert "**The timing process was stopped or starved** (batch 8: 42 s)" in flags
    assert timing_conditions([{"batch_size": 1, "contention": {
        "other_harness_processes": [9], "others_mean_cores": 0.01}}]) == ""


SPIN = "import time\nt = time.time()\nwhile time.time() - t < 60: pass"


def test_a_busy_process_that_starts_between_two_samples_counts_all_its_use(only):
    """A row shorter than the interval has two samples: a process born
    between them used all its CPU time beside it."""
    with Watch(interval=60) as watch:
        born = _fake_harness_process(SPIN)
        only(next(born))
        time.sleep(1.0)
    born.close()
    summary = watch.summary()
    assert summary["samples"] == 2 and summary["others_mean_cores"] >= contention.BUSY_CORES


def test_a_busy_process_that_ends_between_two_samples_counts_as_possibly_busy(only):
    """Its use after it was last seen is unknown: its last interval counts as
    one core, as an upper bound."""
    running = _fake_harness_process(SPIN)
    only(next(running))
    with Watch(interval=60) as watch:
        running.close()   # killed
        time.sleep(0.5)
    summary = watch.summary()
    assert summary["others_unseen_seconds"] > 0 and summary["others_mean_cores_bound"] >= 0.9
    assert contention.busy_beside(summary)
    assert "(up to " in contention.cores_used(summary)


def test_a_call_holding_the_gil_past_the_interval_is_not_a_stall(monkeypatch):
    """The watch's thread wakes late while a C call holds the GIL, but its
    process was computing all along: not stopped."""
    monkeypatch.setattr(contention, "other_harness_processes", lambda: [])
    wall, cpu = time.monotonic(), time.process_time()
    with Watch(interval=0.05) as watch:
        for _ in range(3):
            sum(range(20_000_000))
    share = (time.process_time() - cpu) / (time.monotonic() - wall)
    if share < 0.6:   # then the watch is right to call it starved
        pytest.skip(f"this process had {share:.0%} of a core: other work starved it")
    assert watch.summary()["stalled_seconds"] == 0.0



def test_a_latency_row_timed_while_its_process_was_stopped_says_so():
    """A real SIGSTOP in the middle of a row: the row's seconds include the
    pause, and the report says so."""
    import json as json_
    import os
    import signal
    import subprocess
    import sys

    from harness.reporting.reports import timing_conditions

    code = ("import json, time\nfrom harness.measure import latency\n"
            "latency.WATCH_INTERVAL = 0.2\nprint('ready', flush=True)\n"
            "def spin(batch):\n    t = time.perf_counter()\n"
            "    while time.perf_counter() - t < 0.5: pass\n    return [['O'] for _ in batch]\n"
            "print(json.dumps(latency.measure(spin, [['a']], batch_size=1, warmup_batches=0,"
            " timed_batches=6)))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"   # imported: a first import can take seconds
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGCONT)
    row = json_.loads(proc.communicate(timeout=60)[0])
    assert row["contention"]["stalled_seconds"] >= 1.0, row["contention"]
    assert "**The timing process was stopped or starved** (batch 1: " in timing_conditions([row])

def test_the_findings_flag_contenders_timed_while_stopped(two_lexicons, tmp_path, monkeypatch):
    monkeypatch.setattr(contention, "other_harness_processes", lambda: [])
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path, systems=",".join(two_lexicons)) == 0
    stopped = tmp_path / "r" / "results" / "B" / f"{two_lexicons[0]}.json"
    result = json.loads(stopped.read_text())
    assert all(row["contention"]["stalled_seconds"] == 0 for row in result["latency"])
    result["latency"][0]["contention"]["stalled_seconds"] = 30.0
    stopped.write_text(json.dumps(result))
    assert main(["report", "--benchmark", "B", "--reports", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "B.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Cost against quality")]
    flag = "**Timed while the timing process was stopped or starved** (speeds below their own): "
    [line] = [l for l in findings.splitlines() if flag in l]
    assert line.split(flag)[1].rstrip(".") == two_lexicons[0]
    assert "**Timed beside busy harness processes**" not in findings


def test_the_findings_name_contenders_whose_watch_read_no_sample(two_lexicons, tmp_path,
                                                                 monkeypatch):
    def unreadable():
        raise OSError("/proc is not readable here")

    monkeypatch.setattr(contention, "snapshot", unreadable)
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path, systems=",".join(two_lexicons)) == 0
    md = (tmp_path / "r" / "B.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Cost against quality")]
    flag = ("**Not known what shared the machine** (the watch read too few samples) while these "
            "trained or were timed: ")
    [line] = [l for l in findings.splitlines() if flag in l]
    assert sorted(line.split(flag)[1].rstrip(".").split(", ")) == sorted(two_lexicons)
    assert "Training conditions (training seconds are a system's own only when trained alone): " \
           "not known (the watch read too few samples)" in md
