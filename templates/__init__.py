"""The message templates, installed as the package ``notifier.templates`` (setup.py)."""
