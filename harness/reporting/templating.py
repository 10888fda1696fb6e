"""Markdown written from Jinja2 templates (`harness/reporting/templates/`), with
the number formats every report shares."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from harness.reporting.findings import format_p

TEMPLATES = Path(__file__).parent / "templates"


def _fixed(digits: int):
    return lambda x: "–" if x is None else f"{x:.{digits}f}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}x"


def _eps(aso: dict | None) -> str:
    if not aso:
        return "–"
    if aso["eps_min"] < 0.5:
        return f"{aso['eps_min']:.2f} ({aso['better']} better)"
    return f"{aso['eps_min']:.2f} (no order shown)"


@cache
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(f0=_fixed(0), f1=_fixed(1), f4=_fixed(4), ratio=_ratio, p=format_p,
                       eps=_eps)
    return env


def render(template: str, **values) -> str:
    return environment().get_template(template).render(**values).strip()
