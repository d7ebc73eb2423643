"""Crash checking beyond the machine's dirty reboots: every crash state of short histories
(`exhaustive`), real process kills of the node (`sigkill`) and of any store kept in a directory
(`directory`, `process_kill`), the exhaustive damage sweep (`sweep`), and power loss at the file
level: a simulated file system (`simfs`), shown at a real path (`intercept`), with FileDisk on
it as a target (`fs_targets`)."""
