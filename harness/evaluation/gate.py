"""The CI gate: compare reported metrics with floors from a TOML file.

    [B.bert]          # benchmark B, system bert
    f1 = 0.10         # test micro F1
    accuracy = 0.85   # any key of the result's "test" block, or a dotted
    "per_type.LOC.f1" = 0.2   # path into it
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from harness.evaluation.results import RunResult


def _lookup(block: dict, dotted: str):
    value = block
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def check(thresholds_path: Path, reports_dir: Path) -> list[str]:
    """Return one line per failure; empty when every floor holds."""
    thresholds_path = Path(thresholds_path)
    try:
        floors = tomllib.loads(thresholds_path.read_text())
    except FileNotFoundError:
        return [f"{thresholds_path}: thresholds file not found"]
    except tomllib.TOMLDecodeError as err:
        return [f"{thresholds_path}: not valid TOML ({err})"]
    failures = []
    for bench, systems in floors.items():
        report = Path(reports_dir) / f"{bench}.json"
        if not report.is_file():
            failures.append(f"{bench}: no results ({report} missing)")
            continue
        results = {name: RunResult.from_dict(r, f"{report}: {name}")
                   for name, r in json.loads(report.read_text())["systems"].items()}
        for system, metrics in systems.items():
            if system not in results:
                failures.append(f"{bench}/{system}: no result in {report}")
                continue
            for metric, floor in metrics.items():
                value = _lookup(results[system].test, metric)
                if not isinstance(value, (int, float)):
                    failures.append(f"{bench}/{system} {metric}: no such metric")
                elif value < floor:
                    failures.append(f"{bench}/{system} {metric} = {value:.4f} is below its floor {floor}")
    return failures
