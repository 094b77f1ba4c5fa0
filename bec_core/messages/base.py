"""The :class:`BECMessage` base class and the registry of message classes.

Every message class registers itself by its class name when it is defined; the
wire codec looks a ``type_name`` up in :data:`MESSAGE_CLASSES` and nowhere else
(no import of a name that came over the wire).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Every BECMessage subclass by class name, filled as the classes are defined.
MESSAGE_CLASSES: dict[str, type[BECMessage]] = {}

#: Helper pydantic models (ErrorInfo, ServiceInfo, RequestBlock, ...) by class name.
HELPER_MODELS: dict[str, type[BaseModel]] = {}

#: Enums the codec re-creates on decode (BEC re-creates only BECStatus).
ENUMS: dict[str, type[enum.Enum]] = {}


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality that understands numpy arrays and scalars, NaN included."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=_nan_ok(a, b)))
        except (TypeError, ValueError):
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        return type(a) is type(b) and values_equal(a.__dict__, b.__dict__)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _nan_ok(a: Any, b: Any) -> bool:
    for x in (a, b):
        arr = np.asarray(x)
        if arr.dtype.kind not in "fc":
            return False
    return True


class BECMessage(BaseModel):
    """Base of every message on the bus.

    Subclasses declare their fields in BEC 4.x order; every message also has
    ``metadata`` (a dict, ``None`` becomes ``{}``). ``content`` is the fields
    without metadata. Extra fields on the wire are ignored; missing required
    fields are an error.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="ignore", validate_default=False)

    msg_type: ClassVar[str] = "bec_message"
    metadata: dict = Field(default_factory=dict)

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        MESSAGE_CLASSES[cls.__name__] = cls

    @property
    def content(self) -> dict[str, Any]:
        """The message's fields without ``metadata``."""
        return {k: v for k, v in self.__dict__.items() if k != "metadata"}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BECMessage):
            return NotImplemented
        return type(self) is type(other) and values_equal(self.__dict__, other.__dict__)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.model_dump_json()))

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.__dict__})"


def register_helper_model(cls: type[BaseModel]) -> type[BaseModel]:
    """Class decorator: make a helper model known to the codec by name."""
    HELPER_MODELS[cls.__name__] = cls
    return cls


def register_enum(cls: type[enum.Enum]) -> type[enum.Enum]:
    """Class decorator: let the codec re-create this enum on decode."""
    ENUMS[cls.__name__] = cls
    return cls
