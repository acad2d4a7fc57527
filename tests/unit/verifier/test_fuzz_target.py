"""The fuzz target (fuzz/verifier_fuzz.py) holds on its generated seeds and on simple mutations of them: what
``make fuzz`` explores at length, checked here in seconds."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("atheris")

from fuzz.seeds import seeds
from fuzz.verifier_fuzz import one_input

SEEDS = seeds()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_and_its_mutations_never_raise(name):
    data = SEEDS[name]
    rng = random.Random(name)
    one_input(data)
    for _ in range(2):
        b = bytearray(data)
        for _ in range(rng.choice([1, 4, 32])):
            b[rng.randrange(len(b))] = rng.randrange(256)
        one_input(bytes(b))
        one_input(bytes(b[: rng.randrange(1, len(b))]))
