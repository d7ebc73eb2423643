"""Adapters for stores Python users reach for, shipped as examples of the store contracts: each
is `module:factory` for `kvcheck sigkill --target` (a `kvcheck.crash.directory.DirectoryStore`)."""
