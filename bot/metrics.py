"""In-process metrics in the Prometheus text format (served on ``/metrics``).

Deliberately tiny: counters with labels and one latency histogram family are
all the bot needs, and a dependency-free registry keeps the hot path cheap.
Each process reports its own numbers; Prometheus sums across instances.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Sequence

LabelKey = tuple[tuple[str, str], ...]
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _render_labels(key: LabelKey, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = key + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


class Metrics:
    """A registry of named counters and histograms."""

    def __init__(self, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        """Create an empty registry."""
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[LabelKey, float]] = defaultdict(dict)
        self._buckets = tuple(buckets)
        self._histograms: dict[str, dict[LabelKey, list[float]]] = defaultdict(dict)

    def describe(self, name: str, kind: str, help_text: str) -> None:
        """Declare a metric's type ("counter" or "histogram") and help line."""
        self._help[name] = (kind, help_text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to counter ``name`` with ``labels``."""
        key = _labels(labels)
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation (seconds) in histogram ``name``."""
        key = _labels(labels)
        with self._lock:
            series = self._histograms[name].get(key)
            if series is None:
                # per-bucket counts, then sum and count
                series = [0.0] * (len(self._buckets) + 2)
                self._histograms[name][key] = series
            index = bisect.bisect_left(self._buckets, value)
            if index < len(self._buckets):
                series[index] += 1
            series[-2] += value
            series[-1] += 1

    def value(self, name: str, **labels: str) -> float:
        """Return a counter's current value (0 when never incremented)."""
        return self._counters.get(name, {}).get(_labels(labels), 0.0)

    def render(self) -> str:
        """Return every metric in the Prometheus text exposition format."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(set(self._counters) | set(self._histograms) | set(self._help)):
                kind, help_text = self._help.get(
                    name, ("histogram" if name in self._histograms else "counter", name))
                lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} {kind}")
                for key, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_render_labels(key)} {value:g}")
                for key, series in sorted(self._histograms.get(name, {}).items()):
                    cumulative = 0.0
                    for bound, count in zip(self._buckets, series, strict=False):
                        cumulative += count
                        lines.append(
                            f"{name}_bucket{_render_labels(key, (('le', f'{bound:g}'),))} "
                            f"{cumulative:g}")
                    lines.append(f"{name}_bucket{_render_labels(key, (('le', '+Inf'),))} "
                                 f"{series[-1]:g}")
                    lines.append(f"{name}_sum{_render_labels(key)} {series[-2]:g}")
                    lines.append(f"{name}_count{_render_labels(key)} {series[-1]:g}")
        return "\n".join(lines) + "\n"


def bot_metrics() -> Metrics:
    """Return a registry with the bot's metric families declared."""
    metrics = Metrics()
    metrics.describe("msa_turns_total", "counter", "Turns handled, by activity type")
    metrics.describe("msa_turn_seconds", "histogram", "Time to handle one turn")
    metrics.describe("msa_diagnoses_total", "counter", "Pasted errors diagnosed, by cause")
    metrics.describe("msa_questions_total", "counter",
                     "Typed questions answered from the knowledge, by the best-matching cause")
    metrics.describe("msa_checks_total", "counter", "Live checks run, by check and result")
    metrics.describe("msa_handoffs_total", "counter", "Handoff events, by kind")
    return metrics
