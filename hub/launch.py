"""The ``perfhub`` command's entry point: a module that imports nothing until the command runs.

``perfhub serve`` starts the demo business systems (and, for API callers, the worker) in processes of their own
with multiprocessing's "spawn", which imports the parent's main module in each child before anything else. With
``hub.cli`` behind that module, each child first imported the whole command line (every subcommand, the
operations, SQLAlchemy: a second and a half of CPU) to then serve five small HTTP systems.
"""

from __future__ import annotations


def main() -> int:
    from hub.cli import main as run_command

    return run_command()
