"""Pure domain: the guided flow, the knowledge, the diagnosis; no botbuilder, aiohttp.web, msal."""
