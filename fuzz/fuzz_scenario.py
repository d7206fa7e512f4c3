"""Fuzz the P2P scenario loader takedown.p2p.scenario.load_scenario: the
input is the scenario file's bytes (TOML). A crash is any exception but
SimError (a TakedownError)."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.p2p.scenario import load_scenario

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import file_loader_input, main, scratch  # noqa: E402

PATH = scratch("scenario") / "scenario.toml"
TestOneInput = file_loader_input(PATH, load_scenario)


if __name__ == "__main__":
    main(TestOneInput)
