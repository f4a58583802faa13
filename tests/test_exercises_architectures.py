"""Lab 4's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from mutation import correct, verify, wrong

from utils.exercises import architectures as ex

LAB = "04 architectures"


class LocalResponseNorm(layers.Layer):
    """The lab's given normalisation layer (no parameters)."""

    def call(self, x):
        return tf.nn.local_response_normalization(x, 2, 2.0, 1e-4, 0.75)

    def compute_output_shape(self, input_shape):
        return input_shape


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# A1 AlexNet
# ---------------------------------------------------------------------------


def make_alexnet(conv_padding="same", pool=3, last=None, norm=True, relu_fc=True, dropout=0.5, separate=False,
                 stride1=4):
    """An AlexNet builder with knobs for the usual mistakes."""
    def alexnet(input_shape=(227, 227, 3), num_classes=1000):
        inputs = keras.Input(input_shape)

        def conv(t, filters, size, **kw):
            if separate:
                return layers.Activation("relu")(layers.Conv2D(filters, size, **kw)(t))
            return layers.Conv2D(filters, size, activation="relu", **kw)(t)

        x = conv(inputs, 96, 11, strides=stride1)
        x = layers.MaxPooling2D(pool, strides=2)(x)
        x = LocalResponseNorm()(x) if norm else x
        x = conv(x, 256, 5, padding=conv_padding)
        x = layers.MaxPooling2D(pool, strides=2)(x)
        x = LocalResponseNorm()(x) if norm else x
        for filters in (384, 384, 256):
            x = conv(x, filters, 3, padding=conv_padding)
        x = layers.Flatten()(layers.MaxPooling2D(pool, strides=2)(x))
        for _ in range(2):
            x = layers.Dense(4096, activation="relu" if relu_fc else None)(x)
            x = layers.Dropout(dropout)(x) if dropout else x
        return keras.Model(inputs, layers.Dense(num_classes, activation=last)(x))
    return alexnet


def alexnet_hardcoded(input_shape=(227, 227, 3), num_classes=1000):
    """Wrong: ignores its arguments."""
    return make_alexnet()()


# ---------------------------------------------------------------------------
# A2 VGG
# ---------------------------------------------------------------------------


def vgg_block_relu_layers(x, filters, num_convs):
    """Correct, differently written: ReLU layers, and the pooling's stride left at its default."""
    for _ in range(num_convs):
        x = layers.ReLU()(layers.Conv2D(filters, (3, 3), padding="same")(x))
    return layers.MaxPool2D((2, 2))(x)


def vgg_block_no_pool(x, filters, num_convs):
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return x


def vgg_block_pool_same(x, filters, num_convs):
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.MaxPooling2D(2, padding="same")(x)


def vgg_block_linear(x, filters, num_convs):
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.MaxPooling2D(2)(x)


def vgg_block_avg(x, filters, num_convs):
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.AveragePooling2D(2)(x)


def vgg_block_valid(x, filters, num_convs):
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
    return layers.MaxPooling2D(2)(x)


def vgg_block_one_conv(x, filters, num_convs):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.MaxPooling2D(2)(x)


def make_vgg_network(block=vgg_block_relu_layers, flatten=True, dense_act="relu", last=None, fixed_dense=False):
    def vgg_network(input_shape=(224, 224, 3), block_filters=(64, 128, 256, 512, 512), block_convs=(2, 2, 3, 3, 3),
                    dense_units=(4096, 4096), num_classes=1000):
        x = inputs = keras.Input(input_shape)
        dense_units = (4096, 4096) if fixed_dense else dense_units
        for filters, convs in zip(block_filters, block_convs):
            x = block(x, filters, convs)
        x = layers.Flatten()(x) if flatten else layers.GlobalAveragePooling2D()(x)
        for units in dense_units:
            x = layers.Dense(units, activation=dense_act)(x)
        return keras.Model(inputs, layers.Dense(num_classes, activation=last)(x))
    return vgg_network


def vgg_sequential(input_shape=(224, 224, 3), block_filters=(64, 128, 256, 512, 512), block_convs=(2, 2, 3, 3, 3),
                   dense_units=(4096, 4096), num_classes=1000):
    """Correct, differently written: a Sequential model."""
    stack = [keras.Input(input_shape)]
    for filters, convs in zip(block_filters, block_convs):
        stack += [layers.Conv2D(filters, 3, padding="same", activation="relu") for _ in range(convs)]
        stack.append(layers.MaxPooling2D())
    stack.append(layers.Flatten())
    stack += [layers.Dense(u, activation="relu") for u in dense_units] + [layers.Dense(num_classes)]
    return keras.Sequential(stack)


# ---------------------------------------------------------------------------
# A3 basic block, A4 bottleneck
# ---------------------------------------------------------------------------


def conv_bn(x, filters, size, stride=1, act=True, bias=False, momentum=0.9):
    x = layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=bias)(x)
    x = layers.BatchNormalization(momentum=momentum)(x)
    return layers.Activation("relu")(x) if act else x


def make_basic(relu_before_add=False, project="auto", final_relu=True, bias=False, momentum=0.9, plain_adds=False,
               stride_second=False, use_plus=False):
    def basic_block(x, filters, stride=1, residual=True):
        y = conv_bn(x, filters, 3, 1 if stride_second else stride, bias=bias, momentum=momentum)
        y = conv_bn(y, filters, 3, stride if stride_second else 1, act=relu_before_add, bias=bias, momentum=momentum)
        if residual or plain_adds:
            needs = stride != 1 or x.shape[-1] != filters
            if project == "always" or (project == "auto" and needs) or (project == "channels" and
                                                                        x.shape[-1] != filters):
                s = conv_bn(x, filters, 1, stride, act=False, bias=bias, momentum=momentum)
            elif needs:  # no projection: subsample so that shapes agree where they can
                s = layers.Conv2D(filters, 1, strides=stride, use_bias=False, trainable=False)(x) if x.shape[-1] != \
                    filters else layers.MaxPooling2D(1, strides=stride)(x)
                s = layers.Lambda(lambda t: t)(s)
            else:
                s = x
            y = (y + s) if use_plus else layers.Add()([y, s])
        return layers.ReLU()(y) if final_relu else y
    return basic_block


def basic_no_projection(x, filters, stride=1, residual=True):
    """Wrong: the shortcut subsamples and pads the channels with zeros instead of projecting (option A)."""
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, act=False)
    if residual:
        s = x[:, ::stride, ::stride, :]
        extra = filters - x.shape[-1]
        if extra:
            s = layers.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 0], [0, 0], [0, extra]]))(s)
        y = layers.Add()([y, s])
    return layers.ReLU()(y)


def make_bottleneck(stride_in="first", relu_before_add=False, project="auto", expand=4, bias=False):
    def bottleneck_block(x, filters, stride=1):
        y = conv_bn(x, filters, 1, stride if stride_in == "first" else 1, bias=bias)
        y = conv_bn(y, filters, 3, stride if stride_in == "middle" else 1, bias=bias)
        y = conv_bn(y, expand * filters, 1, stride if stride_in == "last" else 1, act=relu_before_add, bias=bias)
        out = expand * filters
        if project == "always" or (project == "auto" and (stride != 1 or x.shape[-1] != out)) or (
                project == "channels" and x.shape[-1] != out):
            s = conv_bn(x, out, 1, stride, act=False, bias=bias)
        elif stride != 1:
            s = layers.MaxPooling2D(1, strides=stride)(x)
        else:
            s = x
        return layers.ReLU()(layers.Add()([y, s]))
    return bottleneck_block


# ---------------------------------------------------------------------------
# A5 CIFAR ResNet
# ---------------------------------------------------------------------------


def make_resnet(block=make_basic(), stride_first_stage=False, head="gap", stem_bn=True, pass_residual=True,
                last=None, blocks=lambda n: n, hard_widths=False):
    def cifar_resnet(n, input_shape=(32, 32, 3), num_classes=10, widths=(16, 32, 64), residual=True):
        widths = (16, 32, 64) if hard_widths else widths
        x = inputs = keras.Input(input_shape)
        x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(x)
        if stem_bn:
            x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        for stage, filters in enumerate(widths):
            for i in range(blocks(n)):
                stride = 2 if i == 0 and (stage > 0 or stride_first_stage) else 1
                x = block(x, filters, stride, residual if pass_residual else True)
        x = layers.GlobalAveragePooling2D()(x) if head == "gap" else layers.Flatten()(x)
        return keras.Model(inputs, layers.Dense(num_classes, activation=last)(x))
    return cifar_resnet


# ---------------------------------------------------------------------------
# A6 inception
# ---------------------------------------------------------------------------


def make_inception(order=(0, 1, 2, 3), axis=-1, reduce=True, pool_proj=True, pool_strides=1, act="relu"):
    def inception_module(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj_filters):
        def conv(t, filters, size):
            return layers.Conv2D(filters, size, padding="same", activation=act)(t)

        branches = [conv(x, f1, 1),
                    conv(conv(x, f3_reduce, 1) if reduce else x, f3, 3),
                    conv(conv(x, f5_reduce, 1) if reduce else x, f5, 5)]
        pooled = layers.MaxPooling2D(3, strides=pool_strides, padding="same")(x)
        branches.append(conv(pooled, pool_proj_filters, 1) if pool_proj else pooled)
        return layers.Concatenate(axis=axis)([branches[i] for i in order])
    return inception_module


def inception_ops(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj):
    """Correct, differently written: separate ReLU layers and keras.ops.concatenate."""
    def conv(t, filters, size):
        return layers.ReLU()(layers.Conv2D(filters, (size, size), padding="same")(t))

    pooled = layers.MaxPool2D(pool_size=3, strides=(1, 1), padding="same")(x)
    return keras.ops.concatenate([conv(x, f1, 1), conv(conv(x, f3_reduce, 1), f3, 3),
                                  conv(conv(x, f5_reduce, 1), f5, 5), conv(pooled, pool_proj, 1)], axis=3)


# ---------------------------------------------------------------------------
# A7 separable
# ---------------------------------------------------------------------------


def make_separable(kind="depthwise", stride_in="depthwise", mid_relu=True, bias=False, final_relu=True):
    def separable_block(x, filters, stride=1):
        s1 = stride if stride_in == "depthwise" else 1
        if kind == "separable_layer":
            x = layers.SeparableConv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
            return layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
        if kind == "full":
            x = layers.Conv2D(x.shape[-1], 3, strides=s1, padding="same", use_bias=bias)(x)
        else:
            x = layers.DepthwiseConv2D(3, strides=s1, padding="same", use_bias=bias)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x) if mid_relu else x
        x = layers.Conv2D(filters, 1, strides=1 if stride_in == "depthwise" else stride, use_bias=bias)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.ReLU()(x) if final_relu else x
    return separable_block


# ---------------------------------------------------------------------------
# B1 augmentation
# ---------------------------------------------------------------------------


def augment_ok(image, padding, flip):
    """The lab's approach."""
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.random_crop(padded, tf.shape(image))
    return tf.image.random_flip_left_right(image) if flip else image


def augment_offsets(image, padding, flip):
    """Correct, differently written: random offsets and tf.image.pad_to_bounding_box, a coin flip with tf.cond."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    padded = tf.image.pad_to_bounding_box(image, padding, padding, h + 2 * padding, w + 2 * padding)
    dy = tf.random.uniform([], 0, 2 * padding + 1, dtype=tf.int32)
    dx = tf.random.uniform([], 0, 2 * padding + 1, dtype=tf.int32)
    image = padded[dy:dy + h, dx:dx + w]
    if flip:
        image = tf.cond(tf.random.uniform([]) < 0.5, lambda: image[:, ::-1], lambda: image)
    return image


def augment_vertical(image, padding, flip):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.random_crop(padded, tf.shape(image))
    return tf.image.random_flip_up_down(image) if flip else image


def augment_no_pad(image, padding, flip):
    image = tf.image.random_crop(image, tf.shape(image))
    return tf.image.random_flip_left_right(image) if flip else image


def augment_reflect(image, padding, flip):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]], mode="REFLECT")
    image = tf.image.random_crop(padded, tf.shape(image))
    return tf.image.random_flip_left_right(image) if flip else image


def augment_one_side(image, padding, flip):
    padded = tf.pad(image, [[0, 2 * padding], [0, 2 * padding], [0, 0]])
    image = tf.image.random_crop(padded, tf.shape(image))
    return tf.image.random_flip_left_right(image) if flip else image


def augment_always_flip(image, padding, flip):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.random_crop(padded, tf.shape(image))
    return tf.image.flip_left_right(image) if flip else image


def augment_flip_ignored(image, padding, flip):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.random_flip_left_right(tf.image.random_crop(padded, tf.shape(image)))


def augment_numpy(image, padding, flip):
    image = np.asarray(image)
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    dy, dx = np.random.randint(0, 2 * padding + 1, size=2)
    out = padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return out[:, ::-1] if flip and np.random.rand() < 0.5 else out


def augment_square_crop(image, padding, flip):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    h = tf.shape(image)[0]
    return tf.image.random_crop(padded, [h, h, tf.shape(image)[2]])


def augment_float(image, padding, flip):
    return augment_ok(tf.cast(image, tf.float32) / 255.0, padding, flip)


# ---------------------------------------------------------------------------
# B2 schedule
# ---------------------------------------------------------------------------


def schedule_ok(base_lr, total_steps):
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [int(total_steps * 0.5), int(total_steps * 0.75)], [base_lr, base_lr / 10, base_lr / 100])


class StrictSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Correct, differently written: a subclass with `step < total/2` comparisons."""

    def __init__(self, base_lr, total_steps):
        self.base_lr, self.total_steps = base_lr, total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        half, three = self.total_steps / 2, self.total_steps * 3 / 4
        return tf.where(step < half, self.base_lr, tf.where(step < three, self.base_lr / 10, self.base_lr / 100))


def schedule_subclass(base_lr, total_steps):
    return StrictSchedule(base_lr, total_steps)


def schedule_late(base_lr, total_steps):
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [total_steps // 2 + 1, total_steps * 3 // 4 + 1], [base_lr, base_lr / 10, base_lr / 100])


def schedule_fractions(base_lr, total_steps):
    return keras.optimizers.schedules.PiecewiseConstantDecay([0.5, 0.75], [base_lr, base_lr / 10, base_lr / 100])


def schedule_hardcoded(base_lr, total_steps):
    return schedule_ok(0.1, total_steps)


def schedule_wrong_factor(base_lr, total_steps):
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [int(total_steps * 0.5), int(total_steps * 0.75)], [base_lr, base_lr / 10, base_lr / 1000])


def schedule_thirds(base_lr, total_steps):
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [total_steps // 3, 2 * total_steps // 3], [base_lr, base_lr / 10, base_lr / 100])


def schedule_round_up(base_lr, total_steps):
    """Wrong on odd totals: rounds the three-quarter boundary up (7.5 -> 8 for 10 steps, 5.25 -> 6 for 7)."""
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [-(-total_steps // 2), -(-total_steps * 3 // 4)], [base_lr, base_lr / 10, base_lr / 100])


def schedule_float(base_lr, total_steps):
    return base_lr


# ---------------------------------------------------------------------------
# Adversarial review (labs 4, 6, 7): answers that fooled or wrongly failed the checks
# ---------------------------------------------------------------------------


def _alexnet_variant(norm, pool_then_relu=False, dropout_on_logits=False, shared_relu=False):
    """AlexNet with a chosen normalisation layer; optionally ReLU after pooling (one ReLU object used three times,
    or three), or dropout after FC7 and FC8."""
    def alexnet(input_shape=(227, 227, 3), num_classes=1000):
        shared = layers.ReLU()

        def conv(filters, size, **kw):
            return [layers.Conv2D(filters, size, **kw)] if pool_then_relu else [
                layers.Conv2D(filters, size, activation="relu", **kw)]

        def act():
            return [shared if shared_relu else layers.ReLU()] if pool_then_relu else []

        head = ([layers.Dense(4096, activation="relu"), layers.Dense(4096, activation="relu"), layers.Dropout(0.5),
                 layers.Dense(num_classes), layers.Dropout(0.5)] if dropout_on_logits else
                [layers.Dense(4096, activation="relu"), layers.Dropout(0.5), layers.Dense(4096, activation="relu"),
                 layers.Dropout(0.5), layers.Dense(num_classes)])
        return keras.Sequential([
            keras.Input(input_shape),
            *conv(96, 11, strides=4), layers.MaxPooling2D(3, strides=2), *act(), norm(),
            *conv(256, 5, padding="same"), layers.MaxPooling2D(3, strides=2), *act(), norm(),
            layers.Conv2D(384, 3, padding="same", activation="relu"),
            layers.Conv2D(384, 3, padding="same", activation="relu"),
            *conv(256, 3, padding="same"), layers.MaxPooling2D(3, strides=2), *act(),
            layers.Flatten(), *head])
    return alexnet


alexnet_layernorm = _alexnet_variant(lambda: layers.LayerNormalization(center=False, scale=False))
alexnet_unitnorm = _alexnet_variant(layers.UnitNormalization)
alexnet_dropout_on_logits = _alexnet_variant(LocalResponseNorm, dropout_on_logits=True)
alexnet_pool_then_relu = _alexnet_variant(LocalResponseNorm, pool_then_relu=True)
alexnet_pool_then_shared_relu = _alexnet_variant(LocalResponseNorm, pool_then_relu=True, shared_relu=True)
alexnet_lambda_lrn = _alexnet_variant(lambda: layers.Lambda(
    lambda t: tf.nn.local_response_normalization(t, 2, 2.0, 1e-4, 0.75)))


def alexnet_nested_sequential(input_shape=(227, 227, 3), num_classes=1000):
    """Correct (torchvision layout): a `features` and a `classifier` Sequential inside one Sequential."""
    features = keras.Sequential([
        layers.Conv2D(96, 11, strides=4, activation="relu"), layers.MaxPooling2D(3, strides=2), LocalResponseNorm(),
        layers.Conv2D(256, 5, padding="same", activation="relu"), layers.MaxPooling2D(3, strides=2),
        LocalResponseNorm(), layers.Conv2D(384, 3, padding="same", activation="relu"),
        layers.Conv2D(384, 3, padding="same", activation="relu"),
        layers.Conv2D(256, 3, padding="same", activation="relu"), layers.MaxPooling2D(3, strides=2)], name="features")
    classifier = keras.Sequential([
        layers.Dense(4096, activation="relu"), layers.Dropout(0.5), layers.Dense(4096, activation="relu"),
        layers.Dropout(0.5), layers.Dense(num_classes)], name="classifier")
    return keras.Sequential([keras.Input(input_shape), features, layers.Flatten(), classifier])


def vgg_network_ops_relu(input_shape=(224, 224, 3), block_filters=(64, 128, 256, 512, 512),
                         block_convs=(2, 2, 3, 3, 3), dense_units=(4096, 4096), num_classes=1000):
    """Correct: the dense ReLUs written as keras.activations.relu on the tensors."""
    x = inputs = keras.Input(input_shape)
    for filters, convs in zip(block_filters, block_convs):
        for _ in range(convs):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    for units in dense_units:
        x = keras.activations.relu(layers.Dense(units)(x))
    return keras.Model(inputs, layers.Dense(num_classes)(x))


class BasicBlockLayer(layers.Layer):
    """A residual basic block as a custom Keras layer (sublayers built in __init__, ReLUs as keras.ops.relu)."""

    def __init__(self, filters, stride=1, residual=True, momentum=0.9, in_channels=None, **kwargs):
        super().__init__(**kwargs)
        self.residual = residual
        self.conv1 = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization(momentum=momentum)
        self.conv2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization(momentum=momentum)
        self.project = residual and (stride != 1 or in_channels != filters)
        if self.project:
            self.conv_s = layers.Conv2D(filters, 1, strides=stride, use_bias=False)
            self.bn_s = layers.BatchNormalization(momentum=momentum)

    def call(self, x, training=None):
        y = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        if self.residual:
            y = y + (self.bn_s(self.conv_s(x), training=training) if self.project else x)
        return keras.ops.relu(y)


def basic_custom_layer_momentum_099(x, filters, stride=1, residual=True):
    """Wrong: batch norm momentum 0.99, hidden inside a custom layer."""
    return BasicBlockLayer(filters, stride, residual, momentum=0.99, in_channels=x.shape[-1])(x)


def basic_custom_layer(x, filters, stride=1, residual=True):
    """Correct: the block as a custom layer with momentum 0.9."""
    return BasicBlockLayer(filters, stride, residual, momentum=0.9, in_channels=x.shape[-1])(x)


def _resnet_head_variant(block, head):
    def cifar_resnet(n, input_shape=(32, 32, 3), num_classes=10, widths=(16, 32, 64), residual=True):
        inputs = keras.Input(input_shape)
        x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(inputs)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
        for stage, f in enumerate(widths):
            for b in range(n):
                x = block(x, f, 2 if stage > 0 and b == 0 else 1, residual)
        return keras.Model(inputs, layers.Dense(num_classes)(head(x)))
    return cifar_resnet


cifar_resnet_custom_layer = _resnet_head_variant(basic_custom_layer, layers.GlobalAveragePooling2D())
cifar_resnet_ops_mean = _resnet_head_variant(
    lambda x, f, stride, residual: make_basic()(x, f, stride=stride, residual=residual),
    lambda x: keras.ops.mean(x, axis=(1, 2)))


def separable_relu6(x, filters, stride=1):
    """Wrong (A7 asks for ReLU; Keras' MobileNet v2 uses ReLU6)."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    return layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))


def separable_bn_default(x, filters, stride=1):
    """Correct: A7 does not fix the batch-norm momentum (A3's momentum=0.9 is for the ResNet blocks)."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization()(x))


def augment_numpy_coin(image, padding, flip):
    """Wrong: the flip decided by np.random in Python: inside tf.data (traced once) all images flip or none does."""
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.random_crop(padded, tf.shape(image))
    if flip and np.random.rand() < 0.5:
        image = tf.image.flip_left_right(image)
    return image


def augment_numpy_offsets(image, padding, flip):
    """Wrong: crop offsets from np.random: inside tf.data every image gets the same crop (flips still vary)."""
    h, w = image.shape[0], image.shape[1]
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    top, left = np.random.randint(0, 2 * padding + 1, size=2)
    image = padded[top:top + h, left:left + w, :]
    return tf.image.random_flip_left_right(image) if flip else image


class _NoReturnSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, base_lr, total_steps):
        self.base_lr, self.total_steps = base_lr, total_steps

    def __call__(self, step):
        keras.ops.where(step < self.total_steps // 2, self.base_lr, self.base_lr / 10)  # forgot `return`


def schedule_no_return(base_lr, total_steps):
    """Wrong: the schedule's __call__ forgets `return`."""
    return _NoReturnSchedule(base_lr, total_steps)


C = ex
CASES = [
    # A1
    correct(LAB, C.check_alexnet, "alexnet with activation=", make_alexnet()),
    correct(LAB, C.check_alexnet, "alexnet with Activation layers", make_alexnet(separate=True)),
    wrong(LAB, C.check_alexnet, "alexnet with 'valid' convolutions", make_alexnet(conv_padding="valid"),
          expect="padding='same'"),
    wrong(LAB, C.check_alexnet, "alexnet with 2x2 pooling", make_alexnet(pool=2)),
    wrong(LAB, C.check_alexnet, "alexnet with a softmax output", make_alexnet(last="softmax"), expect="logits"),
    wrong(LAB, C.check_alexnet, "alexnet without normalisation", make_alexnet(norm=False)),
    wrong(LAB, C.check_alexnet, "alexnet with linear FC layers", make_alexnet(relu_fc=False), expect="ReLU"),
    wrong(LAB, C.check_alexnet, "alexnet without dropout", make_alexnet(dropout=0), expect="Dropout"),
    wrong(LAB, C.check_alexnet, "alexnet ignoring its arguments", alexnet_hardcoded),
    wrong(LAB, C.check_alexnet, "alexnet conv1 at stride 2", make_alexnet(stride1=2)),
    wrong(LAB, C.check_alexnet, "alexnet still a stub", stub, expect="not implemented yet"),
    # A2
    correct(LAB, C.check_vgg_block, "vgg_block with ReLU layers", vgg_block_relu_layers),
    wrong(LAB, C.check_vgg_block, "vgg_block without pooling", vgg_block_no_pool, expect="max pooling"),
    wrong(LAB, C.check_vgg_block, "vgg_block pooling with padding='same'", vgg_block_pool_same, expect="valid"),
    wrong(LAB, C.check_vgg_block, "vgg_block without ReLU", vgg_block_linear, expect="no ReLU"),
    wrong(LAB, C.check_vgg_block, "vgg_block with average pooling", vgg_block_avg, expect="average"),
    wrong(LAB, C.check_vgg_block, "vgg_block with 'valid' convolutions", vgg_block_valid),
    wrong(LAB, C.check_vgg_block, "vgg_block with one convolution", vgg_block_one_conv),
    wrong(LAB, C.check_vgg_block, "vgg_block still a stub", stub, expect="not implemented yet"),
    correct(LAB, C.check_vgg_network, "vgg_network, functional", make_vgg_network()),
    correct(LAB, C.check_vgg_network, "vgg_network, Sequential", vgg_sequential),
    wrong(LAB, C.check_vgg_network, "vgg_network with global pooling", make_vgg_network(flatten=False)),
    wrong(LAB, C.check_vgg_network, "vgg_network with linear dense layers", make_vgg_network(dense_act=None),
          expect="ReLU"),
    wrong(LAB, C.check_vgg_network, "vgg_network with a softmax output", make_vgg_network(last="softmax")),
    wrong(LAB, C.check_vgg_network, "vgg_network ignoring dense_units", make_vgg_network(fixed_dense=True)),
    wrong(LAB, C.check_vgg_network, "vgg_network with blocks without pooling", make_vgg_network(vgg_block_no_pool)),
    wrong(LAB, C.check_vgg_network, "vgg_network still a stub", stub, expect="not implemented yet"),
    # A3
    correct(LAB, C.check_basic_block, "basic_block with Activation layers", make_basic()),
    correct(LAB, C.check_basic_block, "basic_block with the + operator", make_basic(use_plus=True)),
    wrong(LAB, C.check_basic_block, "ReLU before the add", make_basic(relu_before_add=True, final_relu=False),
          expect="before the add"),
    wrong(LAB, C.check_basic_block, "ReLU before and after the add", make_basic(relu_before_add=True),
          expect="before the add"),
    wrong(LAB, C.check_basic_block, "no ReLU after the add", make_basic(final_relu=False), expect="ReLU missing"),
    wrong(LAB, C.check_basic_block, "projection always on", make_basic(project="always"), expect="identity"),
    wrong(LAB, C.check_basic_block, "projection only when channels change", make_basic(project="channels"),
          expect="projection"),
    wrong(LAB, C.check_basic_block, "zero-padding shortcut (option A)", basic_no_projection, expect="projection"),
    wrong(LAB, C.check_basic_block, "plain block still adds", make_basic(plain_adds=True)),
    wrong(LAB, C.check_basic_block, "convolutions with biases", make_basic(bias=True), expect="use_bias=False"),
    wrong(LAB, C.check_basic_block, "batch norm momentum 0.99", make_basic(momentum=0.99), expect="momentum"),
    wrong(LAB, C.check_basic_block, "stride in the second convolution", make_basic(stride_second=True)),
    wrong(LAB, C.check_basic_block, "basic_block still a stub", stub, expect="not implemented yet"),
    # A4
    correct(LAB, C.check_bottleneck_block, "bottleneck with Activation layers", make_bottleneck()),
    wrong(LAB, C.check_bottleneck_block, "stride in the 3x3", make_bottleneck(stride_in="middle"),
          expect="first 1x1"),
    wrong(LAB, C.check_bottleneck_block, "stride in the last 1x1", make_bottleneck(stride_in="last")),
    wrong(LAB, C.check_bottleneck_block, "ReLU before the add", make_bottleneck(relu_before_add=True),
          expect="before the add"),
    wrong(LAB, C.check_bottleneck_block, "projection always on", make_bottleneck(project="always"),
          expect="identity"),
    wrong(LAB, C.check_bottleneck_block, "projection only when channels change",
          make_bottleneck(project="channels"), expect="projection"),
    wrong(LAB, C.check_bottleneck_block, "no expansion by 4", make_bottleneck(expand=1)),
    wrong(LAB, C.check_bottleneck_block, "convolutions with biases", make_bottleneck(bias=True),
          expect="use_bias=False"),
    wrong(LAB, C.check_bottleneck_block, "bottleneck still a stub", stub, expect="not implemented yet"),
    # A5
    correct(LAB, C.check_cifar_resnet, "cifar_resnet, functional with + shortcuts",
            make_resnet(make_basic(use_plus=True))),
    wrong(LAB, C.check_cifar_resnet, "stride 2 in the first stage too", make_resnet(stride_first_stage=True)),
    wrong(LAB, C.check_cifar_resnet, "flatten instead of global average pooling", make_resnet(head="flatten")),
    wrong(LAB, C.check_cifar_resnet, "stem without batch norm", make_resnet(stem_bn=False)),
    wrong(LAB, C.check_cifar_resnet, "residual flag not passed on", make_resnet(pass_residual=False),
          expect="residual"),
    wrong(LAB, C.check_cifar_resnet, "softmax output", make_resnet(last="softmax")),
    wrong(LAB, C.check_cifar_resnet, "n - 1 blocks per stage", make_resnet(blocks=lambda n: n - 1)),
    wrong(LAB, C.check_cifar_resnet, "widths ignored", make_resnet(hard_widths=True)),
    wrong(LAB, C.check_cifar_resnet, "ReLU before the add in its blocks",
          make_resnet(make_basic(relu_before_add=True, final_relu=False))),
    wrong(LAB, C.check_cifar_resnet, "cifar_resnet still a stub", stub, expect="not implemented yet"),
    # A6
    correct(LAB, C.check_inception_module, "inception with Concatenate", make_inception()),
    correct(LAB, C.check_inception_module, "inception with ReLU layers and ops.concatenate", inception_ops),
    wrong(LAB, C.check_inception_module, "branches in the wrong order", make_inception(order=(0, 2, 1, 3)),
          expect="order"),
    wrong(LAB, C.check_inception_module, "pool branch first", make_inception(order=(3, 0, 1, 2)), expect="order"),
    wrong(LAB, C.check_inception_module, "concatenated on the width axis", make_inception(axis=2)),
    wrong(LAB, C.check_inception_module, "no 1x1 reductions", make_inception(reduce=False), expect="reduction"),
    wrong(LAB, C.check_inception_module, "no pool projection", make_inception(pool_proj=False),
          expect="projection"),
    wrong(LAB, C.check_inception_module, "pooling at stride 3", make_inception(pool_strides=None)),
    wrong(LAB, C.check_inception_module, "no ReLU", make_inception(act=None)),
    wrong(LAB, C.check_inception_module, "inception still a stub", stub, expect="not implemented yet"),
    # A7
    correct(LAB, C.check_separable_block, "separable with DepthwiseConv2D", make_separable()),
    wrong(LAB, C.check_separable_block, "a full 3x3 convolution", make_separable(kind="full"), expect="depthwise"),
    wrong(LAB, C.check_separable_block, "keras SeparableConv2D", make_separable(kind="separable_layer"),
          expect="SeparableConv2D"),
    wrong(LAB, C.check_separable_block, "stride in the pointwise convolution", make_separable(stride_in="pointwise")),
    wrong(LAB, C.check_separable_block, "no ReLU between", make_separable(mid_relu=False), expect="ReLU missing"),
    wrong(LAB, C.check_separable_block, "no final ReLU", make_separable(final_relu=False), expect="ReLU missing"),
    wrong(LAB, C.check_separable_block, "biases", make_separable(bias=True), expect="use_bias=False"),
    wrong(LAB, C.check_separable_block, "separable still a stub", stub, expect="not implemented yet"),
    # B1
    correct(LAB, C.check_random_crop_and_flip, "tf.pad, random_crop, random_flip_left_right", augment_ok),
    correct(LAB, C.check_random_crop_and_flip, "random offsets and tf.cond", augment_offsets),
    wrong(LAB, C.check_random_crop_and_flip, "flips up-down", augment_vertical, expect="upside down"),
    wrong(LAB, C.check_random_crop_and_flip, "crops without padding", augment_no_pad, expect="random window"),
    wrong(LAB, C.check_random_crop_and_flip, "reflect padding", augment_reflect, expect="REFLECT".lower()),
    wrong(LAB, C.check_random_crop_and_flip, "pads one side only", augment_one_side, expect="every side"),
    wrong(LAB, C.check_random_crop_and_flip, "always flips", augment_always_flip, expect="probability 1/2"),
    wrong(LAB, C.check_random_crop_and_flip, "flips when flip=False", augment_flip_ignored, expect="flip=False"),
    wrong(LAB, C.check_random_crop_and_flip, "NumPy inside tf.data", augment_numpy, expect="tf.data"),
    wrong(LAB, C.check_random_crop_and_flip, "square crop", augment_square_crop, expect="shape"),
    wrong(LAB, C.check_random_crop_and_flip, "converts to float", augment_float),
    wrong(LAB, C.check_random_crop_and_flip, "augmentation still a stub", stub, expect="not implemented yet"),
    # B2
    correct(LAB, C.check_step_schedule, "PiecewiseConstantDecay", schedule_ok),
    correct(LAB, C.check_step_schedule, "a LearningRateSchedule subclass with step < total/2", schedule_subclass),
    wrong(LAB, C.check_step_schedule, "boundaries one step late", schedule_late, expect="step"),
    wrong(LAB, C.check_step_schedule, "boundaries as fractions", schedule_fractions),
    wrong(LAB, C.check_step_schedule, "base_lr ignored", schedule_hardcoded),
    wrong(LAB, C.check_step_schedule, "divided by 1000 at the end", schedule_wrong_factor),
    wrong(LAB, C.check_step_schedule, "drops at thirds", schedule_thirds),
    wrong(LAB, C.check_step_schedule, "boundaries rounded up", schedule_round_up),
    wrong(LAB, C.check_step_schedule, "returns a float", schedule_float, expect="LearningRateSchedule"),
    wrong(LAB, C.check_step_schedule, "schedule still a stub", stub, expect="not implemented yet"),
    # Adversarial review
    wrong(LAB, C.check_alexnet, "alexnet with LayerNormalization for LRN", alexnet_layernorm,
          expect="local response normalisation"),
    wrong(LAB, C.check_alexnet, "alexnet with UnitNormalization for LRN", alexnet_unitnorm,
          expect="local response normalisation"),
    wrong(LAB, C.check_alexnet, "alexnet with dropout after FC7 and FC8", alexnet_dropout_on_logits,
          expect="after FC6"),
    correct(LAB, C.check_alexnet, "alexnet, features and classifier Sequentials", alexnet_nested_sequential),
    correct(LAB, C.check_alexnet, "alexnet with ReLU after max pooling", alexnet_pool_then_relu),
    correct(LAB, C.check_alexnet, "alexnet with one ReLU object after each max pooling", alexnet_pool_then_shared_relu),
    correct(LAB, C.check_alexnet, "alexnet with a Lambda LRN", alexnet_lambda_lrn),
    correct(LAB, C.check_vgg_network, "vgg_network with keras.activations.relu", vgg_network_ops_relu),
    wrong(LAB, C.check_basic_block, "custom-layer block, momentum 0.99", basic_custom_layer_momentum_099,
          expect="momentum"),
    correct(LAB, C.check_basic_block, "custom-layer block", basic_custom_layer),
    correct(LAB, C.check_cifar_resnet, "cifar_resnet from custom-layer blocks", cifar_resnet_custom_layer),
    correct(LAB, C.check_cifar_resnet, "cifar_resnet with keras.ops.mean pooling", cifar_resnet_ops_mean),
    wrong(LAB, C.check_separable_block, "ReLU6", separable_relu6, expect="ReLU6"),
    correct(LAB, C.check_separable_block, "default batch-norm momentum", separable_bn_default),
    wrong(LAB, C.check_random_crop_and_flip, "flip decided by np.random", augment_numpy_coin, expect="np.random"),
    wrong(LAB, C.check_random_crop_and_flip, "crop offsets from np.random", augment_numpy_offsets,
          expect="crop offset"),
    wrong(LAB, C.check_step_schedule, "__call__ without return", schedule_no_return, expect="forget to `return`"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)


def test_fill_value_is_deterministic() -> None:
    a, b = ex.fill_value("kernel", (3, 3, 2, 4)), ex.fill_value("kernel", (3, 3, 2, 4))
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert not np.array_equal(a, ex.fill_value("kernel", (3, 3, 4, 2)).reshape(a.shape))
    assert np.all(ex.fill_value("moving_variance", (5,)) > 0)


def test_block_model_explains_a_non_tensor() -> None:
    model, record = ex.block_model(lambda x, f: None, (4, 4, 1), 2)
    assert model is None and "missing `return`" in record[ex.PROBLEM]


def test_table_rows_are_plain_data() -> None:
    inputs = keras.Input((5, 4, 2))
    rows = ex.table_rows(keras.Model(inputs, layers.Conv2D(3, 3, padding="same", use_bias=False)(inputs)))
    conv = [row for row in rows if row["kind"] == "Conv2D"][0]
    assert conv["params"] == 3 * 3 * 2 * 3 and conv["mult_adds"] == 5 * 4 * 3 * 3 * 3 * 2
