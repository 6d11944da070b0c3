"""The benchmark page in one command: Panoptic FCN against MMDetection's
Panoptic FPN and Mask2Former, for accuracy and for speed (``make benchmark``).

Stages:

1. data - generate the synthetic COCO-panoptic set in ``data/synthetic`` if
   it is missing;
2. train - ``tools/train.py`` for every config of the selected parts without
   a checkpoint in ``WORK_DIR/<config name>/`` (Panoptic FCN's synthetic
   config also takes the main job's, ``work_dirs/<config name>/``);
   ``--skip-train`` benchmarks such models with random weights instead;
3. benchmark - ``tools/analysis_tools/benchmark.py``, one run per part
   (``PARTS``: accuracy on the val split at 256x256, speed of the R50 models
   at 800x1333);
4. docs - the measured blocks of ``docs/benchmark.md`` (between its
   ``<!-- benchmark:<part> -->`` markers) and its plots (``docs/images/
   benchmark_<part>.png``) from the JSON results of both parts (a part not
   run this time keeps its last results); the page's text is written by
   hand.

Examples::

    python tools/analysis_tools/benchmark_suite.py
    python tools/analysis_tools/benchmark_suite.py --only speed --skip-train
    python tools/analysis_tools/benchmark_suite.py --report-only
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmpfcn.apis import NO_VALIDATION_OPTIONS, load_config
from mmpfcn.utils.atomic_write import atomic_write
from projects.synthetic.synthetic_panoptic import DATA_ROOT, REPO_ROOT
from tools.analysis_tools.report import format_figure, format_table

BENCHMARK_TOOL = 'tools/analysis_tools/benchmark.py'
SUITE = 'tools/analysis_tools/benchmark_suite.py'
DEMO_CONFIGS = 'projects/synthetic/configs'
BENCHMARK_CONFIGS = f'{DEMO_CONFIGS}/benchmark'
# Written by the main job (projects/synthetic/tools/main_job.py with this
# --config) in work_dirs/<config name>/; reused when the suite has no
# checkpoint of its own.
MAIN_JOB_CONFIG = f'{DEMO_CONFIGS}/panoptic-fcn_r18_fpn_synthetic.py'
RESULTS_FILE = 'benchmark.json'
PLOT_FILE = 'benchmark.png'
MODEL_LABELS = {
    'panoptic-fcn': 'Panoptic FCN',
    'panoptic-fpn': 'Panoptic FPN',
    'mask2former': 'Mask2Former',
    'maskformer': 'MaskFormer',
}


@dataclass(frozen=True)
class Part:
    """One benchmark run: its configs (the first is the reference of the
    ratios), input size, whether PQ is evaluated and on how many images.
    ``docs/benchmark.md`` describes the setup of each."""
    name: str
    configs: Tuple[str, ...]
    shape: Tuple[int, int]
    evaluate: bool
    num_images: int


PARTS: Dict[str, Part] = {
    part.name: part
    for part in (
        Part(
            name='accuracy',
            configs=(MAIN_JOB_CONFIG,
                     f'{BENCHMARK_CONFIGS}/panoptic-fpn_r18_fpn_synthetic.py',
                     f'{BENCHMARK_CONFIGS}/mask2former_r18_synthetic.py'),
            shape=(256, 256),
            evaluate=True,
            num_images=100),
        Part(
            name='speed',
            configs=(
                f'{BENCHMARK_CONFIGS}/panoptic-fcn_r50_fpn_synthetic-short.py',
                f'{BENCHMARK_CONFIGS}/panoptic-fpn_r50_fpn_synthetic-short.py',
                f'{BENCHMARK_CONFIGS}/mask2former_r50_synthetic-short.py'),
            shape=(800, 1333),
            evaluate=False,
            num_images=10),
    )
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', choices=sorted(PARTS),
                        help='run one part (default: both)')
    parser.add_argument('--skip-train', action='store_true',
                        help='train nothing; models without a checkpoint '
                        'keep random weights')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads of the benchmark runs')
    parser.add_argument('--num-images', type=int,
                        help='timed (and evaluated) images per model '
                        '(default: 100 for accuracy, 10 for speed)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed runs per model before timing')
    parser.add_argument('--work-dir', default=osp.join('work_dirs',
                                                       'benchmark'),
                        help='checkpoints in WORK_DIR/<config name>, '
                        'results in WORK_DIR/<part>')
    parser.add_argument('--report-only', action='store_true',
                        help='only rewrite the report from the last '
                        'results')
    parser.add_argument('--docs', default=osp.join('docs', 'benchmark.md'),
                        help='report whose measured blocks to rewrite; plots '
                        'go to its images/ folder')
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.threads < 1 or args.warmup < 0 or (args.num_images is not None
                                               and args.num_images < 1):
        parser.error('--threads and --num-images must be >= 1, '
                     '--warmup >= 0')
    return args


def config_name(config: str) -> str:
    """The config's file name without ``.py``."""
    return osp.splitext(osp.basename(config))[0]


def repo_relative(path: str) -> str:
    """``path`` relative to the repository root where it lies inside it."""
    path = osp.abspath(osp.join(REPO_ROOT, path))
    relative = osp.relpath(path, REPO_ROOT)
    return path if relative.startswith(os.pardir) else relative


def checkpoint_dirs(config: str, work_root: str) -> List[str]:
    """Work folders that may hold the config's checkpoint, in order of
    preference: the suite's own, then the main job's for its config."""
    dirs = [osp.join(work_root, config_name(config))]
    if config == MAIN_JOB_CONFIG:
        dirs.append(osp.join('work_dirs', config_name(config)))
    return dirs


def find_checkpoint(config: str, work_root: str) -> Optional[str]:
    """The checkpoint MMEngine recorded last in the config's first work
    folder that has an existing one (repository-relative), or None."""
    for work_dir in checkpoint_dirs(config, work_root):
        record = osp.join(REPO_ROOT, work_dir, 'last_checkpoint')
        if not osp.isfile(record):
            continue
        with open(record) as f:
            checkpoint = osp.join(REPO_ROOT, f.read().strip())
        if osp.isfile(checkpoint):
            return repo_relative(checkpoint)
    return None


def run(command: List[str], threads: Optional[int] = None) -> None:
    """Run ``python ARGS...`` in the repository root (``OMP_NUM_THREADS``
    set to ``threads`` if given); its output streams to this terminal."""
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    print('[benchmark] $ ' + shlex.join(['python'] + command), flush=True)
    subprocess.run([sys.executable] + command, cwd=REPO_ROOT, env=env,
                   check=True)


def train_command(config: str, work_dir: str) -> List[str]:
    """``tools/train.py`` of a benchmark model, without a validation loop
    (the benchmark evaluates the checkpoint)."""
    return ['tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', *NO_VALIDATION_OPTIONS]


def checkpoints_for(part: Part, work_root: str,
                    skip_train: bool) -> Dict[str, Optional[str]]:
    """The checkpoint of every config of the part; missing ones are trained
    into ``work_root/<config name>`` unless ``skip_train``."""
    checkpoints = {}
    for config in part.configs:
        checkpoint = find_checkpoint(config, work_root)
        if checkpoint is None and skip_train:
            warnings.warn(f'{config}: no checkpoint; benchmarked with '
                          'random weights (--skip-train)')
        elif checkpoint is None:
            run(train_command(config, osp.join(work_root,
                                               config_name(config))))
            checkpoint = find_checkpoint(config, work_root)
            if checkpoint is None:
                raise RuntimeError(f'training {config} left no checkpoint')
        checkpoints[config] = checkpoint
    return checkpoints


def benchmark_args(part: Part, checkpoints: Dict[str, Optional[str]],
                   num_images: int, warmup: int, threads: int,
                   work_dir: str) -> List[str]:
    """Command line of benchmark.py for the part (after ``python``)."""
    specs = [
        config if checkpoints.get(config) is None else
        f'{config}:{checkpoints[config]}' for config in part.configs
    ]
    args = [BENCHMARK_TOOL] + specs + [
        '--shape', *map(str, part.shape), '--num-images', str(num_images),
        '--warmup', str(warmup), '--threads', str(threads), '--work-dir',
        work_dir
    ]
    return args + ['--eval'] if part.evaluate else args


def training_progress(
        checkpoints: Dict[str, Optional[str]]) -> Dict[str, Dict[str, int]]:
    """``{config name: {iters, max_iters}}``: the iteration of each
    ``iter_N.pth`` checkpoint and its config's training length."""
    progress = {}
    for config, checkpoint in checkpoints.items():
        match = re.fullmatch(r'iter_(\d+)\.pth',
                             osp.basename(checkpoint or ''))
        if match:
            cfg = load_config(osp.join(REPO_ROOT, config))
            max_iters = cfg.train_cfg.get('max_iters')
            progress[config_name(config)] = dict(iters=int(match[1]),
                                                 max_iters=max_iters)
    return progress


def machine_info() -> Dict[str, object]:
    """CPU, core count and library versions of this machine."""
    import mmcv
    import mmdet
    import mmengine
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return dict(cpu=cpu, logical_cores=os.cpu_count(),
                python=platform.python_version(), torch=torch.__version__,
                mmcv=mmcv.__version__, mmdet=mmdet.__version__,
                mmengine=mmengine.__version__)


def run_part(part: Part, checkpoints: Dict[str, Optional[str]],
             args: argparse.Namespace, images_dir: str) -> None:
    """Benchmark the part, add the commands (benchmark.py's and this
    suite's), machine and date to its JSON results and copy its plot to
    ``images_dir``."""
    work_dir = osp.join(args.work_dir, part.name)
    tool_args = benchmark_args(part, checkpoints,
                               args.num_images or part.num_images,
                               args.warmup, args.threads, work_dir)
    run(tool_args, threads=args.threads)
    path = osp.join(REPO_ROOT, work_dir, RESULTS_FILE)
    with open(path) as f:
        results = json.load(f)
    results['suite'] = dict(
        part=part.name,
        command=shlex.join([f'OMP_NUM_THREADS={args.threads}', 'python'] +
                           tool_args),
        suite_command=shlex.join(['python', SUITE] + args.argv),
        machine=machine_info(),
        training=training_progress(checkpoints),
        date=datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'))
    with atomic_write(path, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=2)
    os.makedirs(images_dir, exist_ok=True)
    shutil.copyfile(osp.join(REPO_ROOT, work_dir, PLOT_FILE),
                    osp.join(images_dir, plot_name(part)))


def load_results(work_root: str, part: Part) -> Optional[dict]:
    """The part's last JSON results, or None before its first run."""
    path = osp.join(REPO_ROOT, work_root, part.name, RESULTS_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------- report
def plot_name(part: Part) -> str:
    """File name of the part's plot in the docs' images folder."""
    return f'benchmark_{part.name}.png'


def short_label(record: dict) -> str:
    """The model's name (``Panoptic FCN``), else the config's."""
    name = record['name']
    return next((text for prefix, text in MODEL_LABELS.items()
                 if name.startswith(prefix + '_')), name)


def model_label(record: dict) -> str:
    """``Model ([config name](link))`` for a table row."""
    name, config = record['name'], record.get('config') or ''
    link = name if '::' in config or not config else \
        f'[{name}](../{config})'
    label = short_label(record)
    return link if label == name else f'{label} ({link})'


def _value(record: dict, key: str) -> Optional[float]:
    """A figure of a record: a measured one or a PQ metric."""
    if key in record:
        return record[key]
    return (record.get('metrics') or {}).get(key)


def _median_p90(record: dict, prefix: str) -> str:
    """``median (p90)`` of a latency in ms."""
    median, p90 = (_value(record, f'{prefix}_{q}_ms')
                   for q in ('median', 'p90'))
    if median is None:
        return 'n/a'
    return f'{median:.1f}' + ('' if p90 is None else f' ({p90:.1f})')


def _cell(record: dict, key: str) -> str:
    """A figure in the tool's format, or n/a."""
    return format_figure(key, _value(record, key))


def _ratio(record: dict, key: str) -> str:
    """The figure's ratio to the first model's, as ``0.85x``."""
    ratio = (record.get('ratios') or {}).get(key)
    return 'n/a' if ratio is None else f'{ratio:.2f}x'


# Columns of each part's table: heading and how a record fills the cell.
Column = Tuple[str, Callable[[dict], str]]
ACCURACY_COLUMNS: List[Column] = [
    ('PQ', lambda r: _cell(r, 'PQ')),
    ('SQ', lambda r: _cell(r, 'SQ')),
    ('RQ', lambda r: _cell(r, 'RQ')),
    ('PQ things', lambda r: _cell(r, 'PQ_th')),
    ('PQ stuff', lambda r: _cell(r, 'PQ_st')),
    ('params', lambda r: _cell(r, 'params')),
    ('FLOPs', lambda r: _cell(r, 'flops')),
    ('e2e ms median (p90)', lambda r: _median_p90(r, 'e2e')),
    ('PQ ratio', lambda r: _ratio(r, 'PQ')),
    ('e2e ratio', lambda r: _ratio(r, 'e2e_median_ms')),
]
SPEED_COLUMNS: List[Column] = [
    ('params', lambda r: _cell(r, 'params')),
    ('FLOPs', lambda r: _cell(r, 'flops')),
    ('forward ms median (p90)', lambda r: _median_p90(r, 'forward')),
    ('e2e ms median (p90)', lambda r: _median_p90(r, 'e2e')),
    ('img/s', lambda r: _cell(r, 'img_per_s')),
    ('peak mem', lambda r: _cell(r, 'peak_mem_mib')),
    ('FLOPs ratio', lambda r: _ratio(r, 'flops')),
    ('forward ratio', lambda r: _ratio(r, 'forward_median_ms')),
    ('e2e ratio', lambda r: _ratio(r, 'e2e_median_ms')),
]
TABLE_COLUMNS = dict(accuracy=ACCURACY_COLUMNS, speed=SPEED_COLUMNS)


def results_table(records: Sequence[dict],
                  columns: Sequence[Column]) -> str:
    """A Markdown table with one row per record."""
    return format_table(['model'] + [heading for heading, _ in columns],
                        [[model_label(r)] + [fill(r) for _, fill in columns]
                         for r in records])


def _conditions(results: dict) -> List[str]:
    """Bullet points of the run's settings and machine."""
    settings = results.get('settings', {})
    suite = results.get('suite', {})
    machine = suite.get('machine', {})
    lines = [
        f'- device: {settings.get("device", "n/a")}; torch threads: '
        f'{settings.get("threads", "n/a")}; batch size: '
        f'{settings.get("batch_size", 1)}; per model '
        f'{settings.get("warmup", "n/a")} warm-up runs, then '
        f'{settings.get("num_images", "n/a")} timed image(s); inputs: '
        f'{settings.get("inputs", "n/a")}, '
        f'{"x".join(map(str, settings.get("shape", [])))}'
    ]
    if machine:
        lines.append(
            f'- machine: {machine.get("cpu")}, '
            f'{machine.get("logical_cores")} logical cores; python '
            f'{machine.get("python")}, torch {machine.get("torch")}, mmcv '
            f'{machine.get("mmcv")}, mmengine {machine.get("mmengine")}, '
            f'mmdet {machine.get("mmdet")}')
    else:
        lines.append(f'- torch {settings.get("torch", "n/a")}')
    if suite.get('date'):
        lines.append(f'- run: {suite["date"]}')
    return lines


def _notes(part: Part, results: dict) -> List[str]:
    """Warnings about results that do not represent the trained models."""
    records = results['models']
    notes = []
    untrained = [r['name'] for r in records if not r.get('checkpoint')]
    if untrained:
        notes.append('**Random weights**: ' + ', '.join(untrained) +
                     ' had no checkpoint (`--skip-train`); its figures '
                     'say nothing about the trained model.')
    training = results.get('suite', {}).get('training', {})
    partly = [
        f'{name} ({run["iters"]} of {run["max_iters"]} iterations)'
        for name, run in training.items()
        if run.get('max_iters') and run['iters'] < run['max_iters']
    ]
    if partly:
        notes.append('**Partly trained**: ' + ', '.join(partly) +
                     ' (checkpoints of shorter runs than their configs).')
    num_images = results.get('settings', {}).get('num_images')
    if num_images is not None and num_images < part.num_images:
        notes.append(f'**Short run**: {num_images} image(s) per model '
                     f'(the suite\'s default is {part.num_images}).')
    return notes


def _commands(results: dict) -> List[str]:
    """Training and benchmark commands of the part, in a code block."""
    lines = ['```shell']
    for record in results['models']:
        if record.get('checkpoint'):
            work_dir = osp.dirname(record['checkpoint'])
            lines.append(shlex.join(
                ['python'] + train_command(record['config'], work_dir)))
    suite = results.get('suite', {})
    lines += [suite[key] for key in ('command', 'suite_command')
              if suite.get(key)]
    return lines + ['```']


def part_block(part: Part, results: Optional[dict]) -> List[str]:
    """The measured block of one part: notes, table, conditions and
    commands, or how to run it."""
    if results is None:
        return [f'Not run yet: `python {SUITE} --only {part.name}`.']
    lines = []
    for note in _notes(part, results):
        lines += [note, '']
    lines += [results_table(results['models'], TABLE_COLUMNS[part.name]), '']
    return lines + _conditions(results) + ['', 'Commands:', ''] + \
        _commands(results)


def block_markers(part: Part) -> Tuple[str, str]:
    """The comments, each on a line of its own, that open and close the
    part's block in the report."""
    return (f'<!-- benchmark:{part.name} -->',
            f'<!-- /benchmark:{part.name} -->')


def update_report(page: str, results: Dict[str, Optional[dict]]) -> str:
    """``page`` with the block of every part in ``results`` (its JSON
    results, None before its first run) rewritten between its markers;
    the rest of the page is kept as written."""
    for name, part_results in results.items():
        start, end = block_markers(PARTS[name])
        block = re.compile(
            f'^{re.escape(start)}\n.*?^{re.escape(end)}$',
            re.MULTILINE | re.DOTALL)
        if len(block.findall(page)) != 1:
            raise ValueError(f'the report needs one block from a line '
                             f'{start} to a line {end}')
        text = '\n'.join([start, *part_block(PARTS[name], part_results), end])
        page = block.sub(lambda _: text, page)
    return page


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO_ROOT)
    # Training uses every core, as the main job does.
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    parts = [PARTS[args.only]] if args.only else list(PARTS.values())
    images_dir = osp.join(osp.dirname(args.docs), 'images')

    if not args.report_only:
        from projects.synthetic.synthetic_panoptic import \
            generate_synthetic_panoptic
        if generate_synthetic_panoptic(DATA_ROOT, workers=os.cpu_count() or 1):
            print(f'[benchmark] generated the synthetic set in {DATA_ROOT}')
        checkpoints = {
            part.name: checkpoints_for(part, args.work_dir, args.skip_train)
            for part in parts
        }
        for part in parts:
            run_part(part, checkpoints[part.name], args, images_dir)

    with open(args.docs, encoding='utf-8') as f:
        page = f.read()
    page = update_report(page, {
        name: load_results(args.work_dir, part)
        for name, part in PARTS.items()
    })
    with atomic_write(args.docs, 'w', encoding='utf-8') as f:
        f.write(page)
    print(f'[benchmark] wrote {args.docs} and its plots in {images_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
