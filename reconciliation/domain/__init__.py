"""Reconciliation with the venues, pure: what a venue's answer and the OMS's books are compared
by (compare.py), and the breaks that differences open, as events and their fold (breaks.py)."""
