"""`python -m bot`: see `bot.cli` for the commands."""

from bot.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
