import numpy as np
import pytest

from harness.measure.latency import bootstrap_ci, measure, peak_rss_mb


def test_warmup_batches_are_not_timed_and_batches_are_full():
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return [["O"] * len(s) for s in batch]

    sentences = [["a", "b"], ["c"], ["d", "e", "f"]]
    m = measure(predict, sentences, batch_size=4, warmup_batches=2, timed_batches=5, seed=0)
    assert calls == [4] * 7
    assert m["timed_batches"] == 5 and m["warmup_batches"] == 2
    lo, hi = m["sentences_per_s_ci95"]
    assert lo <= m["sentences_per_s"] <= hi
    assert m["ms_per_sentence_p50"] <= m["ms_per_sentence_p95"]
    assert m["words_per_s"] > 0


def test_bootstrap_is_deterministic_with_seed():
    secs = np.array([0.1, 0.2, 0.15, 0.12, 0.3])
    sizes = np.full(5, 8.0)
    assert bootstrap_ci(sizes, secs, seed=3) == bootstrap_ci(sizes, secs, seed=3)
    lo, hi = bootstrap_ci(sizes, secs, seed=3)
    assert lo < sizes.sum() / secs.sum() < hi


def test_latency_table_shows_how_the_system_ran():
    from harness.reporting.reports import latency_table

    row = {"batch_size": 1, "sentences_per_s": 2.0, "sentences_per_s_ci95": [1.5, 2.5],
           "words_per_s": 40.0, "ms_per_sentence_mean": 500.0, "ms_per_sentence_p50": 480.0,
           "ms_per_sentence_p95": 700.0, "timed_batches": 30, "warmup_batches": 2,
           "peak_rss_mb": 900.0, "peak_memory_window": "measurement",
           "cuda_max_allocated_mb": 512.0}
    runtime = {"device": "cpu", "dtype": "float32", "threads": 2, "batch_size": 1,
               "decoding": "greedy, KV cache"}
    text = latency_table([row], runtime)
    assert "| cpu" in text and "2.0 [1.5, 2.5]" in text
    assert "CUDA max allocated MiB" in text and "| 512" in text
    assert "Peak memory: over the warm-up and timed batches" in text
    assert text.rstrip().endswith("decoding: greedy, KV cache")


def test_peak_memory_is_measured_over_the_timed_window_only():
    # A large allocation made and freed before measuring must not show up as
    # the latency peak (it would, were the process's lifetime peak reported).
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch the pages so they are resident
    peak_before = peak_rss_mb()
    del ballast
    m = measure(lambda b: [["O"] * len(s) for s in b], [["a"]], batch_size=1,
                warmup_batches=1, timed_batches=3, seed=0)
    if m["peak_memory_window"] != "measurement":
        pytest.skip("this kernel cannot reset the peak-RSS window (/proc/self/clear_refs)")
    assert peak_before > 400
    assert m["peak_rss_mb"] < peak_before - 300


def test_training_throughput_is_sentences_over_epoch_seconds():
    from harness.reporting.reports import epoch_table

    history = [{"epoch": 1, "train_loss": 0.5, "train_seconds": 40.0, "eval_seconds": 3.25},
               {"epoch": 2, "train_loss": 0.3}]  # an epoch without timing shows a dash
    lines = epoch_table(history, train_sentences=1000).splitlines()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    assert cells[0][-2:] == ["train sentences/s", "validation s"]
    assert cells[2][-2:] == ["25.0", "3.2"] and cells[3][-2:] == ["–", "–"]
