"""/metrics keeps every family, type and label set it had before prometheus_client kept them."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import FAMILIES, Metrics, bot_metrics

# What /metrics exposed at commit 57f55ce (bot/metrics.py, bot/staff.py): sample name,
# type, label names. Dashboards and alerts read these; none may go missing or change.
EXPOSED_BEFORE: dict[str, tuple[str, tuple[str, ...]]] = {
    "msa_turns_total": ("counter", ("type",)),
    "msa_turn_seconds": ("histogram", ()),
    "msa_diagnoses_total": ("counter", ("cause",)),
    "msa_questions_total": ("counter", ("cause",)),
    "msa_checks_total": ("counter", ("check", "result")),
    "msa_handoffs_total": ("counter", ("kind",)),
    "msa_staff_commands_total": ("counter", ("command",)),
}
SAMPLE_LABELS = {"type": "message", "cause": "mfa_required", "check": "license",
                 "result": "pass", "kind": "requested", "command": "kb"}
# Added since: the outbox of messages that must arrive (issue 16).
ADDED_SINCE = {"msa_outbox_total"}


def exercised() -> Metrics:
    """A registry where every declared family has one series."""
    metrics = bot_metrics()
    for family in FAMILIES:
        labels = {name: SAMPLE_LABELS[name] for name in family.labels}
        if family.kind == "counter":
            metrics.inc(family.name, **labels)
        else:
            metrics.observe(family.name, 0.02, **labels)
    return metrics


def test_every_family_exposed_before_is_still_exposed_with_its_type_and_labels() -> None:
    families = {f.name: f for f in text_string_to_metric_families(exercised().render())}
    for name, (kind, labels) in EXPOSED_BEFORE.items():
        family_name = name.removesuffix("_total")
        assert family_name in families, name
        family = families[family_name]
        assert family.type == kind, name
        samples = [s for s in family.samples if s.name.startswith(name)]
        assert samples, name
        for sample in samples:
            assert sorted(set(sample.labels) - {"le"}) == sorted(labels), (name, sample)
    # Nothing but these (the per-series *_created timestamps are switched off).
    assert {s.name for f in families.values() for s in f.samples} == {
        "msa_turns_total", "msa_diagnoses_total", "msa_questions_total", "msa_checks_total",
        "msa_handoffs_total", "msa_staff_commands_total", "msa_turn_seconds_bucket",
        "msa_turn_seconds_sum", "msa_turn_seconds_count"} | ADDED_SINCE


def test_families_are_declared_before_anything_is_counted() -> None:
    families = {f.name: f for f in text_string_to_metric_families(bot_metrics().render())}
    assert {name.removesuffix("_total") for name in EXPOSED_BEFORE} <= set(families)


def test_counts_and_buckets_add_up() -> None:
    metrics = bot_metrics()
    for seconds in (0.003, 0.02, 0.02, 7.0, 30.0):
        metrics.observe("msa_turn_seconds", seconds)
    metrics.inc("msa_checks_total", check="smtp", result="fail")
    metrics.inc("msa_checks_total", 2, result="fail", check="smtp")  # any keyword order
    assert metrics.value("msa_checks_total", check="smtp", result="fail") == 3
    assert metrics.value("msa_checks_total", check="smtp", result="pass") == 0
    assert metrics.value("msa_turn_seconds_count") == 5
    assert metrics.value("msa_turn_seconds_bucket", le="0.005") == 1
    assert metrics.value("msa_turn_seconds_bucket", le="0.025") == 3
    assert metrics.value("msa_turn_seconds_bucket", le="10.0") == 4
    assert metrics.value("msa_turn_seconds_bucket", le="+Inf") == 5
    assert metrics.value("msa_turn_seconds_sum") == pytest.approx(37.043)


def test_each_app_counts_in_its_own_registry() -> None:
    first, second = bot_metrics(), bot_metrics()
    first.inc("msa_turns_total", type="message")
    assert first.value("msa_turns_total", type="message") == 1
    assert second.value("msa_turns_total", type="message") == 0


def test_a_wrong_label_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="label names"):
        bot_metrics().inc("msa_handoffs_total", reason="x")


def test_an_undeclared_counter_is_still_counted_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = bot_metrics()
    with caplog.at_level(logging.WARNING, logger="bot.metrics"):
        metrics.inc("msa_new_things_total", what="x")
        metrics.inc("msa_new_things_total", what="x")
    assert metrics.value("msa_new_things_total", what="x") == 2
    assert [r.getMessage() for r in caplog.records] == [
        "metric msa_new_things_total is not declared in bot.metrics.FAMILIES"]


def test_the_scraper_gets_the_format_it_asks_for() -> None:
    metrics = exercised()
    body, content_type = metrics.exposition(None)
    assert content_type.startswith("text/plain")
    assert body.decode() == metrics.render()
    body, content_type = metrics.exposition(
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f.type for f in openmetrics_families(text)}
    assert families["msa_turns"] == "counter" and families["msa_turn_seconds"] == "histogram"
