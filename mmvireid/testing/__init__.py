"""Writers of test data in the official dataset layouts (not imported by the
runtime package)."""
