"""The molvae command-line application (installed as the ``molvae_cli`` package)."""
