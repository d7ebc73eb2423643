"""Codecs: the robustness properties every decoder of disk bytes must hold (`robustness`), and
the CrossHair contracts checked symbolically (`symbolic`, with its checksum plugin)."""
