"""Quantize an exported Panoptic FCN to int8 with onnxruntime.

    python tools/deployment/quantize_onnx.py model.onnx --out model-int8.onnx --calib-images DIR
    python tools/deployment/quantize_onnx.py model.onnx --out model-int8.onnx --mode dynamic

``static`` (the default) calibrates the convolutions' activation ranges on a few typical images
and writes QDQ int8 convolutions, which run on the CPU's int8 dot-product instructions;
``dynamic`` quantizes activations at run time and is slower than float here. The runner settings
the export stored are kept. Score the result with tools/deployment/test_onnx.py before using it:
docs/deployment.md has what each mode cost in PQ and gained in speed here.
"""
import argparse
import os

from mmpfcn.deployment import QUANTIZATION_MODES, OnnxModelError, quantize_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('onnx_file', help='a model exported by tools/deployment/pytorch2onnx.py')
    parser.add_argument('--out', required=True, help='the quantized .onnx file to write')
    parser.add_argument('--mode', choices=QUANTIZATION_MODES, default='static',
                        help='static: calibrated QDQ int8 convolutions; dynamic: int8 weights, '
                        'activations quantized at run time')
    parser.add_argument('--calib-images', help='folder of images to calibrate on (static)')
    parser.add_argument('--num-calib', type=int, default=16,
                        help='calibration images taken from the folder, by name')
    parser.add_argument('--float-stride', type=int, default=4,
                        help='static: the backbone convolutions with outputs at this stride or '
                        'finer stay float (the first layers, where int8 costs the most PQ); 0: '
                        'quantize them too')
    parser.add_argument('--per-tensor', action='store_true',
                        help='one weight scale per tensor instead of per output channel')
    args = parser.parse_args()
    if args.num_calib < 1 or args.float_stride < 0:
        parser.error('--num-calib must be >= 1 and --float-stride >= 0')
    try:
        settings = quantize_onnx(args.onnx_file, args.out, args.mode, args.calib_images,
                                 args.num_calib, per_channel=not args.per_tensor,
                                 float_stride=args.float_stride)
    except OnnxModelError as error:
        raise SystemExit(f'error: {error}')
    print(f'[quantize_onnx] wrote {args.out} ({settings["quantization"]}; '
          f'{os.path.getsize(args.out) / 2**20:.1f} MiB, from '
          f'{os.path.getsize(args.onnx_file) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
