"""Independent fine-tunings in parallel worker processes, one torch thread each.

``topgan finetune`` trains its recipe k + 1 times: once per cross-validation fold (the accuracy a
lab gets without a test set, :mod:`topgan.crossval`) and once on every labelled cell (the model it
writes). These trainings share nothing, and one training of this small network (batch 32 of
64 × 64 crops, ≈ 5 GFLOP a step) uses two threads poorly: on this 2-core machine, with other
jobs on the cores, one training took 34.6 s with one thread and 84.2 s with two (the threads
wait for each other at every operation; docs/experiments.md, "Budget"). So with ``workers`` > 1
the trainings run in that many processes of one thread each, every free core busy with its own
training. A training's result does not depend on where it runs: each seeds its own
initialisation, dropout and augmentation from ``cfg.seed`` (the last bits of the arithmetic may
differ with the thread count).

Workers are spawned, not forked (a forked child of a process that already ran OpenMP code may
hang), and receive the dataset once, at start-up.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .data import CellDataset
from .finetune import FinetuneConfig, finetune
from .model import TopGanClassifier

_shared: tuple = ()


def _start(data: CellDataset, cfg: FinetuneConfig, pretrained: str | Path | None, unlabelled: np.ndarray) -> None:
    global _shared
    torch.set_num_threads(1)
    _shared = (data, cfg, pretrained, unlabelled)


def _finetune(train_index: np.ndarray) -> tuple[TopGanClassifier, dict]:
    data, cfg, pretrained, unlabelled = _shared
    return finetune(data, train_index, cfg, pretrained, False, unlabelled)


def finetune_many(data: CellDataset, train_indices: list[np.ndarray], cfg: FinetuneConfig,
                  pretrained: str | Path | None, unlabelled: np.ndarray, workers: int,
                  progress: bool = False) -> list[tuple[TopGanClassifier, dict]]:
    """``finetune`` on each of ``train_indices`` (cell indices into ``data``), in order: in this
    process when ``workers`` <= 1, else in ``workers`` spawned single-threaded processes."""
    if workers <= 1 or len(train_indices) <= 1:
        return [finetune(data, index, cfg, pretrained, progress, unlabelled) for index in train_indices]
    with ProcessPoolExecutor(min(workers, len(train_indices)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start, initargs=(data, cfg, pretrained, unlabelled)) as pool:
        return list(pool.map(_finetune, train_indices))
