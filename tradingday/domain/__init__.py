"""The trading day's pure parts: the end-of-day report built from what the projections hold."""
