"""Adapters for stores Python users reach for, shipped as examples of the store contract: each
is `module:factory` for `kvcheck --target` and `kvcheck sigkill --target` (a
`kvcheck.machine.directory.DirectoryStore`)."""
