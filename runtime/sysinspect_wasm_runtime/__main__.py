"""``python -m sysinspect_wasm_runtime``: the same as the ``wasm-runtime`` command."""

import sys

from .protocolmode import main

sys.exit(main())
