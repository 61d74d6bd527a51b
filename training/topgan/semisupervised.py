"""A Gaussian mixture fitted by EM to the labelled cells and the rig's unlabelled cells together.

With N = 5-10 labelled cells per class a discriminative classifier (logistic regression) sees 15-30
points and no more; but a run hands the lab hundreds of unlabelled cells of the same population
for free. If each class is roughly Gaussian in feature space, the unlabelled cells pin down the
classes' means and their shared covariance, and the few labels only have to say which component
is which: semi-supervised EM (McLachlan 1977; Nigam et al., Machine Learning 39, 2000). Labelled
cells keep their labels (responsibility 1 for their class); unlabelled cells get soft
responsibilities (E-step); means, one covariance shared by all classes (a linear decision
boundary, as in linear discriminant analysis) and the class shares are re-estimated from both
(M-step). ``ridge`` is added to the covariance's diagonal: the strength of the regularisation,
in the units of the (normalised) features. From one labelled cell per class EM can settle in a
poor optimum (one component taking two classes), so it is a method for N of a few and more.

The features should be made roughly Gaussian first (:mod:`topgan.experiment` maps each one through
its quantiles among the unlabelled cells to a standard normal): several QPI features are skewed
or heavy-tailed, and on the validation twin the mixture on merely standardised features lost to
logistic regression at N >= 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GaussianMixture:
    means: np.ndarray        # [K, F]
    covariance: np.ndarray   # [F, F], shared by the classes
    shares: np.ndarray       # [K], the classes' proportions among the unlabelled cells

    def log_posterior(self, x: np.ndarray) -> np.ndarray:
        """[N, K] log p(class | x) up to a constant per row."""
        inverse = np.linalg.inv(self.covariance)
        r = x[:, None, :] - self.means[None]                                  # [N, K, F]
        return -0.5 * np.einsum("nkf,fg,nkg->nk", r, inverse, r) + np.log(self.shares)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logp = self.log_posterior(x)
        p = np.exp(logp - logp.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.log_posterior(x).argmax(1)


def fit_semisupervised(x_labelled: np.ndarray, y: np.ndarray, x_unlabelled: np.ndarray, num_classes: int,
                       ridge: float = 0.01, iterations: int = 100) -> GaussianMixture:
    """EM from the labelled cells' class means and pooled covariance (shrunk halfway to the
    identity: a few cells per class give a poor covariance), ``iterations`` rounds."""
    features = x_labelled.shape[1]
    eye = np.eye(features)
    means = np.stack([x_labelled[y == c].mean(0) for c in range(num_classes)])
    r = x_labelled - means[y]
    pooled = r.T @ r / max(1, len(r) - num_classes)
    model = GaussianMixture(means, 0.5 * pooled + 0.5 * eye + ridge * eye, np.full(num_classes, 1.0 / num_classes))
    x = np.concatenate([x_labelled, x_unlabelled])
    fixed = np.eye(num_classes)[y]
    for _ in range(iterations):
        resp = np.concatenate([fixed, model.predict_proba(x_unlabelled)])   # E-step
        weight = resp.sum(0)                                                # M-step
        means = resp.T @ x / weight[:, None]
        cov = sum((resp[:, c, None] * (x - means[c])).T @ (x - means[c]) for c in range(num_classes)) / len(x)
        shares = resp[len(x_labelled):].sum(0) / len(x_unlabelled)
        model = GaussianMixture(means, cov + ridge * eye, np.clip(shares, 1e-6, None))
    return model
