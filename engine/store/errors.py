"""One exception hierarchy for the engine; ``web`` maps each class to an HTTP status in one place.

Each class's docstring is its default message.
"""

from __future__ import annotations

from typing import Any


class RectiflowError(Exception):
    """出错了 Something went wrong."""

    def __init__(self, detail: str | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        self.errors = errors or []
        super().__init__(self.detail)


class WrongCredentials(RectiflowError):
    """用户名或密码错误 Wrong username or password."""


class NotFound(RectiflowError):
    """找不到 No such resource."""


class Forbidden(RectiflowError):
    """没有权限 You may not do this."""


class InvalidInput(RectiflowError):
    """提交的内容有误 The submitted data is not valid."""


class TooLarge(RectiflowError):
    """文件太大 The upload is larger than this service reads."""


class UnsupportedType(RectiflowError):
    """不支持的文件类型 This kind of file is not accepted."""


class EvidenceLocked(RectiflowError):
    """佐证材料已锁定 The evidence can no longer be removed: its task or its item is finished."""


class AlreadyExists(RectiflowError):
    """已存在 That already exists."""


class InvalidDiagram(RectiflowError):
    """The BPMN diagram cannot be deployed."""

    @classmethod
    def at(cls, element: str, message: str) -> InvalidDiagram:
        """The diagram refused because of one element (or process, by its key), named in ``errors``."""
        return cls(message, errors=[{"element": element, "message": message}])


class ScriptLimit(RectiflowError):
    """A diagram's script or expression went over its time or size budget."""


class StateTooLarge(RectiflowError):
    """状态过大 The item's state would be too large to store; nothing was changed."""


class IncidentResolved(RectiflowError):
    """此事件已解决 This incident is already resolved."""


class AlreadyDecided(RectiflowError):
    """已处理 This request was already confirmed or declined."""


class AlreadyTriaged(AlreadyDecided):
    """此反映已处理 This submission was already triaged."""


class TooManySubmissions(RectiflowError):
    """提交过于频繁，请稍后再试 Too many submissions from this address: try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class TaskNotReady(RectiflowError):
    """此任务已办结或已取消 This task is no longer ready: it was completed or cancelled."""


class StaleVersion(RectiflowError):
    """事项已被他人修改 The item changed since you read it."""


class BackupRefused(RectiflowError):
    """The backup cannot be restored; nothing was written."""


class AuditKeyMissing(RectiflowError):
    """没有审计密钥 No audit key: set RECTIFLOW_AUDIT_KEY or run `rectiflow init` to make <instance>/audit.key."""


class UndeliveredMessage(RectiflowError):
    """消息未送达 The message was not delivered."""

    def __init__(self, detail: str, name: str, target: str, variables: list[str]) -> None:
        super().__init__(detail, errors=[{"field": "name", "message": detail}])
        # For the admin log: a message nothing takes is recorded, never dropped silently.
        self.name = name
        self.target = target
        self.variables = variables


class MessageUnknown(UndeliveredMessage, NotFound):
    """没有接收此消息的事项或流程 No item or process takes this message."""


class MessageUncorrelated(UndeliveredMessage):
    """消息无法关联 Nothing waits for this message where it was sent, or more than one process starts on it."""


class LockLost(RectiflowError):
    """锁已失效 This worker holds no lock on the task: it expired, or another worker fetched it since."""
