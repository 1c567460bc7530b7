"""A buy's lines by council, as a run of the workflow carries them: decoded one council at a time.

A run of the joint-buy workflow starts from its predecessor's state, which holds every council's
demand and sign-up lines (at most `MAX_DEMAND_LINES`). Building all of them as models in the run's
first workflow task costs time in proportion to the councils (about 0.3 s for 20,000 lines on an idle
core, several times that on a busy one, against the SDK's 2 s deadlock detector). So a state read
from a payload keeps each council's lines in their packed form (`procurement.models.BuyState`) and
builds a council's models only when something asks for that council: a command decodes the one
council it concerns; a stage close that reads every council decodes them then, once. A council whose
lines were never read goes into the next run's payload exactly as it came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

Line = TypeVar("Line")


class Packed:
    """One council's lines not decoded yet: the packed form they arrived in, and how to read it."""

    __slots__ = ("_decode", "raw")

    def __init__(self, raw: Any, decode: Callable[[Any], list[Any]]) -> None:
        self.raw = raw
        self._decode = decode

    def decode(self) -> list[Any]:
        return self._decode(self.raw)


class CouncilLines(MutableMapping[str, list[Line]], Generic[Line]):
    """council → lines; a council's `Packed` entry is decoded (in place, order kept) when first read."""

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[str, list[Line] | Packed] | None = None) -> None:
        self._entries: dict[str, list[Line] | Packed] = entries if entries is not None else {}

    def __getitem__(self, council: str) -> list[Line]:
        value = self._entries[council]
        if isinstance(value, Packed):
            value = self._entries[council] = value.decode()
        return value

    def __setitem__(self, council: str, lines: list[Line]) -> None:
        self._entries[council] = lines

    def __delitem__(self, council: str) -> None:
        del self._entries[council]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, council: object) -> bool:
        return council in self._entries

    def __repr__(self) -> str:
        packed = sum(isinstance(v, Packed) for v in self._entries.values())
        return f"CouncilLines({len(self._entries)} councils, {packed} not decoded)"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validated as `dict[str, list[Line]]`, except a `CouncilLines` (what a packed state reads
        into), which is taken as it is; serialized by the model that holds it (`BuyState`)."""
        (line,) = get_args(source) or (Any,)
        named = handler.generate_schema(dict[str, list[line]])  # type: ignore[valid-type]

        def keep(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> CouncilLines[Any]:
            if isinstance(value, CouncilLines):
                return value
            return cls(validate(value))

        return core_schema.no_info_wrap_validator_function(keep, named)

    def packed(self, council: str) -> Packed | None:
        """The council's lines as they arrived, while nothing has read them."""
        value = self._entries.get(council)
        return value if isinstance(value, Packed) else None


def packed_entry(lines: MutableMapping[str, Any], council: str) -> Packed | None:
    """`CouncilLines.packed` for any mapping (a test may set a plain dict)."""
    return lines.packed(council) if isinstance(lines, CouncilLines) else None
