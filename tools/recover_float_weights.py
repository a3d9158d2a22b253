"""Recovers float Keras weights from a kerfer int8 TFLite file (conv-BN-ReLU stacks + a dense head).

Why: the float model behind the shipped int8 file was lost with the machine that trained it, and
training must continue from what ships. The converter folded each BatchNorm (and the stem's
1/255 rescale) into the convolution before quantizing, so the int8 file holds, per conv,
``W' = W * gamma / sqrt(var + eps)`` (int8, one scale per output channel) and
``b' = beta - mean * gamma / sqrt(var + eps)`` (int32). We rebuild the Keras model, put ``W'`` in
the conv and re-inflate each BatchNorm so that it computes ``x + b'`` both at inference and in
training: with ``mu``, ``sigma^2`` the conv output's per-channel statistics on training images,
``moving_mean = mu``, ``moving_var = sigma^2``, ``gamma = sqrt(sigma^2 + eps)``, ``beta = mu + b'``.
Batch statistics then match the moving ones, so fine-tuning starts from the same function.

    python tools/recover_float_weights.py kerfer/assets/kerfer_fer2013_int8.tflite \
        --config configs/finetune.json --csv ../shared/data/fer2013.csv.gz --out /tmp/recovered.keras
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def read_int8_layers(tflite_path: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """Dequantized (kernel, bias) of every CONV_2D in graph order, and of the FULLY_CONNECTED head."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(tflite_path)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}

    def deq(index: int) -> np.ndarray:
        q = details[index]["quantization_parameters"]
        values = it.get_tensor(index).astype(np.float64)
        scales = np.asarray(q["scales"], np.float64)
        shape = [1] * values.ndim
        shape[q["quantized_dimension"]] = -1
        return values * scales.reshape(shape) if len(scales) > 1 else values * scales[0]

    convs, dense = [], None
    for op in it._get_ops_details():
        if op["op_name"] == "CONV_2D":
            _, w, b = op["inputs"]
            convs.append((deq(w).transpose(1, 2, 3, 0), deq(b)))  # OHWI -> HWIO
        elif op["op_name"] == "FULLY_CONNECTED":
            _, w, b = op["inputs"]
            dense = (deq(w).T, deq(b))
    if dense is None:
        raise ValueError(f"{tflite_path}: no FULLY_CONNECTED head found")
    return convs, dense


def recover(tflite_path: str, model, images: np.ndarray, batch: int = 256):
    """Fills ``model`` (a freshly built kerfer conv-BN model of the same arch) from the int8 file."""
    import keras

    convs, (dense_w, dense_b) = read_int8_layers(tflite_path)
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    bn_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if len(conv_layers) != len(convs) or len(bn_layers) != len(convs):
        raise ValueError(f"the model has {len(conv_layers)} convs, the TFLite file {len(convs)}: not the same arch")
    rescaled = any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)
    for i, (layer, (w, _)) in enumerate(zip(conv_layers, convs)):
        if i == 0 and rescaled:
            w = w / float(model.get_layer("rescale").scale)  # the 1/255 rescale was folded in the first conv
        if tuple(layer.kernel.shape) != w.shape:
            raise ValueError(f"{layer.name}: kernel {tuple(layer.kernel.shape)} vs {w.shape} in the TFLite file")
        layer.kernel.assign(w.astype(np.float32))
    # First pass: BN = identity + folded bias (exact at inference) to measure conv outputs.
    eps = [bn.epsilon for bn in bn_layers]
    for bn, (_, b), e in zip(bn_layers, convs, eps):
        n = len(b)
        bn.set_weights([np.ones(n), b, np.zeros(n), np.full(n, 1.0 - e)])
    probe = keras.Model(model.inputs, [layer.output for layer in conv_layers])
    sums = [np.zeros(len(b)) for _, b in convs]
    squares = [np.zeros(len(b)) for _, b in convs]
    count = 0
    for i in range(0, len(images), batch):
        outs = probe(images[i : i + batch].astype(np.float32), training=False)
        for k, o in enumerate(outs):
            o = np.asarray(o, np.float64).reshape(-1, o.shape[-1])
            sums[k] += o.sum(0)
            squares[k] += (o**2).sum(0)
        count += np.asarray(outs[0]).shape[0]
    for k, (bn, (_, b), e) in enumerate(zip(bn_layers, convs, eps)):
        pixels = count * np.prod(probe.outputs[k].shape[1:3])
        mu = sums[k] / pixels
        var = np.maximum(squares[k] / pixels - mu**2, 0.0)
        bn.set_weights([np.sqrt(var + e), mu + b, mu, var])
    head = model.get_layer("head_logits")
    head.set_weights([dense_w.astype(np.float32), dense_b.astype(np.float32)])
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tflite")
    ap.add_argument("--config", required=True, help="the training config of the model (arch and arch_options)")
    ap.add_argument("--csv", required=True, help="FER2013 CSV: Training rows give the BatchNorm statistics")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--out", required=True, help="a .keras file")
    args = ap.parse_args()

    from kerfer.data.fer2013 import read_fer2013, table_arrays
    from kerfer.models import build_model

    cfg = json.load(open(args.config))
    model = build_model(cfg["arch"], num_classes=7, **cfg.get("arch_options", {}))
    table = read_fer2013(args.csv)
    images, _, _ = table_arrays(table, "Training")
    rng = np.random.default_rng(0)
    sample = images[rng.choice(len(images), min(args.samples, len(images)), replace=False)]
    recover(args.tflite, model, sample)
    model.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
