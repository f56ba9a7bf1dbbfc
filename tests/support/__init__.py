"""Test kit shared by the test modules: a local Bot Connector and Teams-shaped activities."""
