"""``make chat``: the terminal chat signs in with the device code flow and shows the results."""

from __future__ import annotations

from pathlib import Path

from app import build_engine
from tests.checks.fakes import TenantScenario
from tests.live.conftest import IdentityFactory, as_mailbox, live_settings
from tests.support.terminal import button, shows, terminal_chat


async def test_terminal_chat_signs_in_with_a_device_code_and_prints_the_results(
    start_identity: IdentityFactory, tmp_path: Path,
) -> None:
    identity = await start_identity(as_mailbox(TenantScenario.for_cause("security_defaults")))
    settings = live_settings(identity, tmp_path)
    async with terminal_chat(settings, build_engine(settings)) as (stdin, out):
        welcome = await shows(out, "Check my tenant")
        stdin.type(button(welcome, "Check my tenant"))
        consent = await shows(out, "Sign in and check")
        stdin.type(button(consent, "Sign in and check"))
        await shows(out, "https://microsoft.com/devicelogin")
        output = await shows(out, "checks done")
        assert "✗ Security defaults" in output and "**" not in output
        assert "Security defaults block" in output.split("What to fix")[-1]
    assert identity.grants()[0] == "devicecode"
