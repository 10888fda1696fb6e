"""MultiNERD tag inventory and the benchmark label schemes.

Gold files store MultiNERD's own integer ids.  Every conversion in the
project goes id -> MultiNERD tag *name* -> scheme tag name, so a scheme never
depends on the order of another scheme's label list.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UnknownLabelError

# MultiNERD's entity types, in the order of its tag ids (B = 2k+1, I = 2k+2).
MULTINERD_TYPES: tuple[str, ...] = (
    "PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE",
    "FOOD", "INST", "MEDIA", "MYTH", "PLANT", "TIME", "VEHI",
)

TYPE_DESCRIPTIONS: dict[str, str] = {
    "PER": "person",
    "ORG": "organization",
    "LOC": "location",
    "ANIM": "animal",
    "BIO": "biological entity",
    "CEL": "celestial body",
    "DIS": "disease",
    "EVE": "event",
    "FOOD": "food",
    "INST": "instrument",
    "MEDIA": "media work",
    "MYTH": "mythological entity",
    "PLANT": "plant",
    "TIME": "time",
    "VEHI": "vehicle",
}


def _multinerd_id2tag() -> dict[int, str]:
    tags = {0: "O"}
    for k, etype in enumerate(MULTINERD_TYPES):
        tags[2 * k + 1] = f"B-{etype}"
        tags[2 * k + 2] = f"I-{etype}"
    return tags


MULTINERD_ID2TAG: dict[int, str] = _multinerd_id2tag()
MULTINERD_TAG2ID: dict[str, int] = {t: i for i, t in MULTINERD_ID2TAG.items()}


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Raises on anything else."""
    if tag == "O":
        return "O", None
    prefix, sep, etype = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not etype:
        raise UnknownLabelError(f"not an IOB2 tag: {tag!r}")
    return prefix, etype


@dataclass(frozen=True)
class LabelScheme:
    """A set of entity types kept from MultiNERD; all other types become O."""

    name: str
    types: tuple[str, ...]
    description: str = ""
    labels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        unknown = [t for t in self.types if t not in MULTINERD_TYPES]
        if unknown:
            raise UnknownLabelError(f"scheme {self.name}: unknown MultiNERD types {unknown}")
        labels = ["O"] + [f"{p}-{t}" for t in self.types for p in ("B", "I")]
        object.__setattr__(self, "labels", tuple(labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    def map_tag(self, tag: str) -> str:
        """Map a MultiNERD tag name into this scheme, by name."""
        prefix, etype = split_tag(tag)
        if etype is None:
            return "O"
        if etype not in MULTINERD_TYPES:
            raise UnknownLabelError(f"unknown entity type {etype!r} in tag {tag!r}")
        return tag if etype in self.types else "O"

    def map_id(self, tag_id: int) -> str:
        try:
            return self.map_tag(MULTINERD_ID2TAG[tag_id])
        except KeyError:
            raise UnknownLabelError(
                f"tag id {tag_id} outside MultiNERD's 0..{len(MULTINERD_ID2TAG) - 1}"
            ) from None

    def check_tag(self, tag: str) -> str:
        """Return tag if it belongs to the scheme, else raise UnknownLabelError."""
        if tag not in self.label2id:
            raise UnknownLabelError(
                f"tag {tag!r} is not in scheme {self.name} ({', '.join(self.types)})"
            )
        return tag


SCHEMES: dict[str, LabelScheme] = {
    "A": LabelScheme("A", MULTINERD_TYPES, "all 15 MultiNERD entity types"),
    "B": LabelScheme(
        "B", ("PER", "ORG", "LOC", "DIS", "ANIM"),
        "PER, ORG, LOC, DIS, ANIM; every other type set to O",
    ),
}


def get_scheme(name: str) -> LabelScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise UnknownLabelError(
            f"unknown label scheme {name!r}; known: {', '.join(SCHEMES)}"
        ) from None
