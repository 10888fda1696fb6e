"""Checks on predicted tags that several system tests share."""


def assert_scheme_tag_per_word(pred, sentences, scheme) -> None:
    """Every sentence got one tag per word, and every tag is one of the scheme's."""
    assert [len(p) for p in pred] == [len(s) for s in sentences]
    assert all(t in scheme.labels for p in pred for t in p)
