"""PNG figures linked from the Markdown reports (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def learning_curves(history: list[dict], title: str, path: Path) -> Path | None:
    """Loss (left) and validation P/R/F1 (right) per epoch."""
    if not history or not available():
        return None
    plt = _pyplot()
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(9, 3.4))
    _epoch_lines(ax_loss, history, {"train_loss": "train loss", "eval_loss": "eval loss"}, "loss")
    _epoch_lines(ax_f1, history, {k: k for k in ("precision", "recall", "f1")},
                 "validation score")
    ax_f1.set_ylim(0, 1)
    fig.suptitle(title)
    return _save(plt, fig, path)


def _epoch_lines(ax, history: list[dict], keys: dict[str, str], ylabel: str) -> None:
    """One line per history key (skipping epochs without a value), on epochs."""
    epochs = [h["epoch"] for h in history]
    for key, label in keys.items():
        pts = [(e, h[key]) for e, h in zip(epochs, history) if h.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_matrix(conf: dict, title: str, path: Path) -> Path | None:
    if not available():
        return None
    import numpy as np

    plt = _pyplot()
    labels, m = conf["labels"], np.asarray(conf["matrix"])
    size = 1.0 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    shown = np.log1p(m)
    im = ax.imshow(shown, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted type (O: no entity with this span)")
    ax.set_ylabel("gold type")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    ax.set_title(title)
    return _save(plt, fig, path)


def f1_chart(series: dict[str, list[tuple[float, float, float, float]]], xlabel: str,
             title: str, path: Path, lines: bool = False) -> Path | None:
    """Test F1 with its 95% interval against a quantity on a log scale: one
    series per system, each point (x, F1, CI low, CI high); `lines` joins a
    system's points and shades its interval (a learning curve), else each
    system is one labelled point with error bars."""
    series = {k: [p for p in v if p[0] and p[0] > 0] for k, v in series.items()}
    series = {k: v for k, v in series.items() if v}
    if not series or not available():
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, points in series.items():
        xs, f1, lo, hi = (list(c) for c in zip(*sorted(points)))
        if lines:   # a curve: the line through the means, its interval as a band
            (line,) = ax.plot(xs, f1, marker="o", label=name)
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            continue
        yerr = [[f - low for f, low in zip(f1, lo)], [high - f for f, high in zip(f1, hi)]]
        ax.errorbar(xs, f1, yerr=yerr, marker="o", capsize=3, label=name, linestyle="none")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test F1 (mean over seeds, 95% interval)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title)
    return _save(plt, fig, path)
