"""Running what the desks decide: the turn's reply, the durable outbox, card updates, audit, counts.

Every outbound message goes through one sender (``ConnectorSender`` in
:mod:`bot.adapter`: 429 with Retry-After, connection failures, one retry of
an ambiguous POST, idempotent PUTs). Around it:

* a turn's reply (the flow's replies and every :class:`~dialogs.effects.Say`)
  is sent after the turn's state is stored, and if the connector is slow it
  goes on after the answer to Teams rather than holding it (bot/budget.py);
* what must arrive (:class:`~dialogs.effects.SayTo`, new support threads) is
  written to the outbox with the turn's state, delivered right after the
  commit, and otherwise by :class:`OutboxWorker` on any instance, in order per
  conversation, until delivered or given up — then the other side is told;
* :class:`~dialogs.effects.AskPerson` goes to whoever the composition root
  connected as :attr:`EffectRunner.people` (the handoff), so a feature that
  needs a person never holds the handoff itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botbuilder.core import TurnContext
from botbuilder.schema import Activity
from msrest.exceptions import ClientRequestError

from bot import budget
from bot.adapter import failure_of, send_replies
from bot.metrics import Metrics
from bot.render import to_activities, to_activity
from bot.store import Store
from bot.store.base import conversation_id_of
from bot.store.outbox import AuditLine, OutboxMessage, OutboxRow, TranscriptLine, TurnWrites
from bot.wire import to_json
from dialogs import store_keys
from dialogs.effects import (
    AskPerson,
    Audit,
    Count,
    Effect,
    HubHandoff,
    PostThread,
    Say,
    SayTo,
    UpdateThreadCard,
)
from dialogs.session import Reply

_LOGGER = logging.getLogger(__name__)
LEASE_SECONDS = 30.0
DRAIN_SECONDS = 1.0
GIVE_UP_AFTER_SECONDS = 24 * 3600.0
MAX_RETRY_DELAY_SECONDS = 300.0
# Statuses that will not change by trying again: the app was removed, the thread is gone…
PERMANENT = frozenset({400, 403, 404, 405, 410, 413})


class AsksPeople(Protocol):
    """Who takes :class:`~dialogs.effects.AskPerson` (the handoff feature)."""

    async def escalate(self, target: TurnContext | Mapping[str, Any], reason: str, *,
                       checks: Sequence[Any] = (), detail: str = "") -> Any:
        """Ask a person to take over the conversation of ``target``."""


@dataclass
class TurnPlan:
    """A turn's effects, sorted by when they happen (before the commit, with it, after it)."""

    replies: list[Reply] = field(default_factory=list)
    hub_events: list[HubHandoff] = field(default_factory=list)
    writes: TurnWrites = field(default_factory=TurnWrites)
    after: list[Effect] = field(default_factory=list)  # card updates, best-effort sends, counts

    def add(self, effects: Iterable[Effect], *, conversation_id: str | None = None,
            tenant_id: str | None = None) -> None:
        """Sort effects into the plan."""
        for effect in effects:
            if isinstance(effect, Say):
                self.replies.append(effect.reply)
            elif isinstance(effect, HubHandoff):
                self.hub_events.append(effect)
            elif isinstance(effect, SayTo) and effect.must_arrive:
                self.writes.outbox += outbox_messages(effect)
            elif isinstance(effect, PostThread):
                self.writes.outbox.append(thread_message(effect))
            elif isinstance(effect, Audit):
                self.writes.audit.append(AuditLine(
                    effect.kind, effect.conversation_id or conversation_id,
                    effect.tenant_id if effect.tenant_id is not None else tenant_id,
                    dict(effect.detail)))
            else:
                self.after.append(effect)


def _activity_json(reply: Reply) -> dict[str, Any]:
    return to_json(to_activity(reply), "Activity")


def _on_fail(effect: SayTo | PostThread) -> dict[str, Any] | None:
    notice = effect.on_fail
    if notice is None or not conversation_id_of(notice.to):
        return None
    return {"target": dict(notice.to), "activities": [_activity_json(Reply(notice.text))]}


def outbox_messages(effect: SayTo) -> list[OutboxMessage]:
    """One outbox row per message, so a retry never repeats one that arrived."""
    lane = conversation_id_of(effect.to) or ""
    return [OutboxMessage(lane=lane, kind="send", target=dict(effect.to),
                          activities=[_activity_json(reply)], ticket_id=effect.ticket_id,
                          on_fail=_on_fail(effect)) for reply in effect.replies]


def thread_message(effect: PostThread) -> OutboxMessage:
    """The outbox row that opens a ticket's thread in the support channel."""
    activity = _activity_json(Reply(card=dict(effect.card)))
    activity["summary"] = effect.summary
    return OutboxMessage(lane=store_keys.thread_lane(effect.ticket_id), kind="thread",
                         target=dict(effect.channel), activities=[activity],
                         ticket_id=effect.ticket_id, on_fail=_on_fail(effect))


def transcript_lines(lines: Iterable[Any]) -> list[TranscriptLine]:
    """The desk's kept lines as the store's rows (their relays as outbox messages)."""
    rows = []
    for line in lines:
        relay = outbox_messages(line.relay)[0] if line.relay is not None else None
        rows.append(TranscriptLine(line.conversation_id, line.direction, line.text, line.sender,
                                   line.activity_id, line.ticket_id, relay))
    return rows


class EffectRunner:
    """Carries out effects: after a turn's commit, or on their own (sweeps, invokes, checks)."""

    def __init__(self, store: Store, adapter: Any, metrics: Metrics) -> None:
        """Send through ``adapter``; keep the outbox in ``store``; count in ``metrics``."""
        self.store = store
        self.adapter = adapter
        self.metrics = metrics
        self.outbox = OutboxWorker(store, adapter, metrics)
        # Set by the composition root (bot/features.py); None: nobody is asked.
        self.people: AsksPeople | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ----- after a turn ---------------------------------------------------------------------
    async def after_commit(self, turn_context: TurnContext | None, plan: TurnPlan,
                           lanes: Iterable[str], extra: list[Activity] | None = None) -> None:
        """Send the turn's reply, deliver its outbox rows, update cards, count."""
        activities = list(extra or [])
        for event in plan.hub_events:
            activities.append(self.hub_event(event))
        activities += to_activities(plan.replies)
        if turn_context is not None and activities:
            await self.within_budget(send_replies(turn_context, activities), "reply")
        for effect in plan.after:
            await self._after(effect, turn_context)
        lanes = tuple(lanes)
        if lanes:
            await self.within_budget(self.outbox.deliver(lanes), "outbox")

    async def run(self, effects: Iterable[Effect], turn_context: TurnContext | None = None,
                  *, conversation_id: str | None = None, tenant_id: str | None = None,
                  lanes: Iterable[str] = ()) -> None:
        """Carry out effects outside a stored turn (their rows are written now).

        Args:
            conversation_id, tenant_id: for audit rows that do not name their own.
            lanes: outbox lanes already written (a take over's messages) to deliver too.
        """
        plan = TurnPlan()
        plan.add(effects, conversation_id=conversation_id, tenant_id=tenant_id)
        lanes = tuple(lanes)
        if plan.writes.outbox:
            lanes += await self.store.turns.enqueue(plan.writes.outbox)
        for row in plan.writes.audit:
            try:
                await self.store.audit.append(row.kind, conversation_id=row.conversation_id,
                                              tenant_id=row.tenant_id, detail=row.detail)
            except Exception:  # auditing must never break a handoff
                _LOGGER.warning("audit append failed", exc_info=True)
        await self.after_commit(turn_context, plan, lanes)

    async def _after(self, effect: Effect, turn_context: TurnContext | None) -> None:
        if isinstance(effect, AskPerson):
            target = effect.customer if effect.customer is not None else turn_context
            if self.people is not None and target is not None:
                await self.people.escalate(target, effect.reason, checks=effect.checks,
                                           detail=effect.detail)
        elif isinstance(effect, Count):
            self.metrics.inc(effect.name, **dict(effect.labels))
        elif isinstance(effect, UpdateThreadCard):
            activity = _activity_json(Reply(card=dict(effect.card)))
            await self.within_budget(self._update(dict(effect.thread), activity), "card update")
        elif isinstance(effect, SayTo):
            await self.within_budget(self._best_effort(effect), "message")

    async def _update(self, thread: dict[str, Any], activity: dict[str, Any]) -> None:
        try:
            await self.adapter.update_in(thread, activity)
        except Exception:  # the invoke answer already shows the new state to the presser
            _LOGGER.warning("could not update the handoff card", exc_info=True)

    async def _best_effort(self, effect: SayTo) -> None:
        try:
            await self.adapter.send_to(dict(effect.to), [_activity_json(r) for r in effect.replies])
        except Exception:
            _LOGGER.warning("message not delivered", exc_info=True)

    def hub_event(self, event: HubHandoff) -> Activity:
        """The ``handoff.initiate`` event activity (botbuilder-python has no EventFactory)."""
        from botbuilder.schema import ActivityTypes, Attachment, ConversationReference

        reference = ConversationReference().deserialize(dict(event.customer))
        return Activity(
            type=ActivityTypes.event, name="handoff.initiate", id=str(uuid.uuid4()),
            timestamp=__import__("datetime").datetime.now(__import__("datetime").UTC),
            value=dict(event.context), conversation=reference.conversation,
            from_property=reference.user, relates_to=reference,
            service_url=reference.service_url, channel_id=reference.channel_id,
            attachments=[Attachment(content_type="application/json", name="Transcript",
                                    content={"activities": [dict(a) for a in event.transcript]})],
            entities=[])

    async def within_budget(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Wait for ``work`` while the turn has time; after that it goes on in the background."""
        # The loop's create_task: what ensure_future does with a coroutine, without its checks.
        task = asyncio.get_running_loop().create_task(work)
        if not budget.in_turn():
            await task
            return
        if not task.done():
            await budget.done_or_timeout(task, budget.remaining(0.0))
        if not task.done():
            _LOGGER.info("%s continues after the answer to Teams", what)
            self._background.add(task)
            task.add_done_callback(self._finished)
            return
        task.result()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.warning("background send failed", exc_info=task.exception())

    async def close(self) -> None:
        """Give sends still under way a moment, then stop the outbox worker."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=5)
        for task in list(self._background):
            task.cancel()
        await self.outbox.close()


class OutboxWorker:
    """Delivers outbox rows: right after the turn that wrote them, and every second for the rest."""

    def __init__(self, store: Store, adapter: Any, metrics: Metrics) -> None:
        """Deliver with ``adapter`` the rows in ``store``."""
        self.store = store
        self.adapter = adapter
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    def start(self) -> None:
        """Start the background drain (called at app start)."""
        if self._task is None:
            self._task = asyncio.create_task(self._drain_forever(), name="outbox")

    async def close(self) -> None:
        """Stop the background drain."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain_forever(self) -> None:
        while True:
            try:
                await self.deliver(None)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad tick must not end the loop
                _LOGGER.warning("outbox drain failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), DRAIN_SECONDS)
            self.wake.clear()

    async def deliver(self, lanes: tuple[str, ...] | None) -> int:
        """Deliver the due rows of ``lanes`` (None: of every lane), each lane in order."""
        delivered = 0
        while True:
            rows = await self.store.turns.lease(lanes, LEASE_SECONDS)
            if not rows:
                return delivered
            results = await asyncio.gather(*(self._one(row) for row in rows))
            delivered += sum(results)
            if not any(results):
                return delivered

    async def _one(self, row: OutboxRow) -> bool:
        message = row.message
        try:
            if message.kind == "thread":
                created = await self.adapter.create_thread(dict(message.target),
                                                           dict(message.activities[0]))
                if message.ticket_id:
                    await self.store.tickets.update_ticket(message.ticket_id,
                                                           support_thread_ref=created)
                self.metrics.inc("msa_handoffs_total", kind="posted")
            else:
                await self.adapter.send_to(dict(message.target),
                                           [dict(a) for a in message.activities])
        except Exception as error:  # noqa: BLE001 - every failure is classified below
            await self._failed(row, error)
            return False
        await self.store.turns.delivered(row.id)
        self.metrics.inc("msa_outbox_total", result="delivered")
        return True

    async def _failed(self, row: OutboxRow, error: Exception) -> None:
        status, retry_after = failure_of(error)
        unreachable = isinstance(error, ClientRequestError) and "ClientConnectorError" in repr(
            getattr(error, "inner_exception", error))
        age = (self.store.turns.clock() - row.created_at).total_seconds()
        reason = f"{status or type(error).__name__}: {str(error)[:200]}"
        if status in PERMANENT or (status is None and not unreachable) or status == 500 or (
                status is not None and status >= 500) or age > GIVE_UP_AFTER_SECONDS:
            # Refused for good, or ambiguous after the sender's one retry: stop, and say so.
            _LOGGER.warning("outbox message given up", extra={
                "lane": row.message.lane, "status": status, "ticket": row.message.ticket_id})
            await self.store.turns.give_up(row.id, reason)
            self.metrics.inc("msa_outbox_total", result="given_up")
            notice = row.message.on_fail
            if notice and notice.get("target"):
                target = dict(notice["target"])
                await self.store.turns.enqueue([OutboxMessage(
                    lane=conversation_id_of(target) or "", kind="send", target=target,
                    activities=list(notice.get("activities") or []),
                    ticket_id=row.message.ticket_id)])
                self.wake.set()
            return
        delay = retry_after if retry_after is not None else min(
            MAX_RETRY_DELAY_SECONDS, 2 ** min(row.attempts, 8) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        _LOGGER.info("outbox message will be tried again", extra={
            "lane": row.message.lane, "status": status, "delay": round(delay, 1)})
        await self.store.turns.retry_later(row.id, delay=delay, ambiguous=False, error=reason)
