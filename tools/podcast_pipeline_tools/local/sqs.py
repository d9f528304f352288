"""The few SQS calls the local runner makes on the emulation's queues, in SQS's chunks of ten."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

SQS_MAX_MESSAGES = 10  # per ReceiveMessage / *Batch call


def receive(
    sqs: SQSClient, queue_url: str, count: int, visibility_timeout: int, wait_seconds: int = 0
) -> list[MessageTypeDef]:
    """Up to `count` (at most ten) visible messages with their attributes, hidden for `visibility_timeout`.

    With `wait_seconds`, a long poll: the answer comes as soon as a message arrives, or empty after that.
    """
    return sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(SQS_MAX_MESSAGES, count),
        WaitTimeSeconds=wait_seconds,
        VisibilityTimeout=visibility_timeout,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])


def chunks(items: Sequence[MessageTypeDef]) -> Iterable[Sequence[MessageTypeDef]]:
    return (items[i : i + SQS_MAX_MESSAGES] for i in range(0, len(items), SQS_MAX_MESSAGES))


def delete(sqs: SQSClient, queue_url: str, messages: Sequence[MessageTypeDef]) -> None:
    for chunk in chunks(messages):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )


def hide(sqs: SQSClient, queue_url: str, messages: Sequence[MessageTypeDef], seconds: int) -> None:
    """Make `messages` visible again in `seconds` (0: at once)."""
    for chunk in chunks(messages):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                for i, m in enumerate(chunk)
            ],
        )


def receive_count(message: MessageTypeDef) -> int:
    """How many times SQS has delivered the message, this delivery included."""
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
