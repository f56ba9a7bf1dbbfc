"""The Bot Framework edge: the only package that imports botbuilder, aiohttp.web or msal.

Everything here translates between the wire (Teams activities, Bot Connector,
Entra tokens) and the framework-free domain in ``dialogs`` and ``checks``.
"""
