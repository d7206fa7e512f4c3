"""The shipped P2P family models: every number has a basis, every fact a source, every
name resolves, and each newly added family runs a short simulation."""

from __future__ import annotations

import re

import pytest

from takedown.p2p import registry
from takedown.p2p.engine import simulate
from takedown.p2p.model import Basis, FamilyModel, SimError
from takedown.p2p.scenario import load_scenario

MODELS = registry.models()
NEW_FAMILIES = ("kelihos-a", "gameover-zeus", "sality", "storm", "nugache")
# a source named in a fact: something in parentheses that carries a year
_CITED = re.compile(r"\([^()]*\b(?:19|20)\d\d\b[^()]*\)")


def _ids(models: list[FamilyModel]) -> list[str]:
    return [m.name for m in models]


def test_new_families_are_shipped():
    assert set(NEW_FAMILIES) <= {m.name for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))
def test_every_parameter_has_a_basis(model):
    params = model.parameters()
    assert params
    missing = [name for name, _, basis in params if basis is None]
    assert not missing, f"{model.name}: no basis for {missing}"
    for name, _, basis in params:
        assert isinstance(basis, Basis)
        assert basis.text.strip(), f"{model.name}.{name}: empty basis"
    # no stray basis entries for fields that do not exist
    assert set(model.basis) <= {name for name, _, _ in params}


@pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))
def test_every_fact_names_a_source(model):
    assert model.sources, f"{model.name}: no sources listed"
    for name, _, basis in model.parameters():
        if basis.assumed:
            assert str(basis).startswith("ASSUMED: ")
            continue
        assert _CITED.search(basis.text), f"{model.name}.{name}: fact without a dated source: {basis.text!r}"


def test_names_and_aliases_are_unique():
    keys = [k.lower() for m in MODELS for k in (m.name, *m.aliases)]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


@pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))
def test_registry_finds_each_name_and_alias(model):
    for key in (model.name, *model.aliases):
        assert registry.get(key) is model
        assert registry.get(key.upper()) is model


def test_registry_rejects_unknown_name():
    with pytest.raises(SimError):
        registry.get("no-such-family")


def test_gameover_alias_and_choices():
    goz = registry.get("zeus-p2p")
    assert goz.name == "gameover-zeus"
    assert goz.on_fail == "drop"
    assert registry.get("sality").ranking == "goodcount"
    assert registry.get("storm").notes and registry.get("nugache").notes


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_smoke_simulation(family, tmp_path):
    path = tmp_path / f"{family}.toml"
    path.write_text(
        "[scenario]\n"
        f'family = "{family}"\n'
        "bots = 1000\n"
        "days = 0.25\n"
        "seed = 7\n"
        "\n"
        "[[strategy]]\n"
        'kind = "poison"\n'
        "at_hour = 3\n"
        "rate_per_hour = 200\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert scenario.model.name == family
    result = simulate(scenario)
    assert result.rows
    assert result.rows[-1]["hour"] == pytest.approx(6, abs=scenario.round_minutes / 60)
    for row in result.rows:
        assert 0 <= row["commandable"] <= 1
        assert 0 <= row["sinkholed"] <= 1
        assert row["alive"] > 0
    # before any takedown the botnet is commandable
    assert result.rows[0]["commandable"] > 0
