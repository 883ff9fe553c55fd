"""The reliability suite (issue "Operations", item 5): scripts that print figures.

Shared parts: `harness` (scratch databases, the real server started and killed, integrity and
consistency checks, canary secrets) and `clients` (HTTP clients that record what the server
acknowledged). How to run each script: README.md beside this file.
"""
