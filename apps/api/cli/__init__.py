"""The developers' command line: `python -m cli {token,emit,tail}`, run in apps/api.

May import anything of the service; nothing imports it.
"""
