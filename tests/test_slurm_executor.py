"""The grid on a real SLURM cluster (one node, started here): the same
results as the local executor, finished points not submitted again, and a
failed point named with its log while the others finish."""
import json
import os

import pytest

from conftest import TINY, make_hub_folder
from harness.cli import main
import slurm_cluster
from tests_support.executor_grid import f1s, grid
from tiny_models import tiny_bert_folder

pytest.importorskip("submitit")
pytest.importorskip("spacy")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    env, stop = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    if env is None:
        pytest.skip(stop)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    yield env
    slurm_cluster.shutdown(stop)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def test_a_grid_on_slurm_gives_the_local_results_and_skips_finished_points(cluster, tmp_path,
                                                                           capsys):
    assert main(grid(tmp_path, "local")) == 0
    assert main(grid(tmp_path, "slurm", "--executor", "slurm", "--slurm-cpus", "1",
                     "--slurm-time", "10", "--slurm-max-jobs", "2")) == 0
    err = capsys.readouterr().err
    assert "submitted 4 point(s) as SLURM job array" in err
    local, slurm = f1s(tmp_path / "reports-local"), f1s(tmp_path / "reports-slurm")
    assert len(local) == 4 and slurm == local
    result = json.loads(next((tmp_path / "reports-slurm/results/B/curve/spacy-trained")
                             .glob("4.json")).read_text())
    assert result["spec"]["environment"]["scheduler"]["SLURM_JOB_ID"]
    assert list((tmp_path / "runs-slurm" / ".slurm").iterdir())      # the jobs' logs
    assert (tmp_path / "reports-slurm" / "B.md").is_file()
    # Run again: every point is finished, nothing is submitted.
    assert main(grid(tmp_path, "slurm", "--executor", "slurm")) == 0
    err = capsys.readouterr().err
    assert err.count("not submitted") == 4 and "submitted" not in err.replace("not submitted", "")


def test_a_failed_point_is_named_with_its_log_and_the_others_finish(cluster, tmp_path, capsys):
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    code = main(["run", "--systems", "spacy-trained,bert", "--benchmark", "B", "--data", str(data),
                 "--epochs", "1", "--latency-batches", "1", "--set", "bert.model=/no/such/model",
                 "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"),
                 "--executor", "slurm", "--slurm-time", "10"])
    err = capsys.readouterr().err
    assert code == 0
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "B/bert" in failed[0] and "log: " in failed[0]
    assert os.path.isfile(failed[0].rsplit("log: ", 1)[1])
    assert list(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == ["spacy-trained"]
    # The rerun, its model found, submits only the failed point.
    model = tiny_bert_folder(tmp_path / "tiny-bert")
    assert main(["run", "--systems", "spacy-trained,bert", "--benchmark", "B", "--data", str(data),
                 "--epochs", "1", "--latency-batches", "1", "--set", f"bert.model={model}",
                 "--set", "bert.max_length=16", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs"), "--executor", "slurm", "--slurm-time", "10"]) == 0
    err = capsys.readouterr().err
    assert "B/spacy-trained (size all, seed 42): finished" in err and "not submitted" in err
    assert "submitted 1 point(s) as SLURM job array" in err
    assert sorted(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == [
        "bert", "spacy-trained"]


def test_a_point_of_two_processes_runs_torchrun_inside_its_allocation(cluster, tmp_path, capsys):
    """--slurm-procs 2: the point's job runs `torchrun --nproc-per-node 2` (gloo
    on CPU); the two processes train together and one writes the result."""
    pytest.importorskip("torch")
    model = tiny_bert_folder(tmp_path / "tiny-bert")
    data = make_hub_folder(tmp_path / "data", TINY * 4)
    code = main(["run", "--systems", "bert", "--benchmark", "B", "--data", str(data),
                 "--epochs", "1", "--batch-size", "2", "--latency-batches", "1",
                 "--set", f"model={model}", "--set", "max_length=16",
                 "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"),
                 "--executor", "slurm", "--slurm-procs", "2", "--slurm-cpus", "2",
                 "--slurm-time", "10"])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    result = json.loads((tmp_path / "r" / "B.json").read_text())["systems"]["bert"]
    assert result["spec"]["world_size"] == 2 and result["runtime"]["world_size"] == 2
    assert result["spec"]["environment"]["scheduler"]["SLURM_JOB_ID"]
    logs = "".join(p.read_text() for p in (tmp_path / "runs" / ".slurm").rglob("*.err"))
    assert "torch.distributed.run --standalone --nproc-per-node 2" in logs
    assert logs.count("B/bert: test P") == 1     # one process speaks for both
    # Run again: the point of two processes is found finished, not submitted again.
    assert main(["run", "--systems", "bert", "--benchmark", "B", "--data", str(data),
                 "--epochs", "1", "--batch-size", "2", "--latency-batches", "1",
                 "--set", f"model={model}", "--set", "max_length=16",
                 "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"),
                 "--executor", "slurm", "--slurm-procs", "2"]) == 0
    assert "not submitted" in capsys.readouterr().err


def _training(logs, job_id: str) -> bool:
    """Whether the job's log says it has begun to train (so the cancel lands mid-run)."""
    return any("training on" in p.read_text(errors="replace")
               for p in logs.rglob(f"{job_id}*.err"))


def test_a_point_killed_with_scancel_is_named_and_the_rerun_submits_only_it(cluster, tmp_path,
                                                                            capsys):
    """A job cancelled while it runs writes no result: the command names the
    point and its log instead of waiting for it, and the rerun submits it alone."""
    import subprocess
    import threading
    import time

    pytest.importorskip("torch")
    model = tiny_bert_folder(tmp_path / "tiny-bert")
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    args = ["run", "--systems", "spacy-trained,bert", "--benchmark", "B", "--data", str(data),
            "--latency-batches", "1", "--set", f"bert.model={model}", "--set",
            "bert.max_length=16", "--set", "bert.epochs=200", "--set", "spacy-trained.epochs=1",
            "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"),
            "--executor", "slurm", "--slurm-time", "10", "--slurm-max-jobs", "2"]
    codes = []
    command = threading.Thread(target=lambda: codes.append(main(args)))
    command.start()
    victim = None
    for _ in range(1500):   # the bert point (task 1), once it trains
        running = subprocess.run(["squeue", "-h", "-r", "-t", "R", "-o", "%i"],
                                 capture_output=True, text=True).stdout.split()
        victim = next((j for j in running if j.endswith("_1")), None)
        if victim and _training(tmp_path / "runs" / ".slurm", victim):
            break
        time.sleep(0.2)
    assert victim, "the bert point never ran"
    subprocess.run(["scancel", victim], check=True)
    command.join(timeout=300)
    assert codes == [0]
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and f"B/bert (size all, seed 42): job {victim} FAILED" in failed[0]
    assert "cancelled (scancel)" in failed[0] and "log: " in failed[0]
    # The rerun finds spacy-trained finished and submits the cancelled point alone.
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "B/spacy-trained (size all, seed 42): finished" in err
    assert "submitted 1 point(s) as SLURM job array" in err
