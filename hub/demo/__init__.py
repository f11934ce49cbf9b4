"""The demo organisation (the white paper's case) and the sandbox business systems that feed it."""
