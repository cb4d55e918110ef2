"""Unit tests of the pure domain: no database, no Django, no network.

The repository root goes on sys.path so `orders.domain` and `risk.domain` import when pytest
runs without pytest-django (which would otherwise add the project directory), and this
folder too, so the test modules can share `order_driver` under any import mode.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)
