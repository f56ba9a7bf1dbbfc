"""The human handoff as a domain desk: policy, phrases and cards, with the storage ports it owns.

:mod:`dialogs.handoff.desk` decides, :mod:`dialogs.handoff.policy` holds the
rules (when to escalate, what typed words mean), :mod:`dialogs.handoff.phrases`
every sentence, :mod:`dialogs.handoff.ports` what it needs from storage,
:mod:`dialogs.handoff.cards` the cards. ``bot/handoff.py`` adapts Teams
activities to desk calls and runs the effects the desk returns.
"""
