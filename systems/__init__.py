"""The harness's own NER systems.  Each module registers its systems with
`harness.core.register_system`; the registry imports them all by name."""
