"""``topgan``: dataset, pretrain, finetune, export, experiment.

    topgan dataset    --class healthy=A.rtdc --class primary_cancer=B.rtdc \
                      --class metastatic_cancer=C.rtdc --out cells.npz  # from recorded runs
    topgan pretrain   --data sperm.npz --out gan.pt                  # DCGAN on unlabelled OPD crops
    topgan finetune   --data cells.npz --shots 10 --out clf.pt      # the default recipe: the twin-supervised trunk + LR
    topgan finetune   --recipe features --data cells.npz --shots 10 --out clf.pt  # crop features + LR
    topgan finetune   --recipe cnn --pretrained training/pretrained/sperm-gan.pt --data cells.npz --shots 10 --out clf.pt
    topgan finetune   --recipe cnn --data cells.npz --shots 10 --out scratch.pt  # the from-scratch CNN baseline
    topgan export     clf.pt --out model.safetensors                  # flowd's model file
    topgan experiment --labelled cells.npz --validation val.npz --gan sperm=gan.pt --out out/experiment

Bad input (a missing key, NaNs, a class with fewer cells than --shots or --test-per-class, crops
of another size or pixel than the pretrained network, other classes than a pretrained
classifier's, a file that is not a checkpoint, ``pretrain --resume`` of a GAN for other crops or
widths) ends with one ``topgan: error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import data as datamod
from . import rtdc as rtdcmod
from .data import DataError
from .featuremodel import DEFAULT_C

#: The default recipe of ``topgan finetune``: the best few-shot recipe of docs/experiments.md,
#: logistic regression on the physical parameters the committed twin-supervised trunk measures
#: (topgan.twinsupervised; lab twin, N = 25: 92.4 % where the features recipe reaches 87.6 % and
#: the CNN recipes ≈ 71 %), standardised with the file's unlabelled cells and folded into one
#: network (model format version 1). ``--recipe features`` (QPI features measured on the crop,
#: model format version 2) and ``--recipe cnn`` (the network fine-tuned, TOP-GAN) train the others.
RECIPES = ("twin", "features", "cnn")
DEFAULT_RECIPE = "twin"
#: The twin-supervised trunk the twin recipe uses without ``--pretrained``: trained on 64 × 64
#: crops of 0.3 µm, `flowd extract`'s defaults (docs/experiments.md, "A twin-supervised trunk").
DEFAULT_TWIN = Path(__file__).resolve().parents[1] / "pretrained" / "twin-regressor.pt"
#: The CNN recipe's defaults, chosen on the validation twin: full fine-tuning for 24 epochs
#: (72-73 % at N = 10 there, against 68 % for the linear probe and 62 % for 8 epochs).
DEFAULT_MODE = "full"
DEFAULT_EPOCHS = 24
DEFAULT_PROBE_C = 0.1


def _threads(n: int) -> None:
    # Two cores, shared with the Swift builds: more threads only add contention.
    torch.set_num_threads(n)


def cmd_dataset(args) -> int:
    Gate, build, parse_class = rtdcmod.Gate, rtdcmod.build, rtdcmod.parse_class
    if args.test_out and not args.hold_out:
        raise DataError("--test-out needs --hold-out RUN.rtdc (the runs whose cells go there)")
    if args.hold_out and not args.test_out:
        raise DataError("--hold-out needs --test-out FILE.npz (where the held-out runs' cells go)")
    classes = [parse_class(c) for c in args.class_]
    train, test, report = build(classes, args.unlabelled or [], [Gate.parse(g) for g in args.gate or []],
                                args.hold_out or [])
    for line in report:
        print(line)
    for path, arrays in ((args.out, train), (args.test_out, test)):
        if arrays is None:
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        counts = ", ".join(f"{name} {int((arrays['label'] == c).sum())}" for c, name in enumerate(arrays["classes"]))
        print(f"wrote {path}: {len(arrays['opd'])} cells ({counts}, unlabelled {int((arrays['label'] < 0).sum())})")
    return 0


def cmd_pretrain(args) -> int:
    from .pretrain import PretrainConfig, pretrain
    data = datamod.load(args.data)
    cfg = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, ndf=args.ndf, ngf=args.ngf,
                         seed=args.seed, opd_scale_nm=args.opd_scale_nm, max_cells=args.max_cells)
    ckpt = pretrain(data, args.out, cfg, resume=args.resume, progress=not args.quiet)
    print(f"wrote {args.out} ({ckpt['epoch']} epochs on {ckpt['cells']} cells); "
          f"losses: {Path(args.out).with_suffix('.losses.png')}, samples: {Path(args.out).with_suffix('.samples.png')}")
    return 0


def cmd_finetune(args) -> int:
    from . import crossval
    from .finetune import FinetuneConfig, load_pretrained, predict
    from .workers import finetune_many
    data = datamod.load(args.data, need_labels=True)
    if args.pretrained and not Path(args.pretrained).is_file():
        raise DataError(f"{args.pretrained}: no such checkpoint (make one with `topgan pretrain`)")
    if args.recipe == "twin":
        return finetune_twin(args, data)
    if args.pretrained:
        load_pretrained(data, args.pretrained)  # refuses other crops or classes before any training starts
    if args.recipe == "features":
        return finetune_features(args, data)
    cfg = FinetuneConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, mode=args.mode,
                         trunk_lr_scale=args.trunk_lr_scale, probe_c=args.probe_c,
                         head=args.head, seed=args.seed, ndf=args.ndf, opd_scale_nm=args.opd_scale_nm)
    k = len(data.classes)
    holdout, train, unlabelled = split_for_finetune(args, data)

    # The k cross-validation folds and the final model are k + 1 independent trainings: with
    # --threads T they run in T single-threaded processes (topgan.workers). A linear probe trains
    # in about a second, less than starting a worker costs, so it stays in this process.
    plan = None if args.no_cv else crossval.fold_plan(data.label[train], k, args.seed)
    folds = [train[fit] for fit, _ in plan or []]
    workers = 1 if cfg.mode == "probe" else min(args.threads, len(folds) + 1)
    if workers > 1 and not args.quiet:
        print(f"training {len(folds) + 1} models ({len(folds)} cross-validation folds and the final one) "
              f"in {workers} processes", flush=True)
    *fold_models, (model, ckpt) = finetune_many(data, folds + [train], cfg, args.pretrained, unlabelled,
                                               workers, progress=not args.quiet)
    report_accuracy(args, data, ckpt, train, plan,
                    [predict(m, data.opd[train[held]], c["opd_scale_nm"]).argmax(1)
                     for (m, c), (_, held) in zip(fold_models, plan or [])],
                    holdout, predict(model, data.opd[holdout], ckpt["opd_scale_nm"]).argmax(1) if len(holdout) else None)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"wrote {args.out} ({'from ' + args.pretrained if args.pretrained else 'from scratch'}, "
          f"mode {cfg.mode}, {args.shots} cells per class, classes {data.classes})")
    return 0


def split_for_finetune(args, data):
    """(held-out cells, the N labelled cells per class, the cells whose statistics may be used
    unlabelled: all but the held-out ones) of ``topgan finetune``."""
    k = len(data.classes)
    holdout = np.array([], np.int64)
    if args.test_per_class:
        holdout, _ = datamod.balanced_split(data.label, k, args.test_per_class, args.test_seed)
    train = datamod.sample_shots(data.label, k, args.shots, args.seed, exclude=holdout)
    unlabelled = np.setdiff1d(np.arange(len(data)), holdout)  # labels never read: statistics only
    return holdout, train, unlabelled


def report_accuracy(args, data, ckpt, train, plan, fold_predictions, holdout, holdout_predictions) -> None:
    """Prints and stores in `ckpt` the cross-validated accuracy on the labelled cells (or says N is
    too small to tell) and, with ``--test-per-class``, the balanced accuracy on the held-out cells."""
    from . import crossval
    from sklearn.metrics import balanced_accuracy_score
    k = len(data.classes)
    if plan:
        cv = crossval.score(data.label[train], k, plan, fold_predictions, args.seed)
        ckpt["cross_validation"] = cv.__dict__
        print(cv.sentence())
    elif not args.no_cv:
        print(f"cross-validation: {args.shots} labelled cell(s) per class is too few to estimate the accuracy "
              f"(it needs at least {crossval.MIN_SHOTS} per class); label more cells to know how good the model is")
    if len(holdout):
        truth = data.label[holdout]
        acc = balanced_accuracy_score(truth, holdout_predictions)
        ckpt["holdout"] = {"index": holdout.tolist(), "balanced_accuracy": float(acc),
                           "correct_per_class": [int(((holdout_predictions == c) & (truth == c)).sum())
                                                 for c in range(k)]}
        print(f"balanced accuracy on {len(holdout)} held-out cells ({args.test_per_class} per class): {acc:.4f}")


def finetune_features(args, data) -> int:
    """``topgan finetune --recipe features`` (the default): :mod:`topgan.featuremodel` on the N
    cells, standardised with every cell that is not held out; the same cross-validation and
    held-out report as the CNN recipe."""
    from . import crossval, featuremodel
    from .features import crop_features
    k = len(data.classes)
    holdout, train, unlabelled = split_for_finetune(args, data)
    x = crop_features(data.opd, data.pixel_um)
    scale = args.opd_scale_nm or datamod.fit_opd_scale(data.opd)

    def fit(index):
        return featuremodel.fit(data, index, unlabelled, scale, args.c, args.seed, x)

    model = fit(train)
    ckpt = model.checkpoint()
    ckpt.update(recipe="features", config={"c": args.c, "seed": args.seed}, train_index=train.tolist(),
                data=data.path, unlabelled_cells=int(len(unlabelled)))
    plan = None if args.no_cv else crossval.fold_plan(data.label[train], k, args.seed)
    report_accuracy(args, data, ckpt, train, plan,
                    [fit(train[fitted]).predict_proba(data.opd[train[held]]).argmax(1) for fitted, held in plan or []],
                    holdout, model.predict_proba(data.opd[holdout]).argmax(1) if len(holdout) else None)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"wrote {args.out} (recipe features: {len(x[0])} crop features standardised on {len(unlabelled)} "
          f"unlabelled cells, logistic regression C = {args.c:g}; {args.shots} cells per class, classes {data.classes})")
    return 0


def finetune_twin(args, data) -> int:
    """``topgan finetune --recipe twin --pretrained TWIN.pt``: logistic regression on the physical
    parameters the twin-supervised trunk measures (:mod:`topgan.twinsupervised`), standardised
    with every cell that is not held out, folded into one network (a version-1 model file); the
    same cross-validation and held-out report as the other recipes."""
    from . import crossval, twinsupervised
    from .finetune import predict
    args.pretrained = args.pretrained or str(DEFAULT_TWIN)
    try:
        trunk, tckpt = twinsupervised.load(args.pretrained)
    except ValueError as error:
        raise DataError(f"{error}; for a GAN of `topgan pretrain` use --recipe cnn") from error
    if (tckpt["image_size"], round(tckpt["pixel_um"], 6)) != (data.size, round(data.pixel_um, 6)):
        raise DataError(f"{args.pretrained} was trained on {tckpt['image_size']}x{tckpt['image_size']} crops at "
                        f"{tckpt['pixel_um']:g} µm but {data.path} has {data.size}x{data.size} at {data.pixel_um:g} µm")
    k = len(data.classes)
    holdout, train, unlabelled = split_for_finetune(args, data)
    measured = twinsupervised.regress(trunk, tckpt, data.opd, 8)

    def fit(index):
        return twinsupervised.fit_classifier(trunk, tckpt, data, index, unlabelled, args.c, args.seed, measured)

    def labels(model, index):
        return predict(model, data.opd[index], tckpt["opd_scale_nm"]).argmax(1)

    model = fit(train)
    ckpt = {"kind": "topgan-classifier", "recipe": "twin", "classes": data.classes, "image_size": data.size,
            "pixel_um": data.pixel_um, "opd_scale_nm": tckpt["opd_scale_nm"], "ndf": tckpt["ndf"],
            "origin": {"twin": str(args.pretrained), "opd_scale_nm": tckpt["opd_scale_nm"], "ndf": tckpt["ndf"]},
            "config": {"head": "global_pool", "dropout": 0.0, "c": args.c, "seed": args.seed},
            "train_index": train.tolist(), "data": data.path, "unlabelled_cells": int(len(unlabelled)),
            "state_dict": model.state_dict()}
    plan = None if args.no_cv else crossval.fold_plan(data.label[train], k, args.seed)
    report_accuracy(args, data, ckpt, train, plan, [labels(fit(train[fitted]), train[held]) for fitted, held in plan or []],
                    holdout, labels(model, holdout) if len(holdout) else None)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"wrote {args.out} (recipe twin: the parameters {args.pretrained} measures, standardised on "
          f"{len(unlabelled)} unlabelled cells, logistic regression C = {args.c:g}, folded into one network; "
          f"{args.shots} cells per class, classes {data.classes})")
    return 0


def cmd_export(args) -> int:
    from . import featuremodel
    from .export import export_classifier
    from .finetune import load_classifier
    if not Path(args.checkpoint).is_file():
        raise DataError(f"{args.checkpoint}: no such checkpoint (make one with `topgan finetune`)")
    try:
        ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated file, not a checkpoint at all
        raise ValueError(f"{args.checkpoint}: not a readable checkpoint ({error})") from error
    if isinstance(ckpt, dict) and ckpt.get("kind") == featuremodel.KIND:
        if args.dtype != "F32":
            raise DataError("--dtype: a features model is written in F32 only")
        meta = featuremodel.export(featuremodel.FeatureClassifier.from_checkpoint(ckpt), args.out)
        print(f"wrote {args.out}: classes {meta['classes']}, input {json.dumps(meta['input'])}, "
              f"{len(meta['features']['names'])} {meta['features']['extractor']} features, format version 2")
        return 0
    model, ckpt = load_classifier(args.checkpoint)
    meta = export_classifier(model, args.out, ckpt["classes"], ckpt["pixel_um"], ckpt["opd_scale_nm"], args.dtype)
    print(f"wrote {args.out}: classes {meta['classes']}, input {json.dumps(meta['input'])}, {len(meta['layers'])} ops")
    return 0


def cmd_experiment(args) -> int:
    from .experiment import METHODS, ExperimentConfig, run
    from .finetune import FinetuneConfig
    from .pretrain import PretrainConfig
    labelled = datamod.load(args.labelled, need_labels=True)
    validation = datamod.load(args.validation, need_labels=True)
    sperm = datamod.load(args.sperm) if args.sperm else None
    for other in (validation, sperm):
        if other is not None and (other.size, other.pixel_um) != (labelled.size, labelled.pixel_um):
            raise DataError(f"{other.path} has {other.size}x{other.size} crops at {other.pixel_um:g} µm but "
                            f"{labelled.path} has {labelled.size}x{labelled.size} at {labelled.pixel_um:g} µm; "
                            "extract every file with the same crop size and pixel")
    gans = {}
    for given in args.gan or []:
        name, _, path = given.partition("=")
        if not Path(path).is_file():
            raise DataError(f"--gan {given}: no such checkpoint")
        gans[name] = Path(path)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    cfg = ExperimentConfig(shots=[int(n) for n in args.shots.split(",")], seeds=args.seeds,
                           methods=methods, test_per_class=args.test_per_class,
                           gan=PretrainConfig(epochs=args.gan_epochs, ndf=args.ndf, ngf=args.ndf),
                           control_gan_steps=args.control_gan_steps,
                           finetune=FinetuneConfig(ndf=args.ndf))
    records = {}
    for r in args.record or []:
        p = Path(r)
        records[p.name] = json.loads(p.read_text()) if p.suffix == ".json" else p.read_text()
    run(labelled, validation, sperm, Path(args.out), cfg, records, gans, not args.quiet, args.report_only)
    print(f"wrote {args.out}/results.md, accuracy.png, results.json")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="topgan", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--threads", type=int, default=2,
                   help="CPU cores to use (default 2): torch threads; finetune runs its cross-validation folds "
                        "and final model as this many single-threaded processes instead")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dataset", help="a dataset file from recorded runs (cells.rtdc), one run per class",
                       description=rtdcmod.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--class", dest="class_", action="append", required=True, metavar="NAME=RUN.rtdc[,RUN2.rtdc]",
                   help="every cell of these runs is of class NAME (repeat, in the model's class order)")
    d.add_argument("--unlabelled", action="append", metavar="RUN.rtdc", help="a run whose cells get label -1")
    d.add_argument("--gate", action="append", metavar="FEATURE=LO:HI",
                   help="keep cells with LO <= FEATURE <= HI (a dclab feature, e.g. area_um=50:400)")
    d.add_argument("--hold-out", action="append", metavar="RUN.rtdc",
                   help="all cells of this run go to --test-out, none to --out")
    d.add_argument("--out", required=True, help="the dataset file (.npz)")
    d.add_argument("--test-out", help="the held-out runs' dataset file (.npz)")
    d.set_defaults(func=cmd_dataset)

    a = sub.add_parser("pretrain", help="train a DCGAN on unlabelled OPD crops")
    a.add_argument("--data", required=True, help=".npz from flowd extract (labels ignored)")
    a.add_argument("--out", required=True, help="checkpoint (also <out>.losses.png, <out>.samples.png)")
    a.add_argument("--epochs", type=int, default=12, help="passes over the data (default 12)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--batch-size", type=int, default=32)
    a.add_argument("--ndf", type=int, default=32, help="discriminator width (default 32: ~0.05 GFLOP at 64x64)")
    a.add_argument("--ngf", type=int, default=32, help="generator width")
    a.add_argument("--opd-scale-nm", type=float, default=0.0,
                   help="OPD mapped to input 1.0: input = clamp(opd/scale, -1, 1) (default 0: fitted to the data)")
    a.add_argument("--max-cells", type=int, default=0, help="use at most this many cells (0 = all)")
    a.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    a.set_defaults(func=cmd_pretrain)

    f = sub.add_parser("finetune", help="fine-tune a classifier on N labelled cells per class")
    f.add_argument("--data", required=True, help="labelled .npz from flowd extract")
    f.add_argument("--out", required=True, help="classifier checkpoint")
    f.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE,
                   help="twin (default): logistic regression on the physical parameters a twin-supervised trunk "
                        "measures (--pretrained, default the committed training/pretrained/twin-regressor.pt), "
                        "one network (model format version 1); features: QPI features measured on the crop, "
                        "standardised with the file's unlabelled cells, logistic regression (model format version 2); "
                        "cnn: train the network (--pretrained, --mode, --epochs ...)")
    f.add_argument("--pretrained", help="twin: the twin-supervised regressor (default: the committed one); cnn: "
                                        "checkpoint from `topgan pretrain`, omit to train from scratch (features: only "
                                        "checked to serve the data)")
    f.add_argument("--shots", type=int, required=True, help="labelled cells per class (N)")
    f.add_argument("--c", type=float, default=DEFAULT_C,
                   help=f"features, twin: inverse L2 strength of the logistic regression (default {DEFAULT_C:g}, "
                        "chosen on the validation twin for both)")
    f.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"epochs of max(cells, 256) augmented views (default {DEFAULT_EPOCHS}, chosen on the validation twin)")
    f.add_argument("--seed", type=int, default=0, help="picks the N cells and the initialisation")
    f.add_argument("--mode", choices=("full", "frozen", "probe"), default=DEFAULT_MODE,
                   help="full (default): all layers, the pretrained trunk at --trunk-lr-scale x lr; probe: frozen "
                        "trunk, standardised linear probe; frozen: only the new head, trained by gradient")
    f.add_argument("--probe-c", type=float, default=DEFAULT_PROBE_C,
                   help="probe mode: inverse L2 strength of the logistic regression (chosen on the validation twin)")
    f.add_argument("--no-cv", action="store_true", help="skip the cross-validated accuracy estimate")
    f.add_argument("--head", choices=("linear", "global_pool", "avgpool"), default="linear")
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--trunk-lr-scale", type=float, default=0.1,
                   help="full mode: the pretrained trunk's lr as a fraction of --lr (default 0.1)")
    f.add_argument("--batch-size", type=int, default=32)
    f.add_argument("--ndf", type=int, default=32, help="width when training from scratch")
    f.add_argument("--opd-scale-nm", type=float, default=0.0,
                   help="OPD mapped to input 1.0 (default 0: fitted to the file's cells, data.fit_opd_scale)")
    f.add_argument("--test-per-class", type=int, default=0,
                   help="hold out this many cells per class (never trained on) and report balanced accuracy")
    f.add_argument("--test-seed", type=int, default=12345)
    f.set_defaults(func=cmd_finetune)

    e = sub.add_parser("export", help="write flowd's model file (docs/model-format.md)")
    e.add_argument("checkpoint", help="checkpoint from `topgan finetune`")
    e.add_argument("--out", required=True, help="model.safetensors")
    e.add_argument("--dtype", choices=("F32", "F16", "BF16"), default="F32")
    e.set_defaults(func=cmd_export)

    x = sub.add_parser("experiment", help="few-shot methods over N labelled cells per class and seeds, "
                                          "tuned on a validation file, paired bootstrap intervals")
    x.add_argument("--labelled", required=True, help="labelled .npz (the test twin)")
    x.add_argument("--validation", required=True, help="a second labelled .npz, where hyper-parameters are chosen")
    x.add_argument("--sperm", help="unlabelled sperm .npz for the sperm GAN (unless --gan sperm=PATH)")
    x.add_argument("--gan", action="append", help="NAME=PATH: use this checkpoint as GAN NAME (sperm, noise, target), or twin=PATH: "
                        "the twin-supervised regressor of the twin-lr methods (python -m topgan.twinsupervised)")
    x.add_argument("--out", required=True, help="results folder (resumable cache in <out>/*/runs)")
    x.add_argument("--shots", default="1,2,5,10,25,50")
    x.add_argument("--seeds", type=int, default=10)
    x.add_argument("--methods", help="comma-separated methods of docs/experiments.md (default: all)")
    x.add_argument("--test-per-class", type=int, default=200)
    x.add_argument("--gan-epochs", type=int, default=12, help="epochs of the GANs the experiment trains")
    x.add_argument("--control-gan-steps", type=int, default=320, help="steps of the noise and target-cell GANs")
    x.add_argument("--ndf", type=int, default=32)
    x.add_argument("--record", action="append", help="file to record with the results (twin.json, commands)")
    x.add_argument("--report-only", action="store_true", help="train nothing: report the cached runs")
    x.set_defaults(func=cmd_experiment)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    _threads(args.threads)
    try:
        return args.func(args)
    except (DataError, ValueError) as error:
        print(f"topgan: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
