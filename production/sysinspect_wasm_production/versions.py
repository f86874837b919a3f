"""Version numbers of our own code that changes the native code of a module.

Kept apart from the code they describe so that computing an engine
fingerprint (every warm call does) does not import the memory.grow rewriter,
which only a compilation needs.
"""

INSTRUMENT_VERSION = 2
"""The memory.grow rewriter's version (:mod:`.instrument`): bump it whenever the rewriting changes, so cached artifacts are rebuilt."""
