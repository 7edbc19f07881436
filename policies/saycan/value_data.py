"""Rollouts that teach the learned affordance: (front image, robot state, skill) -> did the skill succeed?

SayCan's value functions are trained on the outcomes of executing skills (Ahn et al. 2022, Sec. 4). Here an
episode resets a long-horizon tabletop task and then executes `skills_per_episode` candidate skills in a row
with the scripted primitives (`ScriptedSkillExecutor`); every one is a sample, recorded from the state just
before it ran and labelled by the success detector (`skills.skill_succeeded`, built on the sim predicates)
when the skill undid no progress (`caused_success`: a pick with a full hand is no success).
Earlier skills leave the varied states later ones start from (a block held, blocks in bowls, towers).

Candidates are drawn half from the skills the geometric model calls feasible and half from the rest
(`infeasible_frac`), so both labels appear; `done` is drawn now and then and labelled by the task's own
success predicate with an empty gripper (it executes nothing). Random skills seldom finish a task, so a
share of rollouts (`expert_frac`) first runs the task's own plan as its candidates and then `done`: that
gives finished scenes, where `done` succeeds. Each sample also keeps the geometric model's verdict, so a
learned model can be compared with it.

    data = collect(CollectConfig(episodes=4, skills_per_episode=4))
    data.images.shape, data.labels.mean(), data.agreement()
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from policies.saycan.affordances import geometric_feasible
from policies.saycan.scene import SceneState, scene_from_env
from policies.saycan.skills import DONE, ScriptedSkillExecutor, Skill, enumerate_skills, skill_succeeded

LONG_TASKS = ("put_all_in_bowl", "stack_all", "sort_by_color")


@dataclass
class CollectConfig:
    """How many rollouts to collect, from which tasks, and how candidates are drawn; validated here."""

    episodes: int = 300  # env resets; each yields `skills_per_episode` samples (fewer if physics fails)
    skills_per_episode: int = 6
    tasks: tuple[str, ...] = LONG_TASKS  # tabletop task names the episodes cycle through
    image_size: int = 64  # stored image size (square); the value model's input size
    # the front camera is rendered at the size the planner's env uses (vla-run: 128) and resized as the model
    # resizes at inference (`vla.transforms.resize_image`), so training and planning frames look alike
    render_size: int = 128
    infeasible_frac: float = 0.5  # share of candidates drawn from the geometrically infeasible skills
    done_frac: float = 0.1  # share of candidates that are `done`
    expert_frac: float = 0.3  # share of rollouts that first follow the task's own plan, then try `done`
    skill_step_budget: int = 150  # control steps one skill may use (as the planner loop's default)
    seed: int = 0  # episode i resets with seed + i and draws its candidates from a generator seeded so too
    workers: int = 1  # worker processes (episodes are split between them)

    def __post_init__(self):
        self.tasks = tuple(self.tasks)
        for name in ("episodes", "skills_per_episode", "image_size", "render_size", "skill_step_budget", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"CollectConfig.{name} must be >= 1, got {getattr(self, name)}")
        from sim.tabletop.family import TASKS

        bad = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or bad:
            raise ValueError(f"CollectConfig.tasks must be non-empty tabletop tasks of {TASKS}, got {self.tasks}")
        for name in ("infeasible_frac", "done_frac", "expert_frac"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CollectConfig.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class ValueData:
    """Collected samples, aligned on the first axis (N)."""

    images: np.ndarray  # uint8 (N, H, W, 3): the front camera before the skill ran
    states: np.ndarray  # float32 (N, S): the robot state then
    skills: np.ndarray  # str (N,): the skill texts (`Skill.text`)
    labels: np.ndarray  # float32 (N,): 1 when the executed skill succeeded
    geometric: np.ndarray  # float32 (N,): 1 when the geometric model called it feasible
    episodes: np.ndarray  # int64 (N,): which rollout each sample came from (for held-out splits)

    def __post_init__(self):
        n = len(self.labels)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"ValueData.{f.name} has {len(getattr(self, f.name))} rows, labels has {n}")

    def __len__(self) -> int:
        return len(self.labels)

    def agreement(self) -> float:
        """Share of samples whose executed outcome matches the geometric model's verdict."""
        return float(np.mean(self.labels == self.geometric)) if len(self) else float("nan")

    def subset(self, mask: np.ndarray) -> "ValueData":
        """The samples where `mask` (bool (N,) or indices) holds."""
        return ValueData(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def split_by_episode(self, val_frac: float, seed: int = 0) -> tuple["ValueData", "ValueData"]:
        """(train, held-out): whole rollouts go to one side, so held-out states are from unseen episodes."""
        ids = np.unique(self.episodes)
        rng = np.random.default_rng(seed)
        n_val = max(1, int(round(val_frac * len(ids)))) if len(ids) > 1 else 0
        val_ids = rng.permutation(ids)[:n_val]
        held = np.isin(self.episodes, val_ids)
        return self.subset(~held), self.subset(held)

    def save(self, path: str | Path) -> None:
        """Write the arrays to an .npz atomically (strings as unicode arrays: loading needs no pickle)."""
        from vla.io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: str | Path) -> "ValueData":
        """Read an .npz written by `save` (allow_pickle stays off)."""
        with np.load(path, allow_pickle=False) as z:
            missing = [f.name for f in fields(cls) if f.name not in z]
            if missing:
                raise ValueError(f"{path} is not a ValueData file: missing arrays {missing}")
            return cls(**{f.name: z[f.name] for f in fields(cls)})


def choose_candidate(skills: list[Skill], feasible: list[bool], rng: np.random.Generator,
                     cfg: CollectConfig) -> Skill:
    """One candidate skill: `done` with probability done_frac, else from the infeasible skills with
    probability infeasible_frac (from the feasible ones otherwise; the other group when one is empty)."""
    if rng.random() < cfg.done_frac:
        return DONE
    actions = [(s, ok) for s, ok in zip(skills, feasible) if not s.is_done]
    good = [s for s, ok in actions if ok]
    bad = [s for s, ok in actions if not ok]
    pool = bad if (rng.random() < cfg.infeasible_frac and bad) or not good else good
    return pool[int(rng.integers(len(pool)))]


def caused_success(skill: Skill, before: SceneState, after: SceneState) -> bool:
    """The label: the skill's success detector fires after it ran, and the skill undid no progress.

    A pick with a block already in the hand lets go of it wherever the hand is (or grabs the same block
    again): the detector may fire, yet the step made no progress. Counted as a success, a value model
    trained on it lets the planner re-pick the held block again and again (seen with SmolLM2 in vla-run)."""
    if skill.verb == "pick" and before.held is not None:
        return False
    return skill_succeeded(skill, before, after)


def run_skill(env: Any, executor: ScriptedSkillExecutor, skill: Skill, obs: dict,
              budget: int) -> tuple[dict, bool]:
    """Execute `skill` until its primitive finishes or `budget` steps pass; returns (last obs, physics ok)."""
    executor.start(skill)
    for _ in range(budget):
        if executor.done:
            break
        obs, _, terminated, _, info = env.step(executor.predict_action_chunk(obs)[0])
        if "error" in info:
            return obs, False
    return obs, True


def plan_skills(env: Any) -> list[Skill]:
    """The env task's scripted plan (Pick / Place primitives) as skills, followed by `done`."""
    from sim.tabletop.experts import Pick, Place

    base = getattr(env, "unwrapped", env)
    skills = []
    for prim in base.task.plan(base):
        if isinstance(prim, Pick):
            skills.append(Skill("pick", obj=prim.obj))
        elif isinstance(prim, Place):
            skills.append(Skill("place_in" if prim.target.endswith("bowl") else "place_on", target=prim.target))
        else:
            raise ValueError(f"task {base.task.name!r} plans a {type(prim).__name__}, which is no SayCan skill")
    return skills + [DONE]


def collect_episode(env: Any, episode: int, cfg: CollectConfig,
                    frame: Callable[[Any], np.ndarray]) -> list[dict[str, Any]]:
    """Samples of one rollout: reset (seed + episode), then execute and label candidate skills in turn
    (the task's plan first in an expert rollout, random candidates otherwise). `frame(env)` renders the
    front camera image stored with each sample (the env itself renders nothing while skills run)."""
    obs, _ = env.reset(seed=cfg.seed + episode)
    rng = np.random.default_rng([cfg.seed, episode])
    executor = ScriptedSkillExecutor(env)
    forced = plan_skills(env) if rng.random() < cfg.expert_frac else []
    rows = []
    for k in range(max(cfg.skills_per_episode, len(forced))):
        scene = scene_from_env(env)
        skills = enumerate_skills(scene)
        feasible = [geometric_feasible(s, scene) for s in skills]
        skill = forced[k] if k < len(forced) else choose_candidate(skills, feasible, rng, cfg)
        row = {"image": frame(env), "state": np.asarray(obs["state"], np.float32), "skill": skill.text,
               "geometric": float(geometric_feasible(skill, scene)), "episode": episode}
        if skill.is_done:  # nothing to execute: the task's success predicate with an empty gripper
            rows.append({**row, "label": float(geometric_feasible(DONE, scene))})
            continue
        obs, ok = run_skill(env, executor, skill, obs, cfg.skill_step_budget)
        if not ok:  # physics blew up: the outcome says nothing about the skill, and the rollout is over
            break
        rows.append({**row, "label": float(caused_success(skill, scene, scene_from_env(env)))})
    return rows


def _collect_range(cfg: CollectConfig, episodes: list[int]) -> list[dict[str, Any]]:
    """Collect `episodes` in this process, one env per task (reused across its episodes)."""
    from sim.registry import make_env

    from sim.tabletop.render import CameraRenderer
    from vla.transforms import resize_image

    envs: dict[str, Any] = {}
    renderers: dict[str, CameraRenderer] = {}
    rows: list[dict[str, Any]] = []
    try:
        for ep in episodes:
            task = cfg.tasks[ep % len(cfg.tasks)]
            if task not in envs:  # room for every skill of the rollout, a task plan (<= 7 skills) included
                envs[task] = make_env(f"tabletop/{task}", cameras=(), terminate_on_success=False,
                                      max_episode_steps=cfg.skill_step_budget * (cfg.skills_per_episode + 8))
                renderers[task] = CameraRenderer(envs[task].unwrapped.physics.model)
            renderer = renderers[task]

            def frame(env: Any, r: CameraRenderer = renderer) -> np.ndarray:
                image = r.render(env.unwrapped.physics.data, "front", cfg.render_size, cfg.render_size)
                return resize_image(image, cfg.image_size)  # (s, s, 3)

            rows += collect_episode(envs[task], ep, cfg, frame)
    finally:  # renderers before their envs: they hold the models' GL resources
        for renderer in renderers.values():
            renderer.close()
        for env in envs.values():
            env.close()
    return rows


def _stack(rows: list[dict[str, Any]], image_size: int) -> ValueData:
    if not rows:
        return ValueData(np.zeros((0, image_size, image_size, 3), np.uint8), np.zeros((0, 14), np.float32),
                         np.zeros(0, "<U64"), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    return ValueData(images=np.stack([r["image"] for r in rows]), states=np.stack([r["state"] for r in rows]),
                     skills=np.array([r["skill"] for r in rows]),
                     labels=np.array([r["label"] for r in rows], np.float32),
                     geometric=np.array([r["geometric"] for r in rows], np.float32),
                     episodes=np.array([r["episode"] for r in rows], np.int64))


def collect(cfg: CollectConfig) -> ValueData:
    """Collect `cfg.episodes` rollouts (over `cfg.workers` processes) and return their samples.

    The result depends only on the config (each episode has its own seed), not on the number of workers.
    """
    episodes = list(range(cfg.episodes))
    if cfg.workers == 1:
        rows = _collect_range(cfg, episodes)
    else:
        import multiprocessing as mp

        parts = [episodes[i::cfg.workers] for i in range(cfg.workers)]
        with ProcessPoolExecutor(cfg.workers, mp_context=mp.get_context("spawn")) as pool:
            chunks = list(pool.map(_collect_range, [cfg] * cfg.workers, parts))
        rows = sorted((r for chunk in chunks for r in chunk), key=lambda r: r["episode"])
    return _stack(rows, cfg.image_size)
