"""The nouns of clientbook and their rules. Pure: no I/O, imports nothing else of ours."""
