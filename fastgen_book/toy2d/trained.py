"""Trained toy models on demand: load one from the store (`fastgen_book.toy2d.store`), or train it
once and store it."""

from __future__ import annotations

import torch

from fastgen_book.toy2d import store
from fastgen_book.toy2d.consistency import ConsistencyModel
from fastgen_book.toy2d.distill import ConsistencyConfig, build_student, train_consistency
from fastgen_book.toy2d.teachers import TeacherConfig, build_teacher, train_teacher


def get_teacher(config: TeacherConfig, progress: bool = False) -> tuple[torch.nn.Module, dict]:
    """The trained teacher for `config` and its training record (trains it on first use)."""
    model = build_teacher(config)
    record = store.load(config, model)
    if record is None:
        model, record = train_teacher(config, progress=progress)
        record = store.save(config, model, record)
    return model.eval().requires_grad_(False), record


def get_consistency(
    config: ConsistencyConfig, progress: bool = False
) -> tuple[ConsistencyModel, dict]:
    """The trained consistency model for `config` and its record (trains it on first use)."""
    model = build_student(config)
    record = store.load(config, model)
    if record is None:
        teacher = get_teacher(config.teacher, progress)[0] if config.method == "cd" else None
        model, record = train_consistency(config, teacher, progress=progress)
        record = store.save(config, model, record)
    return model.eval().requires_grad_(False), record


def get_adversarial(config, progress: bool = False) -> tuple[ConsistencyModel, dict]:
    """The trained one-step adversarial student for an `AdversarialConfig` and its record."""
    from fastgen_book.toy2d.adversarial import build_adversarial_student, train_adversarial

    model = build_adversarial_student(config)
    record = store.load(config, model)
    if record is None:
        base = get_consistency(config.base, progress)[0]
        teacher = get_teacher(config.base.teacher, progress)[0]
        model, record = train_adversarial(config, base, teacher, progress=progress)
        record = store.save(config, model, record)
    return model.eval().requires_grad_(False), record
