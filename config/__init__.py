"""The shipped policy and .env.example, installed as the package ``notifier.config``
(setup.py); a ``config/notifier.toml`` in the working directory or ``--config`` overrides
the policy."""
