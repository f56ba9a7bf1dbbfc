"""Live checks of the customer's tenant, as a domain desk (no framework, no network).

The pieces, each framework-free:

* :mod:`dialogs.live.results`: what a check reports (:class:`CheckResult`); the
  checks in ``checks/`` build these, the desk and the cards read them.
* :mod:`dialogs.live.phrases`: every customer-facing sentence of the live checks.
* :mod:`dialogs.live.switches`: the SMTP AUTH switches judged together, and
  pasted PowerShell output read back.
* :mod:`dialogs.live.verdicts`: results coalesced into final verdicts (the
  mailbox type's requirements from the knowledge file), fixes in order.
* :mod:`dialogs.live.cards`: the consent card and the results card.
* :mod:`dialogs.live.desk`: the run itself: preflight, tenant isolation, the
  rate limit, progressive card updates, paste handling, and what to hand to a
  person; it talks to the edge only through the ports in :mod:`dialogs.live.ports`.

This module imports nothing so that ``checks/`` can import the result types
without pulling in the rest of the domain.
"""
