"""Datasets from ``flowd extract``: loading, checking, normalising, splitting, few-shot sampling.

A dataset file (design.md, "Dataset file") is a NumPy ``.npz`` with ``opd`` float32 [N,S,S] in
nm, ``label`` int64 [N] (-1 = unlabelled), ``classes`` (str array) and one float32 array per
feature. Everything the networks see goes through :func:`normalise`, the model contract of
docs/model-format.md: network input = clamp(opd_nm / opd_scale_nm, -1, 1). flowd applies the same
formula live, so a crop means the same thing in training and in the daemon.

Bad data is refused here with a :class:`DataError` that says what is wrong and how to fix it;
the CLI prints it and exits 2 instead of failing deep inside PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

#: OPD that maps to network input 1.0 when none is given or fitted. Cells of the twin peak at
#: 200-530 nm (docs/simulator.md); 600 nm keeps every one unclipped and inside tanh's range.
DEFAULT_OPD_SCALE_NM = 600.0

#: :func:`fit_opd_scale` maps this quantile of the per-crop peak OPD to input 1 / SCALE_HEADROOM.
SCALE_QUANTILE = 0.99
SCALE_HEADROOM = 1.25

#: The per-cell features ``flowd extract`` writes (docs/reconstruction.md).
FEATURES = ("area_um2", "mean_opd_nm", "max_opd_nm", "phase_volume_um3", "dry_mass_pg",
            "aspect_ratio", "ellipse_fill")


class DataError(ValueError):
    """A dataset file that cannot be used as asked; the message says why."""


@dataclass
class CellDataset:
    """The arrays of one dataset file, checked."""
    opd: np.ndarray            # float32 [N,S,S], nm
    label: np.ndarray          # int64 [N], -1 = unlabelled
    classes: list[str]
    pixel_um: float
    features: dict[str, np.ndarray]
    path: str = ""

    @property
    def size(self) -> int:
        return int(self.opd.shape[-1])

    def __len__(self) -> int:
        return int(self.opd.shape[0])

    def subset(self, index: np.ndarray) -> "CellDataset":
        return CellDataset(self.opd[index], self.label[index], self.classes, self.pixel_um,
                           {k: v[index] for k, v in self.features.items()}, self.path)


def load(path: str | Path, need_labels: bool = False) -> CellDataset:
    """Reads and checks a dataset file.

    Refuses: a missing file, missing keys, ``opd`` that is not [N,S,S] with square S = 4*2**k,
    non-finite OPD values, a ``label`` array of another length, labels outside the class list, an
    empty file, and (with ``need_labels``) a file without any labelled cell.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such dataset file (make one with `flowd extract ... --out {path.name}`)")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # a truncated zip, a pickle, not an npz at all
        raise DataError(f"{path}: not a readable .npz dataset ({error})") from error
    with archive:
        missing = [k for k in ("opd", "label", "classes") if k not in archive.files]
        if missing:
            raise DataError(f"{path}: missing key(s) {', '.join(missing)}; found {', '.join(archive.files) or 'none'}. "
                            "A dataset from `flowd extract` has opd [N,S,S] (nm), label [N] and classes.")
        opd = np.asarray(archive["opd"])
        label = np.asarray(archive["label"])
        classes = [str(c) for c in np.asarray(archive["classes"]).reshape(-1)]
        pixel_um = float(np.asarray(archive["pixel_um"]).reshape(-1)[0]) if "pixel_um" in archive.files else 0.3
        features = {k: np.asarray(archive[k], np.float32) for k in FEATURES if k in archive.files}
    if opd.ndim != 3 or opd.shape[1] != opd.shape[2]:
        raise DataError(f"{path}: opd must be [N,S,S] (square crops); got shape {list(opd.shape)}")
    if opd.shape[0] == 0:
        raise DataError(f"{path}: the dataset holds no cells")
    size = opd.shape[1]
    if size < 8 or size & (size - 1):
        raise DataError(f"{path}: crop size {size} is not 4 * 2**k (8, 16, 32, 64, 128, ...)")
    if not np.issubdtype(opd.dtype, np.floating):
        raise DataError(f"{path}: opd must be floating point (nm); got {opd.dtype}")
    opd = opd.astype(np.float32, copy=False)
    bad = ~np.isfinite(opd).reshape(len(opd), -1).all(1)
    if bad.any():
        raise DataError(f"{path}: {int(bad.sum())} crop(s) hold NaN or infinite OPD (first: cell {int(np.argmax(bad))}); "
                        "drop them before training")
    if label.shape != (len(opd),):
        raise DataError(f"{path}: label has shape {list(label.shape)} but opd holds {len(opd)} cells")
    if not np.issubdtype(label.dtype, np.integer):
        raise DataError(f"{path}: label must be integer class indices (-1 = unlabelled); got {label.dtype}")
    label = label.astype(np.int64)
    if (label < -1).any() or (label >= len(classes)).any():
        raise DataError(f"{path}: labels must lie in -1..{len(classes) - 1} for classes {classes}; "
                        f"found {sorted(set(label.tolist()) - set(range(-1, len(classes))))}")
    for k, v in features.items():
        if v.shape != (len(opd),):
            raise DataError(f"{path}: feature {k} has shape {list(v.shape)} but opd holds {len(opd)} cells")
    if need_labels and not (label >= 0).any():
        raise DataError(f"{path}: no labelled cells (every label is -1); fine-tuning needs labels "
                        "(e.g. `flowd extract --simulate N` without --mixture sperm=1)")
    return CellDataset(opd, label, classes, pixel_um, features, str(path))


def normalise(opd: np.ndarray | torch.Tensor, opd_scale_nm: float) -> torch.Tensor:
    """The model contract: [N,S,S] OPD in nm -> [N,1,S,S] network input clamp(opd/scale, -1, 1)."""
    x = torch.as_tensor(opd, dtype=torch.float32)
    return x.div(opd_scale_nm).clamp(-1.0, 1.0).unsqueeze(1)


def fit_opd_scale(opd: np.ndarray) -> float:
    """The OPD (nm) that maps to input 1.0 for this population: 1.25 x the 99th percentile of the
    crops' peak OPD, rounded to 10 nm. Sperm heads (peaks 45-85 nm) get ≈ 100 nm, the twin's
    labelled cells (200-570 nm) ≈ 710 nm, so both fill the input range instead of sperm using its
    bottom tenth; the scale is written into every checkpoint and model file (the model contract
    stays clamp(opd / scale, -1, 1)). Labels are not used, so unlabelled cells may set it."""
    peaks = np.asarray(opd, np.float64).reshape(len(opd), -1).max(1)
    return float(max(10.0, round(SCALE_HEADROOM * float(np.quantile(peaks, SCALE_QUANTILE)), -1)))


def sample_shots(label: np.ndarray, num_classes: int, shots: int, seed: int,
                 exclude: np.ndarray | None = None, option: str = "--shots") -> np.ndarray:
    """Indices of ``shots`` labelled cells per class, chosen deterministically by ``seed``.

    The same (labels, shots, seed) always give the same cells, and a larger N with the same seed
    contains the smaller one's cells (each class is one seeded permutation, cut at N), so a
    learning curve over N compares nested training sets, not lucky draws. ``option`` is the
    command-line option that asked for ``shots``, named in the error when a class has too few.
    """
    if shots < 1:
        raise DataError(f"{option} must be at least 1; got {shots}")
    rng = np.random.default_rng(seed)
    allowed = np.ones(len(label), bool) if exclude is None else ~np.isin(np.arange(len(label)), exclude)
    chosen = []
    for c in range(num_classes):
        pool = np.flatnonzero((label == c) & allowed)
        if len(pool) < shots:
            besides = " besides the held-out ones" if exclude is not None and len(exclude) else ""
            raise DataError(f"class {c} has only {len(pool)} labelled cell(s) available{besides}, fewer than "
                            f"{option} {shots}; extract more cells or lower {option}")
        chosen.append(pool[rng.permutation(len(pool))[:shots]])
    return np.concatenate(chosen)


def balanced_split(label: np.ndarray, num_classes: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(test, rest): ``per_class`` labelled cells per class held out by ``seed``; ``rest`` is
    every other cell (labelled or not)."""
    test = sample_shots(label, num_classes, per_class, seed, option="--test-per-class")
    rest = np.setdiff1d(np.arange(len(label)), test)
    return test, rest
