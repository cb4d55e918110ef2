"""Simulated venues: a price-time-priority limit order book per instrument behind a FIX acceptor."""
