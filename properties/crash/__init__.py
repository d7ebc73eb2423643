"""Crash checking beyond the machine's dirty reboots: every crash state of short histories
(`exhaustive`), real process kills of the node (`sigkill`) and of any store kept in a directory
(`process_kill`), and the exhaustive damage sweep (`sweep`)."""
