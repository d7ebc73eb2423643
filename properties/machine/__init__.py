"""The conformance machine and its parts: the harness that applies each step to the store and
to the reference model and compares them, the operation alphabet, the biased strategies, the
coverage states, damage at rest, and the targets a store is reached through."""
