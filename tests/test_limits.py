"""Geometry validation and the key/value limits derived from a geometry."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvnode.errors import KVTypeError
from kvnode.limits import (
    CHUNK_HEADER_BYTES,
    DEFAULT_GEOMETRY,
    KEY_BYTES_MAX,
    RESERVED_EXTENTS,
    SMALL_GEOMETRY,
    SUPERBLOCK_EXTENTS,
    Geometry,
    Limits,
)
from kvnode.superblock import record_bytes

FAST = settings(max_examples=100, deadline=None)
MIN_EXTENTS = SUPERBLOCK_EXTENTS + RESERVED_EXTENTS + 1


@st.composite
def geometries(draw: st.DrawFn) -> Geometry:
    """Valid geometries, from the smallest accepted up to a few MiB per extent."""
    page = draw(st.sampled_from([1, 16, 256, 512, 1024, 4096, 8192]))
    count = draw(st.integers(MIN_EXTENTS, 300))
    floor = 4 * (CHUNK_HEADER_BYTES + 8 * count)
    pages = draw(st.integers(-(-floor // page), max(-(-floor // page), (4 << 20) // page)))
    return Geometry(page_bytes=page, extent_bytes=pages * page, extent_count=count)


class TestGeometry:
    def test_default_and_small_geometries_are_as_documented(self) -> None:
        assert Geometry(4096, 16 * 1024 * 1024, 256) == DEFAULT_GEOMETRY
        assert Geometry(256, 4096, 16) == SMALL_GEOMETRY

    @pytest.mark.parametrize("field", ["page_bytes", "extent_bytes", "extent_count"])
    @pytest.mark.parametrize("bad", [0, -1])
    def test_non_positive_fields_are_refused(self, field: str, bad: int) -> None:
        kwargs = {"page_bytes": 256, "extent_bytes": 4096, "extent_count": 16, field: bad}
        with pytest.raises(ValueError, match=f"{field} must be positive, got {bad}"):
            Geometry(**kwargs)

    @pytest.mark.parametrize("field", ["page_bytes", "extent_bytes", "extent_count"])
    @pytest.mark.parametrize(
        "bad", [4096.0, 16.5, True, False, "4096", None, Decimal(16)], ids=repr
    )
    def test_fields_that_are_not_ints_are_refused(self, field: str, bad: object) -> None:
        kwargs: dict[str, object] = {
            "page_bytes": 256,
            "extent_bytes": 4096,
            "extent_count": 16,
            field: bad,
        }
        with pytest.raises(KVTypeError, match=f"{field} must be an int, not {type(bad).__name__}"):
            Geometry(**kwargs)  # type: ignore[arg-type]

    def test_an_int_subclass_that_is_not_a_bool_is_accepted(self) -> None:
        class Size(int):
            pass

        assert Geometry(Size(256), Size(4096), Size(16)) == SMALL_GEOMETRY

    @pytest.mark.parametrize("extent_bytes", [4000, 4096 + 1, 128])
    def test_extent_not_a_multiple_of_the_page_is_refused(self, extent_bytes: int) -> None:
        with pytest.raises(ValueError, match="multiple of page_bytes"):
            Geometry(page_bytes=256, extent_bytes=extent_bytes, extent_count=16)

    def test_extent_of_32_bits_or_more_is_refused(self) -> None:
        with pytest.raises(ValueError, match="32 bits"):
            Geometry(page_bytes=4096, extent_bytes=2**32, extent_count=16)

    def test_largest_32_bit_extent_is_accepted(self) -> None:
        Geometry(page_bytes=1, extent_bytes=2**32 - 1, extent_count=16)

    def test_too_few_extents_are_refused(self) -> None:
        with pytest.raises(ValueError, match=f"at least {MIN_EXTENTS}"):
            Geometry(page_bytes=256, extent_bytes=4096, extent_count=MIN_EXTENTS - 1)

    def test_the_minimum_extent_count_is_accepted(self) -> None:
        assert Geometry(256, 4096, MIN_EXTENTS).extent_count == 5

    def test_extent_too_small_for_superblock_records_is_refused(self) -> None:
        smallest = 4 * (CHUNK_HEADER_BYTES + 8 * 16)
        Geometry(page_bytes=8, extent_bytes=smallest, extent_count=16)
        with pytest.raises(ValueError, match="too small to hold superblock records"):
            Geometry(page_bytes=8, extent_bytes=smallest - 8, extent_count=16)

    @FAST
    @given(geometries())
    def test_every_accepted_extent_holds_a_superblock_record(self, geometry: Geometry) -> None:
        assert record_bytes(geometry.extent_count) <= geometry.extent_bytes

    def test_log_extents_skip_the_superblock_extents(self) -> None:
        assert SMALL_GEOMETRY.log_extents == range(SUPERBLOCK_EXTENTS, 16)

    def test_is_frozen(self) -> None:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            SMALL_GEOMETRY.page_bytes = 512  # type: ignore[misc]


class TestLimitsForGeometry:
    def test_small_geometry_allows_a_page_of_key(self) -> None:
        assert Limits.for_geometry(SMALL_GEOMETRY) == Limits(
            key_bytes_max=256, value_bytes_max=4096 - CHUNK_HEADER_BYTES - 256
        )

    def test_default_geometry_caps_the_key_at_key_bytes_max(self) -> None:
        assert Limits.for_geometry(DEFAULT_GEOMETRY) == Limits(
            key_bytes_max=KEY_BYTES_MAX,
            value_bytes_max=16 * 1024 * 1024 - CHUNK_HEADER_BYTES - KEY_BYTES_MAX,
        )

    def test_key_bytes_max_is_the_smaller_of_a_page_and_the_global_cap(self) -> None:
        assert Limits.for_geometry(Geometry(512, 8192, 16)).key_bytes_max == 512
        assert Limits.for_geometry(Geometry(8192, 65536, 16)).key_bytes_max == KEY_BYTES_MAX

    @FAST
    @given(geometries())
    def test_a_largest_chunk_fills_exactly_one_extent(self, geometry: Geometry) -> None:
        limits = Limits.for_geometry(geometry)
        assume(limits.value_bytes_max >= 0)
        total = CHUNK_HEADER_BYTES + limits.key_bytes_max + limits.value_bytes_max
        assert total == geometry.extent_bytes

    def test_value_bytes_max_is_never_negative(self) -> None:
        geometry = Geometry(page_bytes=256, extent_bytes=256, extent_count=MIN_EXTENTS)
        assert Limits.for_geometry(geometry).value_bytes_max >= 0
