"""Beamline states and the built-in scan interlock actor (BEC 4.3.2 ``bec_lib.messages``).

A client publishes the state *configurations* (``AvailableBeamlineStatesMessage``);
the scan server evaluates each one and publishes its value
(``BeamlineStateMessage``). The scan interlock's settings are "managed config"
values: a stream entry ``{"config": <message with one field value>}``.
"""

from __future__ import annotations

import enum
import time
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bec_core.messages.base import BECMessage, register_helper_model

#: The value a beamline state can take.
BlStateStatus = Literal["valid", "invalid", "warning", "unknown"]
#: The statuses of a state that the interlock accepts.
InterlockTargetState = list[BlStateStatus]


class BeamlineStateMessage(BECMessage):
    """The current value of one beamline state: its status and a label saying why."""

    msg_type: ClassVar[str] = "beamline_state_message"
    name: str
    status: BlStateStatus
    label: str
    timestamp: float = Field(default_factory=time.time)


@register_helper_model
class BeamlineStateConfig(BaseModel):
    """One configured state: its name, its type (a class name of ``bec_lib.bl_states``), parameters."""

    name: str
    state_type: str
    parameters: dict = Field(default_factory=dict)


class AvailableBeamlineStatesMessage(BECMessage):
    """The complete list of configured beamline states (each publication replaces the last)."""

    msg_type: ClassVar[str] = "beamline_state_update_message"
    states: list[BeamlineStateConfig]


class BuiltinActorStateUpdatedNotification(BECMessage):
    """Tells clients that a built-in actor finished a change of its state table."""

    msg_type: ClassVar[str] = "builtin_actor_state_updated_notification"
    actor_name: str


class ScanInterlockModifyStateTableMessage(BECMessage):
    """Add a state (with its accepted statuses) to the scan interlock, remove one, or remove all."""

    msg_type: ClassVar[str] = "scan_interlock_modify_state_table"
    action: Literal["add", "remove", "remove_all"]
    state_name: str | None = None
    status: InterlockTargetState | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScanInterlockModifyStateTableMessage:
        if self.action == "add" and (self.status is None or self.state_name is None):
            raise ValueError("adding a state needs its state_name and the accepted status list")
        if self.status == []:
            raise ValueError("the accepted status list must name at least one status")
        if self.action != "add" and self.status is not None:
            raise ValueError(f"action {self.action!r} takes no status")
        if self.action == "remove_all" and self.state_name is not None:
            raise ValueError("action 'remove_all' takes no state_name")
        return self


class ScanInterlockStateTableContent(BECMessage):
    """The states the scan interlock watches, each with its accepted statuses."""

    msg_type: ClassVar[str] = "scan_interlock_state_table_content"
    states_watched: dict[str, InterlockTargetState]


class ScanInterlockTriggerSetting(enum.StrEnum):
    """What the interlock does to a running scan when a watched state goes bad."""

    DO_NOTHING = enum.auto()
    RESTART_SCAN = enum.auto()
    PAUSE_SCAN = enum.auto()


class BoolConfigDefaultFalse(BECMessage):
    """A managed boolean setting (default False), e.g. whether the scan interlock is enabled."""

    model_config = ConfigDict(validate_assignment=True)
    msg_type: ClassVar[str] = "bool_config_default_false"
    value: bool = False


class ScanInterlockTriggerSettingMessage(BECMessage):
    """The managed trigger setting of the scan interlock (default ``do_nothing``)."""

    model_config = ConfigDict(validate_assignment=True)
    msg_type: ClassVar[str] = "scan_interlock_trigger_setting"
    value: ScanInterlockTriggerSetting = ScanInterlockTriggerSetting.DO_NOTHING
