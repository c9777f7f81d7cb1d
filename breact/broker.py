"""The embedded broker: a Celery (kombu) transport on a folder, for `make run` with no server.

Why not kombu's own filesystem transport: its producer creates the message file and only then
writes it, and its consumer moves and reads files without the lock, so a reader can take a file
that is still empty (the worker dies with a JSONDecodeError); and a message is deleted when it is
read, so a worker killed mid-task loses it. This transport keeps kombu's folder layout and
exchange tables but changes how a message moves:

- `_put` writes the message in `tmp/` and renames it into `queue/`: a file in the queue folder is
  always complete (rename is atomic within one file system).
- `_get` claims a file by renaming it into `inflight/<owner>/`, where `<owner>` names the consuming
  process (pid and start time). Only one consumer can win a rename.
- An ack deletes the claimed file; a reject with requeue (or a warm shutdown) renames it back.
- A consumer renames back the claimed files of owners that are no longer alive, when it starts
  and every few seconds after: a worker killed with SIGKILL loses nothing, and its messages are
  delivered again (the task then decides what a redelivery means; see `process_run`).
- A file that cannot be read or parsed is moved to `corrupt/` and logged; it never stops the
  worker.

Queues with `no_ack` consumers (Celery's remote-control replies) delete a file when they read it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from functools import cached_property
from pathlib import Path
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.transport import redis as redis_transport
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# How often a consumer looks for the claimed files of dead owners.
RECOVER_EVERY_SECONDS = 5.0


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (Linux), None when it does not
    exist; "" where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if not Path("/proc/self/stat").exists():
            return ""
        return None
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


def owner_name(pid: int | None = None) -> str:
    """This process as a claim owner: "<pid>-<start time>", so a reused pid is not mistaken for
    the dead owner."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{_start_time(pid) or 0}"


def owner_alive(owner: str) -> bool:
    pid_text, _, started = owner.partition("-")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    current = _start_time(pid)
    if current is None:
        return False
    if current == "":  # no /proc: fall back to "a process with this pid exists"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return current == started


def message_name(queue: str) -> str:
    """A file name that sorts in publishing order: "<ns>_<uuid>.<queue>.msg"."""
    return f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"


def queue_of(name: str) -> str:
    """The queue a message file belongs to ("" for anything that is not a message)."""
    rest = name.partition(".")[2]
    return rest[: -len(".msg")] if rest.endswith(".msg") else ""


class Channel(filesystem.Channel):
    """The embedded broker's channel; see the module docstring."""

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._claimed: dict[str, Path] = {}
        self._no_ack_queues: set[str] = set()
        self._owner = owner_name()
        self._next_recover = 0.0

    # --- folders ------------------------------------------------------------------------------

    @property
    def base_folder(self) -> Path:
        return Path(self.data_folder_in).parent

    @cached_property
    def queue_folder(self) -> Path:
        folder = Path(self.data_folder_in)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @cached_property
    def tmp_folder(self) -> Path:
        return self._folder("tmp")

    @cached_property
    def inflight_root(self) -> Path:
        return self._folder("inflight")

    @cached_property
    def corrupt_folder(self) -> Path:
        return self._folder("corrupt")

    def _folder(self, name: str) -> Path:
        folder = self.base_folder / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @cached_property
    def own_inflight(self) -> Path:
        folder = self.inflight_root / self._owner
        folder.mkdir(exist_ok=True)
        return folder

    # --- publish ------------------------------------------------------------------------------

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message aside, then rename it into the queue folder."""
        name = message_name(queue)
        staged = self.tmp_folder / name
        with open(staged, "wb") as file:
            file.write(str_to_bytes(dumps(payload)))
        os.rename(staged, self.queue_folder / name)

    # --- consume ------------------------------------------------------------------------------

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        self.recover_orphans()
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_get(queue, no_ack=no_ack, **kwargs)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Claim the oldest complete message of `queue` (rename into this owner's folder)."""
        now = time.monotonic()
        if now >= self._next_recover:
            self.recover_orphans()
        try:
            names = sorted(os.listdir(self.queue_folder))
        except FileNotFoundError:
            names = []
        for name in names:
            if queue_of(name) != queue:
                continue
            claimed = self.own_inflight / name
            try:
                os.rename(self.queue_folder / name, claimed)
            except FileNotFoundError:
                continue  # another consumer took it
            payload = self._read(claimed)
            if payload is None:
                continue
            if queue in self._no_ack_queues:
                claimed.unlink(missing_ok=True)
            else:
                self._claimed[payload["properties"]["delivery_tag"]] = claimed
            return payload
        raise virtual.Empty()

    def _read(self, path: Path) -> Any:
        """The message in `path`, or None after moving an unreadable file to corrupt/."""
        try:
            payload = loads(bytes_to_str(path.read_bytes()))
            payload["properties"]["delivery_tag"]
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            logger.error("Moving an unreadable broker message %s aside: %r", path.name, exc)
            try:
                os.rename(path, self.corrupt_folder / path.name)
            except OSError:
                path.unlink(missing_ok=True)
            return None
        return payload

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple=multiple)
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            claimed.unlink(missing_ok=True)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue goes through _restore
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            claimed.unlink(missing_ok=True)

    def _restore(self, message: Any) -> None:
        """Put an unacknowledged message back at the head of its queue: its claimed file is
        renamed back (same name, so it keeps its place)."""
        claimed = self._claimed.pop(message.delivery_tag, None)
        if claimed is None:
            super()._restore(message)
            return
        try:
            os.rename(claimed, self.queue_folder / claimed.name)
        except FileNotFoundError:
            super()._restore(message)

    def recover_orphans(self) -> int:
        """Rename back into the queue the claimed files of owners that are no longer alive.
        Returns how many messages were put back."""
        self._next_recover = time.monotonic() + RECOVER_EVERY_SECONDS
        restored = 0
        try:
            owners = list(os.scandir(self.inflight_root))
        except FileNotFoundError:
            return 0
        for entry in owners:
            if not entry.is_dir() or entry.name == self._owner or owner_alive(entry.name):
                continue
            for name in sorted(os.listdir(entry.path)):
                try:
                    os.rename(Path(entry.path) / name, self.queue_folder / name)
                except FileNotFoundError:
                    continue
                restored += 1
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)
        if restored:
            logger.warning(
                "Delivering again %d message(s) claimed by a consumer that stopped.", restored
            )
        return restored

    def _size(self, queue: str) -> int:
        try:
            return sum(1 for name in os.listdir(self.queue_folder) if queue_of(name) == queue)
        except FileNotFoundError:
            return 0

    def _purge(self, queue: str) -> int:
        count = 0
        for name in os.listdir(self.queue_folder):
            if queue_of(name) == queue:
                try:
                    (self.queue_folder / name).unlink()
                except FileNotFoundError:
                    continue
                count += 1
        return count


class Transport(filesystem.Transport):
    """The embedded broker's transport (registered as `embedded://` in breact.celery)."""

    Channel = Channel
    global_state = virtual.BrokerState()
    driver_type = "embedded"
    driver_name = "embedded"


# --- Redis ------------------------------------------------------------------------------------


class RedisQoS(redis_transport.QoS):
    """kombu's Redis QoS, safe when the broker connection is lost while tasks are in flight.

    On a lost connection Celery 5.7 collects the connection (its transport's client becomes
    None) and then closes it; closing restores the unacknowledged messages, and the late ack of
    a task that finished meanwhile arrives on that closed channel. Both need the client, so the
    worker died with AttributeError("'NoneType' object has no attribute 'hostname'" or
    "'client'") and never came back. Here both are skipped when the channel has lost its
    connection: the messages stay in Redis' unacked index and are delivered again after the
    visibility timeout, where a redelivered process that already finished is left as it is and
    one that was running is failed and refunded (services.execution.actions.process_run)."""

    def _connection_gone(self) -> bool:
        transport = getattr(self.channel, "connection", None)
        return transport is None or getattr(transport, "client", None) is None

    def restore_unacked(self, client: Any = None) -> Any:
        if client is None and self._connection_gone():
            delivered: dict[str, Any] = self._delivered or {}
            if delivered:
                logger.warning(
                    "The broker connection is gone: %d unacknowledged message(s) stay in Redis "
                    "and are delivered again after the visibility timeout.",
                    len(delivered),
                )
            delivered.clear()
            return []
        return super().restore_unacked(client)

    def ack(self, delivery_tag: str) -> None:
        if self._connection_gone():
            logger.warning(
                "Could not acknowledge message %s: its broker connection is gone; it is "
                "delivered again after the visibility timeout.",
                delivery_tag,
            )
            if self._delivered is not None:
                self._delivered.pop(delivery_tag, None)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if self._connection_gone():
            self.ack(delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class RedisChannel(redis_transport.Channel):
    QoS = RedisQoS


class RedisTransport(redis_transport.Transport):
    """kombu's Redis transport with RedisQoS (CELERY_BROKER_TRANSPORT for redis:// URLs)."""

    Channel = RedisChannel
