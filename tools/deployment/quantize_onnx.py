"""Quantize an exported Panoptic FCN with onnxruntime's dynamic int8 quantization.

    python tools/deployment/quantize_onnx.py model.onnx --out model-int8.onnx

Weights of convolutions and matrix products become int8 (activations are quantized on the fly);
the runner settings the export stored are kept. Score the result with
tools/deployment/test_onnx.py before using it: docs/deployment.md has what it cost in PQ here.
"""
import argparse
import json
import os
import os.path as osp
import tempfile

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from mmpfcn.deployment import METADATA_KEY, read_settings
from mmpfcn.utils import atomic_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('onnx_file', help='a model exported by tools/deployment/pytorch2onnx.py')
    parser.add_argument('--out', required=True, help='the quantized .onnx file to write')
    parser.add_argument('--per-channel', action='store_true', help='per-channel weight scales')
    args = parser.parse_args()
    settings = read_settings(args.onnx_file)
    with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(args.out))) as work:
        quantized = osp.join(work, 'int8.onnx')
        quantize_dynamic(args.onnx_file, quantized, weight_type=QuantType.QInt8,
                         per_channel=args.per_channel)
        proto = onnx.load(quantized)
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(
        dict(settings, quantization='dynamic int8'))})
    with atomic_write(args.out, 'wb') as f:
        f.write(proto.SerializeToString())
    print(f'[quantize_onnx] wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB, '
          f'from {os.path.getsize(args.onnx_file) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
