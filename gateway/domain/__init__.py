"""The client FIX gateway's pure part: what the log's events become for a client (reports.py)
and the tables that name FIX codes (tables.py). No Django, no quickfix."""
