"""Front ends: the `kvcheck` command, its reports (table, JUnit, regression tests), the pytest
plugin, and the Hypothesis profiles both use."""
