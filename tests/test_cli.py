import subprocess
import sys

from conftest import ROOT, write_jsonl, TINY


def harness(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_help_for_each_command():
    for cmd in ("run", "systems", "benchmarks"):
        out = harness(cmd, "--help")
        assert out.returncode == 0 and "usage" in out.stdout


def test_systems_lists_bert():
    out = harness("systems")
    assert out.returncode == 0 and "bert" in out.stdout


def test_unknown_system_is_one_line_error(tmp_path):
    out = harness("run", "--systems", "nope", "--reports", str(tmp_path / "r"),
                  "--runs", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        out.stderr.strip().splitlines()[0]] and "unknown system 'nope'" in out.stderr


def test_malformed_data_names_file_and_line(tmp_path):
    for stem in ("train", "val", "test"):
        write_jsonl(tmp_path / "d" / stem / f"{stem}_en.jsonl", TINY)
    bad = write_jsonl(tmp_path / "d" / "val" / "val_en.jsonl", [TINY[0], TINY[1], "{oops"])
    out = harness("run", "--systems", "bert", "--data", str(tmp_path / "d"),
                  "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert f"error: {bad}:3: not valid JSON" in out.stderr


def test_unknown_benchmark(tmp_path):
    out = harness("run", "--benchmark", "Z", "--reports", str(tmp_path / "r"))
    assert out.returncode == 2 and "unknown benchmark" in out.stderr


def test_missing_local_data_names_the_flag_and_the_variable(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "HARNESS_DATA"}
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--systems", "spacy-trained",
                          "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 2
    assert "--data" in out.stderr and "HARNESS_DATA" in out.stderr
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--systems", "spacy-trained",
                          "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=env | {"HARNESS_DATA": str(tmp_path / "nowhere")})
    assert out.returncode == 2
    assert f"{tmp_path / 'nowhere'}: data folder not found (from $HARNESS_DATA)" in out.stderr


def test_benchmarks_lists_schemes_and_profiles():
    out = harness("benchmarks")
    assert out.returncode == 0
    assert "label scheme B" in out.stdout and "local folder from --data or $HARNESS_DATA" in out.stdout
    assert "languages: de, en, es" in out.stdout
