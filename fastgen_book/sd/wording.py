"""What each tier's numbers are called on a page: the model's name, its quality measure and
lesson 3's tolerances for its curve. Pages glue these, so a sentence written once reads right
whichever tier ran. What counts as noise in a comparison is not set here: each verdict reads
it off its own measurements (`evaluate.Result.versus`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierWords:
    """Names and tolerances of one tier."""

    model: str  # what ran, in a sentence
    metric: str  # the headline quality measure, in a sentence
    loss_label: str  # the axis title of 100 - quality
    free_tol: float  # lesson 3's "free" region: quality within this of the best
    cheap_tol: float  # and "cheap": within this
    tolerances: str  # where the two tolerances come from
    curve_spread: str  # what the SD curve's points carry as their spread
    adapter_share: str  # how this tier's LCM-LoRA compares in size with SD v1.5's
    guidance_source: str  # where the base model's guidance scale comes from


TINY = TierWords(
    model="tiny-sd",
    metric="the share of images with every attribute right",
    loss_label="% of images with a wrong attribute",
    free_tol=6.0,
    cheap_tol=20.0,
    tolerances="6 and 20 points: about two and seven standard errors of an accuracy measured "
    "on 48 images",
    curve_spread="Each SD point carries its 95% Wilson interval: differences inside the bars "
    "are noise.",
    adapter_share="On tiny-sd's small UNet this build's adapter is a far larger share of the "
    "model (the percentage above), so the section on its reach (universality, below) also "
    "measures a second LCM-LoRA of rank 4, at about SD v1.5's share.",
    guidance_source="the scale at which tiny-sd scored best in the guidance sweep its model "
    "card records",
)
GPU = TierWords(
    model="SD v1.5",
    metric="the CLIP score (100 x the cosine of CLIP's image and prompt embeddings)",
    loss_label="100 - CLIP score",
    free_tol=1.0,
    cheap_tol=3.0,
    tolerances="1 and 3 CLIP points, chosen by hand: this project has not measured the CLIP "
    "score's spread over seeds on SD v1.5",
    curve_spread="Each SD point carries the 95% interval of its mean CLIP score over its "
    "images: differences inside the bars are noise.",
    adapter_share="This build ran SD v1.5 itself: the share above is the published adapter's.",
    guidance_source="Stable Diffusion's customary scale, the default of diffusers' "
    "`StableDiffusionPipeline`",
)


def words_for(tier: str) -> TierWords:
    """The wording of `tier` ('tiny' or 'gpu')."""
    return GPU if tier == "gpu" else TINY
