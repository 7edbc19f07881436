"""vla-run's argv rewriting, its Hydra config (run.yaml + planner group) and config validation."""

import pytest

pytest.importorskip("hydra")

from hydra import compose, initialize_config_module  # noqa: E402

from policies.saycan.cli import RunConfig, rewrite_argv  # noqa: E402
from vla.config import to_dataclass  # noqa: E402


def test_positional_command_becomes_an_override():
    argv = rewrite_argv(["vla-run", 'put the "red" block in the bowl', "seed=3"])
    assert argv == ["vla-run", 'command="put the \\"red\\" block in the bowl"', "seed=3"]
    assert rewrite_argv(["vla-run", "seed=3"]) == ["vla-run", "seed=3"]
    assert rewrite_argv(["vla-run", "--help"]) == ["vla-run", "--help"]


@pytest.mark.parametrize("planner, affordance", [("smollm2", "geometric"), ("lm_only", "none")])
def test_run_config_composes_with_planner_group(planner, affordance):
    with initialize_config_module(config_module="vla_conf", version_base=None):
        cfg = compose(config_name="run", overrides=[f"planner={planner}", 'command="stack all the blocks"'])
    run = to_dataclass(cfg, RunConfig)
    assert run.command == "stack all the blocks" and run.planner.affordance == affordance


def test_run_config_rejects_bad_values():
    with pytest.raises(ValueError, match="tabletop"):
        RunConfig(task="metaworld/reach-v3")
    with pytest.raises(ValueError, match="max_env_steps"):
        RunConfig(max_env_steps=0)
