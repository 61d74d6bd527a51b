"""Datasets from recorded runs: ``topgan dataset`` turns flowd's ``cells.rtdc`` files into the
dataset file that ``topgan pretrain/finetune`` read (:mod:`topgan.data`).

A lab labels its cells the way the paper did: each class is a separate pure culture, imaged in
its own run (``flowd control new-run --sample "SW480 pure culture"``). Each ``--class
NAME=RUN.rtdc[,RUN2.rtdc]`` makes every cell of those runs a cell of class NAME, in the order
the classes are given (give them in the order of the model they will replace: flowd swaps a
model live only for one with the same classes in the same order). ``--unlabelled`` runs add
cells with label -1 (for ``topgan pretrain``). Cells are read with dclab (the reference reader
of the format): ``qpi_pha`` (rad) becomes OPD (nm) = φ·λ/2π with the run's ``[qpi]
wavelength``; ``area_um`` and ``qpi_dm`` become ``area_um2`` and ``dry_mass_pg``, and flowd's
other features come from the ``userdef`` features that the run's run.json (beside the file)
names. ``--gate FEATURE=LO:HI`` keeps only cells with LO <= FEATURE <= HI (a dclab feature of
the file, e.g. ``area_um=50:400``); ``--hold-out RUN.rtdc`` sends all cells of that run to
``--test-out`` instead, so that a test set never shares a run (a culture, a day, a focus) with
the training set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import FEATURES, DataError

#: dclab feature → the dataset's feature name (the rest come from run.json's ``rtdc_userdef``).
DCLAB_FEATURES = {"area_um": "area_um2", "qpi_dm": "dry_mass_pg"}


@dataclass
class Gate:
    """Keep cells with ``low <= feature <= high``."""
    feature: str
    low: float
    high: float

    @staticmethod
    def parse(text: str) -> "Gate":
        name, sep, span = text.partition("=")
        low, colon, high = span.partition(":")
        try:
            gate = Gate(name.strip(), float(low), float(high))
        except ValueError:
            gate = None
        if not sep or not colon or gate is None or not gate.feature or not gate.low <= gate.high:
            raise DataError(f"--gate {text!r}: expected FEATURE=LOW:HIGH with LOW <= HIGH, e.g. area_um=50:400")
        return gate


@dataclass
class RunCells:
    """The cells of one run that pass the gates."""
    path: Path
    opd: np.ndarray                 # float32 [N,S,S], nm
    pixel_um: float
    features: dict[str, np.ndarray] = field(default_factory=dict)
    gated_out: int = 0


def read_run(path: str | Path, gates: list[Gate]) -> RunCells:
    """Reads one .rtdc file; every problem is a :class:`DataError` that names the file."""
    import dclab  # imported here: the other commands do not need it

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (a run's cells.rtdc, under flowd's record.dir)")
    try:
        ds = dclab.new_dataset(path)
    except Exception as error:  # not HDF5, not dclab's layout, truncated
        raise DataError(f"{path}: not a readable .rtdc file ({type(error).__name__}: {error})") from error
    with ds:
        if "qpi_pha" not in ds.features_innate:
            raise DataError(f"{path}: its events have no qpi_pha (phase images); only runs recorded with their "
                            "images can make a training set")
        n = len(ds)
        if n == 0:
            raise DataError(f"{path}: the run holds no cells")
        wavelength = ds.config.get("qpi", {}).get("wavelength")
        pixel_um = ds.config.get("imaging", {}).get("pixel size")
        if not wavelength or not pixel_um:
            raise DataError(f"{path}: metadata [qpi] wavelength and [imaging] pixel size are needed to turn "
                            "phase into OPD; the file has neither or only one")
        keep = np.ones(n, bool)
        for gate in gates:
            if gate.feature not in ds.features:
                raise DataError(f"{path}: --gate {gate.feature}: no such feature in this run "
                                f"(it has {', '.join(sorted(ds.features_scalar))})")
            values = np.asarray(ds[gate.feature], np.float64)
            keep &= (values >= gate.low) & (values <= gate.high)
        index = np.flatnonzero(keep)
        phase = np.asarray(ds["qpi_pha"][:], np.float32)[index] if len(index) else np.zeros((0, 1, 1), np.float32)
        if len(index) and (phase.ndim != 3 or phase.shape[1] != phase.shape[2]):
            raise DataError(f"{path}: qpi_pha must be square images [N,S,S]; got shape {list(phase.shape)}")
        opd = phase * np.float32(float(wavelength) / (2 * np.pi))
        features = {name: np.asarray(ds[feature], np.float32)[index]
                    for feature, name in DCLAB_FEATURES.items() if feature in ds.features}
        for number, name in enumerate(_userdef_names(path)):
            if name in FEATURES and f"userdef{number}" in ds.features_innate:
                features[name] = np.asarray(ds[f"userdef{number}"], np.float32)[index]
    return RunCells(path, opd, float(pixel_um), features, gated_out=n - len(index))


def _userdef_names(path: Path) -> list[str]:
    """What the run's userdef features hold, from the run.json beside it (none without one)."""
    run_json = path.with_name("run.json")
    try:
        return list(json.loads(run_json.read_text()).get("rtdc_userdef") or [])
    except (OSError, ValueError):
        return []


def build(classes: list[tuple[str, list[str]]], unlabelled: list[str], gates: list[Gate],
          hold_out: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None, list[str]]:
    """(training arrays, held-out arrays or None, report lines) in the dataset file's contract."""
    names = [name for name, _ in classes]
    if len(set(names)) != len(names):
        raise DataError(f"--class names must differ; got {names}")
    runs: list[tuple[str, int]] = [(p, c) for c, (_, paths) in enumerate(classes) for p in paths]
    runs += [(p, -1) for p in unlabelled]
    given = [Path(p).resolve() for p, _ in runs]
    for p in hold_out:
        if Path(p).resolve() not in given:
            raise DataError(f"--hold-out {p}: not one of the runs given with --class or --unlabelled")
    held = {Path(p).resolve() for p in hold_out}
    train: list[tuple[RunCells, int]] = []
    test: list[tuple[RunCells, int]] = []
    report = []
    first: RunCells | None = None
    for path, label in runs:
        cells = read_run(path, gates)
        if first is None:
            first = cells
        elif cells.opd.shape[1:] != first.opd.shape[1:] and len(cells.opd) and len(first.opd):
            raise DataError(f"{path}: crops are {cells.opd.shape[1]}x{cells.opd.shape[2]} but {first.path}'s are "
                            f"{first.opd.shape[1]}x{first.opd.shape[2]}; record every run with the same model input")
        if abs(cells.pixel_um - first.pixel_um) > 1e-6:
            raise DataError(f"{path}: pixel size {cells.pixel_um} µm but {first.path}'s is {first.pixel_um} µm; "
                            "record every run with the same model input")
        (test if Path(path).resolve() in held else train).append((cells, label))
        what = names[label] if label >= 0 else "unlabelled"
        report.append(f"{path}: {len(cells.opd)} cells as {what}"
                      + (f" ({cells.gated_out} gated out)" if cells.gated_out else "")
                      + (" [held out]" if Path(path).resolve() in held else ""))
    arrays = _arrays(train, names, first)
    if len(arrays["opd"]) == 0:
        raise DataError("no cells left for the training set (check --gate and --hold-out)")
    return arrays, (_arrays(test, names, first) if hold_out else None), report


def _arrays(runs: list[tuple[RunCells, int]], classes: list[str], first: RunCells) -> dict[str, np.ndarray]:
    size = first.opd.shape[1:]
    out = {
        "opd": np.concatenate([r.opd for r, _ in runs]) if runs else np.zeros((0, *size), np.float32),
        "label": np.concatenate([np.full(len(r.opd), c, np.int64) for r, c in runs]) if runs else np.zeros(0, np.int64),
        "classes": np.array(classes),
        "pixel_um": np.array([first.pixel_um], np.float32),
    }
    # A feature goes into the file only if every run has it.
    for name in FEATURES:
        if runs and all(name in r.features for r, _ in runs):
            out[name] = np.concatenate([r.features[name] for r, _ in runs])
    return out


def parse_class(text: str) -> tuple[str, list[str]]:
    """``NAME=A.rtdc[,B.rtdc]`` → (NAME, [A.rtdc, B.rtdc])."""
    name, sep, files = text.partition("=")
    paths = [f for f in files.split(",") if f]
    if not sep or not name.strip() or not paths:
        raise DataError(f"--class {text!r}: expected NAME=RUN.rtdc[,RUN2.rtdc...], e.g. healthy=runs/A/cells.rtdc")
    return name.strip(), paths
