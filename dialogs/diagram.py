"""The flow diagram, generated from the flow table (never drawn at runtime).

``python app.py flow`` (``make flow``) writes ``docs/flow.md``; a test fails
when the committed file differs from what the table produces now.
"""

from __future__ import annotations

from pathlib import Path

from transitions.extensions import GraphMachine

from dialogs.flow import machine_config

HEADER = """# The guided troubleshooting flow

Generated from `dialogs/flow.py` by `python app.py flow` (`make flow`); do not edit by hand.
Rows of `next_question` are tried in order: the first guard that holds wins, so a
question whose answer is already known is skipped.

```mermaid
"""


def flow_mermaid() -> str:
    """Return the flow as a mermaid state diagram, guards shown on the arrows."""
    config = machine_config()
    # The diagram machine is its own model (GraphMachine(model=None) cannot draw);
    # on_enter callbacks are irrelevant for a picture and would need a real model.
    config["states"] = [state["name"] for state in config["states"]]
    machine = GraphMachine(
        **config, graph_engine="mermaid", show_conditions=True, title="Mail Setup Assistant"
    )
    return str(machine.get_graph().draw(None)).rstrip() + "\n"


def flow_markdown() -> str:
    """Return the whole docs/flow.md text."""
    return HEADER + flow_mermaid() + "```\n"


def write_flow_markdown(path: Path) -> None:
    """Write the diagram to ``path`` (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(flow_markdown(), encoding="utf-8")
