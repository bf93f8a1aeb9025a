"""The training loop every factory stage shares: resumable, checkpointed without pickle, and run
on Hugging Face Accelerate, as diffusers' own training examples are.

One process by default. Started by `accelerate launch --multi_gpu --num_processes N -m fastgen_book
train STAGE`, a stage runs in N processes (CPU processes on a machine without CUDA, one GPU
each on a machine with N): every process draws its own batches, gradients are averaged across
processes after each backward pass (what DistributedDataParallel does, written out because a
stage's step function calls the pipeline's own modules), and the main process alone writes
checkpoints and outputs. One process gives the same weights, bit for bit, as the loop without
Accelerate (the numbers in the model card stand).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fastgen_book.tinysd.config import learning_rate
from fastgen_book.tinysd.data import batches


def _cpu_only() -> bool:
    """Whether Accelerate is to run on the CPU (no CUDA device here): one answer for the process
    state and the loop's Accelerator, which share that state."""
    return not torch.cuda.is_available()


def _state():
    """Accelerate's process state (rank, world size, device), created once per process."""
    from accelerate import PartialState

    return PartialState(cpu=_cpu_only())


def device() -> torch.device:
    """Where this process trains: its GPU under `accelerate launch` on CUDA, else the CPU."""
    return _state().device


def processes() -> int:
    """How many processes run this stage (1 unless started by `accelerate launch`)."""
    return _state().num_processes


def is_main_process() -> bool:
    """True in the process that writes checkpoints, weights and records (the only one unless
    launched with several)."""
    return _state().is_main_process


def wait_for_everyone() -> None:
    """Block until every process gets here (no-op in one process)."""
    _state().wait_for_everyone()


def adamw(params, lr: float) -> torch.optim.AdamW:
    """AdamW without weight decay (Loshchilov & Hutter 2019), for every training stage.

    The multi-tensor (`foreach`) update, which gives the same parameters bit for bit as torch's
    default loop (a test checks); not the fused kernel, whose last-bit differences change the
    shipped recipe's results (`fastgen_book/sd/weights/tiny-sd/NOTES.md`)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, foreach=True)


def save_checkpoint(path: Path, modules: dict, opt, generator, record: dict) -> None:
    """A checkpoint as safetensors (no pickle): every module's weights, the optimiser's
    per-parameter state and the generator's state as tensors; the step, the timings and the
    optimiser's param groups as JSON metadata. Written to a temporary file, then renamed."""
    tensors = {f"module.{n}.{k}": v for n, m in modules.items() for k, v in m.state_dict().items()}
    opt_state = opt.state_dict()
    for i, per_param in opt_state["state"].items():
        for k, v in per_param.items():
            tensors[f"optimizer.{i}.{k}"] = torch.as_tensor(v)
    tensors["generator"] = generator.get_state()
    meta = {**record, "param_groups": opt_state["param_groups"]}
    tmp = path.with_suffix(".tmp")
    save_file(
        {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()},
        str(tmp),
        metadata={"fastgen": json.dumps(meta)},
    )
    os.replace(tmp, path)


def resume_checkpoint(path: Path, modules: dict, opt, generator) -> tuple[int, float, float]:
    """(step, seconds of training so far, last loss) from a checkpoint; (0, 0, nan) without."""
    if not path.exists():
        return 0, 0.0, float("nan")
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["fastgen"])
    tensors = load_file(str(path), device=str(device()))
    for name, module in modules.items():
        prefix = f"module.{name}."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, i, k = key.split(".", 2)
            state.setdefault(int(i), {})[k] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    generator.set_state(tensors["generator"].cpu())
    return meta["step"], meta.get("seconds", 0.0), meta.get("final_loss", float("nan"))


def _own_stream(generator: torch.Generator, rank: int, start: int) -> None:
    """Processes after the first draw their own batches and noise: their generator is reseeded
    from (its seed, the rank, the step it starts at). The first keeps its stream, so one process
    reproduces the single-process run."""
    if rank:
        seed = (generator.initial_seed() * 1_000_003 + rank) * 1_000_003 + start
        generator.manual_seed(seed % 2**63)


def _same_everywhere(tensors: list[torch.Tensor]) -> None:
    """Give every process the main process's copy (weights built from the same seed already
    agree; this makes it so whatever the initialisation did)."""
    from accelerate.utils import broadcast

    for t in tensors:
        t.data.copy_(broadcast(t.data.clone(), from_process=0))


def _average_gradients(accelerator, params: list) -> None:
    """Replace each gradient by its mean over the processes (one all-reduce of one flat buffer)."""
    grads = [p.grad for p in params if p.grad is not None]
    flat = accelerator.reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="mean")
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def _check_in_step(accelerator, params: list) -> None:
    """Fail loudly if the processes' weights diverged (they must stay identical)."""
    sums = torch.stack([p.detach().double().sum() for p in params]).to(accelerator.device)
    everyone = accelerator.gather(sums[None]).view(accelerator.num_processes, -1)
    if not torch.equal(everyone, everyone[:1].expand_as(everyone)):
        raise RuntimeError("the processes' weights diverged: gradients were not averaged")


def resumable_loop(
    name: str,
    modules: dict,
    params: list,
    step_fn,
    config,
    run_dir: Path,
    progress: bool,
    generator: torch.Generator,
    make_data=None,
    kept: dict | None = None,
    after_step=None,
) -> dict:
    """Resume from `run_dir/<name>.safetensors` if present, run `step_fn(batch, step) -> loss`
    up to `config.steps` on batches from `make_data(generator)` (default: fresh images of
    `config`'s looks, `fastgen_book.tinysd.data.batches`), with the learning rate of
    `learning_rate(config, step)`, and checkpoint atomically every `config.save_every` steps.

    `params` are tensors, or torch param groups (dicts) whose optional "lr_scale" multiplies
    the schedule's rate for that group. `modules` are trained (and put in train mode); `kept`
    are saved in the checkpoint but left as they are (an EMA target); `after_step(n)` runs
    after each optimiser step, n the steps done so far. Returns the record: seconds of training
    (across resumed runs), the last loss, processes, the config."""
    from accelerate import Accelerator
    from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

    accelerator = Accelerator(cpu=_cpu_only())
    world, rank = accelerator.num_processes, accelerator.process_index
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / f"{name}.safetensors"
    saved = {**modules, **(kept or {})}
    opt = adamw(params, config.lr)
    params = [p for group in opt.param_groups for p in group["params"]]
    start, before, last = resume_checkpoint(ckpt, saved, opt, generator)
    _own_stream(generator, rank, start)
    if world > 1:
        _same_everywhere([t for m in saved.values() for t in m.state_dict().values()])
    t0 = time.perf_counter()  # counts building the data (a latent pool) too
    data = (make_data or (lambda gen: batches(config, gen)))(generator)
    for module in modules.values():
        module.train()
    loss = torch.tensor(last)
    for step in tqdm(
        range(start, config.steps),
        initial=start,
        total=config.steps,
        disable=not (progress and accelerator.is_main_process),
        desc=name,
    ):
        for group in opt.param_groups:  # a function of the step alone: resuming is exact
            group["lr"] = learning_rate(config, step) * group.get("lr_scale", 1.0)
        loss = step_fn(next(data), step)
        opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if world > 1:
            _average_gradients(accelerator, params)
        opt.step()
        if after_step is not None:
            after_step(step + 1)
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            if accelerator.is_main_process:
                record = {
                    "step": step + 1,
                    "seconds": before + time.perf_counter() - t0,
                    "final_loss": loss.item(),
                }
                save_checkpoint(ckpt, saved, opt, generator, record)
            accelerator.wait_for_everyone()
    if world > 1:
        _check_in_step(accelerator, params)
    for module in modules.values():
        module.eval()
    seconds = before + time.perf_counter() - t0
    settings = asdict(config) if is_dataclass(config) else {}
    return {"seconds": seconds, "final_loss": loss.item(), "processes": world, **settings}
