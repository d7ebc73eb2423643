"""Evidence that the checks bite: the bug catalog, the planted bugs (source patches of a copy
of the node, and planted targets), and `kvcheck bugs`, which runs each through its check."""
