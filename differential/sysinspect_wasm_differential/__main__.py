"""``python -m sysinspect_wasm_differential {diff,campaign} ...``."""

import sys

from .cli import module_main

sys.exit(module_main())
