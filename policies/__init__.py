"""The Policy protocol (`policies.base`) and its implementations: vla, saycan, scripted, baselines."""
