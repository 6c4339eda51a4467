"""The ``rlswarm`` command line: thin Typer commands over :mod:`rlswarm_core`."""
