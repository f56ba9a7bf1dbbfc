"""Pure domain: the guided flow, the knowledge and the diagnosis; no botbuilder, aiohttp.web or msal."""
