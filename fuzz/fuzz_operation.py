"""Fuzz the operation-file loader takedown.operation.load_operation: the
input is the file's bytes (TOML, in a directory holding the example's
lists and zone). A crash is any exception but OperationError."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.operation import load_operation

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import file_loader_input, main, scratch  # noqa: E402

PATH = scratch("operation", with_examples=True) / "operation.toml"
TestOneInput = file_loader_input(PATH, load_operation)


if __name__ == "__main__":
    main(TestOneInput)
