"""topgan: the TOP-GAN training toolkit for flowd.

TOP-GAN (Rubin et al., "TOP-GAN: Stain-free cancer cell classification using deep learning with
a small training set", Medical Image Analysis 57 (2019) 176-185) pretrains a DCGAN on unlabelled
optical-path-delay maps, then transfers its discriminator to a classifier fine-tuned on a few
labelled cells per class. This package trains, fine-tunes and exports such classifiers in the
model format that flowd's inference engine reads (docs/model-format.md).
"""
