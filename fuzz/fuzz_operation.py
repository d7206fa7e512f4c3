"""Fuzz the operation-file loader takedown.operation.load_operation: the
input is the file's bytes (TOML, in a directory holding the example's
lists and zone). A crash is any exception but OperationError."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.errors import TakedownError
    from takedown.operation import load_operation

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main, scratch  # noqa: E402

PATH = scratch("operation", with_examples=True) / "operation.toml"


def TestOneInput(data: bytes) -> None:
    PATH.write_bytes(data)
    try:
        load_operation(PATH)
    except TakedownError:
        return


if __name__ == "__main__":
    main(TestOneInput)
