"""ACL accounts, notifications and messaging-service (logbook) messages (BEC 4.x names and fields).

A stock client sends ``MessagingServiceMessage`` for ``bec.messaging.scilog.new(...).send()``
and ``NotificationMessage`` for ``connector.notify(...)``; SciHub routes and delivers them.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from bec_core.messages.base import BECMessage, register_helper_model


class ACLAccountsMessage(BECMessage):
    """The ACL accounts of the deployment (admin-only key): name -> categories, keys, channels, ..."""

    msg_type: ClassVar[str] = "acl_accounts_message"
    accounts: dict[
        str, dict[Literal["categories", "keys", "channels", "commands", "profile"], list[str] | str]
    ]


# -- content blocks of a message to a messaging service ------------------------------------------


@register_helper_model
class MessagingServiceTextContent(BaseModel):
    """Text (SciLog takes a small subset of HTML)."""

    content: str


@register_helper_model
class MessagingServiceFileContent(BaseModel):
    """An attached file."""

    filename: str
    mime_type: str
    data: bytes
    width: int | str | None = None
    height: int | str | None = None


@register_helper_model
class MessagingServiceTagsContent(BaseModel):
    """Tags of a logbook entry."""

    tags: list[str]


@register_helper_model
class MessagingServiceStickerContent(BaseModel):
    """A Signal sticker."""

    sticker_id: str


@register_helper_model
class MessagingServiceGiphyContent(BaseModel):
    """A Giphy link."""

    giphy_url: str


MessagingServiceContent = (
    MessagingServiceTextContent
    | MessagingServiceFileContent
    | MessagingServiceTagsContent
    | MessagingServiceStickerContent
    | MessagingServiceGiphyContent
)

ServiceName = Literal["signal", "teams", "scilog"]


class MessagingServiceMessage(BECMessage):
    """A message for one messaging service (SciLog, Teams, Signal) and scope."""

    msg_type: ClassVar[str] = "messaging_service_message"
    service_name: ServiceName
    message: list[MessagingServiceContent]
    scope: str | list[str] | None = None


# -- which messaging services a deployment offers ------------------------------------------------


@register_helper_model
class MessagingService(BaseModel):
    """One messaging service of a deployment or session (base of the three kinds)."""

    id: str
    scope: str
    enabled: bool
    name: str | None = None
    service_type: str = Field(..., description="e.g. 'signal', 'teams', 'scilog'")


@register_helper_model
class SignalServiceInfo(MessagingService):
    """A Signal group."""

    service_type: Literal["signal"] = "signal"
    group_id: str | None = None
    group_link: str | None = None


@register_helper_model
class SciLogServiceInfo(MessagingService):
    """A SciLog logbook."""

    service_type: Literal["scilog"] = "scilog"
    logbook_id: str


@register_helper_model
class TeamsServiceInfo(MessagingService):
    """A Teams channel (through a workflow web hook)."""

    service_type: Literal["teams"] = "teams"
    workflow_webhook_url: str


@register_helper_model
class MessagingServiceScopeConfig(BaseModel):
    """Whether a service is enabled and its default scope."""

    enabled: bool
    default: str | list[str] | None = None


@register_helper_model
class MessagingConfig(BaseModel):
    """The enabled state of each of the three services."""

    signal: MessagingServiceScopeConfig
    teams: MessagingServiceScopeConfig
    scilog: MessagingServiceScopeConfig


AvailableMessagingServices = Annotated[
    SignalServiceInfo | SciLogServiceInfo | TeamsServiceInfo, Field(discriminator="service_type")
]


class AvailableMessagingServicesMessage(BECMessage):
    """The messaging services a client may send to (deployment ones and session ones)."""

    msg_type: ClassVar[str] = "available_messaging_services_message"
    config: MessagingConfig
    deployment_services: list[AvailableMessagingServices] = Field(default_factory=list)
    session_services: list[AvailableMessagingServices] = Field(default_factory=list)


# -- notifications -------------------------------------------------------------------------------


@register_helper_model
class NotificationServiceTarget(BaseModel):
    """Where a notification event goes: a service and optionally a scope."""

    service_name: ServiceName
    scope: str | list[str] | None = None


NotificationEvent = Literal[
    "new_scan", "scan_completed", "alarm_warning", "alarm_minor", "alarm_major", "scan_interlock"
]


class NotificationConfigMessage(BECMessage):
    """Routing of notification events (event name -> targets), set by the clients."""

    msg_type: ClassVar[str] = "notification_config_message"
    routes: dict[NotificationEvent | str, list[NotificationServiceTarget]] = Field(default_factory=dict)


class NotificationMessage(BECMessage):
    """A notification event with the content to send to the routed services."""

    msg_type: ClassVar[str] = "notification_message"
    event: str
    message: list[MessagingServiceContent]
