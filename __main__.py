"""`python -m tsuc ...` works like the `tsuc` command."""

from tsuc.tools.cli import main

if __name__ == "__main__":
    main(prog_name="tsuc")
