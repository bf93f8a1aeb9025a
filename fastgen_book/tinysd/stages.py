"""The stages that make the shipped tiny model, in the order they run: one list that the
command line (`python -m fastgen_book train`) and the Makefile (`make weights`, through `train all`)
read, and that the recipe's table (`fastgen_book.tinysd.recipe.STAGES`) must match (a test checks).
No torch import, so `--help` stays fast."""

STAGE_NAMES = (
    "tiny-sd",
    "judge",
    "lcm-lora",
    "lcm-lora-small",
    "style-lora",
    "paper",
    "tiny-turbo",
)
