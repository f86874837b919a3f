"""``python -m sysinspect_wasm_runtime``: the same as the ``wasm-runtime`` command."""

import sys

from .cli import main

sys.exit(main())
