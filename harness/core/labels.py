"""Tags and label schemes, for any dataset.

A dataset names its entity types (its tag inventory); a label scheme keeps
some of them and maps every other type to O.  Every conversion goes by tag
*name*, so a scheme never depends on the order of another's label list.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import UnknownLabelError


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
    """The entity types kept from a dataset's inventory; all other types become O.

    `inventory` is every type the dataset's files may hold (empty: the kept
    types are the inventory); `descriptions` say in words what a type is, for
    prompts and label names (a type without one is described by its name)."""

    name: str
    types: tuple[str, ...]
    description: str = ""
    inventory: tuple[str, ...] = ()
    descriptions: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    labels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", tuple(self.types))
        object.__setattr__(self, "inventory", tuple(self.inventory) or self.types)
        unknown = [t for t in self.types if t not in self.inventory]
        if unknown:
            raise UnknownLabelError(f"scheme {self.name}: types {unknown} are not in the "
                                    f"dataset's tag set ({', '.join(self.inventory)})")
        labels = ["O"] + [f"{p}-{t}" for t in self.types for p in ("B", "I")]
        object.__setattr__(self, "labels", tuple(labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    def describe(self, etype: str) -> str:
        """The type in words ('PER' -> 'person')."""
        return self.descriptions.get(etype, etype)

    def map_tag(self, tag: str) -> str:
        """Map a tag of the dataset's inventory into this scheme, by name."""
        prefix, etype = split_tag(tag)
        if etype is None:
            return "O"
        if etype not in self.inventory:
            raise UnknownLabelError(f"unknown entity type {etype!r} in tag {tag!r}")
        return tag if etype in self.types else "O"

    def check_tag(self, tag: str) -> str:
        """Return tag if it belongs to the scheme, else raise UnknownLabelError."""
        if tag not in self.label2id:
            raise UnknownLabelError(
                f"tag {tag!r} is not in scheme {self.name} ({', '.join(self.types)})"
            )
        return tag

    def to_dict(self) -> dict:
        """What a saved system stores, so that it loads without the dataset."""
        return {"name": self.name, "types": list(self.types), "description": self.description,
                "inventory": list(self.inventory), "descriptions": dict(self.descriptions)}

    @classmethod
    def from_dict(cls, d: dict) -> "LabelScheme":
        return cls(d["name"], tuple(d["types"]), d.get("description", ""),
                   tuple(d.get("inventory", ())), dict(d.get("descriptions", {})))
