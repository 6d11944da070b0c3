"""The main job's record of finished stages, so that a rerun resumes.

One JSON file per run folder (a config and seed): each finished stage's
entry holds what later stages need (the schedule, the checkpoint, the
metrics). It is rewritten through a temporary file and a rename after every
stage, so a killed job leaves either the previous record or the new one,
never half of it; a stage without an entry is redone (training resumes from
its newest checkpoint).
"""
import json
import os
import os.path as osp
from typing import Any, Dict, Optional


def write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` by way of ``path.tmp`` and a
    rename, so readers see the old file or the whole new one."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    temporary = path + '.tmp'
    with open(temporary, 'w') as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


class JobState:
    """Finished stages of one run, stored in ``path``.

    Args:
        path: the JSON file.
        key: what identifies the run (config, seed, ...); a file written
            for another key is not reused: its stages are redone.
    """

    def __init__(self, path: str, key: Dict[str, Any]) -> None:
        self.path = path
        self.key = key
        self.stages: Dict[str, dict] = {}
        if osp.isfile(path):
            with open(path) as f:
                record = json.load(f)
            if record.get('key') == key:
                self.stages = record.get('stages', {})

    def get(self, stage: str) -> Optional[dict]:
        """The entry of ``stage`` if it finished, else None."""
        return self.stages.get(stage)

    def finish(self, stage: str, **entry: Any) -> None:
        """Record ``stage`` as finished with ``entry`` and save."""
        self.stages[stage] = entry
        self.save()

    def forget(self, stage: str) -> None:
        """Drop ``stage`` (its output is gone or stale) and save."""
        if self.stages.pop(stage, None) is not None:
            self.save()

    def save(self) -> None:
        write_json_atomic(self.path, dict(key=self.key, stages=self.stages))
