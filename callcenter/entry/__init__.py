"""The entry points (the `hotline` CLI, the app factory, the demo wiring): the one place that puts
the areas together. Nothing outside imports this package back (import-linter, `make lint`).

Importing it wires the areas' hooks, so every process that changes cases keeps the callback rows
in step (callbacks/service.py follows case changes through services.on_case_change)."""

from callbacks import service as callback_service
from callcenter.cases import services


def wire() -> None:
    """Register the hooks between areas (idempotent)."""
    services.on_case_change(callback_service.on_case_change)


wire()
