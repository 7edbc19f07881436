"""The env registry: names, suites, and errors that list the valid names."""

import sys

import pytest

from sim import registry


def test_listing_tasks_and_suites_imports_no_mujoco():
    before = "mujoco" in sys.modules
    tasks = registry.all_tasks()
    suites = registry.all_suites()
    assert "tabletop/pick" in tasks and "metaworld/reach-v3" in tasks
    assert set(suites["tabletop/basic"]) <= set(tasks)
    assert len(suites["metaworld/mt50"]) == 50 and len(suites["metaworld/mt10"]) == 10
    if not before:
        assert "mujoco" not in sys.modules


def test_resolve_mixes_suites_and_task_ids_in_order():
    assert registry.resolve_tasks(["tabletop/basic", "metaworld/reach-v3"]) == [
        "tabletop/touch", "tabletop/pick", "tabletop/push", "metaworld/reach-v3"]


@pytest.mark.parametrize("bad", ["pick", "gazebo/pick", "mt10"])
def test_unknown_names_list_the_valid_suites(bad):
    with pytest.raises(KeyError, match="suites: .*tabletop/basic"):
        registry.resolve_tasks(bad)


@pytest.mark.parametrize("bad", ["tabletop/fly", "tabletop/"])
def test_unknown_task_in_a_family_lists_its_tasks(bad):
    with pytest.raises(KeyError, match="valid tasks: .*put_all_in_bowl.*suites: .*basic"):
        registry.resolve_tasks(bad)


def test_unknown_family_and_task_in_make_env():
    with pytest.raises(KeyError, match="valid families"):
        registry.make_env("gazebo/pick")
    with pytest.raises(KeyError, match="valid tasks"):
        registry.make_env("tabletop/fly")
