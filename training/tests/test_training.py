"""The training toolkit on tiny synthetic datasets (16x16 crops, a few dozen cells, ndf 8): shapes,
augmentation, few-shot sampling, pretrain/resume, fine-tuning beating chance, export round trip,
parity with ``flowd classify`` on a trained model, and the CLI's errors on bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flowd_binary import run_flowd
from topgan import data as datamod
from topgan.augment import augment
from topgan.cli import main
from topgan.export import export_classifier, load_model_file
from topgan.features import TEXTURE, feature_matrix
from topgan.finetune import FinetuneConfig, finetune, load_classifier, predict
from topgan.pretrain import DCGANGenerator, PretrainConfig, load_discriminator, pretrain

SIZE = 16
CLASSES = ["healthy", "primary", "metastatic"]


def synthetic_cells(n_per_class: int, seed: int, size: int = SIZE, unlabelled: bool = False) -> dict:
    """Cell-like OPD bumps (nm) whose class sets the radius and a central 'nucleus' peak."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size, 0:size] - (size - 1) / 2)
    opd, label = [], []
    for c in range(3):
        for _ in range(n_per_class):
            r = size * (0.22 + 0.08 * c) * rng.uniform(0.9, 1.1)
            d = np.hypot(yy - rng.normal(0, 0.5), xx - rng.normal(0, 0.5))
            img = 200 * np.sqrt(np.clip(1 - (d / r) ** 2, 0, None)) + 150 * c * np.exp(-d**2 / 4)
            opd.append(img + rng.normal(0, 5, (size, size)))
            label.append(-1 if unlabelled else c)
    opd = np.array(opd, np.float32)
    out = {"opd": opd, "label": np.array(label, np.int64), "classes": np.array(CLASSES),
           "pixel_um": np.array([0.3], np.float32)}
    for k in datamod.FEATURES:
        out[k] = rng.normal(size=len(opd)).astype(np.float32)
    out["area_um2"] = (opd > 50).sum((1, 2)).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    np.savez(d / "labelled.npz", **synthetic_cells(30, 1))
    np.savez(d / "unlabelled.npz", **synthetic_cells(40, 2, unlabelled=True))
    return d


@pytest.fixture(scope="module")
def gan(files, tmp_path_factory):
    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("gan") / "gan.pt"
    cfg = PretrainConfig(epochs=2, batch_size=32, ndf=8, ngf=8, nz=16)
    pretrain(datamod.load(files / "unlabelled.npz"), out, cfg, progress=False)
    return out


TINY = dict(epochs=4, samples_per_epoch=64, batch_size=16, ndf=8)


def test_generator_and_discriminator_shapes():
    g = DCGANGenerator(SIZE, nz=16, ngf=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, 1, SIZE, SIZE) and x.abs().max() <= 1


def test_normalise_is_the_model_contract():
    x = datamod.normalise(np.array([[[-900.0, 0.0], [300.0, 1200.0]]], np.float32), 600.0)
    assert x.shape == (1, 1, 2, 2)
    assert torch.equal(x.flatten(), torch.tensor([-1.0, 0.0, 0.5, 1.0]))


def test_augmentation_keeps_values_and_shape():
    x = torch.zeros(8, 1, SIZE, SIZE)
    x[:, :, 6:10, 6:10] = 1.0
    y = augment(x, torch.Generator().manual_seed(0), max_shift=2)
    assert y.shape == x.shape and torch.equal(y.sum((1, 2, 3)), x.sum((1, 2, 3)))


def test_shot_sampling_is_deterministic_and_nested():
    label = np.repeat(np.arange(3), 20)
    a = datamod.sample_shots(label, 3, 5, seed=7)
    assert np.array_equal(a, datamod.sample_shots(label, 3, 5, seed=7))
    assert [int((label[a] == c).sum()) for c in range(3)] == [5, 5, 5]
    assert set(a) <= set(datamod.sample_shots(label, 3, 10, seed=7))
    assert not np.array_equal(a, datamod.sample_shots(label, 3, 5, seed=8))


def test_pretrain_writes_plots_and_resumes(gan, files):
    assert gan.with_suffix(".losses.png").stat().st_size > 0 and gan.with_suffix(".samples.png").exists()
    ckpt = torch.load(gan, weights_only=False)
    unlabelled = datamod.load(files / "unlabelled.npz")
    assert ckpt["epoch"] == 2 and ckpt["opd_scale_nm"] == datamod.fit_opd_scale(unlabelled.opd)
    cfg = PretrainConfig(epochs=3, batch_size=32, ndf=8, ngf=8, nz=16)
    resumed = pretrain(datamod.load(files / "unlabelled.npz"), gan, cfg, resume=True, progress=False)
    assert resumed["epoch"] == 3 and len(resumed["history"]["loss_D"]) == 3 * len(ckpt["history"]["loss_D"]) // 2
    netD, _ = load_discriminator(gan)
    assert netD(torch.zeros(2, 1, SIZE, SIZE)).shape == (2,)


@pytest.mark.parametrize("mode", ["full", "frozen", "probe"])
def test_finetuning_beats_chance_on_a_tiny_set(gan, files, mode):
    """Full fine-tuning and the standardised linear probe must learn the tiny task; a frozen trunk
    must stay the GAN's (a 3-epoch GAN on 120 crops gives too weak features to promise accuracy
    through a frozen trunk with a plain trained head)."""
    torch.set_num_threads(2)
    data = datamod.load(files / "labelled.npz")
    test, pool = datamod.balanced_split(data.label, 3, 15, seed=0)
    train = pool[datamod.sample_shots(data.label[pool], 3, 5, seed=0)]
    model, ckpt = finetune(data, train, FinetuneConfig(**TINY, mode=mode, lr=3e-3), gan, progress=False)
    if mode in ("frozen", "probe"):
        netD, _ = load_discriminator(gan)
        assert torch.equal(model.features[0].weight, netD.features[0].weight)
    p = predict(model, data.opd[test], ckpt["opd_scale_nm"])
    assert p.shape == (45, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    if mode in ("full", "probe"):
        assert (p.argmax(1) == data.label[test]).mean() > 0.5  # chance is 1/3


def test_export_round_trip_and_parity_with_flowd(files, tmp_path):
    torch.set_num_threads(2)
    data = datamod.load(files / "labelled.npz")
    train = datamod.sample_shots(data.label, 3, 4, seed=1)
    model, ckpt = finetune(data, train, FinetuneConfig(**TINY), None, progress=False)
    torch.save(ckpt, tmp_path / "clf.pt")
    assert main(["--quiet", "export", str(tmp_path / "clf.pt"), "--out", str(tmp_path / "m.safetensors")]) == 0
    back, meta = load_model_file(tmp_path / "m.safetensors")
    scale = ckpt["opd_scale_nm"]
    assert meta["classes"] == CLASSES and meta["input"] == {"size": SIZE, "pixel_um": pytest.approx(0.3), "opd_scale_nm": scale}
    want = predict(model, data.opd, scale)
    assert np.abs(predict(back, data.opd, scale) - want).max() < 1e-6
    np.save(tmp_path / "x.npy", data.opd)
    result = run_flowd("classify", "--model", str(tmp_path / "m.safetensors"), "--input", str(tmp_path / "x.npy"),
                       "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 0, result.stderr
    assert np.abs(np.load(tmp_path / "p.npy") - want).max() <= 1e-4


def test_features_have_texture_columns(files):
    x = feature_matrix(datamod.load(files / "labelled.npz"))
    assert x.shape == (90, len(datamod.FEATURES) + len(TEXTURE)) and np.isfinite(x).all()


def test_cli_finetune_from_scratch_and_export(files, tmp_path, capsys):
    out = tmp_path / "clf.pt"
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--data", str(files / "labelled.npz"), "--shots", "3",
                 "--epochs", "1", "--ndf", "8", "--test-per-class", "5", "--no-cv", "--out", str(out)]) == 0
    model, ckpt = load_classifier(out)
    assert ckpt["origin"]["pretrained"] is None and len(ckpt["train_index"]) == 9
    assert not set(ckpt["train_index"]) & set(ckpt["holdout"]["index"])
    assert "balanced accuracy on 15 held-out cells" in capsys.readouterr().out


def _bad(files, tmp_path, **change):
    arrays = dict(np.load(files / "labelled.npz"))
    for k, v in change.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v
    np.savez(tmp_path / "bad.npz", **arrays)
    return str(tmp_path / "bad.npz")


def _nan_opd(files):
    opd = np.load(files / "labelled.npz")["opd"].copy()
    opd[3, 2, 2] = np.nan
    return opd


@pytest.mark.parametrize("case, complaint", [
    ("missing-opd", "missing key(s) opd"),
    ("nan", "hold NaN or infinite OPD"),
    ("label-length", "label has shape [5] but opd holds 90 cells"),
    ("too-few", "class 2 has only 2 labelled cell(s) available, fewer than --shots 3"),
    ("not-square", "opd must be [N,S,S]"),
    ("no-labels", "no labelled cells"),
    ("no-file", "no such dataset file"),
])
def test_cli_finetune_refuses_bad_data(files, tmp_path, capsys, case, complaint):
    labels = np.load(files / "labelled.npz")["label"]
    path = {
        "missing-opd": lambda: _bad(files, tmp_path, opd=None),
        "nan": lambda: _bad(files, tmp_path, opd=_nan_opd(files)),
        "label-length": lambda: _bad(files, tmp_path, label=labels[:5]),
        "too-few": lambda: _bad(files, tmp_path, label=np.where((labels == 2) & (np.arange(90) > 61), -1, labels)),
        "not-square": lambda: _bad(files, tmp_path, opd=np.zeros((90, 16, 8), np.float32)),
        "no-labels": lambda: _bad(files, tmp_path, label=np.full(90, -1, np.int64)),
        "no-file": lambda: str(tmp_path / "nothing.npz"),
    }[case]()
    assert main(["--quiet", "finetune", "--recipe", "features", "--data", path, "--shots", "3",
                 "--out", str(tmp_path / "c.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topgan: error:") and complaint in err, err
    assert not (tmp_path / "c.pt").exists()


def test_cli_refuses_crops_of_another_size_than_the_gan(gan, tmp_path, capsys):
    np.savez(tmp_path / "big.npz", **synthetic_cells(5, 3, size=32))
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--pretrained", str(gan), "--data", str(tmp_path / "big.npz"),
                 "--shots", "2", "--out", str(tmp_path / "c.pt")]) == 2
    assert "was trained on 16x16 crops but the labelled data has 32x32" in capsys.readouterr().err


@pytest.mark.parametrize("shots, test_per_class, complaint", [
    (5, 28, "only 2 labelled cell(s) available besides the held-out ones, fewer than --shots 5"),
    (5, 40, "only 30 labelled cell(s) available, fewer than --test-per-class 40"),
])
def test_cli_finetune_names_the_option_that_asks_for_too_many_cells(files, tmp_path, capsys, shots, test_per_class,
                                                                    complaint):
    assert main(["--quiet", "finetune", "--recipe", "features", "--data", str(files / "labelled.npz"), "--shots", str(shots),
                 "--test-per-class", str(test_per_class), "--out", str(tmp_path / "c.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topgan: error:") and complaint in err, err


def test_cli_export_refuses_what_is_not_a_classifier_checkpoint(gan, tmp_path, capsys):
    (tmp_path / "garbage.pt").write_text("not a checkpoint")
    for path, complaint in ((tmp_path / "garbage.pt", "not a readable checkpoint"),
                            (gan, "not a `topgan finetune` checkpoint")):
        assert main(["--quiet", "export", str(path), "--out", str(tmp_path / "m.safetensors")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("topgan: error:") and complaint in err, err


@pytest.mark.parametrize("size, widths, complaint", [
    (32, ["--ndf", "8", "--ngf", "8"], "was trained on 16x16 crops at 0.3 µm (ndf 8, ngf 8, nz 16) but --resume was "
                                       "asked with 32x32 crops"),
    (SIZE, ["--ndf", "16", "--ngf", "8"], "but --resume was asked with 16x16 crops at 0.3 µm (ndf 16"),
])
def test_cli_pretrain_refuses_to_resume_a_gan_of_other_crops_or_widths(gan, tmp_path, capsys, size, widths, complaint):
    np.savez(tmp_path / "u.npz", **synthetic_cells(10, 6, size=size, unlabelled=True))
    before = gan.read_bytes()
    assert main(["--quiet", "pretrain", "--data", str(tmp_path / "u.npz"), "--out", str(gan), "--resume",
                 "--epochs", "3", *widths]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topgan: error:") and complaint in err, err
    assert gan.read_bytes() == before


def test_cli_pretrain_refuses_nans(files, tmp_path, capsys):
    assert main(["--quiet", "pretrain", "--data", _bad(files, tmp_path, opd=_nan_opd(files)),
                 "--out", str(tmp_path / "g.pt")]) == 2
    assert "NaN" in capsys.readouterr().err


def test_experiment_tunes_on_validation_runs_resumes_and_reports(gan, files, tmp_path):
    """A small grid end to end: hyper-parameters chosen on the validation file only, every method on
    the same cells, paired intervals in the report; a second run reads every result from the cache."""
    from topgan.experiment import ExperimentConfig, run
    data = datamod.load(files / "labelled.npz")
    np.savez(tmp_path / "validation.npz", **synthetic_cells(30, 5))
    validation = datamod.load(tmp_path / "validation.npz")
    cfg = ExperimentConfig(shots=[2, 5], seeds=2, methods=["features-lr", "probe-untrained", "hybrid", "scratch"],
                           test_per_class=10, validation_shots=[2], validation_seeds=2, validation_test_per_class=10,
                           cnn_validation_shots=[2], cnn_validation_seeds=1,
                           gan=PretrainConfig(epochs=1, batch_size=32, ndf=8, ngf=8, nz=16),
                           finetune=FinetuneConfig(**{**TINY, "epochs": 1}))
    first = run(data, validation, None, tmp_path / "x", cfg, {"twin.json": {"seed": 1}}, {"sperm": gan}, progress=False)
    assert len(first["runs"]) == 16 and len(list((tmp_path / "x" / "test" / "runs").glob("*.json"))) == 16
    assert set(first["chosen"]) == set(cfg.methods)
    validation_runs = list((tmp_path / "x" / "validation" / "runs").glob("*.json"))
    assert len(validation_runs) == 3 * 4 * 2 + 2 * 1  # 3 linear methods x 4 C x 2 seeds, 2 CNN settings x 1 seed
    assert run(data, validation, None, tmp_path / "x", cfg, progress=False, gans={"sperm": gan})["runs"] == first["runs"]
    md = (tmp_path / "x" / "results.md").read_text()
    assert "| QPI features + logistic regression (baseline) |" in md and "N = 5" in md and "Paired differences" in md
    assert (tmp_path / "x" / "accuracy.png").exists()


def test_semisupervised_mixture_learns_the_classes_from_unlabelled_cells():
    """Three Gaussian classes with a shared, elongated covariance: from 3 labelled cells per class
    logistic regression misplaces the boundaries (0.78-0.95 over seeds 0-9), EM with 600
    unlabelled cells finds them (0.96-0.98, as linear discriminant analysis with every label)."""
    from sklearn.linear_model import LogisticRegression
    from topgan.semisupervised import fit_semisupervised
    rng = np.random.default_rng(3)
    means, mix = np.array([[0.0, 0.0], [4.0, 0.0], [8.0, 0.0]]), np.array([[1.0, 0.0], [0.5, 3.0]])
    draw = lambda n: (np.repeat(np.arange(3), n), rng.normal(size=(3 * n, 2)) @ mix + np.repeat(means, n, 0))
    (y_l, x_l), (_, x_u), (y_t, x_t) = draw(3), draw(200), draw(300)
    model = fit_semisupervised(x_l, y_l, x_u, 3)
    accuracy = (model.predict(x_t) == y_t).mean()
    assert accuracy >= 0.95 and np.allclose(model.shares, 1 / 3, atol=0.03)
    assert accuracy > (LogisticRegression().fit(x_l, y_l).predict(x_t) == y_t).mean() + 0.1


def test_bootstrap_mean_is_paired():
    """Two methods that differ on the same cells: identical predictions give exactly 0 with a
    zero-width interval; a method right everywhere minus one wrong everywhere gives +1."""
    from topgan.experiment import bootstrap_mean
    truth = np.repeat([0, 1, 2], 20)
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (5, 60))
    same = (pred == truth).astype(np.float32)
    assert bootstrap_mean(truth, same - same, resamples=200) == (0.0, 0.0, 0.0)
    assert bootstrap_mean(truth, np.ones((5, 60)) - np.zeros((5, 60)), resamples=200) == (1.0, 1.0, 1.0)
    acc, lo, hi = bootstrap_mean(truth, same, resamples=500)
    assert lo < acc < hi and 0.15 < acc < 0.55


def test_input_scale_is_fitted_to_the_population():
    """Sperm heads (≈ 70 nm) and the labelled cells (≈ 500 nm) both fill the input range."""
    peaks = lambda nm: np.outer(np.linspace(0.8, 1.0, 100) * nm, np.ones(64)).reshape(100, 8, 8).astype(np.float32)
    assert datamod.fit_opd_scale(peaks(70)) == 90.0
    assert datamod.fit_opd_scale(peaks(500)) == 620.0


def test_pretrain_with_zero_epochs_writes_the_untrained_control(files, tmp_path):
    cfg = PretrainConfig(epochs=0, batch_size=32, ndf=8, ngf=8, nz=16)
    ckpt = pretrain(datamod.load(files / "unlabelled.npz"), tmp_path / "g0.pt", cfg, progress=False)
    assert ckpt["epoch"] == 0 and (tmp_path / "g0.pt").exists()
    assert load_discriminator(tmp_path / "g0.pt")[0](torch.zeros(1, 1, SIZE, SIZE)).shape == (1,)


def test_cli_finetune_cnn_recipe_reports_cross_validation(gan, files, tmp_path, capsys):
    """`topgan finetune --recipe cnn --pretrained GAN --data L --shots N` uses the CNN recipe's
    defaults (full fine-tuning, 24 epochs) and says how accurate it is on the labelled cells, or
    that N is too small to tell; --mode probe gives the linear probe. (The default recipe, the
    features one: test_feature_model.py.)"""
    from topgan.cli import parser
    defaults = parser().parse_args(["finetune", "--pretrained", "g.pt", "--data", "l.npz", "--shots", "5", "--out", "c.pt"])
    assert (defaults.mode, defaults.epochs, defaults.trunk_lr_scale) == ("full", 24, 0.1)
    out = tmp_path / "clf.pt"
    # One process (--threads 1): starting workers would cost more than these tiny trainings;
    # test_trainings_in_worker_processes_equal_those_in_this_process covers the workers.
    assert main(["--quiet", "--threads", "1", "finetune", "--recipe", "cnn", "--pretrained", str(gan), "--data",
                 str(files / "labelled.npz"), "--shots", "10", "--epochs", "1", "--out", str(out)]) == 0
    assert "cross-validated balanced accuracy (5-fold" in capsys.readouterr().out
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--pretrained", str(gan), "--data",
                 str(files / "labelled.npz"), "--shots", "10", "--mode", "probe", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cross-validated balanced accuracy (5-fold on the labelled cells)" in printed and "95 % interval" in printed
    model, ckpt = load_classifier(out)
    assert ckpt["config"]["mode"] == "probe" and ckpt["config"]["head"] == "global_pool"
    assert 0 <= ckpt["cross_validation"]["lower"] <= ckpt["cross_validation"]["balanced_accuracy"] <= ckpt["cross_validation"]["upper"]
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--pretrained", str(gan), "--data",
                 str(files / "labelled.npz"), "--shots", "2", "--mode", "probe", "--out", str(out)]) == 0
    assert "too few to estimate the accuracy" in capsys.readouterr().out


def test_cross_validation_calls_a_small_interval_inconclusive():
    from topgan.crossval import fold_plan, score
    label = np.repeat([0, 1, 2], 4)
    plan = fold_plan(label, 3)
    assert len(plan) == 4 and sorted(np.concatenate([held for _, held in plan])) == list(range(12))
    assert all(not set(fit) & set(held) for fit, held in plan)
    perfect = score(label, 3, plan, [label[held] for _, held in plan])
    assert perfect.balanced_accuracy == 1.0 and perfect.folds == 4
    guess = score(label, 3, plan, [np.zeros(len(held), np.int64) for _, held in plan])
    assert not guess.conclusive and "too few labelled cells to tell" in guess.sentence()
    assert fold_plan(np.repeat([0, 1, 2], 2), 3) is None


def test_trainings_in_worker_processes_equal_those_in_this_process(gan, files):
    """topgan finetune's folds and final model may run in parallel processes (--threads): each
    training seeds itself, so where it runs does not change what it learns."""
    from topgan.workers import finetune_many
    data = datamod.load(files / "labelled.npz")
    indices = [datamod.sample_shots(data.label, 3, n, seed=0) for n in (3, 4, 5)]
    cfg = FinetuneConfig(**TINY)
    here = finetune_many(data, indices, cfg, gan, np.arange(len(data)), workers=1)
    there = finetune_many(data, indices, cfg, gan, np.arange(len(data)), workers=2)
    for (a, ckpt_a), (b, ckpt_b), index in zip(here, there, indices, strict=True):
        assert ckpt_a["train_index"] == ckpt_b["train_index"] == index.tolist()
        for name, value in a.state_dict().items():
            assert torch.allclose(value.float(), b.state_dict()[name].float(), atol=1e-4), name


@pytest.mark.parametrize("change, complaint", [
    ("pixel", "was trained on crops at 0.3 µm per pixel but"),
    ("classes", "classifies ['healthy', 'primary', 'metastatic'] but"),
])
def test_cli_finetune_refuses_data_the_pretrained_model_cannot_serve(gan, files, tmp_path, capsys, change, complaint):
    clf = tmp_path / "clf.pt"
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--pretrained", str(gan), "--data",
                 str(files / "labelled.npz"), "--shots", "3", "--no-cv", "--epochs", "1", "--out", str(clf)]) == 0
    arrays = synthetic_cells(5, 4)
    if change == "pixel":
        arrays["pixel_um"] = np.array([0.25], np.float32)
    else:
        arrays["classes"] = np.array(["a", "b", "c"])
    np.savez(tmp_path / "other.npz", **arrays)
    assert main(["--quiet", "finetune", "--recipe", "cnn", "--pretrained", str(clf), "--data", str(tmp_path / "other.npz"),
                 "--shots", "2", "--out", str(tmp_path / "c2.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topgan: error:") and complaint in err and "Traceback" not in err, err


def test_the_committed_sperm_gan_serves_the_daemons_crops():
    """training/pretrained/sperm-gan.pt: the discriminator a lab fine-tunes from, for the daemon's
    64 x 64 crops at 0.3 µm, with the sperm population's own input scale."""
    from pathlib import Path
    netD, ckpt = load_discriminator(Path(__file__).parents[1] / "pretrained" / "sperm-gan.pt")
    assert (ckpt["image_size"], ckpt["pixel_um"]) == (64, pytest.approx(0.3)) and ckpt["cells"] >= 5000
    assert 60 <= ckpt["opd_scale_nm"] <= 150 and len(ckpt["history"]["loss_D"]) >= 750
    assert netD.features(torch.zeros(1, 1, 64, 64)).shape == (1, 256, 4, 4)
