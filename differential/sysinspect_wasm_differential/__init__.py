"""Differential testing of the two backends: hypothesis drives wasmtime and pywasm and compares them.

* :mod:`.strategies`: requests, stdin, file trees, exec tapes, wasm-smith inputs, Wasm values;
* :mod:`.harness`: one example run on both backends;
* :mod:`.normalise`: every normalisation, named and justified;
* :mod:`.compare`: the comparator, listing every difference;
* :mod:`.campaign`, :mod:`.corpus`, :mod:`.generated`: the campaigns;
* :mod:`.report`: side-by-side reports and the summary table;
* :mod:`.cli`: ``wasm-runtime diff`` and ``python -m sysinspect_wasm_differential campaign``.
"""

__version__ = "0.1.0"
