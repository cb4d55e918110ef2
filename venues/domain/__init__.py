"""Pure venue-side logic: no Django, no FIX, no I/O."""
