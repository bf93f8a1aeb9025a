"""What a loaded pipeline is, for the keys of measurements made with it (`fastgen_book.results`):
its tier, model, variant, device and dtype, a digest of every weight file its tier reads, and
the files of the adapters a measurement uses. Other weights, another device or another adapter
file make another key, so a stored measurement is never read for weights it was not made with."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from fastgen_book.sd import hub
from fastgen_book.sd.device import hardware
from fastgen_book.sd.tiers import tiny_model_dir

if TYPE_CHECKING:
    from fastgen_book.sd.pipeline import Loaded


def file_digest(path: Path) -> str:
    """A content id of one file: the Hugging Face cache's blob name when the file is a cached
    blob (the cache names blobs by content hash, SHA-256 for LFS files), else the SHA-256 of its
    bytes."""
    real = Path(path).resolve()
    if real.parent.name == "blobs":
        return real.name
    return hashlib.sha256(real.read_bytes()).hexdigest()


def weight_files(tier: str) -> dict[str, Path]:
    """Every weight and config file the tier reads, by a name that does not depend on where it
    lies: the shipped tiny model's files (its judge and card among them), or the gpu tier's Hub
    files that are in the cache."""
    if tier == "tiny":
        root = tiny_model_dir()
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".md")
        return {p.relative_to(root).as_posix(): p for p in files}
    out = {}
    for repo in hub.GPU_TIER:
        for name in (*repo.files, *repo.one_of):
            found = hub.cached_file(repo, name)
            if found is not None:
                out[f"{repo.repo_id}/{name}"] = found
    return out


def weights_digest(tier: str) -> str:
    """SHA-256 over the names and content ids of `weight_files(tier)`."""
    h = hashlib.sha256()
    for name, path in weight_files(tier).items():
        h.update(f"{name}\0{file_digest(path)}\0".encode())
    return h.hexdigest()


def loaded_identity(loaded: Loaded, adapters: tuple[str, ...] = ()) -> dict:
    """The identity of `loaded` with the named adapters (which must be loaded) active."""
    missing = [name for name in adapters if name not in loaded.adapters]
    if missing:
        raise ValueError(f"adapters {missing} are not loaded; load them before measuring")
    return {
        "tier": loaded.tier,
        "model": loaded.model_id,
        "variant": loaded.variant,
        "device": loaded.device,
        "hardware": hardware(loaded.device),
        "dtype": str(loaded.pipe.unet.dtype),
        "fused": dict(loaded.fused),
        "weights": weights_digest(loaded.tier),
        "adapters": {
            name: {
                "file": file_digest(loaded.adapters[name].file()),
                "trigger": loaded.adapters[name].trigger,
            }
            for name in adapters
        },
    }
