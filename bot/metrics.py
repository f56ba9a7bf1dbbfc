"""The bot's metrics, kept by ``prometheus_client`` and served on ``/metrics``.

Every family is declared once in :data:`FAMILIES` with its label names; the
code counts with :meth:`Metrics.inc` and :meth:`Metrics.observe` by family
name. Each app has its own :class:`prometheus_client.CollectorRegistry` (no
process-global registry: two apps in one process, as in the tests, count
apart). ``/metrics`` answers in the format the scraper asks for
(``Accept``): Prometheus text by default, OpenMetrics when asked. Each process
reports its own numbers; Prometheus sums across instances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder

_LOGGER = logging.getLogger(__name__)

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its exposed name, kind, help line and label names."""

    name: str
    kind: Literal["counter", "histogram"]
    help: str
    labels: tuple[str, ...] = ()


FAMILIES: tuple[Family, ...] = (
    Family("msa_turns_total", "counter", "Turns handled, by activity type", ("type",)),
    Family("msa_turn_seconds", "histogram", "Time to handle one turn"),
    Family("msa_diagnoses_total", "counter", "Pasted errors diagnosed, by cause", ("cause",)),
    Family("msa_questions_total", "counter",
           "Typed questions answered from the knowledge, by the best-matching cause",
           ("cause",)),
    Family("msa_checks_total", "counter", "Live checks run, by check and result",
           ("check", "result")),
    Family("msa_handoffs_total", "counter", "Handoff events, by kind", ("kind",)),
    Family("msa_staff_commands_total", "counter", "Staff commands and searches, by command",
           ("command",)),
    Family("msa_outbox_total", "counter",
           "Messages that must arrive (relays, ticket cards), by delivery result", ("result",)),
)
"""Every family the bot exposes (the names and labels dashboards and alerts rely on)."""


class Metrics:
    """The bot's counters and histograms in a registry of their own."""

    def __init__(self, families: Sequence[Family] = FAMILIES,
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        """Register ``families`` (histograms with ``buckets``, in seconds)."""
        # The *_created series (each series' start time) double the output and no
        # dashboard reads them; process-wide, so said once here.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self._buckets = tuple(buckets)
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self._lock = threading.Lock()
        # Each series (a family and label values, as the caller spelt them) looked up once:
        # labels() checks the names and takes a lock, on every turn otherwise.
        self._children: dict[tuple[object, ...], Any] = {}
        for family in families:
            self._register(family)

    def _register(self, family: Family) -> None:
        if family.kind == "counter":
            self._counters[family.name] = Counter(
                family.name, family.help, family.labels, registry=self.registry)
        else:
            self._histograms[family.name] = Histogram(
                family.name, family.help, family.labels, registry=self.registry,
                buckets=self._buckets)

    def _series(self, kind: Literal["counter", "histogram"], name: str,
                labels: dict[str, str]) -> Any:
        """The series of family ``name`` with ``labels``, registering a family FAMILIES lacks.

        An undeclared family is counted (and reported) rather than lost.
        """
        families: dict[str, Any] = self._counters if kind == "counter" else self._histograms
        with self._lock:
            if name not in families:
                _LOGGER.warning("metric %s is not declared in bot.metrics.FAMILIES", name)
                self._register(Family(name, kind, name, tuple(sorted(labels))))
            family = families[name]
            child = family.labels(**labels) if labels else family
            self._children[(name, *labels.items())] = child
            return child

    def inc(self, name: str, amount: float = 1.0, /, **labels: str) -> None:
        """Add ``amount`` to counter ``name`` with ``labels`` (exactly its label names)."""
        child = self._children.get((name, *labels.items()))
        (child or self._series("counter", name, labels)).inc(amount)

    def observe(self, name: str, value: float, /, **labels: str) -> None:
        """Record one observation (seconds) in histogram ``name``."""
        child = self._children.get((name, *labels.items()))
        (child or self._series("histogram", name, labels)).observe(value)

    def value(self, name: str, /, **labels: str) -> float:
        """A sample's current value, e.g. a counter's (0 when never incremented)."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """Every metric, in the format ``accept`` (a scraper's Accept header) asks for.

        Returns:
            The body and its Content-Type.
        """
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def render(self) -> str:
        """Every metric in the Prometheus text format."""
        return self.exposition()[0].decode("utf-8")


def bot_metrics() -> Metrics:
    """Return a registry with the bot's metric families declared."""
    return Metrics()
