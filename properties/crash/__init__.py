"""Crash checking beyond the machine's dirty reboots: every crash state of short histories
(`exhaustive`), real process kills (`sigkill`), and the exhaustive damage sweep (`sweep`)."""
