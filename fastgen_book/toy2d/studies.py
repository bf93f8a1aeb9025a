"""Lesson 1's measurements over several training seeds, too slow for a page cell (each trains
nine to twelve models): stored with their record by `fastgen_book.results` and committed, so a page
loads them and a code change re-measures them."""

from __future__ import annotations

import dataclasses

from fastgen_book.results import Study
from fastgen_book.toy2d.distill import ConsistencyConfig
from fastgen_book.toy2d.evaluate import noise_floor, reference, score_student
from fastgen_book.toy2d.teachers import TeacherConfig
from fastgen_book.toy2d.trained import get_consistency

SEEDS = (0, 1, 2)
#: The ablation's variants of the page's distillation recipe: config fields to change.
ABLATIONS = {
    "as on the page (EMA decay 0.95)": {},
    "EMA decay 0 (target = live weights, no gradient)": {"ema": 0.0},
    "no stop-gradient (live student on both sides)": {"stop_grad": False},
    "no boundary parameterisation (f = D)": {"boundary": False},
}


def _distances(config: ConsistencyConfig, steps, samples: int) -> dict[str, float]:
    """Distances of the trained model at each step count. The sampling noise and the held-out
    set are drawn from the run's seed too, so the spread over seeds holds the metric's own
    noise as well as training's."""
    model, _ = get_consistency(config)
    ref = reference(config.dataset, samples, seed=100 + 7 * config.seed)
    return {
        str(k): score_student(
            model, config.method, k, ref, seed=1 + config.seed, repeats=1
        ).distance
        for k in steps
    }


def recipes(seed: int) -> dict[str, ConsistencyConfig]:
    """The three recipes compared over seeds: CD from a flow-matching teacher, CD from a
    DDPM-style (VP) teacher, CT; the teacher and the student both use `seed`."""
    return {
        "cd_flow": ConsistencyConfig("cd", TeacherConfig(kind="flow", seed=seed), seed=seed),
        "cd_vp": ConsistencyConfig("cd", TeacherConfig(kind="vp", seed=seed), seed=seed),
        "ct": ConsistencyConfig("ct", None, ema=0.9, seed=seed),
    }


def seed_spread(seeds=SEEDS, steps=(1, 2, 4, 8), samples: int = 8000) -> dict:
    """Distance to held-out data (sliced W2) of each recipe at each step count, per seed:
    result[recipe][steps] is a list with one value per seed."""
    out: dict = {"seeds": list(seeds), "samples": samples}
    out["noise_floor"] = noise_floor("two_moons", samples)
    for seed in seeds:
        for name, config in recipes(seed).items():
            for k, d in _distances(config, steps, samples).items():
                out.setdefault(name, {}).setdefault(k, []).append(d)
    return out


def ablation(seeds=SEEDS, steps=(1, 2), samples: int = 8000) -> dict:
    """The page's CD recipe (flow teacher, seed 0) with one ingredient removed at a time,
    trained from each student seed: result[variant][steps] is a list with one value per seed
    (variants in the order of `ABLATIONS`, the first being the page's recipe)."""
    base = ConsistencyConfig("cd", TeacherConfig(kind="flow"))
    out: dict = {"seeds": list(seeds), "samples": samples, "variants": {}, "order": list(ABLATIONS)}
    for name, change in ABLATIONS.items():
        row = out["variants"].setdefault(name, {})
        for seed in seeds:
            config = dataclasses.replace(base, seed=seed, **change)
            for k, d in _distances(config, steps, samples).items():
                row.setdefault(k, []).append(d)
    return out


SEED_SPREAD = Study(
    "toy-seed-spread",
    seed_spread,
    what="CD (flow and VP teachers) and CT on two moons, 3 seeds, 1-8 steps",
)
ABLATION = Study(
    "toy-ablation",
    ablation,
    what="the page's CD recipe without EMA, stop-gradient or boundary, 3 seeds",
)
