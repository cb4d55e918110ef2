"""The order domain: statuses, commands, events, the transition table, decide and the fold.

Pure Python: nothing here imports Django, DRF, Channels, Celery, quickfix or psycopg.
"""
