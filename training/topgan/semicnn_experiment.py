"""Measures the semi-supervised CNN (:mod:`topgan.semicnn`) against its teacher, the features
recipe, on the same draws of N labelled cells (issue 13, docs/experiments.md).

For one twin file: a balanced held-out set (``--test-per-class``, seed 12345 as `topgan
finetune`'s), the N labelled cells per class drawn by each seed from the rest
(:func:`topgan.data.sample_shots`, as `topgan finetune --seed`), every cell that is not held out
as the unlabelled cells (labels never read). Per (N, seed) it fits the teacher, trains the student
from the sperm GAN's trunk, and writes one JSON line: both balanced accuracies on the held-out
cells (per crop), that of their mean probability, and the student's learning curve on them (``--eval-every`` steps; read-only, it
changes nothing in the training).

    python -m topgan.semicnn_experiment --data lab-val.npz --test-per-class 150 --shots 25 \\
        --seeds 0,1 --config '{"steps": 1500}' --out results.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from . import data as datamod, featuremodel, semicnn
from .features import crop_features
from .finetune import FinetuneConfig, build_classifier, predict


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m topgan.semicnn_experiment", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--pretrained", default="training/pretrained/sperm-gan.pt")
    p.add_argument("--test-per-class", type=int, default=200)
    p.add_argument("--shots", default="25", help="comma-separated N")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated label-draw seeds")
    p.add_argument("--config", default="{}", help="JSON overrides of topgan.semicnn.SemiConfig")
    p.add_argument("--eval-every", type=int, default=0, help="steps between held-out scores (0: only at the end)")
    p.add_argument("--tag", default="")
    p.add_argument("--out", required=True, help="JSON lines file to append to")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    d = datamod.load(a.data, need_labels=True)
    k = len(d.classes)
    x = crop_features(d.opd, d.pixel_um)
    scale = datamod.fit_opd_scale(d.opd)
    holdout, _ = datamod.balanced_split(d.label, k, a.test_per_class, 12345)
    unlabelled = np.setdiff1d(np.arange(len(d)), holdout)
    truth = d.label[holdout]
    base = replace(semicnn.SemiConfig(), **json.loads(a.config))
    for n in (int(s) for s in a.shots.split(",")):
        for seed in (int(s) for s in a.seeds.split(",")):
            start = time.time()
            train = datamod.sample_shots(d.label, k, n, seed, exclude=holdout)
            teacher = featuremodel.fit(d, train, unlabelled, scale, seed=seed, features=x)
            cfg = replace(base, seed=seed)
            model, _ = build_classifier(d, FinetuneConfig(seed=seed), a.pretrained, scale)
            curve = {}

            def score(step: int) -> None:
                if a.eval_every and step % a.eval_every == 0:
                    curve[step] = balanced_accuracy_score(truth, predict(model, d.opd[holdout], scale).argmax(1))
                    print(f"  step {step}: {curve[step]:.4f}", flush=True)

            history = semicnn.train(model, d.opd, train, d.label[train], unlabelled,
                                    teacher.predict_proba(d.opd[unlabelled]), scale, cfg, score)
            p_teacher, p_student = teacher.predict_proba(d.opd[holdout]), predict(model, d.opd[holdout], scale)
            row = {"tag": a.tag, "data": a.data, "n": n, "seed": seed,
                   "teacher": balanced_accuracy_score(truth, p_teacher.argmax(1)),
                   "student": balanced_accuracy_score(truth, p_student.argmax(1)),
                   # both models' mean probability: what a file carrying both would give
                   "ensemble": balanced_accuracy_score(truth, (p_teacher + p_student).argmax(1)),
                   "seconds": time.time() - start, "curve": curve, "history": history, "config": asdict(cfg)}
            print(json.dumps({key: round(v, 4) if isinstance(v, float) else v for key, v in row.items()
                              if key in ("tag", "n", "seed", "teacher", "student", "ensemble", "seconds")}), flush=True)
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
