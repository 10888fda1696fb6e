"""The answer first: for each group of contenders that saw the same training
sentences, their ranking, the seed-aware test between each pair, how many
seeds agree on each ordering, and their cost as ratios to the cheapest.

Built from the published results alone; `templates/findings.md.j2` writes it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from harness.evaluation import contenders
from harness.measure import contention
from harness.evaluation.aggregates import SeedAggregate, aggregate
from harness.reporting import headline
from harness.reporting.published import Seeded, representative
from harness.evaluation.results import RunResult

ALPHA = 0.05


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass(frozen=True)
class Standing:
    name: str
    system: str
    agg: SeedAggregate
    train_seconds: float | None       # all epochs, of the representative seed
    sentences_per_s: float | None     # best batch size, of the representative seed
    train_ratio: float | None = None      # to the cheapest of the group
    inference_ratio: float | None = None  # seconds per sentence, to the fastest


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    test: dict

    @property
    def significant(self) -> bool:
        return self.test["p_value"] < ALPHA

    @property
    def agreement(self) -> str:
        t = self.test
        n = len(t["common_seeds"])
        ahead, name = ((t["first_ahead"], self.first) if t["delta_f1"] >= 0
                       else (t["second_ahead"], self.second))
        other = self.second if name == self.first else self.first
        return f"{name} > {other} in {ahead} of {n} seed{'s' if n > 1 else ''}"


@dataclass(frozen=True)
class Group:
    title: str
    standings: list[Standing]
    pairs: list[Pair]
    machines: str | None = None
    sentence: str = ""
    seeds: int = 1
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"title": self.title, "sentence": self.sentence, "machines": self.machines,
                "ranking": [{"name": s.name, "system": s.system, **s.agg.to_dict(),
                             "train_seconds": s.train_seconds,
                             "sentences_per_s": s.sentences_per_s,
                             "train_ratio": s.train_ratio, "inference_ratio": s.inference_ratio}
                            for s in self.standings],
                "pairs": [{"first": p.first, "second": p.second, **p.test} for p in self.pairs]}


def cost(r: RunResult) -> tuple[float | None, float | None]:
    """(training seconds over all epochs, best inference sentences/s) of one run."""
    seconds = [h.get("train_seconds") for h in r.history if h.get("train_seconds")]
    speeds = [m["sentences_per_s"] for m in r.latency]
    return (sum(seconds) if seconds else None), (max(speeds) if speeds else None)


def standings(members: dict[str, Seeded]) -> list[Standing]:
    """Each contender's aggregate and cost, best mean F1 first, with cost ratios."""
    rows = []
    for name, seeded in members.items():
        rep = representative(seeded)
        rows.append(Standing(name, rep.system, aggregate(seeded), *cost(rep)))
    rows.sort(key=lambda s: -s.agg.mean)
    cheapest = min((s.train_seconds for s in rows if s.train_seconds), default=None)
    fastest = max((s.sentences_per_s for s in rows if s.sentences_per_s), default=None)
    return [Standing(s.name, s.system, s.agg, s.train_seconds, s.sentences_per_s,
                     s.train_seconds / cheapest if s.train_seconds and cheapest else None,
                     fastest / s.sentences_per_s if s.sentences_per_s and fastest else None)
            for s in rows]


def machines_note(members: dict[str, Seeded]) -> str | None:
    """Which machines timed the group's costs, when they were not one."""
    reps = {name: representative(s) for name, s in members.items()}
    notes = [contenders.hardware_summary(reps)]
    beside = [name for name, r in reps.items() if any(contention.shared(m) for m in r.latency)]
    if beside:
        notes.append(f"**Timed beside busy harness processes** (speeds below their own): "
                     f"{', '.join(beside)}.")
    stopped = [name for name, r in reps.items() if any(contention.stalled(m) for m in r.latency)]
    if stopped:
        notes.append(f"**Timed while the timing process was stopped or starved** (speeds "
                     f"below their own): {', '.join(stopped)}.")
    unwatched = [name for name, r in reps.items()
                 if contention.training_unwatched(r.training)
                 or any(contention.unwatched(m.get("contention")) for m in r.latency)]
    if unwatched:
        notes.append(f"**Not known what shared the machine** (the watch read too few samples) "
                     f"while these trained or were timed: {', '.join(unwatched)}.")
    trained = [name for name, r in reps.items() if contention.trained_beside(r.training)]
    if trained:
        notes.append(f"**Trained beside other harness processes** (training seconds may be "
                     f"above their own): {', '.join(trained)}.")
    threads = {name: n for name, r in reps.items()
               if (n := contention.training_threads(r.training))}
    if len(set(threads.values())) > 1:
        notes.append("**Trained with different thread counts**: " + ", ".join(
            f"{name} ({n})" for name, n in threads.items()) + ".")
    mixed = {name: hosts for name, s in members.items() if len(hosts := training_hosts(s)) > 1}
    if mixed:
        notes.append("**Seeds trained on different machines** (a system whose arithmetic "
                     "depends on the CPU gives other numbers there): " + "; ".join(
                         f"{name} ({'; '.join(f'seed {seeds}: {cpu}' for cpu, seeds in hosts.items())})"
                         for name, hosts in mixed.items()) + ".")
    return " ".join(n for n in notes if n) or None


def training_conditions_summary(results: dict[str, RunResult]) -> str | None:
    """Which trained runs' training seconds are their own (trained alone),
    which were trained beside busy harness processes, which were resumed (only
    the last process was watched) and which predate the record; None when
    nothing here was trained."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name, r in results.items():
        if contenders.training_key(r) is None:
            continue   # not trained
        groups[_training_condition(r.training)].append(name)
    if not groups:
        return None
    return ("Training conditions (training seconds are a system's own only when trained alone): "
            + "; ".join(f"{how}: {', '.join(names)}" for how, names in groups.items()) + ".")


def _training_condition(training: dict | None) -> str:
    if training is None:
        return "not recorded (trained before training.json was kept)"
    seen = training.get("contention", {})
    where = ("not known (the watch read too few samples)" if contention.training_unwatched(training)
             else "alone" if not contention.trained_beside(training) else
             "beside busy harness processes" if "others_mean_cores" in seen else
             "beside other harness processes (CPU use not measured)")
    threads = contention.training_threads(training)
    if threads:
        where += f", {threads} torch thread{'s' if threads > 1 else ''}"
    if seen.get("stalled_seconds"):
        where += ", stopped for part of it"
    if training.get("resumed_from_checkpoint"):
        where += ", resumed (only the last process watched)"
    return where


def training_hosts(seeded: Seeded) -> dict[str, str]:
    """{CPU: the seeds trained on it} of one contender."""
    hosts: dict[str, list[str]] = {}
    for seed, r in seeded.items():
        env = (r.training or {}).get("environment") or r.spec.get("environment", {})
        cpu = env.get("hardware", {}).get("cpu", "?")
        hosts.setdefault(cpu, []).append(str(seed))
    return {cpu: ", ".join(seeds) for cpu, seeds in hosts.items()}


def build_group(title: str, members: dict[str, Seeded]) -> Group:
    ranked = standings(members)
    pairs = []
    for i, a in enumerate(ranked):
        for b in ranked[i + 1:]:
            t = contenders.seed_paired_test(members[a.name], members[b.name])
            if t is not None:
                pairs.append(Pair(a.name, b.name, t))
    seeds = max((len(p.test["common_seeds"]) for p in pairs), default=1)
    group = Group(title, ranked, pairs, machines_note(members), seeds=seeds)
    return Group(**{**group.__dict__, "sentence": sentence(group)})


def _lead(pair: Pair) -> str:
    """The pair's verdict, worded from the sign of its difference over the
    seeds both share (the ranking's means may take in seeds only one has)."""
    t = pair.test
    lo, hi = t["ci95"]
    ahead, behind = ((pair.first, pair.second) if t["delta_f1"] >= 0
                     else (pair.second, pair.first))
    verdict = "ahead of" if pair.significant else "not separable from"
    shared = "" if t.get("all_seeds_shared", True) else " on the seeds both have"
    return (f"{ahead} is {verdict} {behind}{shared} (ΔF1 {pair.first} − {pair.second} "
            f"{t['delta_f1']:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}], p {format_p(t['p_value'])}; "
            f"{pair.agreement})")


def sentence(group: Group) -> str:
    """One sentence on what the group shows: the leader, its lead over the
    runner-up with the seed-aware test, and the leader's cost."""
    top = group.standings[0]
    parts = [f"{top.name} ranks first (mean F1 {top.agg.mean:.4f} over {top.agg.n} "
             f"seed{'s' if top.agg.n > 1 else ''})"]
    runner_up = next((p for p in group.pairs if p.first == top.name), None)
    if runner_up:
        parts.append(_lead(runner_up))
    costs = []
    if top.train_ratio and top.train_ratio > 1.05:
        costs.append(f"{top.train_ratio:.1f}x the training time")
    if top.inference_ratio and top.inference_ratio > 1.05:
        costs.append(f"{top.inference_ratio:.1f}x the time per sentence")
    if costs:
        parts.append(f"at {' and '.join(costs)} of the cheapest")
    text = "; ".join(parts) + "."
    if runner_up and len(runner_up.test["common_seeds"]) == 1:
        text += " One seed: the test covers test sampling only, not training randomness."
    return text


def headline_groups(seeded: dict[str, Seeded]) -> list[Group]:
    """The main contenders (one a system; variants are compared with their own
    main in the variants table) grouped by the training sentences they saw
    (zero-shot apart), largest training set first; groups of one are left out."""
    groups: dict[tuple | None, dict[str, Seeded]] = {}
    for name, s in headline.split(seeded)[0].items():
        groups.setdefault(contenders.training_group(representative(s)), {})[name] = s
    out = []
    for key, members in sorted(groups.items(), key=lambda kv: _group_order(kv[1])):
        if len(members) > 1:
            n = representative(next(iter(members.values()))).train_sentences
            title = ("Not trained (zero-shot or in-context examples)" if key is None
                     else f"Trained on the same {n:,} sentences")
            out.append(build_group(title, members))
    return out


def _group_order(members: dict[str, Seeded]) -> tuple:
    r = representative(next(iter(members.values())))
    return (not r.history, -r.train_sentences)


def curve_groups(curve: dict[str, dict[int, Seeded]]) -> list[Group]:
    """At each training size that two or more curve contenders reached."""
    sizes = sorted({n for points in curve.values() for n in points})
    out = []
    for n in sizes:
        members = {name: points[n] for name, points in curve.items() if n in points}
        if len(members) > 1:
            out.append(build_group(f"Learning curve at {n:,} training sentences", members))
    return out
