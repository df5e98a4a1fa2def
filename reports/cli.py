"""`hotline report …` (owned by the reports work; placeholder until it lands)."""

import typer

app = typer.Typer(help="报表: figures and the annual disclosure report", no_args_is_help=True)
