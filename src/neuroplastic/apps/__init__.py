"""End-to-end jobs behind the ``neuroplastic`` command (importable and testable without a shell)."""
