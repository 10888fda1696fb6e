"""The grid on Ray (started on this machine by the executor, or a running
cluster given by its address): the same results as the local executor,
finished points not submitted again, and a failed point named with its log
while the others finish."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import TINY, make_hub_folder
from harness.cli import main
from tests_support.executor_grid import f1s, grid
from tiny_models import tiny_bert_folder

pytest.importorskip("ray")
pytest.importorskip("spacy")


@pytest.fixture(autouse=True)
def own_ray(monkeypatch):
    """Each test starts its own Ray unless it names a cluster: without an
    address, ray.init() joins any Ray still running on the machine (one a test
    stopped a moment ago, or a user's).  Token authentication off throughout:
    the test process keeps the mode of the first Ray it joined."""
    monkeypatch.setenv("RAY_ADDRESS", "local")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")


def test_a_grid_on_ray_gives_the_local_results_and_skips_finished_points(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(grid(tmp_path, "local", relative=True)) == 0
    assert main(grid(tmp_path, "ray", "--executor", "ray", "--ray-max-jobs", "2",
                     "--ray-cpus", "0.5", relative=True)) == 0
    err = capsys.readouterr().err
    assert "submitting 4 point(s) as Ray tasks" in err and err.count(": finished") == 4
    local, on_ray = f1s(tmp_path / "reports-local"), f1s(tmp_path / "reports-ray")
    assert len(local) == 4 and on_ray == local
    result = json.loads(next((tmp_path / "reports-ray/results/B/curve/spacy-trained")
                             .glob("4.json")).read_text())
    where = result["spec"]["environment"]["scheduler"]
    assert where["RAY_TASK_ID"] and where["RAY_RESOURCES"] == {"CPU": 0.5}
    logs = list((tmp_path / "runs-ray" / ".ray").glob("*/*.log"))
    assert len(logs) == 4 and all("training on" in p.read_text() for p in logs)
    assert (tmp_path / "reports-ray" / "B.md").is_file()
    # Run again: every point is finished, nothing is submitted and Ray is not started.
    assert main(grid(tmp_path, "ray", "--executor", "ray", relative=True)) == 0
    err = capsys.readouterr().err
    assert err.count("not submitted") == 4 and "Ray tasks" not in err


def test_a_failed_point_is_named_with_its_log_and_the_rerun_submits_only_it(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    args = ["run", "--systems", "spacy-trained,bert", "--benchmark", "B", "--data", str(data),
            "--epochs", "1", "--latency-batches", "1", "--reports", str(tmp_path / "r"),
            "--runs", str(tmp_path / "runs"), "--executor", "ray", "--ray-cpus", "1"]
    assert main([*args, "--set", "bert.model=/no/such/model"]) == 0
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "B/bert" in failed[0] and "/no/such/model" in failed[0]
    log_file = failed[0].rsplit("log: ", 1)[1]
    assert os.path.isfile(log_file) and "Traceback" in open(log_file).read()
    assert list(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == ["spacy-trained"]
    model = tiny_bert_folder(tmp_path / "tiny-bert")
    assert main([*args, "--set", f"bert.model={model}", "--set", "bert.max_length=16"]) == 0
    err = capsys.readouterr().err
    assert "B/spacy-trained (size all, seed 42): finished" in err and "not submitted" in err
    assert "submitting 1 point(s) as Ray tasks" in err
    assert sorted(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == [
        "bert", "spacy-trained"]


def test_ray_flags_need_the_ray_executor(tmp_path, capsys):
    assert main(["run", "--systems", "spacy-trained", "--benchmark", "B", "--ray-cpus", "2",
                 "--runs", str(tmp_path / "runs")]) == 2
    assert "--ray-cpus: only with --executor ray" in capsys.readouterr().err


@pytest.fixture
def ray_head(tmp_path):
    """A running one-node Ray cluster (`ray start --head --block`), stopped
    afterwards (token authentication off, as for every test here)."""
    short = tempfile.mkdtemp(prefix="ray-", dir="/tmp")   # Ray's socket paths allow 107 bytes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
         "--disable-usage-stats", "--temp-dir", short],
        stdout=open(tmp_path / "head.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if head.poll() is not None:
                pytest.skip(f"ray start failed: {(tmp_path / 'head.log').read_text()[-500:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", port
    finally:
        head.terminate()
        head.wait(60)
        for _ in range(120):   # until its GCS is gone: ray.init() would find and join it
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.5)
        shutil.rmtree(short, ignore_errors=True)


def test_a_running_cluster_given_by_its_address_runs_the_points(ray_head, tmp_path, capsys):
    address, port = ray_head
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    assert main(["run", "--systems", "spacy-trained", "--benchmark", "B", "--data", str(data),
                 "--epochs", "1", "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs"), "--executor", "ray",
                 "--ray-address", address]) == 0
    err = capsys.readouterr().err
    assert f":{port} (1 CPUs" in err and "B/spacy-trained (size all, seed 42): finished" in err
    result = json.loads((tmp_path / "r" / "results" / "B" / "spacy-trained.json").read_text())
    assert result["spec"]["environment"]["scheduler"]["RAY_ADDRESS"].endswith(f":{port}")


def test_an_impossible_request_is_refused_not_queued_forever(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    code = main(["run", "--systems", "spacy-trained", "--benchmark", "B", "--data", str(data),
                 "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"),
                 "--executor", "ray", "--ray-gpus", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "no Ray node has 1 CPUs and 1 GPUs for a point" in err


def test_a_tasks_streams_go_to_its_log_and_come_back(tmp_path):
    """What a worker writes to its file descriptors 1 and 2 during a point (as
    libraries' C code and Python's streams do) lands in the point's log, and
    the descriptors are the worker's own again afterwards."""
    from harness.run.ray_tasks import _streams_to

    before = os.fstat(1).st_ino, os.fstat(2).st_ino
    with open(tmp_path / "point.log", "ab", buffering=0) as out, _streams_to(out.fileno()):
        os.write(1, b"stdout\n")
        os.write(2, b"stderr\n")
    assert (os.fstat(1).st_ino, os.fstat(2).st_ino) == before
    assert (tmp_path / "point.log").read_text() == "stdout\nstderr\n"
