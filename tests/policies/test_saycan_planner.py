"""Skills, affordances, the command guard, plan_step and the planner loop's re-planning after failures.

The LM here is a tiny random Llama (fast, real transformers code paths): these tests check the planner's
mechanics (masking, retries, budgets, traces), not the LM's judgement (test_saycan_scoring and
test_saycan_sim do that with SmolLM2).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from policies.saycan.affordances import GeometricAffordance, NoAffordance, make_affordance  # noqa: E402
from policies.saycan.config import SayCanConfig  # noqa: E402
from policies.saycan.goals import all_in_bowl, one_tower, same_color_bowls, tower_height  # noqa: E402
from saycan_helpers import tiny_random_planner  # noqa: E402
from policies.saycan.planner import Planner, check_command  # noqa: E402
from policies.saycan.prompt import EXAMPLES, StepOutcome, build_prompt, describe_scene, few_shot_text  # noqa: E402
from policies.saycan.scene import SceneState  # noqa: E402
from policies.saycan.skills import DONE, Skill, apply_skill, enumerate_skills, parse_skill, skill_succeeded  # noqa: E402

SCENE = SceneState(("red block", "blue block", "yellow block"), ("green bowl", "blue bowl"))


@pytest.fixture(scope="module")
def planner():
    return tiny_random_planner(max_positions=4096)


def test_skills_enumerate_parse_and_validate():
    skills = enumerate_skills(SCENE)
    assert len(skills) == 3 + 2 + 3 + 1 and skills[-1] == DONE
    assert [s.text for s in skills[:1]] == ["pick up the red block"]
    for s in skills:
        assert parse_skill(s.text + ".") == s
    with pytest.raises(ValueError, match="not a skill"):
        parse_skill("dance")
    with pytest.raises(ValueError, match="verb"):
        Skill("throw", obj="red block")
    with pytest.raises(ValueError, match="target"):
        Skill("place_in")


def test_geometric_affordance_masks_infeasible_skills():
    aff = GeometricAffordance()
    skills = enumerate_skills(SCENE)
    empty = dict(zip([s.text for s in skills], aff(skills, SCENE)))
    assert empty["pick up the red block"] == 1 and empty["done"] == 1
    assert empty["place it in the green bowl"] == 0 and empty["place it on the blue block"] == 0  # empty gripper
    holding = SceneState(SCENE.blocks, SCENE.bowls, held="red block", support={"yellow block": "blue block"})
    full = dict(zip([s.text for s in skills], aff(skills, holding)))
    assert full["pick up the blue block"] == 0  # hand is full
    assert full["place it in the green bowl"] == 1
    assert full["place it on the red block"] == 0  # onto itself
    assert full["place it on the blue block"] == 0  # something rests on it
    assert full["place it on the yellow block"] == 1
    assert full["done"] == 0  # never finish holding a block
    covered = SceneState(SCENE.blocks, SCENE.bowls, support={"yellow block": "blue block"})
    assert dict(zip([s.text for s in skills], aff(skills, covered)))["pick up the blue block"] == 0
    not_met = SceneState(SCENE.blocks, SCENE.bowls, goal_met=False)
    assert aff([DONE], not_met)[0] == 0  # "done" waits for the success detector
    assert np.all(NoAffordance()(skills, holding) == 1)
    with pytest.raises(ValueError, match="checkpoint"):
        make_affordance("learned")
    with pytest.raises(ValueError, match="valid"):
        make_affordance("magic")


def test_scene_state_validates():
    with pytest.raises(ValueError, match="held"):
        SceneState(("red block",), (), held="green block")
    with pytest.raises(ValueError, match="support"):
        SceneState(("red block",), ("green bowl",), support={"red block": "red block"})


def test_apply_skill_and_success_detector():
    s1 = apply_skill(Skill("pick", obj="red block"), SCENE)
    assert s1.held == "red block" and skill_succeeded(Skill("pick", obj="red block"), SCENE, s1)
    s2 = apply_skill(Skill("place_on", target="blue block"), s1)
    assert s2.where("red block") == "blue block" and tower_height(s2) == 2
    assert skill_succeeded(Skill("place_on", target="blue block"), s1, s2)
    assert not skill_succeeded(Skill("place_in", target="green bowl"), s1, s2)
    with pytest.raises(ValueError, match="not feasible"):
        apply_skill(Skill("pick", obj="blue block"), s2)  # covered
    assert [d for d, ok in one_tower(s2) if ok] == ["a tower of 2 blocks"]
    assert all_in_bowl("green bowl")(SCENE)[0] == ("red block in green bowl", False)
    assert same_color_bowls(SCENE)[1] == ("blue block in blue bowl", False)


def test_check_command_refuses_empty_unrelated_and_unsatisfiable():
    objs = SCENE.objects
    assert check_command("put all the blocks in the green bowl", objs) is None
    assert "empty" in check_command("   ", objs)
    assert "mentions no block" in check_command("make me a sandwich", objs)
    assert "purple" in check_command("put the purple block in the green bowl", objs)


def test_prompt_examples_and_scene_description():
    assert describe_scene(SceneState(("red block", "blue block"), ("green bowl",), held="blue block",
                                     support={"red block": "green bowl"})) == \
        "Scene: on the table: nothing. in the gripper: blue block."
    tower = SceneState(("red block", "blue block", "yellow block"), ("green bowl",),
                       support={"blue block": "red block"})
    assert describe_scene(tower) == \
        "Scene: on the table: yellow block. tower: red block, blue block. in the gripper: nothing."
    start = describe_scene(SCENE)
    failed = StepOutcome("pick up the red block", False, "Scene: now.")
    prompt = build_prompt("stack all the blocks", start, [StepOutcome("pick up the blue block", True), failed])
    # the live block: the command, the last step's verdict, its feedback, an open "Robot:"
    assert prompt.endswith("\n\nHuman: stack all the blocks\nLast step: failed.\nScene: now.\nRobot:")
    shown = build_prompt("stack all the blocks", start, [StepOutcome("pick up the blue block", True), failed],
                         window=1)
    assert shown.endswith("Human: stack all the blocks\nRobot: pick up the red block. Success: no.\n"
                          "Scene: now.\nRobot:")
    every = build_prompt("stack all the blocks", start, [StepOutcome("pick up the blue block", True), failed],
                         window=3)
    assert every.endswith("Human: stack all the blocks\nRobot: pick up the blue block. Success: yes.\n"
                          "Robot: pick up the red block. Success: no.\nScene: now.\nRobot:")
    with pytest.raises(ValueError, match="history_window"):
        Planner(None, history_window=-1)
    assert prompt.count("Robot: done.") == len(EXAMPLES)
    assert build_prompt("stack all the blocks", start, []).endswith(f"Human: stack all the blocks\n{start}\nRobot:")
    # the examples never name a color the tabletop samples
    from sim.tabletop.scene import COLORS
    assert not set(few_shot_text().replace(".", " ").replace(",", " ").split()) & set(COLORS)


def test_geometric_affordance_place_on_a_block_in_a_bowl_is_infeasible():
    scene = SceneState(("red block", "blue block"), ("green bowl",), held="blue block",
                       support={"red block": "green bowl"})
    assert GeometricAffordance()([Skill("place_on", target="red block")], scene).tolist() == [0.0]


def test_plan_step_never_chooses_a_masked_skill(planner):
    skills = enumerate_skills(SCENE)
    for held in (None, "red block"):
        scene = SceneState(SCENE.blocks, SCENE.bowls, held=held)
        aff = GeometricAffordance()(skills, scene)
        step = planner.plan_step("put all the blocks in the green bowl", [], skills, aff, scene=describe_scene(scene))
        assert aff[step.chosen] == 1
        assert step.lm.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(step.combined, step.lm * aff)
        assert step.to_dict()["chosen"] == step.chosen_skill and "comb" in step.table()
    with pytest.raises(ValueError, match="shape"):
        planner.plan_step("stack all the blocks", [], skills, [1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        planner.plan_step("stack all the blocks", [], skills, np.full(len(skills), 2.0))


def test_config_validates():
    with pytest.raises(ValueError, match="affordance"):
        SayCanConfig(affordance="magic")
    with pytest.raises(ValueError, match="affordance_checkpoint"):
        SayCanConfig(affordance="learned")
    with pytest.raises(ValueError, match="vla_checkpoint"):
        SayCanConfig(executor="vla")
    with pytest.raises(ValueError, match="retry_limit"):
        SayCanConfig(retry_limit=0)
