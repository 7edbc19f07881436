"""Hydra configs, installed as the package `vla_conf` so console scripts find them as `pkg://vla_conf`."""
