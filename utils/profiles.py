"""Run profiles: how big each lab trains and what it must reach, per machine class.

``COURSE_PROFILE`` picks one of three profiles:

* ``smoke``: CI on two CPU cores; every notebook in seconds to a minute, still
  asserting clearly-above-chance learning.
* ``cpu``: a student's laptop; each lab in minutes, reaching good accuracies.
* ``gpu``: a GPU runner; reaches the published numbers.

Without ``COURSE_PROFILE`` the default is ``gpu`` when TensorFlow sees a GPU and
``cpu`` otherwise. Every size and threshold a notebook uses lives in ``LABS``
below, never in a notebook cell, so the three profiles stay comparable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterator, Mapping

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")

DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "smoke": "CI smoke run: tiny subsets, seconds per notebook, above-chance targets",
        "cpu": "laptop run: minutes per lab, good accuracies",
        "gpu": "GPU run: full data and schedules, the published numbers",
    }
)

# How training uses the hardware, per profile (utils.training applies it; environment variables override):
# mixed_precision: float16 compute with float32 weights (GPUs with tensor cores; ignored without a GPU);
# jit_compile: passed to Model.compile ("auto" = XLA on GPU, none on CPU, where it is slower here);
# autotune: tf.data's autotuner in utils.training.make_dataset (it stalls seconds between epochs on small CPUs).
TRAINING: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "smoke": MappingProxyType(dict(mixed_precision=False, jit_compile="auto", autotune=False)),
        "cpu": MappingProxyType(dict(mixed_precision=False, jit_compile="auto", autotune=False)),
        "gpu": MappingProxyType(dict(mixed_precision=True, jit_compile="auto", autotune=True)),
    }
)


def _lab(base: dict[str, Any], smoke: dict[str, Any], gpu: dict[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Return a lab's three profiles: cpu is ``base``; smoke and gpu override some of its settings."""
    for name, overrides in (("smoke", smoke), ("gpu", gpu)):
        unknown = sorted(set(overrides) - set(base))
        if unknown:
            raise ValueError(f"the {name} profile overrides settings the base does not have: {', '.join(unknown)}")
    return {"smoke": MappingProxyType({**base, **smoke}), "cpu": MappingProxyType(dict(base)),
            "gpu": MappingProxyType({**base, **gpu})}


# The benchmark (utils.bench), per profile like a lab. clock: "cpu" times the multiply and the training by this
# process's CPU seconds, which another process taking a core does not change (measured on 2 cores: ResNet-20's ratio
# 0.168 quiet and 0.155 with one core kept busy by the wall clock, 0.231 and 0.232 by CPU time); "wall" for GPUs,
# whose work the CPU clock does not see. matmul_size: the square float32 matrix multiply whose rate is the peak;
# peak_repeats: multiplies per peak reading (the fastest counts); repeats: timed training runs per model, each between
# two peak readings, so a busy spell shows as spread instead of a wrong ratio; steps: batches per timed run, repeated
# until a run lasts at least min_seconds (Keras's per-fit overhead would otherwise swamp small models); max_spread: the
# relative spread of a model's per-run ratios (or of the peak readings) above which the report warns that the machine
# was too busy for a trustworthy figure.
BENCH: Mapping[str, Mapping[str, Any]] = MappingProxyType(_lab(
    base=dict(
        clock="cpu",
        matmul_size=2048,
        peak_repeats=3,
        repeats=5,
        steps=20,
        min_seconds=2.0,  # 1 s runs of the MLPs and LeNet-5 spread 11-30% on a quiet machine, 2 s runs 3-9%
        max_spread=0.1,
    ),
    smoke=dict(
        matmul_size=1024,
        repeats=3,
        steps=5,
        min_seconds=0.5,
    ),
    gpu=dict(
        clock="wall",
        matmul_size=8192,
        steps=50,
    ),
))

# Per lab: the cpu settings (a laptop) as the base, then what smoke (CI) and gpu change, so the differences
# between profiles read at a glance. Sizes (subsets, epochs, batch size, widths) and the pass thresholds the
# notebook asserts; keys are the lab's short name.
LABS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "backprop": _lab(
            base=dict(
                part_a_steps=10_000,
                train_size=55_000,
                hidden=256,
                epochs=15,
                batch_size=64,
                learning_rate=0.2,
                lr_decay=0.9,
                min_numpy_accuracy=0.97,
                min_keras_accuracy=0.97,
            ),
            smoke=dict(
                train_size=10_000,
                hidden=100,
                epochs=3,
                learning_rate=0.1,
                min_numpy_accuracy=0.85,
                min_keras_accuracy=0.85,
            ),
            gpu=dict(
                hidden=512,
                epochs=20,
                min_numpy_accuracy=0.98,
                min_keras_accuracy=0.98,
            ),
        ),
        "convolution": _lab(
            # timing_*: the NumPy batch on which loops and im2col are timed (N, size, size, channels; 3x3 filters).
            base=dict(
                timing_batch=8,
                timing_size=28,
                timing_channels=3,
                timing_filters=8,
                train_size=55_000,
                val_size=5_000,
                epochs=6,
                batch_size=128,
                learning_rate=0.002,
                min_im2col_speedup=5.0,
                max_conv_rel_error=1e-08,
                min_lenet_accuracy=0.985,
            ),
            smoke=dict(
                timing_batch=4,
                train_size=5_000,
                val_size=1_000,
                epochs=2,
                batch_size=64,
                min_lenet_accuracy=0.9,
            ),
            gpu=dict(
                epochs=20,
                min_lenet_accuracy=0.99,
            ),
        ),
        "init_batchnorm": _lab(
            # act_*: Part A's activation-statistics net (act_layers weight layers of act_width units, act_batch inputs).
            # compare_epochs: plain and batch-norm nets are compared after this many epochs of the same budget
            # (min_bn_loss_reduction: relative drop of the mean training loss over those epochs).
            base=dict(
                act_width=4_096,
                act_layers=6,
                act_batch=16,
                train_size=30_000,
                val_size=5_000,
                depth=10,
                width=128,
                batch_size=128,
                epochs=5,
                compare_epochs=1,
                bn_momentum=0.9,
                momentum_lr=0.05,
                adam_lr=0.001,
                shift=0.1,
                dropout=0.1,
                l2=0.0001,
                max_xavier_std_error=0.02,
                max_collapsed_std=0.1,
                max_relu_xavier_ratio=0.3,
                min_kaiming_ratio=0.8,
                max_kaiming_ratio=1.25,
                min_bn_early_accuracy=0.75,
                min_bn_advantage=0.0,
                min_bn_loss_reduction=0.1,
                min_bn_accuracy=0.84,
                min_sgd_accuracy=0.8,
                min_momentum_gain=0.0,
                max_gap_change=0.0,
                max_norm_ratio=1.0,
                min_regularised_accuracy=0.78,  # measured 0.797: L2 + dropout + shifts underfit a little in 5 epochs
                min_test_accuracy=0.84,
            ),
            smoke=dict(
                train_size=5_000,
                val_size=2_000,
                epochs=3,
                min_bn_early_accuracy=0.6,
                min_bn_accuracy=0.7,
                min_sgd_accuracy=0.6,
                min_regularised_accuracy=0.6,
                min_test_accuracy=0.7,
            ),
            gpu=dict(
                train_size=55_000,
                width=256,
                epochs=20,
                min_bn_early_accuracy=0.78,
                min_bn_accuracy=0.88,
                min_sgd_accuracy=0.85,
                min_regularised_accuracy=0.86,
                min_test_accuracy=0.88,
            ),
        ),
        "architectures": _lab(
            # widths: ResNet-20's three stage widths (the paper's 16/32/64 in gpu). degradation_*: Part D trains plain
            # and residual nets of both degradation_depths (6n+2) on the first degradation_train_size images, in
            # batches of degradation_batch_size, without augmentation (cpu: batch 128 gave a residual gain of 0.0015,
            # batch 32 gave 0.054: the short run needs the extra updates). cpu depths 8 and 44: with 20 the residual
            # gain depended on the sample (0.054, 0.024, 0.009); with 44 and one-cycle it read 0.105 and 0.138 on two
            # samples, and plain-44 trailed plain-8 by 0.075 and 0.101, so cpu checks the paper's ordering too. smoke and cpu train on Fashion-MNIST padded to 32x32 (CIFAR-10 is download-only), gpu on
            # CIFAR-10. crop_padding: the paper's 4 on CIFAR-10; 2 on padded Fashion-MNIST, whose 2-pixel border lets
            # the crops shift a garment without cutting it.
            base=dict(
                dataset='fashion_mnist',
                train_size=55_000,
                val_size=5_000,
                test_size=10_000,
                widths=(8, 16, 32),
                epochs=5,  # one-cycle measured 0.901 in 3 epochs, 0.918 and 0.910 (two seeds) in 4, 0.918 and 0.915 in 5
                batch_size=128,
                schedule="one_cycle",  # linear warm-up over warmup_fraction of the steps, then linear decay to 0
                warmup_fraction=0.15,
                learning_rate=0.1,
                momentum=0.9,
                weight_decay=0.0001,
                crop_padding=2,
                flip=False,
                degradation_depths=(8, 44),
                degradation_widths=(4, 8, 16),
                degradation_batch_size=32,
                degradation_train_size=4_000,
                degradation_epochs=6,
                check_plain_degradation=True,
                min_test_accuracy=0.91,  # issue 19: at least 0.91 in at most 600 CPU s for the lab
                min_residual_gain=0.03,
                min_plain_degradation=0.01,  # as gpu (thresholds do not fall from cpu to gpu); measured 0.075-0.165
            ),
            smoke=dict(
                train_size=2_000,
                val_size=500,
                test_size=2_000,
                widths=(4, 8, 16),
                epochs=2,
                batch_size=32,
                degradation_depths=(8, 14),
                degradation_train_size=1_000,
                degradation_epochs=3,
                check_plain_degradation=False,
                min_test_accuracy=0.5,
                min_residual_gain=0.02,
            ),
            gpu=dict(
                dataset='cifar10',
                train_size=45_000,
                widths=(16, 32, 64),
                epochs=182,
                schedule="step",  # the paper's: divided by 10 at half and three quarters of the 64k iterations
                crop_padding=4,
                flip=True,
                degradation_depths=(20, 56),
                degradation_widths=(16, 32, 64),
                degradation_batch_size=128,
                degradation_train_size=45_000,
                degradation_epochs=40,
                check_plain_degradation=True,
                min_test_accuracy=0.91,
                min_residual_gain=0.05,
                min_plain_degradation=0.01,
            ),
        ),
        "autoencoder_unet": _lab(
            # ae_*: Part B's autoencoder on MNIST subsets (the denoiser starts from its weights and gets the same
            # budget); small batches because short runs learn more from many steps; ae_bn_momentum < 0.99 lets the
            # batch-norm moving statistics settle within short runs. noise_std is the same everywhere so that the
            # denoising thresholds compare. membrane_scale: the 512x512 ISBI images are shrunk by this factor;
            # holdout_images of the 30 are kept for evaluation. unet_*: U-Net and its no-skip twin, trained with the
            # same budget (steps x batch of crop_size crops).
            base=dict(
                ae_train_size=6_000,
                ae_test_size=2_000,
                ae_epochs=1,
                ae_batch_size=16,
                ae_learning_rate=0.001,
                ae_bn_momentum=0.9,
                noise_std=0.4,
                membrane_scale=2,
                holdout_images=5,
                crop_size=128,
                unet_filters=8,
                unet_bn_momentum=0.9,
                unet_batch_size=8,
                unet_steps_per_epoch=30,
                unet_epochs=4,
                unet_learning_rate=0.003,
                max_ae_mse=0.04,
                max_denoise_mse=0.04,
                min_code_knn_accuracy=0.7,
                min_unet_pixel_accuracy=0.85,
                min_unet_membrane_iou=0.5,
                min_skip_iou_gain=0.15,
            ),
            smoke=dict(
                ae_train_size=2_000,
                ae_test_size=1_000,
                ae_batch_size=8,
                membrane_scale=4,
                crop_size=96,
                unet_filters=4,
                unet_steps_per_epoch=50,
                unet_epochs=1,
                max_ae_mse=0.05,
                max_denoise_mse=0.05,
                min_code_knn_accuracy=0.3,
                min_unet_pixel_accuracy=0.8,
                min_unet_membrane_iou=0.35,
            ),
            gpu=dict(
                ae_train_size=60_000,
                ae_test_size=10_000,
                ae_epochs=10,
                ae_batch_size=64,
                ae_bn_momentum=0.99,
                membrane_scale=1,
                crop_size=256,
                unet_filters=16,
                unet_bn_momentum=0.99,
                unet_steps_per_epoch=100,
                unet_epochs=20,
                unet_learning_rate=0.001,
                max_ae_mse=0.02,
                max_denoise_mse=0.025,
                min_code_knn_accuracy=0.9,
                min_unet_pixel_accuracy=0.88,
                min_unet_membrane_iou=0.6,
            ),
        ),
        "transfer": _lab(
            # zoo_*: the course's pretrained encoder (utils/zoo.py EncoderConfig), trained once per profile on
            # Fashion-MNIST classes zoo_source_classes and cached. Target tasks: the other Fashion-MNIST classes
            # (similar data) and MNIST digits (different data), per_class_sizes labelled images per class, each size
            # averaged over the matching entry of `draws` random draws (labelled images, initial weights, batch order);
            # the smallest size varies most, so it gets the most draws. The Part A-C demo uses demo_per_class.
            # min_transfer_gain: fine-tuned minus scratch accuracy at the smallest size, on both tasks.
            # *_steps: gradient steps of batch_size images (heads train on frozen features; scratch gets the steps of
            # head + fine-tuning). imagenet: use MobileNetV2 ImageNet weights (offline profiles skip it with a notice).
            # smoke shares cpu's encoder (one cached file): a smaller encoder measured +0.03 on the similar task, short
            # of the target, so smoke saves time on draws and steps instead.
            base=dict(
                zoo_source_classes=(0, 1, 2, 3, 4),
                zoo_filters=(16, 32, 64),
                zoo_fc_units=64,
                zoo_train_size=20_000,
                zoo_epochs=4,
                zoo_batch_size=128,
                zoo_learning_rate=0.002,
                zoo_seed=0,
                similar_classes=(5, 6, 7, 8, 9),
                per_class_sizes=(1, 10, 100),
                draws=(8, 4, 2),
                demo_per_class=10,
                test_size=2_000,
                batch_size=32,
                head_steps=300,
                head_learning_rate=0.01,
                scenario2_units=64,
                knn_k=5,
                lr_test_steps=80,
                lr_test_min=1e-06,
                lr_test_max=1.0,
                fine_tune_steps=150,
                scratch_steps=450,
                scratch_learning_rate=0.003,
                imagenet=False,
                imagenet_alpha=0.35,
                imagenet_size=96,
                max_frozen_change=0.0,
                min_source_accuracy=0.85,
                min_knn_accuracy=0.3,
                min_finetune_accuracy=0.45,
                min_transfer_gain=0.05,
            ),
            smoke=dict(
                per_class_sizes=(1,),
                draws=(4,),
                test_size=1_000,
                head_steps=200,
                lr_test_steps=40,
                lr_test_min=1e-05,
                fine_tune_steps=40,
                scratch_steps=240,
            ),
            gpu=dict(
                zoo_filters=(32, 64, 128),
                zoo_fc_units=128,
                zoo_train_size=30_000,
                zoo_epochs=10,
                zoo_learning_rate=0.001,
                per_class_sizes=(1, 10, 100, 1000),
                draws=(10, 5, 3, 3),
                test_size=10_000,
                batch_size=64,
                head_steps=1_000,
                scenario2_units=128,
                lr_test_steps=150,
                fine_tune_steps=1_000,
                scratch_steps=2_000,
                imagenet=True,
                min_source_accuracy=0.9,
                min_finetune_accuracy=0.5,
            ),
        ),
        "siamese": _lab(
            # train_subsets: Omniglot background sets to train on (the small offline subsets share Greek and Latin,
            # counted once); image_size: 105 = full size, smaller sizes shrink by area averaging. filters/kernels: the
            # shared embedding's valid conv layers (2x2 max pooling between them), then a Dense(embedding_dim).
            # Fresh within-alphabet pairs every epoch; both networks' learning rates decay along a cosine to zero.
            # distortions: Koch et al.'s random affine distortions of the training images, the ranges of (rotation in
            # degrees, shear, relative scale, shift in pixels), for the networks in distorted_networks (cpu, 12 epochs:
            # contrastive 0.629 -> 0.684 with them, mean of two seeds; Koch 0.498 -> 0.403: it learns too slowly to use
            # them in a short run; smoke's 72 steps are too few for either). Sampled N-way tasks: task_batches batches
            # of tasks_per_batch.
            # min_*_accuracy: 20-way one-shot on Lake et al.'s official runs (Koch's cross-entropy head learns slowly in
            # short runs, hence its lower targets); min_gain_over_pixels: the better network minus the nearest neighbour
            # on pixels. gpu follows Koch et al. (2015) in size; its targets are estimates, not measured here (Koch et
            # al. report 92% with distortions and a longer schedule).
            base=dict(
                train_subsets=('background_small1', 'background_small2'),
                image_size=35,
                filters=(32, 64, 64),
                kernels=(5, 3, 3),
                embedding_dim=128,
                bn_momentum=0.9,
                pairs_per_epoch=12_800,
                epochs=12,  # 6: contrastive 0.645 (3 seeds), with distortions 0.651 (2 seeds), in half the CPU time
                batch_size=128,  # 32 to 512 train the same pairs per CPU second; 64 and 256 measured no better
                koch_learning_rate=0.001,
                contrastive_learning_rate=0.003,
                distortions=(10.0, 0.3, 0.2, 2.0),
                distorted_networks=('contrastive',),
                margin=1.0,
                task_batches=20,
                tasks_per_batch=200,
                min_koch_accuracy=0.2,
                min_contrastive_accuracy=0.45,
                min_gain_over_pixels=0.2,
                min_five_way_accuracy=0.65,
            ),
            smoke=dict(
                image_size=28,
                filters=(32, 32, 64),
                pairs_per_epoch=3_072,
                epochs=3,
                distorted_networks=(),
                task_batches=10,
                tasks_per_batch=100,
                min_koch_accuracy=0.1,
                min_contrastive_accuracy=0.35,
                min_gain_over_pixels=0.12,
                min_five_way_accuracy=0.55,
            ),
            gpu=dict(
                train_subsets=('background',),
                image_size=105,
                filters=(64, 128, 128, 256),
                kernels=(10, 7, 4, 4),
                embedding_dim=4_096,
                bn_momentum=0.99,
                pairs_per_epoch=100_000,
                epochs=30,
                koch_learning_rate=0.0005,
                contrastive_learning_rate=0.001,
                distorted_networks=('koch', 'contrastive'),
                task_batches=50,
                tasks_per_batch=400,
                min_koch_accuracy=0.7,
                min_contrastive_accuracy=0.7,
                min_gain_over_pixels=0.45,
                min_five_way_accuracy=0.9,
            ),
        ),
        "babysitting": _lab(
            # Companion notebook (Fashion-MNIST, utils.babysitting.small_cnn). val_size: the last images of the
            # training set, held out. init_images: the initial loss is measured on them and must be within
            # max_initial_loss_error of ln(10); init_l2 must raise it. overfit_*: Adam, full-batch steps on
            # overfit_images. sweep_*: SGD with momentum 0.9, sweep_steps steps of sweep_batch_size on sweep_images at
            # each of sweep_rates; good_lr_range: the rates declared about right before the sweep; curve_*: the
            # curve classifier's thresholds (utils.babysitting.classify_curve). gap_*: the same net without and with dropout + L2 on
            # gap_train_size images. tb_*: the run logged to TensorBoard, tb_probe_size images for the histograms.
            # search_*: grid and random search with the same budget of search_trials (grid: a square number).
            # max_overfit_loss_ratio: the tiny subset's final loss over its first; max_gradient_ratio: the largest
            # gradients of the kernels stay within this factor of each other; min_weight_spread_change: each kernel's
            # weight spread changes at least this much (relative) between the first and last logged epochs.
            base=dict(
                val_size=2_000,
                init_images=1_000,
                init_l2=0.01,
                max_initial_loss_error=0.1,
                overfit_images=20,
                overfit_steps=100,
                overfit_learning_rate=0.001,
                sweep_images=2_000,
                sweep_batch_size=32,
                sweep_steps=300,
                sweep_rates=(1e-05, 0.0001, 0.001, 0.01, 0.03, 1.0, 10.0),
                good_lr_range=(0.001, 0.1),
                curve_min_drop=0.3,
                curve_max_rise=0.5,
                curve_end_margin=0.01,
                gap_train_size=1_000,
                gap_epochs=30,
                gap_batch_size=50,
                gap_units=64,
                gap_learning_rate=0.03,
                gap_dropout=0.5,
                gap_l2=0.001,
                tb_train_size=5_000,
                tb_epochs=4,
                tb_batch_size=64,
                tb_learning_rate=0.03,
                tb_probe_size=256,
                search_trials=9,
                search_train_size=2_000,
                search_epochs=1,
                search_batch_size=32,
                search_learning_rate=(0.0001, 1.0),
                search_dropout=(0.0, 0.5),
                min_overfit_accuracy=1.0,
                max_overfit_loss_ratio=0.1,
                min_gap_reduction=0.03,
                max_gradient_ratio=1_000.0,
                min_weight_spread_change=0.01,
                min_kernel_smoothness_gain=0.1,
            ),
            smoke=dict(
                sweep_steps=200,
                sweep_rates=(0.0001, 0.003, 0.03, 3.0, 30.0),
                gap_train_size=500,
                gap_epochs=20,
                tb_train_size=2_000,
                tb_epochs=3,
                search_trials=4,
                search_train_size=1_000,
            ),
            gpu=dict(
                sweep_steps=1_000,
                sweep_rates=(1e-06, 1e-05, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0, 10.0),
                gap_epochs=60,
                tb_train_size=20_000,
                tb_epochs=10,
                search_trials=25,
                search_train_size=10_000,
                search_epochs=2,
            ),
        ),
        "interpret": _lab(
            # Companion notebook (MNIST: its background is empty, so "on the object" is well defined).
            # train_size/epochs/...: the small CNN that is inspected. gallery_size training images and query_size
            # test images for the nearest neighbours (k of them, L2). attribution_images test images for occlusion
            # (occlusion_patch-pixel patches of the mean pixel value, every occlusion_stride pixels), saliency and
            # Grad-CAM (on gradcam_layer); mask_threshold: pixels above it (0..255) are the object; top_fraction: the
            # share of each map's largest values that is compared with the object. tsne_points test images are
            # embedded; k-NN accuracy (knn_k, leave one out) in the embedding against in pixels.
            base=dict(
                train_size=20_000,
                epochs=3,
                batch_size=64,
                learning_rate=0.003,
                gallery_size=10_000,
                query_size=1_000,
                k=5,
                attribution_images=100,
                occlusion_patch=6,
                occlusion_stride=1,
                gradcam_layer="conv2",
                mask_threshold=25,
                top_fraction=0.1,
                tsne_points=1_000,
                tsne_perplexity=30.0,
                knn_k=5,
                min_test_accuracy=0.97,
                min_neighbour_gain=0.03,
                min_object_lift=2.0,
                min_embedding_gain=0.05,
            ),
            smoke=dict(
                train_size=5_000,
                gallery_size=5_000,
                attribution_images=50,
                occlusion_stride=2,
                tsne_points=500,
                min_test_accuracy=0.9,
            ),
            gpu=dict(
                train_size=60_000,
                epochs=6,
                gallery_size=20_000,
                attribution_images=500,
                tsne_points=3_000,
                min_test_accuracy=0.985,
            ),
        ),
        # Each later lab adds its block here: "name": _lab(base=dict(...), smoke=dict(...), gpu=dict(...)).
    }
)


class ProfileError(ValueError):
    """An unknown profile or lab name."""


@dataclass(frozen=True)
class LabConfig:
    """The sizes and thresholds of one lab in one profile, read as attributes."""

    lab: str
    profile: str
    values: Mapping[str, Any] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(
            f"Lab '{self.lab}' has no setting '{name}' in profile '{self.profile}'; "
            f"it has: {', '.join(sorted(values))}."
        )

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.values.items())

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dictionary."""
        return dict(self.values)

    def __str__(self) -> str:
        width = max(len(k) for k in self.values)
        rows = [f"  {k:<{width}}  {v}" for k, v in self.values.items()]
        return f"Lab '{self.lab}' in profile '{self.profile}':\n" + "\n".join(rows)


@dataclass(frozen=True)
class Profile:
    """The active run profile: its name, why it was chosen, and per-lab settings."""

    name: str
    reason: str

    @property
    def description(self) -> str:
        """One line saying what the profile is for."""
        return DESCRIPTIONS[self.name]

    def lab(self, lab: str) -> LabConfig:
        """Return the settings of ``lab`` in this profile."""
        if lab not in LABS:
            raise ProfileError(f"Unknown lab '{lab}'; known labs: {', '.join(LABS)}.")
        return LabConfig(lab=lab, profile=self.name, values=MappingProxyType(dict(LABS[lab][self.name])))

    def __str__(self) -> str:
        return f"Profile: {self.name} ({self.reason}) - {self.description}"


def gpu_visible() -> bool:
    """Return True when TensorFlow sees at least one GPU."""
    import tensorflow as tf  # imported here: TensorFlow is slow to import

    return bool(tf.config.list_physical_devices("GPU"))


def get_profile(name: str | None = None) -> Profile:
    """Return the profile named, else ``$COURSE_PROFILE``, else gpu/cpu by hardware."""
    if name is None:
        name = os.environ.get("COURSE_PROFILE", "").strip().lower() or None
        reason = "from COURSE_PROFILE" if name else ""
    else:
        name, reason = name.strip().lower(), "chosen explicitly"
    if name is None:
        name = "gpu" if gpu_visible() else "cpu"
        reason = "default: a GPU is visible" if name == "gpu" else "default: no GPU visible"
    if name not in PROFILES:
        raise ProfileError(
            f"Unknown profile '{name}': set COURSE_PROFILE to one of {', '.join(PROFILES)}."
        )
    return Profile(name=name, reason=reason)


def lab_config(lab: str, profile: str | None = None) -> LabConfig:
    """Print the active profile and return the settings of ``lab`` in it."""
    active = get_profile(profile)
    config = active.lab(lab)
    print(active)
    print(config)
    return config
