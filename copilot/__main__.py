"""`python -m copilot` is the `copilot` command."""

from copilot.surfaces.cli import main

main()
