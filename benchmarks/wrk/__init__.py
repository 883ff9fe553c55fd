"""Load generation with wrk, and the server process it measures."""
