"""Concurrency: a controlled scheduler with shrinking schedules, recorded histories, and the
linearizability check they are judged by (`races` puts them together)."""
