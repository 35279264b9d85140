"""`python -m cli {token,emit,tail}` (run in apps/api): see cli/main.py."""

from cli.main import main

main()
