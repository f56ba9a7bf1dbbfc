"""The benchmark: this bot against the SDK's echo bot and a bare aiohttp floor (``make bench``).

See :mod:`bench.run`. The results of the last committed run are in
``bench/results.md``.
"""
