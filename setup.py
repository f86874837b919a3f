"""Package discovery for setuptools (everything else is in pyproject.toml).

The import packages live in folders that do not bear their names (``corpus/`` is ``sysinspect_wasm_corpus``,
``reference/sysinspect_wasm_reference`` is itself), so a static ``packages.find`` cannot map them. ``ROOTS``
names each top-level package's folder once; every package below a root is found, never listed: a hand-kept
list once left ``sysinspect_wasm.store`` out of the wheel (tests/test_product.py holds the wheel to the tree).
"""

from setuptools import find_packages, setup

ROOTS = {
    "sysinspect_wasm": "sysinspect_wasm",
    "sysinspect_wasm_reference": "reference/sysinspect_wasm_reference",
    "sysinspect_wasm_production": "production/sysinspect_wasm_production",
    "sysinspect_wasm_runtime": "runtime/sysinspect_wasm_runtime",
    "sysinspect_wasm_differential": "differential/sysinspect_wasm_differential",
    "sysinspect_wasm_corpus": "corpus",
    "sysinspect_wasm_launcher": "launcher",
}


def discovered() -> list[str]:
    """Every root and every package (a folder with ``__init__.py``) below it."""
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return sorted(found)


setup(package_dir=ROOTS, packages=discovered())
