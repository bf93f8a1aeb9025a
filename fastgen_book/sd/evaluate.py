"""Scoring generated images: the tiny tier's judge (attribute accuracy and a Fréchet distance
with its noise floor), or on the gpu tier the CLIP score (CLIP from the local cache).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import torch

from fastgen_book.claims import compare_interval
from fastgen_book.sd import fidelity, shapes
from fastgen_book.sd import judge as judge_mod
from fastgen_book.sd import pipeline as sd
from fastgen_book.sd.budget import budget_for
from fastgen_book.sd.clip import clip_scores
from fastgen_book.sd.images import quantize
from fastgen_book.stats import (
    Z95,
    mean_difference_interval,
    mean_interval,
    proportion_difference_interval,
    wilson,
)


@dataclass(frozen=True)
class Setting:
    """One way to sample: scheduler, steps, guidance and active adapters (name -> weight)."""

    scheduler: str
    steps: int
    guidance: float
    adapters: dict[str, float] = field(default_factory=dict)
    label: str = ""
    # run with the adapters merged into the UNet's weights (`fuse_adapters`), as one deploys
    # them: the same images up to float rounding, at the base model's cost per step
    fused: bool = False

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        with_ = " + ".join(self.adapters) or "no adapter"
        return f"{self.scheduler} {self.steps} steps, {with_}"


@dataclass
class Result:
    """What a setting produced and how it scored."""

    setting: Setting
    images: torch.Tensor  # uint8 [n, 3, H, W]: a quarter of float32's memory
    prompts: list[str]
    record: dict
    accuracy: dict[str, float]
    all_correct: float | None
    distance: float | None
    distance_floor: float | None
    clip_score: float | None = None
    #: each image's score: attribute (and "all") -> 1 or 0 (tiny tier), or "clip" -> its CLIP
    #: score (gpu tier); intervals and verdicts are computed from these. The tiny tier adds
    #: "sharpness": each image's (`fastgen_book.sd.fidelity`)
    per_image: dict[str, list[float]] = field(default_factory=dict)
    #: tiny tier: sharpness and diversity as % of real images' (`fastgen_book.sd.fidelity`),
    #: the latter per prompt in `per_prompt["diversity"]` (None with one seed)
    sharpness: float | None = None
    diversity: float | None = None
    per_prompt: dict[str, list[float]] = field(default_factory=dict)

    @property
    def quality(self) -> float:
        """The tier's headline score: % of images with every attribute right (tiny tier), or
        the CLIP score (GPU tier)."""
        return 100 * self.all_correct if self.all_correct is not None else self.clip_score

    def samples(self, attribute: str | None = None) -> list[float]:
        """Per-image values of the headline score (or of one judged `attribute`): 1 or 0 for a
        judged image (fully right, or right in that attribute), the CLIP score on the gpu tier."""
        if attribute is None:
            attribute = "clip" if self.all_correct is None else "all"
        if attribute not in self.per_image:
            raise ValueError(
                f"{self.setting.name} holds no per-image {attribute!r} scores (a result stored "
                "before they were kept): measure it again"
            )
        return list(self.per_image[attribute])

    def interval(self) -> tuple[float, float]:
        """95% interval of the headline score: Wilson's for a share of images (tiny tier),
        Student's t for a mean CLIP score (gpu tier)."""
        if self.all_correct is None:
            return mean_interval(self.samples())
        hits = self.samples()
        low, high = wilson(sum(hits), len(hits), Z95)
        return 100 * low, 100 * high

    def paired_with(self, other: Result) -> bool:
        """Whether image i of both came from the same prompt and seed."""
        return self.prompts == other.prompts and self.record.get("seeds") == other.record.get(
            "seeds"
        )

    def difference(self, other: Result, attribute: str | None = None) -> tuple[float, float]:
        """95% interval of this score minus `other`'s (in points), from both results' images,
        paired image by image when they share prompts and seeds: Newcombe's score interval for
        shares of images judged right, Student's t (Welch's when unpaired) for CLIP scores
        (`fastgen_book.stats`)."""
        a, b, paired = self.samples(attribute), other.samples(attribute), self.paired_with(other)
        if self.all_correct is None and attribute is None:
            return mean_difference_interval(a, b, paired)
        low, high = proportion_difference_interval(a, b, paired)
        return 100 * low, 100 * high

    def versus(
        self,
        other: Result,
        attribute: str | None = None,
        higher: str = "higher than",
        lower: str = "lower than",
        same: str = "within the noise of",
    ) -> str:
        """How this result's score (or one attribute's accuracy) stands to `other`'s: a side
        only when the 95% interval of the difference (`difference`) excludes zero."""
        return compare_interval(*self.difference(other, attribute), higher, lower, same)

    def at_least(self, other: Result, margin: float, attribute: str | None = None) -> bool:
        """Whether this score is shown to be no more than `margin` points below `other`'s: the
        whole 95% interval of the difference lies above -margin (an equivalence-style test,
        which a small sample cannot pass by being noisy)."""
        return self.difference(other, attribute)[0] > -margin

    @property
    def quality_label(self) -> str:
        return "all attributes correct (%)" if self.all_correct is not None else "CLIP score"

    def score_text(self) -> str:
        """The headline score in words: '96.4% fully correct' or 'a CLIP score of 31.2'."""
        if self.all_correct is None:
            return f"a CLIP score of {self.clip_score:.1f}"
        return f"{self.quality:.1f}% fully correct"

    def summary(self, *attributes: str) -> str:
        """Every score this tier has, in words: '96.4% fully correct, distance 82 (noise floor
        69)' (tiny) or 'a CLIP score of 31.2' (gpu); each named attribute ('style', ...) the
        judge read adds 'style right in 99.0%' (the gpu tier has no judge)."""
        if self.all_correct is None:
            return self.score_text()
        parts = [
            self.score_text(),
            f"distance {self.distance:.0f} (noise floor {self.distance_floor:.0f})",
            *(f"{a} right in {100 * self.accuracy[a]:.1f}%" for a in attributes),
        ]
        return ", ".join(parts)

    @property
    def ms(self) -> float:
        return self.record["ms_per_image"]

    def caption(self) -> str:
        """What produced this result, for a figure caption."""
        r = self.record
        return f"{r['tier']} tier: {r['model']} on {r['device']}"

    def to_dict(self) -> dict:
        """Every field, the setting as a dict (the images stay a tensor): what
        `fastgen_book.results` stores."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """The inverse of `to_dict`."""
        return cls(**{**data, "setting": Setting(**data["setting"])})

    def row(self) -> dict:
        s = self.setting
        return {
            "label": s.name,
            "variant": self.record["variant"],
            "scheduler": s.scheduler,
            "steps": s.steps,
            "guidance": s.guidance,
            "adapters": list(s.adapters),
            "adapter_weights": dict(s.adapters),
            "fused": bool(self.record.get("fused")),
            "nfe_per_image": self.record["nfe_per_image"],
            "accuracy": self.accuracy,
            "all_correct": self.all_correct,
            "distance": self.distance,
            "distance_floor": self.distance_floor,
            "clip_score": self.clip_score,
            "sharpness": self.sharpness,
            "diversity": self.diversity,
            "per_prompt": self.per_prompt,
            "ms_per_image": self.record["ms_per_image"],
            "images": len(self.prompts),
            # image by image (same prompts and seeds in every row): what the card's targets
            # compute paired intervals from (`fastgen_book.tinysd.targets`)
            "per_image": self.per_image,
        }


def prompt_set(tier: str, seeds: int | None = None) -> tuple[list[str], list[int]]:
    """The tier's prompts (`fastgen_book.sd.budget`), drawn once per seed: (prompts, the seed of
    each
    batch). `seeds` defaults to the tier's."""
    budget = budget_for(tier)
    return list(budget.prompts), list(range(budget.seeds if seeds is None else seeds))


def real_images(prompts: list[str], seeds: list[int], style: str, background: str, offset: int):
    """Procedural images of the same prompts: the reference set (and, with another offset, a
    second one for the noise floor)."""
    items = [shapes.parse_caption(p) for p in prompts]
    return torch.cat(
        [
            shapes.render(
                items,
                generator=torch.Generator().manual_seed(offset + s),
                style=style,
                background=background,
            )
            for s in seeds
        ]
    )


def evaluate(
    loaded: sd.Loaded,
    judge: judge_mod.Judge | None,
    setting: Setting,
    *,
    seeds: int | None = None,
    style: str = "filled",
    background: str = "dark",
    warmup: bool = True,
    prompts: list[str] | None = None,
) -> Result:
    """Generate the tier's prompts (or `prompts`) `seeds` times with `setting` and score them
    against the prompts and the expected style and background with the judge, or by CLIP score
    when judge is None (the gpu tier, whose 512x512 images the judge cannot read)."""
    default_prompts, seed_list = prompt_set(loaded.tier, seeds)
    prompts = list(prompts or default_prompts)
    floats, batches, times, clips = [], [], [], []
    record = {}
    fuse = setting.fused and bool(setting.adapters)
    if fuse:
        sd.fuse_adapters(loaded, setting.adapters)
    try:
        for seed in seed_list:
            images, record = sd.generate(
                loaded,
                prompts,
                scheduler=setting.scheduler,
                steps=setting.steps,
                guidance=setting.guidance,
                adapters=setting.adapters,
                seed=seed,
                repeats=1,
                warmup=warmup and seed == seed_list[0],  # the batch shape is the same after
            )
            batches.append(quantize(images))
            if judge is None:
                clips.append(clip_scores(batches[-1], prompts, loaded.device))
            else:
                floats.append(images)
            times.append(record["ms_per_image"])
    finally:
        if fuse:
            sd.unfuse_adapters(loaded)
    stored = torch.cat(batches)
    all_prompts = prompts * len(seed_list)
    record = {**record, "ms_per_image": sorted(times)[len(times) // 2], "seeds": seed_list}
    if judge is None:
        per_clip = torch.cat(clips)
        return Result(
            setting,
            stored,
            all_prompts,
            record,
            {},
            None,
            None,
            None,
            float(per_clip.mean()),
            {"clip": per_clip.tolist()},
        )
    images = torch.cat(floats)
    scores = judge_mod.score(judge, images, all_prompts, style, background)
    real_a, real_f, floor = _reference(judge, tuple(prompts), tuple(seed_list), style, background)
    gen_f = judge_mod.features(judge, images)
    sharp = fidelity.sharpness(images, real_a)
    spread = fidelity.diversity(gen_f, real_f, all_prompts)
    return Result(
        setting,
        stored,
        all_prompts,
        record,
        scores.accuracy,
        scores.all_correct,
        judge_mod.frechet_distance(gen_f, real_f),
        floor,
        per_image={**scores.per_image, "sharpness": sharp},
        sharpness=fidelity.mean(sharp),
        diversity=fidelity.mean(spread) if spread else None,
        per_prompt={"diversity": spread},
    )


@functools.lru_cache(maxsize=8)
def _reference(
    judge: judge_mod.Judge,
    prompts: tuple[str, ...],
    seeds: tuple[int, ...],
    style: str,
    background: str,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """What every row of the same prompts and seeds is compared with, computed once: the real
    images [n, 3, H, W], their judge features [n, F], and the Fréchet distance between them and
    a second real set (the noise floor)."""
    real_a = real_images(list(prompts), list(seeds), style, background, offset=1000)
    real_b = real_images(list(prompts), list(seeds), style, background, offset=2000)
    real_f = judge_mod.features(judge, real_a)
    return real_a, real_f, judge_mod.frechet_distance(judge_mod.features(judge, real_b), real_f)


def load_tiny_judge() -> judge_mod.Judge:
    """The judge shipped beside the tiny model."""
    return judge_mod.load_judge(sd.tiny_model_dir() / "judge.safetensors")
